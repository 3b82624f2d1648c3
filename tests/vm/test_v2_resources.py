"""`linux.resources` on a pure cgroup v2 host: what the container's cgroup files say, from the host and from inside.

One container with every limit below is shared by the module (each boot-slow step in the VM costs seconds):
created (the limits must be in place before the process runs), started, then read once from inside through
its own cgroup2 mount (cgroup namespace: /sys/fs/cgroup is the container's cgroup). Each test then checks one
file, so a report names exactly which conversion is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from v2harness import MIB, add_cgroup_mount, cgroup_dir, finish, make_harness

RESOURCES = {
    "memory": {"limit": 96 * MIB, "reservation": 32 * MIB, "swap": 128 * MIB},
    "pids": {"limit": 42},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "burst": 10000, "cpus": "0"},
    "blockIO": {"weight": 500},
    "hugepageLimits": [{"pageSize": "2MB", "limit": 2 * 2 * MIB}],
    "unified": {"memory.high": str(80 * MIB)},
}
FILES = ("memory.max", "memory.low", "memory.swap.max", "memory.high", "pids.max", "cpu.max", "cpu.max.burst",
         "cpu.weight", "cpuset.cpus", "io.weight", "hugetlb.2MB.max")


class Limited:
    """The module's container: its id, host cgroup dir, init pid, and what was read before start and inside."""

    def __init__(self, rt, cid: str) -> None:  # noqa: ANN001
        self.rt, self.cid = rt, cid
        self.host_dir = cgroup_dir(rt, cid)
        self.pid = 0
        self.before_start: dict[str, str] = {}
        self.inside: dict[str, str] = {}
        self.proc_cgroup = ""

    def host(self, name: str) -> str:
        return (self.host_dir / name).read_text().strip()


@pytest.fixture(scope="module")
def limited(rootfs_cache: Path, cgroup_parent: str):  # noqa: ANN201
    rt = make_harness(rootfs_cache, cgroup_parent)
    try:
        bundle = rt.bundle(["sleep", "1000"], write=False)
        add_cgroup_mount(bundle)
        bundle.config["linux"]["resources"] = json.loads(json.dumps(RESOURCES))
        bundle.write()
        c = Limited(rt, bundle.cid)
        rt.ok("create", "--bundle", bundle.path, bundle.cid)
        c.pid = rt.state(bundle.cid)["pid"]
        c.before_start = {name: c.host(name) for name in FILES if (c.host_dir / name).exists()}
        rt.ok("start", bundle.cid)
        script = "; ".join(f'echo "{name}=$(cat /sys/fs/cgroup/{name} 2>&1)"' for name in FILES)
        out = rt.ok("exec", bundle.cid, "sh", "-c", script + '; echo "self=$(cat /proc/self/cgroup)"').stdout
        c.inside = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        c.proc_cgroup = c.inside.pop("self", "")
        yield c
    finally:
        problems = finish(rt)
        assert not problems, problems


def test_cgroup_on_unified_hierarchy_holds_the_init(limited: Limited) -> None:
    assert limited.host_dir.is_dir()
    assert str(limited.pid) in limited.host("cgroup.procs").split()
    own = Path(f"/proc/{limited.pid}/cgroup").read_text().splitlines()
    assert own == [f"0::{limited.rt.cgroup_path(limited.cid)}"]


def test_cgroup_namespace_root_is_the_container_cgroup(limited: Limited) -> None:
    assert limited.proc_cgroup == "0::/"


def test_controllers_enabled_for_the_container(limited: Limited) -> None:
    parent = limited.host_dir.parent
    enabled = set((parent / "cgroup.subtree_control").read_text().split())
    assert {"memory", "pids", "cpu", "cpuset"} <= enabled


def test_limits_are_set_before_start(limited: Limited) -> None:
    assert limited.before_start.get("memory.max") == str(96 * MIB)
    assert limited.before_start.get("pids.max") == "42"


@pytest.mark.parametrize("name, expected", [
    ("memory.max", str(96 * MIB)),
    ("memory.low", str(32 * MIB)),
    # runc: v2 swap is memory+swap minus memory
    ("memory.swap.max", str(32 * MIB)),
    ("pids.max", "42"),
    ("cpu.max", "50000 100000"),
    # runc's shares -> weight: 1 + ((shares - 2) * 9999) / 262142
    ("cpu.weight", str(1 + ((512 - 2) * 9999) // 262142)),
    ("cpuset.cpus", "0"),
    ("cpu.max.burst", "10000"),
    # the guest has no BFQ (no io.bfq.weight): runc converts blkio's 10..1000 to io.weight's 1..10000
    ("io.weight", f"default {1 + ((500 - 10) * 9999) // 990}"),
    ("hugetlb.2MB.max", str(4 * MIB)),
    # `unified` keys are written as they are
    ("memory.high", str(80 * MIB)),
])
def test_resource_file(limited: Limited, name: str, expected: str) -> None:
    assert limited.host(name) == expected, f"host {limited.host_dir}/{name}"
    assert limited.inside.get(name) == expected, f"inside the container /sys/fs/cgroup/{name}"
