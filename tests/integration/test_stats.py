"""`simcon stats`: CPU %, memory, pids and block I/O of running containers, from their cgroups."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.simcon_only("simcon stats is SimCon's own verb")

BUSY = ["sh", "-c", "while :; do :; done"]


def start_detached(rt, args: list[str], memory_limit: int | None = None) -> str:
    cid = rt.new_id("stats")
    bundle = rt.bundle(args, cid, write=False)
    if memory_limit:
        bundle.config["linux"]["resources"] = {"memory": {"limit": memory_limit}}
    bundle.write()
    rt.ok("run", "-d", "--bundle", bundle.path, cid)
    return cid


def test_json_shows_the_busy_containers_cpu_memory_limit_and_pids(rt) -> None:
    cid = start_detached(rt, BUSY, memory_limit=64 << 20)
    proc = rt.ok("stats", "--format", "json", "--interval", "500ms", cid)
    (entry,) = json.loads(proc.stdout)
    assert entry["id"] == cid
    assert entry["cpu_percent"] > 0  # a busy loop used CPU in the half second (how much depends on the host)
    assert entry["cpu_total_ns"] > 0
    assert entry["memory"]["limit"] == 64 << 20
    assert 0 < entry["memory"]["usage"] < 64 << 20
    assert entry["pids"]["current"] == 1
    assert set(entry["blkio"]) == {"read_bytes", "write_bytes"}


def test_table_lists_every_running_container_by_default(rt) -> None:
    first = start_detached(rt, BUSY)
    second = start_detached(rt, ["sleep", "1000"])
    lines = rt.ok("stats", "--interval", "200ms").stdout.splitlines()
    assert lines[0].split() == ["CONTAINER", "ID", "CPU", "%", "MEM", "USAGE", "/", "LIMIT", "MEM", "%", "BLOCK",
                                "I/O", "PIDS"]
    assert sorted(line.split()[0] for line in lines[1:]) == sorted([first, second])


def test_watch_ends_when_the_containers_stop(rt) -> None:
    cid = start_detached(rt, ["sleep", "1"])
    proc = rt.ok("stats", "--watch", "--format", "json", "--interval", "300ms", cid, timeout=30)
    frames = [json.loads(line) for line in proc.stdout.splitlines()]
    assert frames[0][0]["id"] == cid
    assert frames[-1] == []  # the last refresh found it stopped


def test_a_stopped_or_unknown_container_is_a_one_line_error(rt) -> None:
    cid = start_detached(rt, ["true"])
    rt.wait_status(cid, "stopped")
    for name, message in ((cid, "container not running"), ("no-such-ctr", "container does not exist")):
        proc = rt.run("stats", name)
        assert proc.returncode == 1
        assert proc.stderr.strip().splitlines() == [f"simcon: stats `{name}`: {message}"]
