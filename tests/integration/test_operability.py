"""The Python API end to end, `gc` after crashes, `list --filter`, `ps -q` and the verb aliases, on real
containers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.simcon_only("SimCon's own library and verbs")

LOOP = "while :; do sleep 1; done"


def python(rt, program: str) -> subprocess.CompletedProcess:
    """Run ``program`` with the venv's interpreter (the library installed as users get it)."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(program)], capture_output=True, text=True,
                          timeout=120, cwd=rt.tmp)


def test_python_api_runs_a_container_end_to_end(rt) -> None:
    bundle = rt.bundle(["sh", "-c", LOOP])
    job = rt.bundle(["sh", "-c", "exit 7"])
    result = python(rt, f"""
        import simcon
        from simcon.errors import ContainerNotFoundError, InvalidStateError

        rt = simcon.Runtime(root={str(rt.root)!r})
        created = rt.create({bundle.cid!r}, bundle={str(bundle.path)!r})
        assert created.status == "created" and created.pid > 0, created
        assert rt.start({bundle.cid!r}).status == "running"
        assert [c.id for c in rt.list()] == [{bundle.cid!r}]
        assert rt.exec({bundle.cid!r}, ["sh", "-c", "exit 3"]) == 3
        try:
            rt.delete({bundle.cid!r})
        except InvalidStateError as exc:
            print("refused:", exc)
        rt.kill({bundle.cid!r}, "KILL")
        import time
        deadline = time.monotonic() + 30
        while rt.state({bundle.cid!r}).status != "stopped" and time.monotonic() < deadline:
            time.sleep(0.05)
        print("status:", rt.state({bundle.cid!r}).status)
        rt.delete({bundle.cid!r})
        try:
            rt.state({bundle.cid!r})
        except ContainerNotFoundError as exc:
            print("gone:", exc)
        print("run:", rt.run({job.cid!r}, bundle={str(job.path)!r}))
        print("left:", rt.list())
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "refused: cannot delete a container that is running: stop it first or use --force",
        "status: stopped",
        "gone: container does not exist",
        "run: 7",
        "left: []",
    ]
    assert rt.root_entries() == []


def test_gc_removes_what_crashed_containers_and_a_killed_create_left(rt) -> None:
    keep = rt.bundle(["sh", "-c", LOOP])
    rt.ok("run", "-d", "--bundle", keep.path, keep.cid)
    dead = rt.bundle(["sh", "-c", LOOP])
    rt.ok("create", "--bundle", dead.path, dead.cid)
    pid = rt.state(dead.cid)["pid"]
    os.kill(pid, signal.SIGKILL)  # the container's init dies: a crash
    rt.wait_status(dead.cid, "stopped")
    broken = rt.root / "broken-1"
    broken.mkdir()
    (broken / "state.json").write_text('{"id": "broken-1", "pid": ')  # a create killed mid-write
    dry = rt.ok("gc", "--dry-run")
    assert dry.stdout.splitlines() == [f"would remove {dead.cid}",
                                       "skipped broken-1: its state cannot be read (use --force)"]
    # `@logs`: the log files of `keep`, which `run -d` captures (docs/logging.md)
    assert sorted(rt.root_entries()) == sorted([keep.cid, dead.cid, "broken-1", "@logs"])
    done = rt.ok("gc")
    assert done.stdout.splitlines() == [f"removed {dead.cid}",
                                        "skipped broken-1: its state cannot be read (use --force)"]
    assert sorted(rt.root_entries()) == sorted([keep.cid, "broken-1", "@logs"])
    assert os.listdir(rt.root / "@logs") == [keep.cid]
    assert rt.status(keep.cid) == "running"
    leftover = [d for d in Path("/sys/fs/cgroup").glob(f"*{rt.cgroup_path(dead.cid)}") if d.is_dir()]
    assert leftover == []
    rt.ok("delete", "--force", keep.cid)


def test_list_filters_ps_quiet_and_aliases(rt) -> None:
    web = rt.bundle(["sh", "-c", LOOP], cid=rt.new_id("web"), write=False)
    web.config["annotations"] = {"tier": "front"}
    web.write()
    db = rt.bundle(["sh", "-c", LOOP], cid=rt.new_id("db"))
    rt.ok("run", "-d", "--bundle", web.path, web.cid)
    rt.ok("create", "--bundle", db.path, db.cid)

    def ids(*filters: str) -> list[str]:
        return rt.ok("ls", "-q", *[f"--filter={f}" for f in filters]).stdout.split()

    assert ids("status=running") == [web.cid]
    assert sorted(ids("status=running", "status=created")) == sorted([web.cid, db.cid])
    assert ids("label=tier=front") == [web.cid]
    assert ids("annotation=tier", "status=created") == []
    assert ids("name=db-*") == [db.cid]
    bad = rt.run("list", "--filter", "colour=red")
    assert bad.returncode == 2 or bad.returncode == 1
    assert "--filter 'colour=red': expected KEY=VALUE" in bad.stderr and "Traceback" not in bad.stderr
    as_json = json.loads(rt.ok("list", "--format", "json", "--filter", "status=created").stdout)
    assert [c["id"] for c in as_json] == [db.cid]

    pids = [int(p) for p in rt.ok("ps", "-q", web.cid).stdout.split()]
    assert rt.state(web.cid)["pid"] in pids
    inspected = json.loads(rt.ok("inspect", web.cid).stdout)
    assert inspected["status"] == "running" and inspected["details"]["cgroup"]
    rt.ok("rm", "-f", web.cid)
    rt.ok("rm", "-f", db.cid)
    assert rt.root_entries() == []
