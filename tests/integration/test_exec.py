"""`exec`: another process in a running container, seen from inside it and from the host."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest

NAMESPACES = ("cgroup", "ipc", "mnt", "net", "pid", "uts")


def _start(rt, args: list[str] | None = None, edit=None):  # noqa: ANN001, ANN202
    bundle = rt.bundle(args or ["sleep", "3600"], write=False)
    if edit is not None:
        edit(bundle)
    bundle.write()
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    return bundle


def _pid_of(rt, cid: str) -> int:  # noqa: ANN001
    return rt.state(cid)["pid"]


def test_exec_joins_every_namespace_of_the_init(rt) -> None:
    bundle = _start(rt)
    init_pid = _pid_of(rt, bundle.cid)
    script = "; ".join(f"echo {ns} $(readlink /proc/self/ns/{ns})" for ns in NAMESPACES)
    proc = rt.ok("exec", bundle.cid, "sh", "-c", script)
    seen = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    for ns in NAMESPACES:
        assert seen[ns] == os.readlink(f"/proc/{init_pid}/ns/{ns}"), ns
        assert seen[ns] != rt.host_ns(ns), f"{ns}: the container has its own"


def test_exec_joins_the_container_cgroup(rt) -> None:
    bundle = _start(rt)
    pid_file = rt.tmp / "exec.pid"
    rt.ok("exec", "--detach", "--pid-file", pid_file, bundle.cid, "sleep", "3600")
    pid = int(pid_file.read_text())
    assert os.readlink(f"/proc/{pid}/ns/pid") == os.readlink(f"/proc/{_pid_of(rt, bundle.cid)}/ns/pid")
    dirs = rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid))
    assert dirs
    for directory in dirs:
        assert str(pid) in (directory / "cgroup.procs").read_text().split(), directory


def test_exec_sees_pid_namespace_from_inside(rt) -> None:
    """In the container's pid namespace the init is 1 and the exec'd shell some other small number."""
    bundle = _start(rt)
    proc = rt.ok("exec", bundle.cid, "sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '")
    mine, init_cmdline = proc.stdout.splitlines()
    assert mine != "1"
    assert init_cmdline.split() == ["sleep", "3600"]


def test_exec_gets_the_container_env_and_cwd(rt) -> None:
    def env_cwd(bundle) -> None:
        bundle.config["process"]["env"] = ["PATH=/bin:/usr/bin", "FROM_CONFIG=yes"]
        bundle.config["process"]["cwd"] = "/tmp"

    bundle = _start(rt, edit=env_cwd)
    proc = rt.ok("exec", bundle.cid, "sh", "-c", 'echo "$FROM_CONFIG"; pwd; id -u')
    assert proc.stdout.splitlines() == ["yes", "/tmp", "0"]


def test_exec_env_cwd_user_as_asked(rt) -> None:
    def env(bundle) -> None:
        bundle.config["process"]["env"] = ["PATH=/bin:/usr/bin", "KEEP=1", "OVERRIDE=old"]

    bundle = _start(rt, edit=env)
    proc = rt.ok("exec", "--env", "OVERRIDE=new", "--env", "ADDED=two words", "--cwd", "/etc",
                 "--user", "1000:1001", "--additional-gids", "10", bundle.cid,
                 "sh", "-c", 'echo "$KEEP $OVERRIDE $ADDED"; pwd; id -u; id -g; id -G')
    lines = proc.stdout.splitlines()
    assert lines[:4] == ["1 new two words", "/etc", "1000", "1001"]
    assert set(lines[4].split()) == {"1001", "10"}


def test_exec_user_without_group_keeps_the_container_gid(rt) -> None:
    def user(bundle) -> None:
        bundle.config["process"]["user"] = {"uid": 0, "gid": 100}

    bundle = _start(rt, edit=user)
    proc = rt.ok("exec", "--user", "1234", bundle.cid, "sh", "-c", "id -u; id -g")
    assert proc.stdout.splitlines() == ["1234", "100"]


@pytest.mark.parametrize(("script", "code"), [("exit 0", 0), ("exit 3", 3), ("kill -9 $$", 137),
                                              ("kill -TERM $$", 143)])
def test_exec_exit_status_propagates(rt, script: str, code: int) -> None:
    bundle = _start(rt)
    proc = rt.run("exec", bundle.cid, "sh", "-c", script)
    assert proc.returncode == code, rt.describe(proc)


def test_exec_stdio_passes_through(rt) -> None:
    bundle = _start(rt)
    proc = rt.run("exec", bundle.cid, "sh", "-c", "echo out; echo err >&2")
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "out\n"
    assert "err\n" in proc.stderr


@pytest.mark.simcon_only("the text after the engine-matched part is SimCon's")
def test_exec_missing_binary(rt) -> None:
    bundle = _start(rt)
    proc = rt.run("exec", bundle.cid, "no-such-binary")
    assert proc.returncode != 0
    assert 'exec: "no-such-binary": executable file not found in $PATH' in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    # The container is untouched.
    assert rt.status(bundle.cid) == "running"


@pytest.mark.simcon_only("SimCon's message")
def test_exec_in_stopped_container_is_a_clear_error(rt) -> None:
    bundle = _start(rt, ["true"])
    rt.wait_status(bundle.cid, "stopped")
    proc = rt.run("exec", bundle.cid, "true")
    assert proc.returncode != 0
    assert proc.stderr.strip() == f"simcon: exec `{bundle.cid}`: cannot exec in a container that is stopped", \
        proc.stderr


def test_exec_in_missing_container(rt) -> None:
    proc = rt.run("exec", "no-such-container", "true")
    assert proc.returncode != 0
    assert "container does not exist" in proc.stderr


@pytest.mark.simcon_only("needs SimCon's `pause` verb")
def test_exec_in_paused_container_needs_ignore_paused(rt) -> None:
    bundle = _start(rt)
    probe = rt.run("pause", bundle.cid)
    assert probe.returncode == 0, rt.describe(probe)
    try:
        proc = rt.run("exec", bundle.cid, "true")
        assert proc.returncode != 0
        assert "cannot exec in a container that is paused" in proc.stderr
        pid_file = rt.tmp / "paused.pid"
        rt.ok("exec", "--ignore-paused", "--detach", "--pid-file", pid_file, bundle.cid, "sleep", "3600")
        assert pid_file.read_text().strip().isdigit()
    finally:
        rt.run("resume", bundle.cid)


def test_exec_process_json(rt) -> None:
    bundle = _start(rt)
    process = {"args": ["sh", "-c", 'echo "$ONLY"; pwd; id -u'], "env": ["PATH=/bin:/usr/bin", "ONLY=from-json"], "cwd": "/var",
               "user": {"uid": 7, "gid": 7}}
    path = rt.tmp / "process.json"
    path.write_text(json.dumps(process))
    proc = rt.ok("exec", "--process", path, bundle.cid)
    assert proc.stdout.splitlines() == ["from-json", "/var", "7"]


@pytest.mark.simcon_only("SimCon's JSON-path error")
def test_exec_process_json_error_names_the_json_path(rt) -> None:
    bundle = _start(rt)
    path = rt.tmp / "process.json"
    path.write_text(json.dumps({"args": ["true"], "cwd": "/", "user": {"uid": "root"}}))
    proc = rt.run("exec", "--process", path, bundle.cid)
    assert proc.returncode != 0
    assert f"{path}: user.uid" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_exec_pid_file_names_the_process(rt) -> None:
    bundle = _start(rt)
    pid_file = rt.tmp / "p.pid"
    rt.ok("exec", "-d", "--pid-file", pid_file, bundle.cid, "sh", "-c", "exec sleep 3600")
    pid = int(pid_file.read_text())
    rt.wait_for(lambda: open(f"/proc/{pid}/comm").read().strip() == "sleep", what="the exec'd sh to exec sleep")


def test_exec_preserve_fds(rt) -> None:
    bundle = _start(rt)
    extra = rt.tmp / "extra"
    extra.write_text("through fd 3\n")
    wrap = ["sh", "-c", 'exec 3<"$0"; exec "$@"', str(extra)]
    proc = rt.run("exec", "--preserve-fds", "1", bundle.cid, "sh", "-c", "cat <&3; ls /proc/$$/fd; true",
                  wrap=wrap)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["through fd 3", "0", "1", "2", "3"]
    proc = rt.run("exec", bundle.cid, "sh", "-c", "ls /proc/$$/fd; true", wrap=wrap)
    assert proc.stdout.split() == ["0", "1", "2"], rt.describe(proc)


def test_exec_tty_sends_a_working_pty_master(rt) -> None:
    """The test is the console-socket receiver, as conmon or containerd's shim would be: it gets the master,
    types a command into the container's shell and reads the echo and the output back."""
    bundle = _start(rt)
    sock_path = str(rt.tmp / "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    listener.settimeout(60)
    master = None
    try:
        pid_file = rt.tmp / "tty.pid"
        rt.ok("exec", "--tty", "--detach", "--console-socket", sock_path, "--pid-file", pid_file,
              bundle.cid, "sh")
        conn, _ = listener.accept()
        with conn:
            payload, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
        assert len(fds) == 1
        master = fds[0]
        assert payload  # the pty's name: SimCon sends the slave's path, runc "/dev/ptmx"
        os.write(master, b"tty; echo MARK-$((6*7))\n")
        seen = b""
        deadline = time.monotonic() + 60
        while b"MARK-42" not in seen and time.monotonic() < deadline:
            seen += os.read(master, 4096)
        assert b"MARK-42" in seen, seen
        assert b"/dev/pts/" in seen, seen
        os.write(master, b"exit\n")
    finally:
        listener.close()
        if master is not None:
            os.close(master)


@pytest.mark.simcon_only("SimCon's message")
def test_exec_tty_detached_without_console_socket_is_refused(rt) -> None:
    bundle = _start(rt)
    proc = rt.run("exec", "--tty", "--detach", bundle.cid, "sh")
    assert proc.returncode != 0
    assert "--console-socket" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_exec_in_sub_cgroup(rt) -> None:
    bundle = _start(rt)
    dirs = rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid))
    memory = [d for d in dirs if "memory" in d.parts[4].split(",")]
    if not memory:
        pytest.skip("no memory cgroup hierarchy on this host")
    sub = memory[0] / "sub"
    sub.mkdir()
    try:
        pid_file = rt.tmp / "sub.pid"
        rt.ok("exec", "-d", "--cgroup", "memory:sub", "--pid-file", pid_file, bundle.cid, "sleep", "3600")
        pid = pid_file.read_text().strip()
        assert pid in (sub / "cgroup.procs").read_text().split()
        os.kill(int(pid), 9)
        rt.wait_for(lambda: not (sub / "cgroup.procs").read_text().split(), what="the sub-cgroup to empty")
    finally:
        rt.wait_for(lambda: _rmdir(sub), what="rmdir of the sub-cgroup")


