"""Routing of resources to hierarchies, stats from fixture files, update/events argument parsing, and pause's
promise that nothing stays frozen after an error (no root needed)."""

from __future__ import annotations

import json
import os

import pytest

from simcon.cgroups import stats
from simcon.cgroups.controllers import ResourceError
from simcon.cgroups.manager import CgroupManager
from simcon.cgroups.mounts import Hierarchy
from simcon.cgroups.v1 import V1Cgroup
from simcon.cgroups.v2 import V2Cgroup
from simcon.cli.events import parse_duration
from simcon.cli.update import parse_size
from simcon.errors import ConfigError
from simcon.records import convert
from simcon.runtime.plan.cgroup import update_resources as decode_resources
from simcon.spec.model import Resources


def res(**doc) -> Resources:
    return convert(doc, Resources)


def tree(base, files: dict[str, str]) -> str:
    os.makedirs(base, exist_ok=True)
    for name, value in files.items():
        with open(os.path.join(base, name), "w") as f:
            f.write(value)
    return str(base)


def hybrid(tmp_path, v1: dict[str, dict[str, str]], v2: dict[str, str]) -> CgroupManager:
    cgroups = []
    for controller, files in v1.items():
        d = tree(tmp_path / controller / "c", files)
        cgroups.append(V1Cgroup(Hierarchy(1, (controller,), str(tmp_path / controller)), d))
    d = tree(tmp_path / "unified" / "c", v2)
    cgroups.append(V2Cgroup(Hierarchy(2, (), str(tmp_path / "unified")), d))
    return CgroupManager("hybrid", cgroups)


def test_apply_routes_v1_controllers_to_their_hierarchy_and_the_rest_to_v2(tmp_path):
    mgr = hybrid(tmp_path, {"memory": {"memory.limit_in_bytes": "", "memory.memsw.limit_in_bytes": "-1"},
                            "pids": {"pids.max": "max"}},
                 {"memory.high": "max"})
    mgr.apply(res(memory={"limit": 1 << 20}, pids={"limit": 5}, unified={"memory.high": "2M"}))
    assert (tmp_path / "memory/c/memory.limit_in_bytes").read_text() == str(1 << 20)
    assert (tmp_path / "pids/c/pids.max").read_text() == "5"
    assert (tmp_path / "unified/c/memory.high").read_text() == "2M"


def test_apply_of_a_controller_the_host_lacks_names_resource_and_file(tmp_path):
    mgr = hybrid(tmp_path, {"memory": {}}, {})
    with pytest.raises(ResourceError) as info:
        mgr.apply(res(hugepageLimits=[{"pageSize": "2MB", "limit": 1}]))
    assert str(info.value).startswith("linux.resources.hugepageLimits[0].limit: cgroup `")
    assert info.value.path == str(tmp_path / "unified/c/hugetlb.2MB.max")


def test_unified_without_cgroup2_names_the_key(tmp_path):
    d = tree(tmp_path / "memory" / "c", {})
    mgr = CgroupManager("legacy", [V1Cgroup(Hierarchy(1, ("memory",), str(tmp_path / "memory")), d)])
    with pytest.raises(ResourceError, match=r'resources\.unified\["pids\.max"\]: .*need cgroup v2'):
        mgr.apply(res(unified={"pids.max": "3"}), "resources")


def test_update_leaves_devices_alone_and_create_writes_them(tmp_path):
    mgr = hybrid(tmp_path, {"devices": {"devices.allow": "", "devices.deny": ""}}, {})
    mgr.apply(res(), "resources")
    assert (tmp_path / "devices/c/devices.deny").read_text() == ""
    mgr.apply(res(), "linux.resources", devices=True)
    assert (tmp_path / "devices/c/devices.deny").read_text() == "a"


def test_v2_init_dir_enables_the_parents_controllers(tmp_path):
    root = tree(tmp_path / "unified", {"cgroup.controllers": "cpu memory pids", "cgroup.subtree_control": "cpu"})
    cg = V2Cgroup(Hierarchy(2, (), root), os.path.join(root, "c"))
    writes = []
    from simcon.cgroups import fs

    real = fs.write
    fs.write = lambda d, n, v: writes.append((n, v))
    try:
        cg.init_dir(os.path.join(root, "c"))
    finally:
        fs.write = real
    assert writes == [("cgroup.subtree_control", "+memory"), ("cgroup.subtree_control", "+pids")]


