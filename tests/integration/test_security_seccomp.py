"""seccomp: linux.seccomp applied with libseccomp; a blocked syscall returns the configured errno inside.

The probe for argument conditions is the shell's `kill -SIG 99999`: no such pid exists in the container's pid
namespace, so an allowed kill(2) fails with ESRCH ("No such process") and a filtered one with the rule's errno.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

X86 = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
BLOCK_MKDIR = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": X86,
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}


def run(rt, script: str, seccomp: dict | None, **process: object):
    def edit(bundle) -> None:
        if seccomp is not None:
            bundle.config["linux"]["seccomp"] = seccomp
        bundle.config["process"].update(process)

    return rt.run_container(["sh", "-c", script], edit=edit)


def run_ok(rt, script: str, seccomp: dict | None, **process: object) -> str:
    proc = run(rt, script, seccomp, **process)
    assert proc.returncode == 0, rt.describe(proc)
    return proc.stdout + proc.stderr


def killed(output: str) -> dict[str, str]:
    """signal number -> 'allowed' (ESRCH) or the error text, from `kill -N 99999` lines."""
    result = {}
    for line in output.splitlines():
        if line.startswith("sig "):
            _, number, *rest = line.split(" ", 2)
            text = rest[0] if rest else ""
            result[number] = "allowed" if "No such process" in text else text.split(": ")[-1]
    return result


KILL_PROBE = "for s in 9 10 11; do echo sig $s $(kill -$s 99999 2>&1); done"


def test_blocked_mkdir_returns_eperm_and_seccomp_mode_is_filter(rt) -> None:
    out = run_ok(rt, "grep ^Seccomp: /proc/self/status; mkdir /tmp/x; echo mkdir=$?; touch /tmp/y && echo touch-ok",
                 BLOCK_MKDIR)
    assert "Seccomp:\t2" in out
    assert "mkdir: can't create directory '/tmp/x': Operation not permitted" in out
    assert "mkdir=1" in out
    assert "touch-ok" in out


def test_errno_ret_is_the_configured_errno(rt) -> None:
    seccomp = json.loads(json.dumps(BLOCK_MKDIR))
    seccomp["syscalls"][0]["errnoRet"] = 13
    assert "mkdir: can't create directory '/tmp/x': Permission denied" in run_ok(rt, "mkdir /tmp/x; true", seccomp)


def test_without_seccomp_the_mode_is_disabled(rt) -> None:
    assert "Seccomp:\t0" in run_ok(rt, "grep ^Seccomp: /proc/self/status", None)


@pytest.mark.parametrize(("op", "value", "value_two", "blocked"), [
    ("SCMP_CMP_NE", 10, 0, {"9", "11"}),
    ("SCMP_CMP_LT", 10, 0, {"9"}),
    ("SCMP_CMP_LE", 10, 0, {"9", "10"}),
    ("SCMP_CMP_EQ", 10, 0, {"10"}),
    ("SCMP_CMP_GE", 10, 0, {"10", "11"}),
    ("SCMP_CMP_GT", 10, 0, {"11"}),
    ("SCMP_CMP_MASKED_EQ", 2, 2, {"10", "11"}),  # (sig & 2) == 2
])
def test_argument_operators(rt, op: str, value: int, value_two: int, blocked: set[str]) -> None:
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
         "args": [{"index": 1, "value": value, "valueTwo": value_two, "op": op}]}]}
    result = killed(run_ok(rt, KILL_PROBE, seccomp))
    assert {sig for sig, what in result.items() if what == "Operation not permitted"} == blocked, result
    assert {sig for sig, what in result.items() if what == "allowed"} == {"9", "10", "11"} - blocked, result


def test_two_conditions_on_one_argument_are_or_on_different_arguments_and(rt) -> None:
    same_arg = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 11, "op": "SCMP_CMP_EQ"}]}]}
    result = killed(run_ok(rt, KILL_PROBE, same_arg))
    assert result == {"9": "Operation not permitted", "10": "allowed", "11": "Operation not permitted"}

    both_args = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["kill"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 99999, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]}]}
    out = run_ok(rt, KILL_PROBE + "; echo other $(kill -10 99998 2>&1)", both_args)
    assert killed(out) == {"9": "allowed", "10": "Operation not permitted", "11": "allowed"}
    assert "99998: No such process" in out


def test_default_action_and_default_errno_ret(rt) -> None:
    # Everything not allowed fails with defaultErrnoRet: here mkdir is simply missing from the allow-list.
    profile = default_profile_from_simcon_spec(rt)
    names = profile["syscalls"][0]["names"]
    profile["syscalls"][0]["names"] = [n for n in names if n not in ("mkdir", "mkdirat")]
    profile["defaultErrnoRet"] = 13
    out = run_ok(rt, "mkdir /tmp/x; echo done", profile)
    assert "mkdir: can't create directory '/tmp/x': Permission denied" in out
    assert "done" in out


def test_own_setup_is_not_filtered_and_the_filter_applies_without_no_new_privileges(rt) -> None:
    # mount and pivot_root are what SimCon itself calls while setting the container up: blocking them must
    # not stop the container from starting, yet must stop the process inside (even with CAP_SYS_ADMIN).
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mount", "pivot_root", "umount2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
    admin = ["CAP_SYS_ADMIN"]
    caps = {"bounding": admin, "effective": admin, "permitted": admin}
    script = "mount -t tmpfs t /tmp && echo mount-ok; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status"
    for no_new_privileges in (True, False):
        out = run_ok(rt, script, seccomp, capabilities=caps, noNewPrivileges=no_new_privileges)
        # busybox words EPERM from mount(2) as "permission denied (are you root?)"
        assert "mount-ok" not in out and "mount: permission denied" in out, out
        assert "Seccomp:\t2" in out
    assert "mount-ok" in run_ok(rt, script, None, capabilities=caps)


@pytest.mark.simcon_only("runc 1.1.5 says seccomp flags are not yet supported")
def test_flags_are_accepted(rt) -> None:
    seccomp = dict(BLOCK_MKDIR, flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"])
    assert "Operation not permitted" in run_ok(rt, "mkdir /tmp/x; true", seccomp)


def test_default_profile_blocks_namespaces_mounts_and_friends(rt) -> None:
    profile = default_profile_from_simcon_spec(rt)
    admin = ["CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_SYS_MODULE"]
    caps = {"bounding": admin, "effective": admin, "permitted": admin}
    script = ("grep ^Seccomp: /proc/self/status; mkdir /tmp/d && echo mkdir-ok; "
              "echo unshare $(unshare -m true 2>&1); echo mount $(mount -t tmpfs t /tmp 2>&1); "
              "echo swapoff $(swapoff -a 2>&1 && echo ok); "
              "echo clone-ok $(sh -c 'echo child'); uname -m; ps >/dev/null && echo ps-ok")
    out = run_ok(rt, script, profile, capabilities=caps)
    assert "Seccomp:\t2" in out
    assert "mkdir-ok" in out and "clone-ok child" in out and "ps-ok" in out
    assert "unshare: unshare(0x20000): Operation not permitted" in out
    assert "mount mount: permission denied" in out
    # the same probes succeed without the profile, so it is the filter that stops them
    plain = run_ok(rt, "unshare -m true && echo unshare-ok; mount -t tmpfs t /tmp && echo mount-ok", None,
                   capabilities=caps)
    assert "unshare-ok" in plain and "mount-ok" in plain


@pytest.mark.simcon_only("SimCon warns about the names it skips")
def test_unknown_syscall_name_is_skipped_with_a_warning(rt) -> None:
    seccomp = json.loads(json.dumps(BLOCK_MKDIR))
    seccomp["syscalls"][0]["names"].insert(0, "no_such_syscall")
    bundle = rt.bundle(["sh", "-c", "mkdir /tmp/x; true"], write=False)
    bundle.config["linux"]["seccomp"] = seccomp
    bundle.write()
    # Warnings reach stderr only with --debug (without it, stderr is the container's alone).
    proc = rt.run("--debug", "run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert "Operation not permitted" in proc.stderr
    assert "no_such_syscall" in proc.stderr and "skipped" in proc.stderr


@pytest.mark.simcon_only("SimCon's messages and JSON paths")
@pytest.mark.parametrize(("change", "where"), [
    (lambda s: s["syscalls"][0].update(action="SCMP_ACT_FLY"), "linux.seccomp.syscalls[0].action"),
    (lambda s: s.update(defaultAction="ALLOW"), "linux.seccomp.defaultAction"),
    (lambda s: s["syscalls"][0].update(args=[{"index": 0, "value": 1, "op": "SCMP_CMP_SAME"}]),
     "linux.seccomp.syscalls[0].args[0].op"),
    (lambda s: s["syscalls"][0].update(args=[{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]),
     "linux.seccomp.syscalls[0].args[0].index"),
    (lambda s: s.update(flags=["SECCOMP_FILTER_FLAG_FAST"]), "linux.seccomp.flags[0]"),
    (lambda s: s.update(architectures=["SCMP_ARCH_VAX"]), "linux.seccomp.architectures[0]"),
])
def test_bad_seccomp_input_is_a_clear_error_and_leaves_nothing(rt, change, where: str) -> None:
    seccomp = json.loads(json.dumps(BLOCK_MKDIR))
    change(seccomp)
    proc = run(rt, "true", seccomp)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and where in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert rt.root_entries() == []


# --- `simcon spec` ------------------------------------------------------------------------------------------


def simcon_cli(*args: str, cwd=None) -> subprocess.CompletedProcess:
    import sys
    from pathlib import Path

    return subprocess.run([str(Path(sys.executable).parent / "simcon"), *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60)


def default_profile_from_simcon_spec(rt) -> dict:
    """The profile `simcon spec` writes (always SimCon's, whatever runtime is under test)."""
    directory = rt.mkdir(f"spec-{len(rt.ids)}-{id(rt)}")
    proc = simcon_cli("spec", "--bundle", str(directory))
    assert proc.returncode == 0, proc.stderr
    return json.loads((directory / "config.json").read_text())["linux"]["seccomp"]


def test_simcon_spec_writes_the_default_profile(rt) -> None:
    profile = default_profile_from_simcon_spec(rt)
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    allowed = set(profile["syscalls"][0]["names"])
    assert {"read", "write", "execve", "openat", "mkdirat"} <= allowed
    for blocked in ("mount", "umount2", "pivot_root", "unshare", "setns", "kexec_load", "init_module",
                    "finit_module", "delete_module", "keyctl", "add_key", "request_key", "bpf", "ptrace",
                    "process_vm_readv", "perf_event_open", "reboot", "swapon", "userfaultfd", "open_by_handle_at",
                    "io_uring_setup", "fsopen", "clock_settime"):
        assert blocked not in allowed, blocked


def test_simcon_spec_seccomp_takes_a_docker_profile(rt) -> None:
    docker = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW", "comment": "always"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["kill"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_KILL"]}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64", "x32"]}},
            {"names": ["sync_file_range2"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["ppc64le"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["reboot"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_KILL"]}},
        ],
    }
    profile_file = rt.tmp / "docker-profile.json"
    profile_file.write_text(json.dumps(docker))
    directory = rt.mkdir("docker-spec")
    proc = simcon_cli("spec", "--bundle", str(directory), "--seccomp", str(profile_file))
    assert proc.returncode == 0, proc.stderr
    seccomp = json.loads((directory / "config.json").read_text())["linux"]["seccomp"]
    import platform
    if platform.machine() == "x86_64":
        assert seccomp["architectures"] == X86
    names = [name for call in seccomp["syscalls"] for name in call["names"]]
    assert names[:3] == ["read", "write", "kill"]  # default caps: CAP_KILL yes, CAP_SYS_ADMIN no
    assert "mount" not in names and "reboot" not in names and "sync_file_range2" not in names
    assert "ptrace" in names
    assert all(set(call) <= {"names", "action", "errnoRet", "args"} for call in seccomp["syscalls"])


def test_simcon_spec_seccomp_unconfined_and_bad_profile(rt) -> None:
    directory = rt.mkdir("unconfined")
    assert simcon_cli("spec", "--bundle", str(directory), "--seccomp", "unconfined").returncode == 0
    assert "seccomp" not in json.loads((directory / "config.json").read_text())["linux"]

    bad = rt.tmp / "bad.json"
    bad.write_text('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "NOPE"}]}')
    directory = rt.mkdir("bad")
    proc = simcon_cli("spec", "--bundle", str(directory), "--seccomp", str(bad))
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1 and "syscalls[0].action" in proc.stderr, proc.stderr
    assert str(bad) in proc.stderr
    assert not (directory / "config.json").exists()

    bad.write_text("{nope")
    proc = simcon_cli("spec", "--bundle", str(directory), "--seccomp", str(bad))
    assert proc.returncode != 0 and "invalid JSON" in proc.stderr and "Traceback" not in proc.stderr
    assert not (directory / "config.json").exists()


# --- exec ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("no_new_privileges", [True, False])
def test_exec_gets_the_container_filter(rt, no_new_privileges: bool) -> None:
    bundle = rt.bundle(["sleep", "3600"], write=False)
    bundle.config["linux"]["seccomp"] = BLOCK_MKDIR
    bundle.config["process"]["noNewPrivileges"] = no_new_privileges
    bundle.write()
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    proc = rt.run("exec", bundle.cid, "sh", "-c", "grep ^Seccomp: /proc/self/status; mkdir /tmp/x; echo rc=$?")
    assert proc.returncode == 0, rt.describe(proc)
    assert "Seccomp:\t2" in proc.stdout and "rc=1" in proc.stdout
    assert "mkdir: can't create directory '/tmp/x': Operation not permitted" in proc.stderr


@pytest.mark.simcon_only("SimCon keeps the compiled filter in the container's state directory")
def test_exec_applies_the_filter_create_compiled_even_if_the_bundle_changes(rt) -> None:
    bundle = rt.bundle(["sleep", "3600"], write=False)
    bundle.config["linux"]["seccomp"] = BLOCK_MKDIR
    bundle.write()
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    bundle.config["linux"].pop("seccomp")
    bundle.write()
    proc = rt.run("exec", bundle.cid, "sh", "-c", "mkdir /tmp/x; echo rc=$?")
    assert proc.returncode == 0, rt.describe(proc)
    assert "rc=1" in proc.stdout and "Operation not permitted" in proc.stderr


@pytest.mark.simcon_only("SimCon's own setup steps under its profile (and runc 1.1.5 ignores linux.personality)")
def test_default_profile_lets_simcon_finish_setup_without_no_new_privileges(rt) -> None:
    """Without noNewPrivileges the filter is loaded before the user switch, so SimCon's remaining steps (user and
    capabilities, personality, chdir, the exec fifo, execve) run under it: the default profile must allow them."""
    profile = default_profile_from_simcon_spec(rt)
    caps = {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"],
            "inheritable": ["CAP_KILL"], "ambient": ["CAP_KILL"]}

    def edit(bundle) -> None:
        bundle.config["linux"]["seccomp"] = profile
        bundle.config["linux"]["personality"] = {"domain": "LINUX32"}
        bundle.config["process"].update(noNewPrivileges=False, capabilities=caps, cwd="/tmp",
                                        user={"uid": 1000, "gid": 1000, "additionalGids": [10]})

    proc = rt.run_container(["sh", "-c", "id -u; id -G; uname -m; pwd; grep -E '^(Seccomp|NoNewPrivs|CapAmb):' "
                                         "/proc/self/status"], edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    lines = proc.stdout.splitlines()
    assert lines[0] == "1000" and set(lines[1].split()) == {"1000", "10"}
    assert lines[2] == "i686" and lines[3] == "/tmp"
    assert "Seccomp:\t2" in lines and "NoNewPrivs:\t0" in lines and "CapAmb:\t0000000000000020" in lines


# --- SCMP_ACT_NOTIFY ----------------------------------------------------------------------------------------

SECCOMP_IOCTL_NOTIF_RECV = 0xC0502100  # _IOWR('!', 0, struct seccomp_notif)
SECCOMP_IOCTL_NOTIF_SEND = 0xC0182101  # _IOWR('!', 1, struct seccomp_notif_resp)
EXDEV = 18


def serve_one_notification(server, result: dict) -> None:
    """Accept SimCon's connection, take the listener fd and state, answer one notification with EXDEV."""
    import fcntl
    import socket
    import struct

    conn, _ = server.accept()
    with conn:
        message, fds, _, _ = socket.recv_fds(conn, 65536, 1)
        conn.settimeout(30)
        result["eof"] = conn.recv(1) == b""  # no copy of SimCon's end stays open
    result["state"] = json.loads(message)
    (listener,) = fds
    try:
        notification = bytearray(80)
        fcntl.ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, notification)
        notification_id, pid, _, nr = struct.unpack_from("<QIIi", notification)
        result["nr"] = nr
        fcntl.ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, struct.pack("<QqiI", notification_id, 0, -EXDEV, 0))
    finally:
        os.close(listener)


@pytest.mark.simcon_only("runc 1.1.5's notify support needs its own listener protocol details; SimCon's state")
def test_notify_sends_the_listener_fd_and_the_listener_decides(rt) -> None:
    import socket
    import threading

    path = str(rt.tmp / "listener.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    server.settimeout(60)
    result: dict = {}
    thread = threading.Thread(target=serve_one_notification, args=(server, result), daemon=True)
    thread.start()
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": path, "listenerMetadata": "probe",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}
    try:
        proc = run(rt, "mkdir /tmp/x; echo rc=$?; ls /proc/self/fd", seccomp)
        thread.join(60)
    finally:
        server.close()
    assert proc.returncode == 0, rt.describe(proc)
    assert "mkdir: can't create directory '/tmp/x': Invalid cross-device link" in proc.stderr
    assert proc.stdout.split()[1:] == ["0", "1", "2", "3"]  # the listener socket did not reach the container
    state = result["state"]
    assert result["eof"] is True
    assert state["fds"] == ["seccompFd"] and state["metadata"] == "probe"
    assert state["state"]["status"] == "running" and state["state"]["bundle"].endswith(rt.ids[-1])
    assert state["pid"] == state["state"]["pid"] > 0
    assert result["nr"] in (83, 258)  # mkdir or mkdirat on x86_64


@pytest.mark.simcon_only("SimCon's message and JSON path")
def test_notify_without_a_listening_socket_is_a_clear_error(rt) -> None:
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": str(rt.tmp / "nobody.sock"),
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    proc = run(rt, "true", seccomp)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "linux.seccomp.listenerPath" in lines[0] and "cannot connect" in lines[0]
    assert rt.root_entries() == []
