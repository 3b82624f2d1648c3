"""create / start / state / kill / delete / list, and what each leaves behind on the host."""

from __future__ import annotations

import json
import os
import re
import tempfile

import pytest

LOOP = "while :; do sleep 1; done"


def _marker_bundle(rt, script: str):
    """A bundle whose process first writes /markers/ran (a bind mount of a host dir), then runs `script`."""
    markers = rt.mkdir(f"markers-{len(rt.ids)}")
    bundle = rt.bundle(["sh", "-c", f"echo ran > /markers/ran; {script}"], write=False)
    bundle.add_mount("/markers", markers).write()
    return bundle, markers


def _alive(pid: int) -> bool:
    """True while pid exists and is not a zombie (a zombie waits for whichever reaper adopted it)."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _create(rt, bundle, *extra: str) -> None:
    rt.ok("create", *extra, "--bundle", bundle.path, bundle.cid)


def _running(rt, script: str = LOOP):
    bundle, markers = _marker_bundle(rt, script)
    _create(rt, bundle)
    rt.ok("start", bundle.cid)
    rt.wait_status(bundle.cid, "running")
    return bundle, markers


def _stopped(rt):
    bundle, markers = _marker_bundle(rt, "exit 0")
    _create(rt, bundle)
    rt.ok("start", bundle.cid)
    rt.wait_status(bundle.cid, "stopped")
    return bundle, markers


def test_create_makes_a_created_container_that_has_not_run(rt) -> None:
    bundle, markers = _marker_bundle(rt, LOOP)
    _create(rt, bundle)
    state = rt.state(bundle.cid)
    assert state["id"] == bundle.cid
    assert state["status"] == "created"
    assert isinstance(state["pid"], int) and state["pid"] > 0
    assert _alive(state["pid"])
    assert os.path.isabs(state["bundle"])
    assert os.path.realpath(state["bundle"]) == os.path.realpath(bundle.path)
    assert isinstance(state["ociVersion"], str) and state["ociVersion"]
    assert not (markers / "ran").exists(), "the user process ran before `start`"


def test_created_process_is_in_its_cgroup(rt) -> None:
    bundle, _ = _marker_bundle(rt, LOOP)
    _create(rt, bundle)
    pid = rt.state(bundle.cid)["pid"]
    dirs = rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid))
    assert dirs, f"no cgroup dir for {rt.cgroup_path(bundle.cid)} in any hierarchy"
    for directory in dirs:
        if (directory / "cgroup.procs").exists():
            assert str(pid) in (directory / "cgroup.procs").read_text().split(), directory


@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_pid_file(rt, relative: bool) -> None:
    bundle, _ = _marker_bundle(rt, LOOP)
    pid_file = rt.tmp / "work" / "container.pid"
    pid_file.parent.mkdir()
    arg = "container.pid" if relative else str(pid_file)
    proc = rt.run("create", "--pid-file", arg, "--bundle", bundle.path, bundle.cid, cwd=pid_file.parent)
    assert proc.returncode == 0, rt.describe(proc)
    content = pid_file.read_text()
    assert re.fullmatch(r"[0-9]+", content), repr(content)
    assert int(content) == rt.state(bundle.cid)["pid"]


def test_start_runs_the_process(rt) -> None:
    bundle, markers = _marker_bundle(rt, LOOP)
    _create(rt, bundle)
    created_pid = rt.state(bundle.cid)["pid"]
    rt.ok("start", bundle.cid)
    rt.wait_for(lambda: (markers / "ran").exists(), what="the process to run after start")
    state = rt.state(bundle.cid)
    assert state["status"] == "running"
    assert state["pid"] == created_pid


def test_process_exit_makes_it_stopped(rt) -> None:
    bundle, markers = _marker_bundle(rt, "exit 0")
    _create(rt, bundle)
    rt.ok("start", bundle.cid)
    rt.wait_status(bundle.cid, "stopped")
    assert (markers / "ran").exists()


@pytest.mark.parametrize("sig", ["KILL", "9", "SIGKILL", "TERM", "SIGTERM", "15"])
def test_kill_accepts_signal_names_and_numbers(rt, sig: str) -> None:
    # PID 1 of a pid namespace ignores signals it has no handler for, so the script traps TERM.
    bundle, markers = _running(rt, f"trap 'exit 0' TERM; {LOOP}")
    rt.wait_for(lambda: (markers / "ran").exists(), what="the trap to be set")
    rt.ok("kill", bundle.cid, sig)
    rt.wait_status(bundle.cid, "stopped")


def test_kill_defaults_to_sigterm(rt) -> None:
    bundle, markers = _running(rt, f"trap 'exit 0' TERM; {LOOP}")
    rt.wait_for(lambda: (markers / "ran").exists(), what="the trap to be set")
    rt.ok("kill", bundle.cid)
    rt.wait_status(bundle.cid, "stopped")


def test_delete_removes_the_container(rt) -> None:
    bundle, _ = _running(rt)
    pid = rt.state(bundle.cid)["pid"]
    rt.ok("kill", bundle.cid, "KILL")
    rt.wait_status(bundle.cid, "stopped")
    rt.ok("delete", bundle.cid)
    proc = rt.run("state", bundle.cid)
    assert proc.returncode != 0
    assert "container does not exist" in proc.stderr
    assert not _alive(pid)
    assert bundle.cid not in rt.ok("list", "-q").stdout.split()


def test_list_shows_the_container(rt) -> None:
    bundle, _ = _running(rt)
    pid = rt.state(bundle.cid)["pid"]

    table = rt.ok("list").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "PID", "STATUS"]
    rows = [line.split() for line in table[1:]]
    assert [bundle.cid, str(pid), "running"] in [row[:3] for row in rows]

    assert rt.ok("list", "-q").stdout.split() == [bundle.cid]

    entries = json.loads(rt.ok("list", "--format", "json").stdout)
    assert [(e["id"], e["pid"], e["status"]) for e in entries] == [(bundle.cid, pid, "running")]
    assert os.path.realpath(entries[0]["bundle"]) == os.path.realpath(bundle.path)


def test_list_of_empty_root(rt) -> None:
    assert rt.ok("list", "-q").stdout == ""
    assert json.loads(rt.ok("list", "--format", "json").stdout or "null") in (None, [])


def test_start_twice_fails(rt) -> None:
    bundle, _ = _running(rt)
    proc = rt.run("start", bundle.cid)
    assert proc.returncode != 0, rt.describe(proc)
    assert rt.state(bundle.cid)["status"] == "running"


def test_start_of_stopped_container_fails(rt) -> None:
    bundle, _ = _stopped(rt)
    proc = rt.run("start", bundle.cid)
    assert proc.returncode != 0, rt.describe(proc)


def test_delete_of_running_container_needs_force(rt) -> None:
    bundle, _ = _running(rt)
    pid = rt.state(bundle.cid)["pid"]
    proc = rt.run("delete", bundle.cid)
    assert proc.returncode != 0, rt.describe(proc)
    assert rt.state(bundle.cid)["status"] == "running"
    assert _alive(pid)
    rt.ok("delete", "--force", bundle.cid)
    assert rt.run("state", bundle.cid).returncode != 0
    rt.wait_for(lambda: not _alive(pid), what="the killed process to be reaped")


def test_delete_of_created_container(rt) -> None:
    bundle, markers = _marker_bundle(rt, LOOP)
    _create(rt, bundle)
    pid = rt.state(bundle.cid)["pid"]
    rt.ok("delete", bundle.cid)
    assert rt.run("state", bundle.cid).returncode != 0
    rt.wait_for(lambda: not _alive(pid), what="the created process to go away")
    assert not (markers / "ran").exists(), "deleting a created container must not run its process"
    assert rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid)) == []


def test_kill_of_stopped_container_fails(rt) -> None:
    bundle, _ = _stopped(rt)
    proc = rt.run("kill", bundle.cid, "KILL")
    assert proc.returncode != 0, rt.describe(proc)
    assert "container not running" in proc.stderr


def test_no_cgroup_left_after_delete(rt) -> None:
    bundle, _ = _running(rt)
    assert rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid)), "the container has no cgroup while running"
    rt.ok("delete", "--force", bundle.cid)
    assert rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid)) == []


def test_no_cgroup_left_after_foreground_run(rt) -> None:
    bundle = rt.bundle(["true"])
    rt.ok("run", "--bundle", bundle.path, bundle.cid)
    assert rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid)) == []


def test_host_mountinfo_unchanged_by_a_container_lifetime(rt) -> None:
    before = rt.read_mountinfo()
    bundle, _ = _running(rt)
    rt.ok("kill", bundle.cid, "KILL")
    rt.wait_status(bundle.cid, "stopped")
    rt.ok("delete", bundle.cid)
    other = rt.bundle(["true"])
    rt.ok("run", "--bundle", other.path, other.cid)
    after = rt.read_mountinfo()
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    assert after == before, f"added: {added}\nremoved: {removed}"


def test_concurrent_create_with_same_id(rt) -> None:
    bundle, _ = _marker_bundle(rt, LOOP)
    outs = [tempfile.TemporaryFile() for _ in range(2)]
    try:
        procs = [rt.popen("create", "--bundle", bundle.path, bundle.cid, stdout=out, stderr=out) for out in outs]
        codes = sorted(p.wait(timeout=120) for p in procs)
    finally:
        for out in outs:
            out.close()
    assert codes[0] == 0 and codes[1] != 0, codes
    assert rt.state(bundle.cid)["status"] == "created"
