"""seccomp without containers: profile files (OCI, Docker/moby), the default profile, and compiling with libseccomp."""

from __future__ import annotations

import json

import pytest

from simcon.errors import ConfigError
from simcon.runtime.plan.seccomp import seccomp_plan
from simcon.runtime.state import save_seccomp, saved_seccomp
from simcon.spec.model import Seccomp
from simcon.spec.seccomp import default_profile, profile_from_file, profile_problems

CFG = "/b/config.json"


def seccomp(**fields) -> Seccomp:
    from simcon.records import convert

    return convert(fields, Seccomp)


def test_default_profile_is_an_allow_list_for_the_host_family() -> None:
    profile = default_profile("x86_64")
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO" and profile["defaultErrnoRet"] == 1
    assert profile["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert default_profile("aarch64")["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert profile_problems(profile) == []
    allowed = {n for call in profile["syscalls"] if call["action"] == "SCMP_ACT_ALLOW" and not call.get("args")
               for n in call["names"]}
    assert {"read", "openat", "execve", "exit_group"} <= allowed
    assert not {"mount", "unshare", "setns", "kexec_load", "init_module", "bpf", "keyctl", "ptrace"} & allowed


def test_default_profile_compiles_without_skipping_anything(capsys) -> None:
    plan = seccomp_plan(seccomp(**default_profile()), CFG)
    assert plan.skipped == ()
    assert plan.program and len(plan.program) % 8 == 0
    assert capsys.readouterr().err == ""


def test_compile_flags_and_skipped_names(capsys, warnings_on_stderr) -> None:
    plan = seccomp_plan(seccomp(defaultAction="SCMP_ACT_ALLOW", flags=["SECCOMP_FILTER_FLAG_LOG"],
                                         syscalls=[{"names": ["mkdir", "bogus_call"], "action": "SCMP_ACT_ERRNO"}]),
                                 CFG)
    assert plan.flags == 2
    assert plan.skipped == ("bogus_call",)
    assert "linux.seccomp.syscalls: syscalls unknown to libseccomp.so.2 skipped: bogus_call" in capsys.readouterr().err


def test_rule_with_the_default_action_is_dropped() -> None:
    same = seccomp_plan(seccomp(defaultAction="SCMP_ACT_ALLOW",
                                         syscalls=[{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]), CFG)
    empty = seccomp_plan(seccomp(defaultAction="SCMP_ACT_ALLOW"), CFG)
    assert same.program == empty.program


@pytest.mark.parametrize(("fields", "where"), [
    ({"defaultAction": "SCMP_ACT_NOPE"}, "linux.seccomp.defaultAction"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "KILL"}]},
     "linux.seccomp.syscalls[0].action"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_KILL"}]},
     "linux.seccomp.syscalls[0].names"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO",
                                                       "errnoRet": 70000}]}, "linux.seccomp.syscalls[0].action"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PDP11"]}, "linux.seccomp.architectures[0]"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_NEW_LISTENER"]}, "linux.seccomp.flags[0]"),
])
def test_bad_input_names_the_json_path(fields: dict, where: str) -> None:
    with pytest.raises(ConfigError) as info:
        seccomp_plan(seccomp(**fields), CFG)
    assert f"{CFG}: {where}:" in str(info.value)


def test_notify_needs_a_listener_and_asks_for_one() -> None:
    with pytest.raises(ConfigError, match="linux.seccomp.listenerPath: required"):
        seccomp_plan(seccomp(defaultAction="SCMP_ACT_ALLOW",
                                      syscalls=[{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]), CFG)
    with pytest.raises(ConfigError, match="linux.seccomp.listenerPath: must be an absolute path"):
        seccomp_plan(seccomp(defaultAction="SCMP_ACT_ALLOW", listenerPath="l.sock",
                                      syscalls=[{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]), CFG)
    plan = seccomp_plan(seccomp(defaultAction="SCMP_ACT_ALLOW", listenerPath="/run/l.sock",
                                         listenerMetadata="m",
                                         syscalls=[{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]), CFG)
    assert plan.flags & 8  # SECCOMP_FILTER_FLAG_NEW_LISTENER
    assert (plan.listener_path, plan.listener_metadata) == ("/run/l.sock", "m")
    # a listenerPath without any SCMP_ACT_NOTIFY rule asks for nothing
    plain = seccomp_plan(seccomp(defaultAction="SCMP_ACT_ALLOW", listenerPath="/run/l.sock"), CFG)
    assert plain.listener_path is None and not plain.flags & 8


# --- profile files ---


def write(tmp_path, data) -> str:
    path = tmp_path / "profile.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_oci_profile_file_is_taken_as_is(tmp_path) -> None:
    oci = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
           "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
    assert profile_from_file(write(tmp_path, oci), []) == oci


def test_docker_profile_is_resolved_for_arch_caps_and_kernel(tmp_path) -> None:
    docker = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "x", "args": []},
            {"name": "write", "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
            {"names": ["new_call"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "6.1"}},
            {"names": ["vm86"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1, "excludes": {"caps": ["CAP_KILL"]}},
        ],
    }
    path = write(tmp_path, docker)
    x86 = profile_from_file(path, ["CAP_KILL"], machine="x86_64", kernel="5.10.0-20-amd64")
    assert x86["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
    assert [c["names"] for c in x86["syscalls"]] == [["read"], ["write"], ["arch_prctl"]]
    assert x86["syscalls"][0] == {"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": []}
    arm = profile_from_file(path, ["CAP_SYS_ADMIN"], machine="aarch64", kernel="6.1.0")
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    assert [c["names"][0] for c in arm["syscalls"]] == ["read", "write", "mount", "new_call", "vm86", "kill"]


@pytest.mark.parametrize(("text", "needle"), [
    ("{nope", "invalid JSON at line 1 column 2"),
    ('{"defaultAction": "SCMP_ACT_ALLOW",\n "syscalls": [1,]}', "invalid JSON at line 2 column 17: trailing comma"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "comment": "a\\u0000b"}', "comment: contains a NUL byte"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("[1, 2]", "expected a JSON object"),
    ('{"syscalls": []}', "defaultAction: required"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW", '
     '"args": [{"index": 0, "value": 1, "op": "EQ"}]}]}', "syscalls[0].args[0].op: unknown operator"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["X"]}', "flags[0]: unknown seccomp flag"),
])
def test_bad_profile_file_is_one_clear_line(tmp_path, text: str, needle: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        profile_from_file(path, [])
    assert str(info.value).startswith(path) and needle in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_profile_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        profile_from_file(str(tmp_path / "missing.json"), [])


def test_the_saved_filter_round_trips(tmp_path) -> None:
    assert saved_seccomp(str(tmp_path)) == (False, None)
    save_seccomp(None, str(tmp_path))
    assert saved_seccomp(str(tmp_path)) == (True, None)
    plan = seccomp_plan(seccomp(defaultAction="SCMP_ACT_ALLOW", flags=["SECCOMP_FILTER_FLAG_LOG"],
                                         syscalls=[{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]), CFG)
    save_seccomp(plan, str(tmp_path))
    found, saved = saved_seccomp(str(tmp_path))
    assert found and saved.program == plan.program and saved.flags == plan.flags and saved.listener_path is None
