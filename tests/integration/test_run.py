"""`run` in the foreground: what the container's process sees and what the caller gets back."""

from __future__ import annotations

import tempfile


def test_stdout_passes_through(rt) -> None:
    proc = rt.run_container(["echo", "hello from the container"])
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "hello from the container\n"


def test_stderr_passes_through(rt) -> None:
    proc = rt.run_container(["sh", "-c", "echo oops >&2"])
    assert proc.returncode == 0, rt.describe(proc)
    assert "oops\n" in proc.stderr
    assert proc.stdout == ""


def test_exit_status_zero(rt) -> None:
    proc = rt.run_container(["true"])
    assert proc.returncode == 0, rt.describe(proc)


def test_exit_status_propagates(rt) -> None:
    proc = rt.run_container(["sh", "-c", "exit 3"])
    assert proc.returncode == 3, rt.describe(proc)


def test_exit_status_of_self_sigkill_is_137(rt) -> None:
    """`kill -9 $$` only kills a shell that is not the init of a pid namespace: the kernel drops signals that an
    init sends itself when it has no handler (SIGKILL can have none). So this container shares the host's pid
    namespace, where the shell is an ordinary process."""

    def no_pid_ns(bundle) -> None:
        ns = bundle.config["linux"]["namespaces"]
        bundle.config["linux"]["namespaces"] = [n for n in ns if n["type"] != "pid"]

    proc = rt.run_container(["sh", "-c", "kill -9 $$; echo survived"], edit=no_pid_ns)
    assert proc.returncode == 128 + 9, rt.describe(proc)
    assert "survived" not in proc.stdout


def test_exit_status_of_container_killed_from_outside_is_137(rt) -> None:
    bundle = rt.bundle(["sh", "-c", "while :; do sleep 1; done"])
    with tempfile.TemporaryFile() as out:
        runner = rt.popen("run", "--bundle", bundle.path, bundle.cid, stdout=out, stderr=out)
        try:
            rt.wait_status(bundle.cid, "running")
            rt.ok("kill", bundle.cid, "KILL")
            assert runner.wait(timeout=60) == 128 + 9
        finally:
            if runner.poll() is None:
                runner.kill()
                runner.wait(timeout=30)


def test_hostname_from_config(rt) -> None:
    def set_hostname(bundle) -> None:
        bundle.config["hostname"] = "box-under-test"

    proc = rt.run_container(["hostname"], edit=set_hostname)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "box-under-test\n"


def test_process_is_pid_1(rt) -> None:
    proc = rt.run_container(["sh", "-c", "echo $$"])
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "1\n"


def test_ps_shows_only_container_processes(rt) -> None:
    # `; true` keeps sh alive as PID 1 (otherwise it would exec ps directly).
    proc = rt.run_container(["sh", "-c", "ps -o pid,comm; true"])
    assert proc.returncode == 0, rt.describe(proc)
    rows = [line.split() for line in proc.stdout.splitlines()[1:]]
    assert sorted((comm, pid == "1") for pid, comm in rows) == [("ps", False), ("sh", True)], proc.stdout


def test_env_and_cwd_from_config(rt) -> None:
    def env_cwd(bundle) -> None:
        bundle.config["process"]["env"] = ["PATH=/bin", "GREETING=hello world", "EMPTY="]
        bundle.config["process"]["cwd"] = "/tmp"

    proc = rt.run_container(["sh", "-c", 'echo "$GREETING"; pwd; env | sort'], edit=env_cwd)
    assert proc.returncode == 0, rt.describe(proc)
    lines = proc.stdout.splitlines()
    assert lines[0] == "hello world"
    assert lines[1] == "/tmp"
    env = set(lines[2:])
    assert {"PATH=/bin", "GREETING=hello world", "EMPTY="} <= env
    assert not any(line.startswith("TERM=") for line in env), "env must be exactly the config's (plus sh's own)"


def test_cwd_is_created_if_missing(rt) -> None:
    def cwd(bundle) -> None:
        bundle.config["process"]["cwd"] = "/does/not/exist/yet"

    proc = rt.run_container(["pwd"], edit=cwd)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "/does/not/exist/yet\n"


