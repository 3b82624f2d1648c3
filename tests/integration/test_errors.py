"""Failures: what the CLI says, its exit status, and that a failed command leaves nothing behind."""

from __future__ import annotations

import json

import pytest


def _assert_nothing_left(rt, cid: str) -> None:
    assert rt.root_entries() == [], f"left under --root: {rt.root_entries()}"
    assert rt.existing_cgroup_dirs(rt.cgroup_path(cid)) == []


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


@pytest.mark.parametrize("verb", [("state",), ("start",), ("kill", "KILL"), ("delete",), ("pause",)],
                         ids=lambda v: v[0])
def test_unknown_id(rt, verb: tuple[str, ...]) -> None:
    cid = rt.new_id("missing")
    proc = rt.run(verb[0], cid, *verb[1:])
    assert proc.returncode != 0
    assert "container does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_duplicate_create(rt) -> None:
    bundle = rt.bundle(["sleep", "1000"])
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    proc = rt.run("create", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode != 0
    assert "container with given ID already exists" in proc.stderr
    assert rt.state(bundle.cid)["status"] == "created"


@pytest.mark.parametrize("verb", ["run", "create"])
def test_missing_binary(rt, verb: str) -> None:
    bundle = rt.bundle(["no-such-binary-here", "arg"])
    proc = rt.run(verb, "--bundle", bundle.path, bundle.cid)
    assert proc.returncode != 0
    assert "executable file not found in $PATH" in proc.stderr
    assert "no-such-binary-here" in proc.stderr
    assert "Traceback" not in proc.stderr
    _assert_nothing_left(rt, bundle.cid)


def test_missing_binary_by_absolute_path(rt) -> None:
    bundle = rt.bundle(["/bin/no-such-binary"])
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode != 0
    assert "/bin/no-such-binary" in proc.stderr
    assert "Traceback" not in proc.stderr
    _assert_nothing_left(rt, bundle.cid)


def _set(path: str, value):
    """An edit that sets config[path] (dotted, with [n] indexes) to value."""

    def edit(bundle) -> None:
        node = bundle.config
        parts = path.replace("[", ".").replace("]", "").split(".")
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last = parts[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value

    return edit


def _append_namespace(ns_type: str):
    def edit(bundle) -> None:
        bundle.config["linux"]["namespaces"].append({"type": ns_type})

    return edit


def _raw(text: str):
    def edit(bundle) -> None:
        bundle.raw = text

    return edit


_NOT_RUNC = "runc 1.1.5 accepts this config (the issue asks SimCon to refuse it)"

# (test id, edit, JSON path SimCon must name, marks)
CONFIG_ERRORS = [
    pytest.param(_raw('{"ociVersion": "1.0.2", "process": '), None, id="invalid-json"),
    pytest.param(_set("process.args", "sh"), "process.args", id="args-wrong-type"),
    pytest.param(_set("root.path", "no-such-rootfs"), "root.path", id="missing-root-dir"),
    pytest.param(_set("mounts[0].destination", "proc"), "mounts[0].destination", id="relative-mount-destination",
                 marks=pytest.mark.simcon_only(_NOT_RUNC + ": it only warns about a relative destination")),
    pytest.param(_set("linux.namespaces[1]", {"type": "bogus"}), "linux.namespaces[1].type",
                 id="unknown-namespace"),
    pytest.param(_append_namespace("pid"), "linux.namespaces[6]", id="duplicate-namespace"),
    pytest.param(_set("ociVersion", "2.0.0"), "ociVersion", id="unsupported-oci-version",
                 marks=pytest.mark.simcon_only(_NOT_RUNC + ": it does not check the major version")),
    pytest.param(_set("process.args", []), "process.args", id="empty-args"),
]


@pytest.mark.parametrize("verb", ["create", "run"])
@pytest.mark.parametrize("edit, json_path", CONFIG_ERRORS)
def test_invalid_config(rt, verb: str, edit, json_path: str | None) -> None:
    bundle = rt.bundle(["true"], write=False)
    bundle.raw = None
    edit(bundle)
    if bundle.raw is not None:
        bundle.config_path.write_text(bundle.raw)
    else:
        bundle.write()
    proc = rt.run(verb, "--bundle", bundle.path, bundle.cid)
    assert proc.returncode != 0, rt.describe(proc)
    assert "Traceback" not in proc.stderr
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1, rt.describe(proc)
    if rt.is_simcon:
        assert "config.json" in lines[0], lines[0]
        if json_path is not None:
            assert json_path in lines[0], lines[0]
    _assert_nothing_left(rt, bundle.cid)


def test_missing_config_json(rt) -> None:
    bundle = rt.bundle(["true"])
    bundle.config_path.unlink()
    proc = rt.run("create", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode != 0
    assert "config.json" in proc.stderr
    assert "Traceback" not in proc.stderr
    _assert_nothing_left(rt, bundle.cid)


@pytest.mark.parametrize("bad_id", ["../x", "a/b", "", "-x", "..", ".", "/abs"])
def test_invalid_container_id(rt, bad_id: str) -> None:
    bundle = rt.bundle(["true"], cid=rt.new_id())
    before = sorted(p.name for p in rt.tmp.iterdir())
    proc = rt.run("create", "--bundle", bundle.path, bad_id)
    assert proc.returncode != 0, rt.describe(proc)
    assert "Traceback" not in proc.stderr
    assert rt.root_entries() == []
    assert sorted(p.name for p in rt.tmp.iterdir() if p.name != "state") == [n for n in before if n != "state"]


@pytest.mark.simcon_only("SimCon's message names the rule an id breaks")
@pytest.mark.parametrize("bad_id", ["../x", "a/b", ".."])
def test_invalid_container_id_message(rt, bad_id: str) -> None:
    bundle = rt.bundle(["true"])
    proc = rt.run("create", "--bundle", bundle.path, bad_id)
    assert proc.returncode != 0
    assert "invalid container id" in proc.stderr.lower()


def test_log_json_on_failure(rt) -> None:
    bundle = rt.bundle(["no-such-binary-here"])
    log = rt.tmp / "runtime.log"
    proc = rt.run("--log", log, "--log-format", "json", "create", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode != 0
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    errors = [e for e in entries if e.get("level") == "error"]
    assert errors, entries
    assert all(isinstance(e["msg"], str) and e["msg"] and isinstance(e["time"], str) for e in errors)
    assert any("no-such-binary-here" in e["msg"] for e in errors)
    _assert_nothing_left(rt, bundle.cid)


def test_error_is_one_line(rt) -> None:
    proc = rt.run("state", rt.new_id("missing"))
    assert proc.returncode != 0
    lines = _error_lines(proc.stderr)
    assert len(lines) == 1
    assert "container does not exist" in lines[0]
