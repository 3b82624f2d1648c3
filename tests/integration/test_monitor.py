"""The monitor of `run -d`: the init's parent after `run` returned; it records the exit code and time."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.simcon_only("the monitor and the exitCode/finished fields are SimCon's")

WAIT_FOR_GO = "while [ ! -e /markers/go ]; do sleep 0.05; done; "


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        data = f.read()
    return int(data[data.rindex(")") + 2:].split()[1])


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except FileNotFoundError:
        return True
    return data[data.rindex(")") + 2:].split()[0] in ("Z", "X")


def _detached(rt, script: str):  # noqa: ANN001, ANN202
    markers = rt.mkdir("markers")
    bundle = rt.bundle(["sh", "-c", script], write=False)
    bundle.add_mount("/markers", markers).write()
    proc = rt.run("run", "-d", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    return bundle, markers


def _monitor_of(rt, cid: str) -> int:  # noqa: ANN001
    init_pid = rt.state(cid)["pid"]
    monitor = _ppid(init_pid)
    rt.wait_for(lambda: "simcon.runtime.exit_record" in _cmdline(monitor), what="the monitor to become the lean waiter")
    return monitor


def test_monitor_is_the_init_parent_and_records_the_exit_code(rt) -> None:
    bundle, markers = _detached(rt, WAIT_FOR_GO + "exit 3")
    monitor = _monitor_of(rt, bundle.cid)
    assert monitor != os.getpid()
    state = rt.state(bundle.cid)
    assert state["status"] == "running"
    assert "exitCode" not in state
    (markers / "go").touch()
    rt.wait_status(bundle.cid, "stopped")
    rt.wait_for(lambda: "exitCode" in rt.state(bundle.cid), what="the monitor to record the exit")
    state = rt.state(bundle.cid)
    assert state["exitCode"] == 3
    assert state["finished"] >= state["created"]
    assert state["finished"].endswith("Z")
    rt.wait_for(lambda: _gone(monitor), what="the monitor to exit")
    listed = [c for c in json.loads(rt.ok("list", "--format", "json").stdout) if c["id"] == bundle.cid]
    assert listed[0]["exitCode"] == 3
    rt.ok("delete", bundle.cid)


def test_monitor_records_a_death_by_signal(rt) -> None:
    bundle, _markers = _detached(rt, "sleep 3600")
    monitor = _monitor_of(rt, bundle.cid)
    rt.ok("kill", bundle.cid, "KILL")
    rt.wait_for(lambda: rt.state(bundle.cid).get("exitCode") == 137, what="exit code 137 to be recorded")
    rt.wait_for(lambda: _gone(monitor), what="the monitor to exit")


def test_monitor_reaps_the_init(rt) -> None:
    """No zombie is left behind by a detached container: the monitor waits for its init."""
    bundle, markers = _detached(rt, WAIT_FOR_GO + "exit 0")
    init_pid = rt.state(bundle.cid)["pid"]
    monitor = _monitor_of(rt, bundle.cid)
    (markers / "go").touch()
    rt.wait_for(lambda: not os.path.exists(f"/proc/{init_pid}") or _ppid(init_pid) != monitor,
                what="the init to be reaped")
    rt.wait_for(lambda: rt.state(bundle.cid).get("exitCode") == 0, what="exit code 0 to be recorded")


def test_monitor_exits_when_the_container_is_deleted(rt) -> None:
    bundle, _markers = _detached(rt, "sleep 3600")
    monitor = _monitor_of(rt, bundle.cid)
    rt.ok("delete", "--force", bundle.cid)
    rt.wait_for(lambda: _gone(monitor), what="the monitor to exit")
    assert rt.root_entries() == []


def test_detached_run_failure_is_reported_by_run(rt) -> None:
    bundle = rt.bundle(["no-such-binary"])
    proc = rt.run("run", "-d", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode != 0
    assert 'exec: "no-such-binary": executable file not found in $PATH' in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert rt.root_entries() == []


def test_detached_run_pid_file(rt) -> None:
    pid_file = rt.tmp / "init.pid"
    bundle = rt.bundle(["sleep", "3600"])
    rt.ok("run", "-d", "--pid-file", pid_file, "--bundle", bundle.path, bundle.cid)
    assert int(pid_file.read_text()) == rt.state(bundle.cid)["pid"]


def test_foreground_run_keep_records_the_exit_code(rt) -> None:
    bundle = rt.bundle(["sh", "-c", "exit 4"])
    proc = rt.run("run", "--keep", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 4, rt.describe(proc)
    state = rt.state(bundle.cid)
    assert (state["status"], state["exitCode"]) == ("stopped", 4)
    rt.ok("delete", bundle.cid)