def test_user_and_groups_from_config(rt) -> None:
    def user(bundle) -> None:
        bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20]}

    proc = rt.run_container(["sh", "-c", "id -u; id -g; id -G"], edit=user)
    assert proc.returncode == 0, rt.describe(proc)
    uid, gid, groups = proc.stdout.splitlines()
    assert (uid, gid) == ("1000", "1000")
    assert {"10", "20"} <= set(groups.split()) <= {"1000", "10", "20"}


def test_proc_is_mounted(rt) -> None:
    proc = rt.run_container(["sh", "-c", "awk '$2 == \"/proc\" {print $3}' /proc/mounts; cat /proc/self/comm"])
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["proc", "cat"]


def test_dev_has_default_devices_and_links(rt) -> None:
    script = (
        "for d in null zero full random urandom tty; do test -c /dev/$d && echo char $d; done;"
        "test -e /dev/ptmx && echo exists ptmx;"
        "for l in fd stdin stdout stderr; do echo link $l $(readlink /dev/$l); done;"
        "head -c 4 /dev/zero | od -An -tx1;"
        "echo discarded > /dev/null && echo null-writable"
    )
    proc = rt.run_container(["sh", "-c", script])
    assert proc.returncode == 0, rt.describe(proc)
    lines = [" ".join(line.split()) for line in proc.stdout.splitlines()]
    for dev in ("null", "zero", "full", "random", "urandom", "tty"):
        assert f"char {dev}" in lines
    assert "exists ptmx" in lines
    assert "link fd /proc/self/fd" in lines
    assert "link stdin /proc/self/fd/0" in lines
    assert "link stdout /proc/self/fd/1" in lines
    assert "link stderr /proc/self/fd/2" in lines
    assert "00 00 00 00" in lines
    assert "null-writable" in lines


def _with_fd3(path: str) -> list[str]:
    """A wrapper that opens `path` as fd 3 and execs the runtime: the runtime is handed an extra fd."""
    return ["sh", "-c", 'exec 3<"$0"; exec "$@"', path]


def test_only_stdio_fds_are_open_inside(rt) -> None:
    """The shell lists its own fd table: /proc/$$/fd is read by the child `ls`, whose directory fd lives in
    ls's table, not the shell's (`; true` keeps sh from exec'ing ls as its last command, which would make $$
    the ls itself). Exactly 0 1 2, even though the runtime itself was handed an fd 3."""
    extra = rt.tmp / "extra-fd"
    extra.write_text("must not leak\n")
    bundle = rt.bundle(["sh", "-c", "ls /proc/$$/fd; true"])
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid, wrap=_with_fd3(str(extra)))
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.split() == ["0", "1", "2"]


def test_preserve_fds_keeps_fd_3(rt) -> None:
    extra = rt.tmp / "extra-fd"
    extra.write_text("handed through\n")
    bundle = rt.bundle(["sh", "-c", "cat <&3; ls /proc/$$/fd; true"])
    proc = rt.run("run", "--preserve-fds", "1", "--bundle", bundle.path, bundle.cid, wrap=_with_fd3(str(extra)))
    assert proc.returncode == 0, rt.describe(proc)
    lines = proc.stdout.splitlines()
    assert lines[0] == "handed through"
    assert lines[1:] == ["0", "1", "2", "3"]


def test_run_detached_returns_and_keeps_running(rt) -> None:
    markers = rt.mkdir("markers")
    bundle = rt.bundle(["sh", "-c", "echo up > /markers/up; while :; do sleep 1; done"], write=False)
    bundle.add_mount("/markers", markers).write()
    proc = rt.run("run", "-d", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert rt.state(bundle.cid)["status"] == "running"
    rt.wait_for(lambda: (markers / "up").exists(), what="the detached container to run")
    assert rt.state(bundle.cid)["status"] == "running"
    rt.ok("kill", bundle.cid, "KILL")
    rt.wait_status(bundle.cid, "stopped")
    rt.ok("delete", bundle.cid)


def test_run_twice_with_same_id_after_delete(rt) -> None:
    """A finished foreground `run` deletes its container: the id is free again."""
    bundle = rt.bundle(["true"])
    for _ in range(2):
        proc = rt.run("run", "--bundle", bundle.path, bundle.cid)
        assert proc.returncode == 0, rt.describe(proc)
    assert rt.run("state", bundle.cid).returncode != 0


def test_bundle_defaults_to_cwd(rt) -> None:
    bundle = rt.bundle(["echo", "from cwd"])
    proc = rt.run("run", bundle.cid, cwd=bundle.path)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "from cwd\n"