# -- stats --------------------------------------------------------------------------------------------------------


def test_stats_v1(tmp_path, monkeypatch):
    monkeypatch.setattr(stats, "page_sizes", lambda: ["2MB"])
    mgr = hybrid(tmp_path, {
        "cpuacct": {"cpuacct.usage": "5000", "cpuacct.usage_percpu": "3000 2000", "cpuacct.stat": "user 2\nsystem 1\n"},
        "cpu": {"cpu.stat": "nr_periods 4\nnr_throttled 1\nthrottled_time 99\n"},
        "memory": {"memory.stat": "cache 10\nrss 20\n", "memory.usage_in_bytes": "30", "memory.max_usage_in_bytes": "40",
                   "memory.limit_in_bytes": "100", "memory.failcnt": "2"},
        "pids": {"pids.current": "3", "pids.max": "max"},
        "cpuset": {"cpuset.cpus": "0-2,5", "cpuset.mems": "0", "cpuset.sched_load_balance": "1"},
        "blkio": {"blkio.throttle.io_service_bytes_recursive": "8:0 Read 512\n8:0 Write 0\nTotal 512\n"},
        "hugetlb": {"hugetlb.2MB.usage_in_bytes": "0", "hugetlb.2MB.failcnt": "1"},
    }, {})
    data = stats.collect(mgr)
    assert data["cpu"] == {"usage": {"total": 5000, "percpu": [3000, 2000], "kernel": 10_000_000,
                                     "user": 20_000_000},
                           "throttling": {"periods": 4, "throttled_periods": 1, "throttled_time": 99}}
    assert data["memory"]["cache"] == 10
    assert data["memory"]["usage"] == {"limit": 100, "usage": 30, "max": 40, "failcnt": 2}
    assert data["memory"]["raw"] == {"cache": 10, "rss": 20}
    assert data["pids"] == {"current": 3}
    assert data["cpuset"] == {"cpus": [0, 1, 2, 5], "mems": [0], "sched_load_balance": 1}
    assert data["intel_rdt"] == {} and data["network_interfaces"] is None
    assert data["blkio"] == {"ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 512},
                                                         {"major": 8, "op": "Write"}]}
    assert data["hugetlb"] == {"2MB": {"failcnt": 1}}


def test_stats_v2(tmp_path, monkeypatch):
    monkeypatch.setattr(stats, "page_sizes", lambda: [])
    d = tree(tmp_path / "c", {
        "cpu.stat": "usage_usec 7\nuser_usec 5\nsystem_usec 2\nnr_periods 0\n",
        "memory.stat": "file 11\nanon 22\n", "memory.current": "33", "memory.max": "max",
        "memory.events": "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n", "memory.swap.current": "0",
        "memory.swap.max": "max", "pids.current": "2", "pids.max": "9",
        "io.stat": "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"})
    mgr = CgroupManager("unified", [V2Cgroup(Hierarchy(2, (), str(tmp_path)), d)])
    data = stats.collect(mgr)
    assert data["cpu"] == {"usage": {"total": 7000, "kernel": 2000, "user": 5000}, "throttling": {}}
    assert data["memory"]["usage"] == {"limit": stats.UNLIMITED, "usage": 33, "failcnt": 4}
    assert data["memory"]["cache"] == 11
    assert data["pids"] == {"current": 2, "limit": 9}
    assert {"major": 8, "minor": 0, "op": "Write", "value": 200} in data["blkio"]["ioServiceBytesRecursive"]
    assert {"major": 8, "minor": 0, "op": "Read", "value": 1} in data["blkio"]["ioServicedRecursive"]


def test_oom_watcher_v2_counts_new_kills_only(tmp_path):
    d = tree(tmp_path / "c", {"memory.events": "oom 2\noom_kill 2\n"})
    mgr = CgroupManager("unified", [V2Cgroup(Hierarchy(2, (), str(tmp_path)), d)])
    watcher = stats.OomWatcher(mgr)
    assert watcher.new_ooms() == 0
    (tmp_path / "c" / "memory.events").write_text("oom 3\noom_kill 4\n")
    assert watcher.new_ooms() == 2
    assert watcher.new_ooms() == 0
    watcher.close()


