"""pause/resume (cgroup.freeze), `kill --all` and `delete --force` (cgroup.kill), `ps`, and cleanup of the
container's cgroup, on a pure cgroup v2 kernel."""

from __future__ import annotations

import json
import os

from v2harness import cgroup_dir, read_keyed, start_container

# Three processes in the container: the shell, a child, and a daemonized grandchild (reparented to the init).
FAMILY = ["sh", "-c", "sleep 1000 & setsid sh -c 'sleep 1000 &'; wait"]


def procs(rt, cid: str) -> list[int]:  # noqa: ANN001
    return [int(p) for p in (cgroup_dir(rt, cid) / "cgroup.procs").read_text().split()]


def gone(pid: int) -> bool:
    """Exited and reaped, or a zombie (it ran its last instruction)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def test_pause_and_resume_freeze_the_cgroup(rt) -> None:  # noqa: ANN001
    bundle = start_container(rt, FAMILY)
    host = cgroup_dir(rt, bundle.cid)
    rt.wait_for(lambda: len(procs(rt, bundle.cid)) >= 3, what="the container's three processes")

    rt.ok("pause", bundle.cid)
    assert rt.status(bundle.cid) == "paused"
    assert (host / "cgroup.freeze").read_text().strip() == "1"
    assert read_keyed(host / "cgroup.events")["frozen"] == 1
    listed = {c["id"]: c["status"] for c in json.loads(rt.ok("list", "--format", "json").stdout)}
    assert listed[bundle.cid] == "paused"
    # A paused container cannot be started again.
    assert rt.run("start", bundle.cid).returncode != 0

    rt.ok("resume", bundle.cid)
    assert rt.status(bundle.cid) == "running"
    assert (host / "cgroup.freeze").read_text().strip() == "0"
    assert read_keyed(host / "cgroup.events")["frozen"] == 0


def test_delete_force_thaws_and_kills_a_paused_container(rt) -> None:  # noqa: ANN001
    bundle = start_container(rt, FAMILY)
    host = cgroup_dir(rt, bundle.cid)
    rt.wait_for(lambda: len(procs(rt, bundle.cid)) >= 3, what="the container's three processes")
    pids = procs(rt, bundle.cid)
    rt.ok("pause", bundle.cid)

    rt.ok("delete", "--force", bundle.cid)
    assert not host.exists()
    assert rt.run("state", bundle.cid).returncode != 0
    rt.wait_for(lambda: all(gone(p) for p in pids), what="every process of the container to be gone")


def test_kill_all_reaches_every_process(rt) -> None:  # noqa: ANN001
    bundle = start_container(rt, FAMILY)
    rt.wait_for(lambda: len(procs(rt, bundle.cid)) >= 3, what="the container's three processes")
    pids = procs(rt, bundle.cid)

    rt.ok("kill", "--all", bundle.cid, "KILL")
    rt.wait_for(lambda: procs(rt, bundle.cid) == [], what="an empty cgroup.procs")
    rt.wait_for(lambda: all(gone(p) for p in pids), what="every process of the container to be gone")
    rt.wait_status(bundle.cid, "stopped")
    assert read_keyed(cgroup_dir(rt, bundle.cid) / "cgroup.events")["populated"] == 0


def test_delete_force_of_a_running_container_removes_its_cgroup(rt) -> None:  # noqa: ANN001
    bundle = start_container(rt, FAMILY)
    host = cgroup_dir(rt, bundle.cid)
    rt.wait_for(lambda: len(procs(rt, bundle.cid)) >= 3, what="the container's three processes")
    pids = procs(rt, bundle.cid)

    rt.ok("delete", "--force", bundle.cid)
    assert not host.exists()
    rt.wait_for(lambda: all(gone(p) for p in pids), what="every process of the container to be gone")


def test_delete_removes_the_cgroup(rt) -> None:  # noqa: ANN001
    # Created, never started, deleted.
    bundle = rt.bundle(["true"])
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    assert cgroup_dir(rt, bundle.cid).is_dir()
    rt.ok("delete", "--force", bundle.cid)
    assert not cgroup_dir(rt, bundle.cid).exists()

    # Run to completion in the foreground: `run` deletes it, and only what it made: a parent that existed
    # before (made here, as an engine's slice would be) stays.
    parent = cgroup_dir(rt, "x").parent
    parent.mkdir(exist_ok=True)
    proc = rt.run_container(["true"])
    assert proc.returncode == 0, rt.describe(proc)
    cid = rt.ids[-1]
    assert not cgroup_dir(rt, cid).exists()
    assert parent.is_dir()


def test_ps_lists_the_cgroup_processes(rt) -> None:  # noqa: ANN001
    bundle = start_container(rt, FAMILY)
    rt.wait_for(lambda: len(procs(rt, bundle.cid)) >= 3, what="the container's three processes")
    listed = json.loads(rt.ok("ps", "--format", "json", bundle.cid).stdout)
    assert sorted(listed) == sorted(procs(rt, bundle.cid))
    assert os.getpid() not in listed