def _rmdir(path) -> bool:  # noqa: ANN001
    try:
        path.rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


@pytest.mark.simcon_only("SimCon's messages")
@pytest.mark.parametrize(("flags", "expected"), [
    (("--process", "/no/such/process.json"), "/no/such/process.json: no such file (given by --process)"),
    (("--user", "root"), "--user 'root': expected UID[:GID] as numbers"),
    (("--cap", "CAP_BOGUS"), "--cap 'CAP_BOGUS': unknown capability"),
    (("--cgroup", "no-such-sub"), "--cgroup 'no-such-sub': no such sub-cgroup"),
    (("--preserve-fds", "-1"), "--preserve-fds must not be negative"),
    (("--cwd", "relative"), "--cwd 'relative': must be an absolute path"),
    (("--env", "JUSTANAME"), "--env 'JUSTANAME': expected KEY=VALUE"),
    (("--env", "=value"), "--env '=value': expected KEY=VALUE"),
])
def test_exec_bad_flags_are_one_clear_line(rt, flags: tuple[str, ...], expected: str) -> None:
    bundle = _start(rt)
    args = [*flags, bundle.cid] + ([] if flags[0] == "--process" else ["true"])
    proc = rt.run("exec", *args)
    assert proc.returncode != 0
    assert expected in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert rt.status(bundle.cid) == "running"


@pytest.mark.simcon_only("runc wants a terminal on its own stdin to relay one")
def test_exec_tty_in_the_foreground_relays_the_terminal(rt) -> None:
    """Without --console-socket SimCon holds the master itself and copies the output through."""
    bundle = _start(rt)
    proc = rt.run("exec", "--tty", bundle.cid, "sh", "-c", "tty; echo sum=$((1+2)); exit 5")
    assert proc.returncode == 5, rt.describe(proc)
    lines = proc.stdout.replace("\r\n", "\n").splitlines()
    assert lines[0].startswith("/dev/pts/"), proc.stdout
    assert "sum=3" in lines


@pytest.mark.simcon_only("needs SimCon's `ps --format json`")
def test_ps_lists_exec_processes(rt) -> None:
    bundle = _start(rt)
    pid_file = rt.tmp / "ps.pid"
    rt.ok("exec", "-d", "--pid-file", pid_file, bundle.cid, "sleep", "3600")
    probe = rt.run("ps", "--format", "json", bundle.cid)
    assert probe.returncode == 0, rt.describe(probe)
    pids = json.loads(probe.stdout)
    assert int(pid_file.read_text()) in pids
    assert rt.state(bundle.cid)["pid"] in pids
