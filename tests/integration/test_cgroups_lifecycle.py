"""pause/resume (the freezer), the transitions around `paused`, `ps`, and `kill --all` on this host's cgroups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simcon.cgroups.mounts import parse_mountinfo

# Three processes: the shell, a child, and a daemonized grandchild (reparented to the init).
FAMILY = ["sh", "-c", "sleep 1000 & setsid sh -c 'sleep 1000 &'; wait"]


def freezer_state(rt, cid: str) -> str | None:  # noqa: ANN001
    """The v1 freezer.state of the container, else v2's cgroup.freeze as FROZEN/THAWED."""
    for h in parse_mountinfo():
        d = Path(h.mount_point) / rt.cgroup_path(cid).lstrip("/")
        if h.version == 1 and "freezer" in h.controllers:
            return (d / "freezer.state").read_text().strip()
    for h in parse_mountinfo():
        d = Path(h.mount_point) / rt.cgroup_path(cid).lstrip("/")
        if h.version == 2 and (d / "cgroup.freeze").exists():
            return "FROZEN" if (d / "cgroup.freeze").read_text().strip() == "1" else "THAWED"
    return None


def procs(rt, cid: str) -> list[int]:  # noqa: ANN001
    found: set[int] = set()
    for d in rt.existing_cgroup_dirs(rt.cgroup_path(cid)):
        found.update(int(p) for p in (d / "cgroup.procs").read_text().split())
    return sorted(found)


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@pytest.fixture
def family(rt):  # noqa: ANN001
    bundle = rt.bundle(FAMILY)
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    rt.ok("start", bundle.cid)
    rt.wait_for(lambda: settled(procs(rt, bundle.cid)), what="the container's three processes")
    return bundle.cid


def settled(pids: list[int]) -> bool:
    """The shell and its two sleeps, the short-lived `setsid sh` gone."""
    names = []
    for pid in pids:
        try:
            names.append(Path(f"/proc/{pid}/comm").read_text().strip())
        except OSError:
            return False
    return sorted(names) == ["sh", "sleep", "sleep"]


def test_pause_and_resume(rt, family):  # noqa: ANN001
    cid = family
    rt.ok("pause", cid)
    assert rt.status(cid) == "paused"
    assert rt.state(cid)["pid"] > 0
    listed = {c["id"]: c["status"] for c in json.loads(rt.ok("list", "--format", "json").stdout)}
    assert listed[cid] == "paused"
    assert freezer_state(rt, cid) == "FROZEN"
    # Frozen tasks sleep in the kernel and do not run: state D (v1 freezer) or S, never R.
    assert all(proc_state(p) in ("D", "S") for p in procs(rt, cid))

    rt.ok("resume", cid)
    assert rt.status(cid) == "running"
    assert freezer_state(rt, cid) == "THAWED"


@pytest.mark.simcon_only("SimCon's messages")
def test_transitions_around_paused(rt, family):  # noqa: ANN001
    cid = family
    proc = rt.run("resume", cid)
    assert proc.returncode == 1 and "cannot resume a container that is running" in proc.stderr
    rt.ok("pause", cid)
    proc = rt.run("pause", cid)
    assert proc.returncode == 1 and "cannot pause a container that is paused" in proc.stderr
    proc = rt.run("start", cid)
    assert proc.returncode == 1 and "cannot start a container that is paused" in proc.stderr
    proc = rt.run("delete", cid)
    assert proc.returncode == 1
    assert rt.status(cid) == "paused"
    assert freezer_state(rt, cid) == "FROZEN"
    rt.ok("resume", cid)


@pytest.mark.simcon_only("SimCon's messages")
def test_pause_of_a_created_or_stopped_container_is_refused(rt):  # noqa: ANN001
    bundle = rt.bundle(["true"])
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    proc = rt.run("pause", bundle.cid)
    assert proc.returncode == 1 and "cannot pause a container that is created" in proc.stderr
    assert freezer_state(rt, bundle.cid) == "THAWED"
    rt.ok("start", bundle.cid)
    rt.wait_status(bundle.cid, "stopped")
    proc = rt.run("pause", bundle.cid)
    assert proc.returncode == 1 and "stopped" in proc.stderr
    proc = rt.run("pause", "no-such-container")
    assert proc.returncode == 1 and "container does not exist" in proc.stderr


def test_delete_force_thaws_and_kills_a_paused_container(rt, family):  # noqa: ANN001
    cid = family
    pids = procs(rt, cid)
    rt.ok("pause", cid)
    rt.ok("delete", "--force", cid)
    assert rt.run("state", cid).returncode != 0
    assert rt.existing_cgroup_dirs(rt.cgroup_path(cid)) == []
    rt.wait_for(lambda: all(gone(p) for p in pids), what="every process of the container to be gone")


def test_kill_all_of_a_paused_container(rt, family):  # noqa: ANN001
    cid = family
    pids = procs(rt, cid)
    rt.ok("pause", cid)
    rt.ok("kill", "--all", cid, "KILL")
    rt.wait_for(lambda: all(gone(p) for p in pids), what="every process of the container to be gone")
    rt.wait_status(cid, "stopped")
    assert freezer_state(rt, cid) == "THAWED"


def test_kill_all_reaches_every_process(rt, family):  # noqa: ANN001
    cid = family
    pids = procs(rt, cid)
    rt.ok("kill", "--all", cid, "KILL")
    rt.wait_for(lambda: procs(rt, cid) == [], what="empty cgroups")
    rt.wait_for(lambda: all(gone(p) for p in pids), what="every process of the container to be gone")
    rt.wait_status(cid, "stopped")


def test_ps_json_and_table(rt, family):  # noqa: ANN001
    cid = family
    pids = procs(rt, cid)
    listed = json.loads(rt.ok("ps", "--format", "json", cid).stdout)
    assert sorted(listed) == pids
    table = rt.ok("ps", cid).stdout.splitlines()
    header = table[0].split()
    assert "PID" in header and "CMD" in header
    column = header.index("PID")
    assert sorted(int(line.split()[column]) for line in table[1:]) == pids
    assert sum(line.endswith(" sleep 1000") for line in table[1:]) == 2
    # runc takes `ps ID -o pid,comm` (flags end at the ID); SimCon's parser still needs `--` before ps options.
    separator = ["--"] if rt.is_simcon else []
    custom = rt.ok("ps", cid, *separator, "-o", "pid,comm").stdout.splitlines()
    assert custom[0].split() == ["PID", "COMMAND"]
    assert sorted(int(line.split()[0]) for line in custom[1:]) == pids


@pytest.mark.simcon_only("SimCon's messages")
def test_ps_of_a_stopped_container(rt):  # noqa: ANN001
    bundle = rt.bundle(["true"])
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    rt.ok("start", bundle.cid)
    rt.wait_status(bundle.cid, "stopped")
    proc = rt.run("ps", "--format", "json", bundle.cid)
    assert proc.returncode == 1 and "container not running" in proc.stderr


def test_sigkill_of_a_paused_container_stops_it(rt, family):  # noqa: ANN001
    # A task held by the v1 freezer does not die of SIGKILL until thawed: `kill` thaws for SIGKILL, as runc does.
    cid = family
    rt.ok("pause", cid)
    rt.ok("kill", cid, "KILL")
    rt.wait_status(cid, "stopped", timeout=30)
    assert freezer_state(rt, cid) == "THAWED"
