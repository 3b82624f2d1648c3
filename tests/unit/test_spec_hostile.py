"""Hostile config.json (issue 10, items 6, 19, 20): NUL bytes, env entries without `=`, files that are not regular
files, deep nesting and huge values. Each is one ConfigError line naming the file and the JSON path."""

from __future__ import annotations

import json
import os
import threading

import pytest

from simcon.errors import ConfigError
from simcon.spec import decode_process, load_config


def write_bundle(tmp_path, config: dict | None = None, raw: bytes | None = None) -> str:
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    (tmp_path / "config.json").write_bytes(raw if raw is not None else json.dumps(config).encode())
    return str(tmp_path)


def minimal(**changes) -> dict:
    config = {"ociVersion": "1.2.0", "root": {"path": "rootfs"},
              "process": {"args": ["sh"], "cwd": "/", "env": ["PATH=/bin"]}}
    config.update(changes)
    return config


def load_error(tmp_path, config: dict | None = None, raw: bytes | None = None) -> ConfigError:
    bundle = write_bundle(tmp_path, config, raw)
    with pytest.raises(ConfigError) as info:
        load_config(bundle)
    assert "\n" not in str(info.value)
    assert info.value.file == os.path.join(bundle, "config.json")
    return info.value


# --- NUL bytes: refused wherever they are, with the JSON path --------------------------------------------------


@pytest.mark.parametrize(("edit", "path"), [
    (lambda c: c.update(mounts=[{"destination": "/etc\u0000/../../tmp/x", "type": "tmpfs", "source": "t"}]),
     "mounts[0].destination"),
    (lambda c: c.update(mounts=[{"destination": "/t", "type": "tmpfs", "source": "t",
                                 "options": ["nosuid", "\u0000size=1k"]}]), "mounts[0].options[1]"),
    (lambda c: c["process"].update(env=["PATH=/bin", "A=b\u0000c"]), "process.env[1]"),
    (lambda c: c["process"].update(args=["sh", "-c", "echo\u0000"]), "process.args[2]"),
    (lambda c: c["process"].update(cwd="/\u0000"), "process.cwd"),
    (lambda c: c["root"].update(path="rootfs\u0000x"), "root.path"),
    (lambda c: c.update(hooks={"prestart": [{"path": "/bin/true\u0000"}]}), "hooks.prestart[0].path"),
    (lambda c: c.update(annotations={"a": "x\u0000"}), "annotations.a"),
    (lambda c: c.update(annotations={"org.x": "x\u0000"}), 'annotations["org.x"]'),
    (lambda c: c.update(annotations={"k\u0000": "x"}), "annotations"),
    (lambda c: c.update(hostname="h\u0000"), "hostname"),
    (lambda c: c.update(linux={"maskedPaths": ["/proc/kcore\u0000"]}), "linux.maskedPaths[0]"),
    (lambda c: c.update(linux={"sysctl": {"kernel.x": "1\u0000"}}), 'linux.sysctl["kernel.x"]'),
    (lambda c: c.update(**{"vendor.unknown": {"deep": ["\u0000"]}}), '["vendor.unknown"].deep[0]'),
], ids=lambda v: v if isinstance(v, str) else "")
def test_nul_byte_in_any_string_is_refused_with_its_path(tmp_path, edit, path: str) -> None:
    config = minimal()
    edit(config)
    error = load_error(tmp_path, config)
    assert error.json_path == path
    assert "NUL" in error.problem


def test_escaped_backslash_u0000_text_is_not_a_nul(tmp_path) -> None:
    # `\\u0000` in JSON is the six characters \u0000, not a NUL byte.
    raw = json.dumps(minimal(hostname="a")).replace('"hostname": "a"', '"annotations": {"x": "\\\\u0000"}')
    spec = load_config(write_bundle(tmp_path, raw=raw.encode()))
    assert spec.annotations == {"x": "\\u0000"}


def test_nul_byte_in_process_json_is_refused(tmp_path) -> None:
    data = json.dumps({"args": ["sh\u0000"], "cwd": "/"}).encode()
    with pytest.raises(ConfigError) as info:
        decode_process(data, "/p/process.json")
    assert info.value.json_path == "args[0]" and "NUL" in info.value.problem


@pytest.mark.parametrize("value", ["\n", "CAP_\nKILL", "a\rb", "\x1b[31m"])
def test_control_characters_in_quoted_values_stay_on_one_line(tmp_path, value: str) -> None:
    config = minimal()
    config["process"]["capabilities"] = {"ambient": [value]}
    error = load_error(tmp_path, config)  # asserts one line
    assert error.json_path == "process.capabilities.ambient[0]"
    assert "\r" not in str(error) and "\x1b" not in str(error)


# --- env entries ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("entry", ["NOEQUALS", "", "=value"])
def test_env_entry_without_a_name_and_equals_sign_is_refused(tmp_path, entry: str) -> None:
    config = minimal()
    config["process"]["env"] = ["PATH=/bin", entry]
    error = load_error(tmp_path, config)
    assert error.json_path == "process.env[1]"
    assert "NAME=VALUE" in error.problem


def test_hook_env_entry_without_equals_is_refused(tmp_path) -> None:
    error = load_error(tmp_path, minimal(hooks={"poststop": [{"path": "/bin/true", "env": ["X"]}]}))
    assert error.json_path == "hooks.poststop[0].env[0]"


def test_env_entry_with_empty_value_is_fine(tmp_path) -> None:
    config = minimal()
    config["process"]["env"] = ["PATH=/bin", "EMPTY=", "A=b=c"]
    assert load_config(write_bundle(tmp_path, config)).process.env == ["PATH=/bin", "EMPTY=", "A=b=c"]


# --- not a regular file -----------------------------------------------------------------------------------------


