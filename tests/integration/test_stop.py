"""Timeouts: `simcon stop ID [--time N]` (SIGTERM, then SIGKILL for everything once N seconds have passed), and
the start timeout of `create` (annotation run.oci.simcon.start-timeout)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.simcon_only("`stop` is SimCon's (runc has none)")


def _detached(rt, script: str):  # noqa: ANN001, ANN202
    bundle = rt.bundle(["sh", "-c", script])
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    return bundle


def test_stop_a_container_that_handles_sigterm(rt) -> None:
    bundle = _detached(rt, "trap 'exit 0' TERM; echo > /dev/null; while :; do sleep 0.1; done")
    rt.ok("stop", bundle.cid)
    assert rt.status(bundle.cid) == "stopped"
    rt.wait_for(lambda: "exitCode" in rt.state(bundle.cid), what="the monitor to record the exit")
    assert rt.state(bundle.cid)["exitCode"] == 0


def test_stop_kills_a_container_that_ignores_sigterm(rt) -> None:
    """A shell as PID 1 of a pid namespace, without a trap, never sees SIGTERM: only SIGKILL ends it."""
    bundle = _detached(rt, "while :; do sleep 0.1; done")
    rt.ok("stop", "--time", "1", bundle.cid)
    assert rt.status(bundle.cid) == "stopped"
    rt.wait_for(lambda: "exitCode" in rt.state(bundle.cid), what="the monitor to record the exit")
    assert rt.state(bundle.cid)["exitCode"] == 137


def test_stop_kills_every_process_in_the_container(rt) -> None:
    bundle = _detached(rt, "sleep 3600 & sleep 3600 & while :; do sleep 0.1; done")
    rt.ok("stop", "--time", "0", bundle.cid)
    assert rt.status(bundle.cid) == "stopped"
    dirs = rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid))
    assert dirs
    rt.wait_for(lambda: all(not (d / "cgroup.procs").read_text().split() for d in dirs),
                what="the container's processes to be gone")


def test_stop_a_stopped_container_is_fine(rt) -> None:
    bundle = _detached(rt, "exit 0")
    rt.wait_status(bundle.cid, "stopped")
    rt.ok("stop", bundle.cid)


def test_stop_missing_container(rt) -> None:
    proc = rt.run("stop", "no-such-container")
    assert proc.returncode != 0
    assert "container does not exist" in proc.stderr


def test_stop_negative_time_is_a_usage_error(rt) -> None:
    proc = rt.run("stop", "--time", "-1", "whatever")
    assert proc.returncode != 0
    assert "--time" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- the start timeout: a hung init is killed and reported, not waited on forever --------------------------------

START_TIMEOUT = "run.oci.simcon.start-timeout"


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except FileNotFoundError:
        return True
    return data[data.rindex(")") + 2:].split()[0] in ("Z", "X")


def test_create_kills_an_init_that_hangs_in_a_hook(rt) -> None:
    pid_file = rt.tmp / "hook.pid"
    bundle = rt.bundle(["true"], write=False)
    bundle.config.setdefault("annotations", {})[START_TIMEOUT] = "1"
    # A createContainer hook without a timeout of its own that never returns: the init hangs in it. It records
    # its pid as the host sees it (its $$ is a pid in the container's namespace; the /proc it reads, before
    # pivot_root, is the host's: field 4 of cut's stat is the shell's pid there).
    bundle.config["hooks"] = {"createContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", f"cut -d' ' -f4 /proc/self/stat > {pid_file}; exec sleep 3600"]}]}
    bundle.write()
    proc = rt.run("create", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode != 0
    assert "did not answer within 1s" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert rt.root_entries() == []
    assert rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid)) == []
    hook_pid = int(pid_file.read_text())
    rt.wait_for(lambda: _gone(hook_pid), what="the hung hook to be killed with the init")


def test_start_timeout_annotation_must_be_a_number(rt) -> None:
    bundle = rt.bundle(["true"], write=False)
    bundle.config.setdefault("annotations", {})[START_TIMEOUT] = "soon"
    bundle.write()
    proc = rt.run("create", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode != 0
    assert f'annotations["{START_TIMEOUT}"]' in proc.stderr, proc.stderr
    assert rt.root_entries() == []


def test_a_prestart_hook_without_timeout_gets_the_start_timeout(rt) -> None:
    bundle = rt.bundle(["true"], write=False)
    bundle.config.setdefault("annotations", {})[START_TIMEOUT] = "1"
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/sleep", "args": ["sleep", "3600"]}]}
    bundle.write()
    proc = rt.run("create", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode != 0
    assert "prestart hook #0 `/bin/sleep`: timed out after 1 s" in proc.stderr, proc.stderr
    assert rt.root_entries() == []
    assert rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid)) == []


def test_a_start_container_hook_without_timeout_gets_the_start_timeout(rt) -> None:
    """startContainer hooks run in the init after `start` returned; a hung one must not keep the container's
    process from ever starting: it is killed, and the init reports on stderr and exits."""
    bundle = rt.bundle(["echo", "never printed"], write=False)
    bundle.config.setdefault("annotations", {})[START_TIMEOUT] = "1"
    bundle.config["hooks"] = {"startContainer": [{"path": "/bin/sleep", "args": ["sleep", "3600"]}]}
    bundle.write()
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode != 0
    assert "startContainer hook #0 `/bin/sleep`" in proc.stderr and "timed out after 1 s" in proc.stderr, \
        proc.stderr
    assert "never printed" not in proc.stdout