def test_page_sizes(tmp_path):
    for name in ("hugepages-2048kB", "hugepages-1048576kB", "hugepages-64kB"):
        (tmp_path / name).mkdir()
    assert sorted(stats.page_sizes(str(tmp_path))) == ["1GB", "2MB", "64KB"]


# -- update and events arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize("text,value", [("1024", 1024), ("512m", 512 << 20), ("1G", 1 << 30), ("1gb", 1 << 30),
                                        ("64k", 64 << 10), ("-1", -1), ("1.5m", 3 << 19), ("2MiB", 2 << 20)])
def test_parse_size(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "m", "12x", "-5", "lots"])
def test_parse_size_refuses(text):
    with pytest.raises(ValueError):
        parse_size(text)


@pytest.mark.parametrize("text,seconds", [("5s", 5), ("500ms", 0.5), ("1m30s", 90), ("2", 2), ("1h", 3600)])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "s", "10 "])
def test_parse_duration_refuses(text):
    if text == "10 ":
        assert parse_duration(text) == 10
        return
    with pytest.raises(ValueError):
        parse_duration(text)


def test_update_json_errors_name_the_json_path():
    with pytest.raises(ConfigError) as info:
        decode_resources(json.dumps({"cpu": {"shares": -3}}).encode(), "<stdin>")
    assert str(info.value).startswith("<stdin>: cpu.shares: expected an integer >= 0")
    assert decode_resources(b'{"memory": {"limit": 5}}', "<stdin>").memory.limit == 5


# -- pause --------------------------------------------------------------------------------------------------------


def test_pause_thaws_again_when_the_state_cannot_be_written(tmp_path, monkeypatch):
    from simcon.runtime import cgroup_ops
    from simcon.runtime import status as st
    from simcon.runtime.state import ContainerState, StateStore

    calls = []

    class FakeManager:
        def freeze(self):
            calls.append("freeze")

        def thaw(self):
            calls.append("thaw")

    store = StateStore(str(tmp_path))
    locked = store.create_dir("c1")
    locked.write(ContainerState(id="c1", status=st.RUNNING, cgroup={}))
    locked.release()
    monkeypatch.setattr(cgroup_ops, "_manager", lambda state: FakeManager())
    monkeypatch.setattr(st, "derive_status", lambda state, path: st.RUNNING)

    def broken_write(self, state):
        raise OSError(28, "No space left on device")

    from simcon.runtime.state import LockedContainer

    monkeypatch.setattr(LockedContainer, "write", broken_write)
    with pytest.raises(OSError):
        cgroup_ops.pause_container(store, "c1")
    assert calls == ["freeze", "thaw"]


def test_update_flags_become_a_resources_document():
    from simcon.cli.args import ArgumentParser
    from simcon.cli.update import configure, resources_from_flags

    parser = ArgumentParser("simcon update")
    configure(parser)
    args = parser.parse_args(["--memory", "64m", "--memory-swap", "-1", "--cpu-shares", "512", "--cpu-quota", "-1",
                              "--cpuset-cpus", "0-1", "--pids-limit", "9", "--blkio-weight", "300", "c1"])
    doc = resources_from_flags(args)
    assert doc == {"memory": {"limit": 64 << 20, "swap": -1}, "cpu": {"shares": 512, "quota": -1, "cpus": "0-1"},
                   "pids": {"limit": 9}, "blockIO": {"weight": 300}}
    assert decode_resources(json.dumps(doc).encode(), "the command line").cpu.shares == 512


def test_update_flag_with_a_bad_number_names_the_flag():
    from simcon.cli.args import ArgumentParser
    from simcon.cli.update import configure, resources_from_flags
    from simcon.errors import UsageError

    parser = ArgumentParser("simcon update")
    configure(parser)
    with pytest.raises(UsageError, match="--cpu-quota: invalid value 'half'"):
        resources_from_flags(parser.parse_args(["--cpu-quota", "half", "c1"]))