def test_config_that_is_a_fifo_is_refused_without_blocking(tmp_path) -> None:
    (tmp_path / "rootfs").mkdir()
    os.mkfifo(tmp_path / "config.json")
    result: list[BaseException] = []
    reader = threading.Thread(target=lambda: _catch(result, tmp_path), daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # unblock the hung reader so the test process can exit
        fd = os.open(tmp_path / "config.json", os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        pytest.fail("loading a FIFO config.json blocked")
    [error] = result
    assert isinstance(error, ConfigError), error
    assert "not a regular file" in str(error) and "FIFO" in str(error)


def _catch(result: list, tmp_path) -> None:  # noqa: ANN001
    try:
        load_config(str(tmp_path))
    except BaseException as exc:  # noqa: BLE001 - handed to the test thread
        result.append(exc)


def test_config_that_is_a_device_is_refused(tmp_path) -> None:
    (tmp_path / "rootfs").mkdir()
    os.symlink("/dev/zero", tmp_path / "config.json")
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path))
    assert "not a regular file" in str(info.value) and "character device" in str(info.value)


# --- deep nesting, huge values ----------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["unknown", "annotations", "top"])
def test_deep_nesting_is_a_clean_error(tmp_path, where: str) -> None:
    deep = "[" * 1000 + "]" * 1000
    if where == "top":
        raw = deep
    elif where == "unknown":
        raw = json.dumps(minimal()).replace('"ociVersion"', f'"x": {deep}, "ociVersion"')
    else:
        raw = json.dumps(minimal()).replace('"ociVersion"', f'"annotations": {{"a": {deep}}}, "ociVersion"')
    error = load_error(tmp_path, raw=raw.encode())
    assert "nested too deeply (10" in error.problem


def test_deep_nesting_with_a_nul_is_a_clean_error(tmp_path) -> None:
    raw = "[" * 1000 + '"\\u0000"' + "]" * 1000
    error = load_error(tmp_path, raw=raw.encode())
    assert "nested" in error.problem


@pytest.mark.parametrize("edit", [
    lambda c: c.update(ociVersion="v" * 65536),
    lambda c: c["process"].update(cwd="x" * 65536),
    lambda c: c.update(linux={"rootfsPropagation": "p" * 65536}),
    lambda c: c.update(linux={"namespaces": [{"type": "n" * 65536}]}),
    lambda c: c["process"].update(user={"uid": 0, "gid": 0, "umask": "u" * 65536}),
    lambda c: c["process"].update(capabilities={"bounding": ["CAP_" + "X" * 65536]}),
])
def test_errors_shorten_huge_values(tmp_path, edit) -> None:
    config = minimal()
    edit(config)
    error = load_error(tmp_path, config)
    assert len(str(error)) < 600, str(error)[:1000]


# --- seccomp profile files (create/run --seccomp-profile) -------------------------------------------------------


def test_seccomp_profile_with_a_nul_or_deep_nesting_is_one_line(tmp_path) -> None:
    from simcon.spec.seccomp import profile_from_file

    nul = tmp_path / "nul.json"
    nul.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                               "syscalls": [{"names": ["mkdir\u0000"], "action": "SCMP_ACT_ERRNO"}]}))
    with pytest.raises(ConfigError) as info:
        profile_from_file(str(nul), [])
    assert info.value.json_path == "syscalls[0].names[0]" and "NUL" in info.value.problem
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError) as info:
        profile_from_file(str(deep), [])
    assert "nested too deeply" in str(info.value)


@pytest.mark.parametrize("seccomp", [
    {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "x" * 65536}]},
    {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["f\n" * 30000]},
    {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["a\nb" * 30000]},
])
def test_plan_errors_are_short_single_lines(tmp_path, seccomp: dict) -> None:
    # Found by `make fuzz`: checks made while the launch plan is built quoted values raw.
    from simcon.runtime.plan import build_plan

    bundle = write_bundle(tmp_path, minimal(linux={"seccomp": seccomp}))
    with pytest.raises(ConfigError) as info:
        build_plan(load_config(bundle), bundle, "x", config_file=os.path.join(bundle, "config.json"))
    assert "\n" not in str(info.value) and len(str(info.value)) < 2500


# --- not text: invalid UTF-8, lone UTF-16 surrogates -------------------------------------------------------------


def test_invalid_utf8_is_refused_with_its_position(tmp_path) -> None:
    raw = json.dumps(minimal(hostname="web")).encode().replace(b'"web"', b'"w\xffb"')
    error = load_error(tmp_path, raw=raw)
    column = raw.index(b"\xff") + 1
    assert str(error).endswith(f"invalid JSON at line 1 column {column}: invalid UTF-8 encoded string")


def test_invalid_utf8_in_an_unknown_field_is_refused_too(tmp_path) -> None:
    raw = json.dumps(minimal(**{"vendor.x": "ab"})).encode().replace(b'"ab"', b'"a\xc3b"')
    assert "invalid UTF-8" in load_error(tmp_path, raw=raw).problem


@pytest.mark.parametrize(("escape", "path"), [("\\ud800", "hostname"), ("x\\udfff", "hostname")])
def test_lone_surrogate_is_refused_with_its_path(tmp_path, escape: str, path: str) -> None:
    raw = json.dumps(minimal(hostname="HOST")).replace("HOST", escape).encode()
    error = load_error(tmp_path, raw=raw)
    assert error.json_path == path and "surrogate" in error.problem


def test_a_surrogate_pair_is_text(tmp_path) -> None:
    raw = json.dumps(minimal(annotations={"a": "X"})).replace('"X"', '"\\ud83d\\ude00"').encode()
    assert load_config(write_bundle(tmp_path, raw=raw)).annotations == {"a": "\U0001F600"}
