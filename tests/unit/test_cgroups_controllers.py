"""Each controller writer against a tmp directory of fixture files, for cgroup v1 and v2 (no root needed).

A fixture directory holds the interface files a real cgroup would have (empty or with a current value); a
writer that names a file the directory lacks fails as it would on a kernel without that feature.
"""

from __future__ import annotations

import os

import pytest

from simcon.cgroups import controllers
from simcon.cgroups.controllers import ResourceError, blkio, cpu, cpuset, devices, hugetlb, memory, net_cls
from simcon.cgroups.controllers import net_prio, pids, rdma, unified
from simcon.records import convert
from simcon.spec.model import Resources

V1_MEMORY = {
    "memory.limit_in_bytes": "9223372036854771712", "memory.memsw.limit_in_bytes": "9223372036854771712",
    "memory.soft_limit_in_bytes": "", "memory.kmem.tcp.limit_in_bytes": "", "memory.swappiness": "60",
    "memory.oom_control": "", "memory.use_hierarchy": "1", "memory.usage_in_bytes": "1000000",
}
V2_MEMORY = {"memory.max": "max", "memory.swap.max": "max", "memory.low": "0", "memory.current": "1000000"}


class Log:
    """Records every write in order (the kernel's files only keep the last value)."""


def res(**doc) -> Resources:
    return convert(doc, Resources)


@pytest.fixture
def cg(tmp_path, monkeypatch):
    """make(files) -> a fixture cgroup dir; writes are recorded in ``writes`` as (file, value), in order."""
    writes: list[tuple[str, str]] = []
    from simcon.cgroups import fs

    real_write = fs.write

    def recording_write(cgroup_dir, name, value):
        real_write(cgroup_dir, name, value)
        writes.append((name, value))

    monkeypatch.setattr(fs, "write", recording_write)

    def make(files: dict[str, str]) -> str:
        d = tmp_path / "cg"
        d.mkdir()
        for name, value in files.items():
            (d / name).write_text(value)
        return str(d)

    make.writes = writes
    return make


def content(d: str, name: str) -> str:
    with open(os.path.join(d, name)) as f:
        return f.read()


# -- memory -------------------------------------------------------------------------------------------------------


def test_memory_v1_limit_swap_and_the_rest(cg):
    d = cg(V1_MEMORY)
    memory.apply(res(memory={"limit": 32 << 20, "swap": 64 << 20, "reservation": 16 << 20, "kernelTCP": 1 << 20,
                             "swappiness": 10, "disableOOMKiller": True, "useHierarchy": True}),
                 d, 1, "linux.resources")
    assert content(d, "memory.limit_in_bytes") == str(32 << 20)
    assert content(d, "memory.memsw.limit_in_bytes") == str(64 << 20)  # v1: the spec's swap is memory+swap
    assert content(d, "memory.soft_limit_in_bytes") == str(16 << 20)
    assert content(d, "memory.kmem.tcp.limit_in_bytes") == str(1 << 20)
    assert content(d, "memory.swappiness") == "10"
    assert content(d, "memory.oom_control") == "1"
    assert content(d, "memory.use_hierarchy") == "1"


def test_memory_v1_order_keeps_limit_below_memsw(cg):
    files = dict(V1_MEMORY, **{"memory.limit_in_bytes": str(64 << 20), "memory.memsw.limit_in_bytes": str(64 << 20)})
    d = cg(files)
    memory.apply(res(memory={"limit": 128 << 20, "swap": 256 << 20}), d, 1, "linux.resources")
    assert [w[0] for w in cg.writes] == ["memory.memsw.limit_in_bytes", "memory.limit_in_bytes"]  # growing
    cg.writes.clear()
    memory.apply(res(memory={"limit": 16 << 20, "swap": 32 << 20}), d, 1, "linux.resources")
    assert [w[0] for w in cg.writes] == ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]  # shrinking


def test_memory_v1_unlimited_lifts_swap_too(cg):
    d = cg(V1_MEMORY)
    memory.apply(res(memory={"limit": -1}), d, 1, "linux.resources")
    assert content(d, "memory.limit_in_bytes") == "-1"
    assert content(d, "memory.memsw.limit_in_bytes") == "-1"


def test_memory_v1_limit_above_memsw_is_explained(cg):
    d = cg(dict(V1_MEMORY, **{"memory.memsw.limit_in_bytes": str(32 << 20)}))
    with pytest.raises(ResourceError, match=r"resources\.memory\.limit: .*above the current memory\+swap"):
        memory.apply(res(memory={"limit": 64 << 20}), d, 1, "resources")


def test_memory_v1_kernel_is_ignored_with_a_warning(cg, capsys, warnings_on_stderr):
    d = cg(V1_MEMORY)
    memory.apply(res(memory={"kernel": 1 << 20}), d, 1, "linux.resources")
    assert cg.writes == []
    assert "linux.resources.memory.kernel" in capsys.readouterr().err


def test_memory_swappiness_out_of_range(cg):
    d = cg(V1_MEMORY)
    with pytest.raises(ResourceError, match=r"linux\.resources\.memory\.swappiness: must be 0-100"):
        memory.apply(res(memory={"swappiness": 200}), d, 1, "linux.resources")


@pytest.mark.parametrize("version,usage_file", [(1, "memory.usage_in_bytes"), (2, "memory.current")])
def test_memory_check_before_update_refuses_a_limit_below_usage(cg, version, usage_file):
    d = cg(V1_MEMORY if version == 1 else V2_MEMORY)
    with pytest.raises(ResourceError, match="below the current usage 1000000") as info:
        memory.apply(res(memory={"limit": 4096, "checkBeforeUpdate": True}), d, version, "linux.resources")
    assert info.value.path.endswith(usage_file)
    assert cg.writes == []


def test_memory_v2_swap_is_swap_minus_limit(cg):
    d = cg(V2_MEMORY)
    memory.apply(res(memory={"limit": 32 << 20, "swap": 96 << 20, "reservation": 1 << 20}), d, 2, "linux.resources")
    assert content(d, "memory.max") == str(32 << 20)
    assert content(d, "memory.swap.max") == str(64 << 20)
    assert content(d, "memory.low") == str(1 << 20)
    assert [w[0] for w in cg.writes] == ["memory.swap.max", "memory.max", "memory.low"]


def test_memory_v2_unlimited_is_max(cg):
    d = cg(V2_MEMORY)
    memory.apply(res(memory={"limit": -1}), d, 2, "linux.resources")
    assert content(d, "memory.max") == "max"
    assert content(d, "memory.swap.max") == "max"


@pytest.mark.parametrize("mem,problem", [({"swap": 10}, "needs a memory limit"),
                                         ({"limit": 100, "swap": 50}, "below the memory limit")])
def test_memory_v2_bad_swap(cg, mem, problem):
    d = cg(V2_MEMORY)
    with pytest.raises(ResourceError, match=rf"linux\.resources\.memory\.swap: .*{problem}"):
        memory.apply(res(memory=mem), d, 2, "linux.resources")


def test_memory_v2_v1_only_fields_warn(cg, capsys, warnings_on_stderr):
    d = cg(V2_MEMORY)
    memory.apply(res(memory={"kernel": 1, "kernelTCP": 1, "swappiness": 1, "disableOOMKiller": True}), d, 2,
                 "linux.resources")
    err = capsys.readouterr().err
    for name in ("kernel", "kernelTCP", "swappiness", "disableOOMKiller"):
        assert f"linux.resources.memory.{name}:" in err
    assert cg.writes == []


def test_memory_missing_file_names_resource_and_file(cg):
    d = cg({"memory.limit_in_bytes": "0"})  # a kernel without swap accounting
    with pytest.raises(ResourceError) as info:
        memory.apply(res(memory={"swap": 64 << 20}), d, 1, "linux.resources")
    assert str(info.value).startswith("linux.resources.memory.swap: cgroup `")
    assert "memory.memsw.limit_in_bytes" in str(info.value) and "does not support" in str(info.value)


# -- cpu, cpuset --------------------------------------------------------------------------------------------------


def test_shares_to_weight_matches_runc():
    assert cpu.shares_to_weight(0) == 0
    assert cpu.shares_to_weight(2) == 1
    assert cpu.shares_to_weight(1024) == 39
    assert cpu.shares_to_weight(262144) == 10000


def test_cpu_v1(cg):
    d = cg({"cpu.shares": "1024", "cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "-1", "cpu.cfs_burst_us": "0",
            "cpu.rt_period_us": "1000000", "cpu.rt_runtime_us": "0", "cpu.idle": "0"})
    cpu.apply(res(cpu={"shares": 512, "quota": 50000, "period": 200000, "burst": 1000, "realtimePeriod": 500000,
                       "realtimeRuntime": 1000, "idle": 1}), d, 1, "linux.resources")
    assert [w for w in cg.writes] == [("cpu.shares", "512"), ("cpu.cfs_period_us", "200000"),
                                      ("cpu.cfs_quota_us", "50000"), ("cpu.cfs_burst_us", "1000"),
                                      ("cpu.rt_period_us", "500000"), ("cpu.rt_runtime_us", "1000"),
                                      ("cpu.idle", "1")]


def test_cpu_v1_shares_clamped_by_the_kernel_is_an_error(cg, monkeypatch):
    d = cg({"cpu.shares": "1024"})
    from simcon.cgroups import fs

    real_read = fs.read
    monkeypatch.setattr(fs, "read", lambda dd, n: "262144" if n == "cpu.shares" else real_read(dd, n))
    with pytest.raises(ResourceError, match=r"cpu\.shares: cgroup `.*`: 300000 is out of range: the maximum is 262144"):
        cpu.apply(res(cpu={"shares": 300000}), d, 1, "linux.resources")


def test_cpu_v2(cg):
    d = cg({"cpu.weight": "100", "cpu.max": "max 100000", "cpu.max.burst": "0", "cpu.idle": "0"})
    cpu.apply(res(cpu={"shares": 1024, "quota": 50000, "period": 100000, "burst": 10}), d, 2, "linux.resources")
    assert content(d, "cpu.weight") == "39"
    assert content(d, "cpu.max") == "50000 100000"
    assert content(d, "cpu.max.burst") == "10"
    cpu.apply(res(cpu={"quota": -1}), d, 2, "linux.resources")
    assert content(d, "cpu.max") == "max"


def test_cpu_v2_realtime_is_refused(cg):
    d = cg({"cpu.weight": "100"})
    with pytest.raises(ResourceError, match=r"linux\.resources\.cpu\.realtimeRuntime: .*cgroup v2"):
        cpu.apply(res(cpu={"realtimeRuntime": 100}), d, 2, "linux.resources")


@pytest.mark.parametrize("version", [1, 2])
def test_cpuset(cg, version):
    d = cg({"cpuset.cpus": "", "cpuset.mems": ""})
    cpuset.apply(res(cpu={"cpus": "0-1", "mems": "0"}), d, version, "linux.resources")
    assert content(d, "cpuset.cpus") == "0-1"
    assert content(d, "cpuset.mems") == "0"


# -- pids ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("limit,expected", [(10, "10"), (0, "max"), (-1, "max")])
def test_pids(cg, version, limit, expected):
    d = cg({"pids.max": "max"})
    pids.apply(res(pids={"limit": limit}), d, version, "linux.resources")
    assert content(d, "pids.max") == expected


# -- blockIO ------------------------------------------------------------------------------------------------------

BLKIO = {"weightDevice": [{"major": 8, "minor": 0, "weight": 500, "leafWeight": 300}],
         "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
         "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2000}],
         "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 30}],
         "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 40}],
         "weight": 100, "leafWeight": 200}


def test_blkio_v1_cfq(cg):
    d = cg({n: "" for n in ("blkio.weight", "blkio.leaf_weight", "blkio.weight_device", "blkio.leaf_weight_device",
                            "blkio.throttle.read_bps_device", "blkio.throttle.write_bps_device",
                            "blkio.throttle.read_iops_device", "blkio.throttle.write_iops_device")})
    blkio.apply(res(blockIO=BLKIO), d, 1, "linux.resources")
    assert cg.writes == [("blkio.weight", "100"), ("blkio.leaf_weight", "200"), ("blkio.weight_device", "8:0 500"),
                         ("blkio.leaf_weight_device", "8:0 300"), ("blkio.throttle.read_bps_device", "8:0 1000"),
                         ("blkio.throttle.write_bps_device", "8:0 2000"),
                         ("blkio.throttle.read_iops_device", "8:0 30"),
                         ("blkio.throttle.write_iops_device", "8:0 40")]


def test_blkio_v1_bfq_only(cg):
    d = cg({"blkio.bfq.weight": "100", "blkio.bfq.weight_device": ""})
    blkio.apply(res(blockIO={"weight": 300, "weightDevice": [{"major": 8, "minor": 16, "weight": 700}]}), d, 1,
                "linux.resources")
    assert cg.writes == [("blkio.bfq.weight", "300"), ("blkio.bfq.weight_device", "8:16 700")]


def test_blkio_to_io_weight_matches_runc():
    assert blkio.blkio_to_io_weight(0) == 0
    assert blkio.blkio_to_io_weight(10) == 1
    assert blkio.blkio_to_io_weight(500) == 4950
    assert blkio.blkio_to_io_weight(1000) == 10000


def test_io_v2_without_bfq(cg, capsys, warnings_on_stderr):
    d = cg({"io.weight": "default 100", "io.max": ""})
    blkio.apply(res(blockIO=BLKIO), d, 2, "linux.resources")
    assert cg.writes == [("io.weight", "910"), ("io.weight", "8:0 4950"), ("io.max", "8:0 rbps=1000"),
                         ("io.max", "8:0 wbps=2000"), ("io.max", "8:0 riops=30"), ("io.max", "8:0 wiops=40")]
    assert "linux.resources.blockIO.leafWeight" in capsys.readouterr().err


def test_io_v2_with_bfq_takes_the_weight_as_is(cg):
    d = cg({"io.bfq.weight": "100", "io.weight": "default 100"})
    blkio.apply(res(blockIO={"weight": 300, "weightDevice": [{"major": 8, "minor": 0, "weight": 700}]}), d, 2,
                "linux.resources")
    assert cg.writes == [("io.bfq.weight", "300"), ("io.bfq.weight", "8:0 700")]


def test_blkio_error_names_the_device_entry(cg):
    d = cg({"blkio.weight": ""})
    with pytest.raises(ResourceError, match=r"linux\.resources\.blockIO\.throttleReadIOPSDevice\[0\]: .*read_iops"):
        blkio.apply(res(blockIO={"throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 3}]}), d, 1,
                    "linux.resources")


# -- hugetlb, network, rdma ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("version,limit_file,rsvd_file", [
    (1, "hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.rsvd.limit_in_bytes"),
    (2, "hugetlb.2MB.max", "hugetlb.2MB.rsvd.max"),
])
def test_hugetlb(cg, version, limit_file, rsvd_file):
    d = cg({limit_file: "", rsvd_file: ""})
    hugetlb.apply(res(hugepageLimits=[{"pageSize": "2MB", "limit": 4 << 20}]), d, version, "linux.resources")
    assert content(d, limit_file) == str(4 << 20)
    assert content(d, rsvd_file) == str(4 << 20)


def test_hugetlb_bad_page_size(cg):
    d = cg({})
    with pytest.raises(ResourceError, match=r"hugepageLimits\[0\]\.pageSize: expected a size"):
        controllers.check(res(hugepageLimits=[{"pageSize": "2M", "limit": 1}]), "linux.resources")


def test_network_v1(cg):
    d = cg({"net_cls.classid": "0", "net_prio.ifpriomap": ""})
    doc = res(network={"classID": 0x100001, "priorities": [{"name": "eth0", "priority": 5},
                                                          {"name": "lo", "priority": 2}]})
    net_cls.apply(doc, d, 1, "linux.resources")
    net_prio.apply(doc, d, 1, "linux.resources")
    assert cg.writes == [("net_cls.classid", "1048577"), ("net_prio.ifpriomap", "eth0 5"),
                         ("net_prio.ifpriomap", "lo 2")]


def test_network_v2_is_refused(cg):
    d = cg({})
    with pytest.raises(ResourceError, match=r"linux\.resources\.network\.classID: cgroup v2 has no net_cls"):
        net_cls.apply(res(network={"classID": 1}), d, 2, "linux.resources")
    with pytest.raises(ResourceError, match=r"network\.priorities\[0\]: cgroup v2 has no net_prio"):
        net_prio.apply(res(network={"priorities": [{"name": "lo", "priority": 1}]}), d, 2, "linux.resources")


@pytest.mark.parametrize("version", [1, 2])
def test_rdma(cg, version):
    d = cg({"rdma.max": ""})
    rdma.apply(res(rdma={"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}}), d, version, "linux.resources")
    assert cg.writes == [("rdma.max", "mlx5_1 hca_handle=3 hca_object=10000")]


# -- devices ------------------------------------------------------------------------------------------------------


def test_devices_v1_deny_all_then_rules_then_defaults_and_nothing_more(cg):
    d = cg({"devices.allow": "", "devices.deny": ""})
    rules = [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "wr"},
             {"allow": False, "type": "b", "major": 8, "minor": -1}]
    devices.apply(res(devices=rules), d, 1, "linux.resources")
    assert cg.writes[:4] == [("devices.deny", "a"), ("devices.deny", "a *:* rwm"), ("devices.allow", "c 10:229 rw"),
                             ("devices.deny", "b 8:* rwm")]
    assert [w[1] for w in cg.writes[4:]] == [r.text() for r in devices.DEFAULT_ALLOWED]
    assert {w[0] for w in cg.writes[4:]} == {"devices.allow"}


def test_devices_bad_rule(cg):
    d = cg({"devices.allow": "", "devices.deny": ""})
    with pytest.raises(ResourceError, match=r"linux\.resources\.devices\[0\]\.access: expected letters from rwm"):
        devices.apply(res(devices=[{"allow": True, "access": "rwx"}]), d, 1, "linux.resources")
    with pytest.raises(ResourceError, match=r"resources\.devices\[1\]\.major: expected -1 \(any\) or 0 to"):
        devices.apply(res(devices=[{"allow": True}, {"allow": True, "type": "c", "major": 1 << 32}]), d, 1,
                      "resources")
    with pytest.raises(ResourceError, match=r"linux\.resources\.devices\[0\]\.type: expected a, b or c"):
        controllers.check(res(devices=[{"allow": True, "type": "x"}]), "linux.resources")
    with pytest.raises(ResourceError, match=r"resources\.memory\.swap: must be -1 \(no limit\)"):
        controllers.check(res(memory={"limit": 10, "swap": -2}), "resources")
    controllers.check(res(memory={"limit": -1}, devices=[{"allow": False, "access": "rwm"}]), "linux.resources")
    assert cg.writes == []


# -- unified ------------------------------------------------------------------------------------------------------


def test_unified_v2(cg):
    d = cg({"memory.high": "max", "io.latency": ""})
    unified.apply(res(unified={"memory.high": "1073741824", "io.latency": "8:0 target=100"}), d, 2,
                  "linux.resources")
    assert content(d, "memory.high") == "1073741824"
    assert content(d, "io.latency") == "8:0 target=100"


def test_unified_on_v1_names_the_key(cg):
    d = cg({})
    with pytest.raises(ResourceError, match=r'linux\.resources\.unified\["memory\.high"\]: .*need cgroup v2'):
        unified.apply(res(unified={"memory.high": "1"}), d, 1, "linux.resources")


@pytest.mark.parametrize("key", ["../memory.max", ".hidden", "a/b"])
def test_unified_bad_key(cg, key):
    d = cg({})
    with pytest.raises(ResourceError, match="not a cgroup file name"):
        unified.apply(res(unified={key: "1"}), d, 2, "linux.resources")


def test_unified_unknown_key_names_the_file(cg):
    d = cg({})
    with pytest.raises(ResourceError) as info:
        unified.apply(res(unified={"memory.nope": "1"}), d, 2, "linux.resources")
    assert 'unified["memory.nope"]' in str(info.value) and info.value.path.endswith("memory.nope")


def test_memory_v1_use_hierarchy_false_where_the_kernel_forces_it(cg, capsys, warnings_on_stderr):
    d = cg(V1_MEMORY)  # use_hierarchy is 1, as on every kernel since 5.16
    memory.apply(res(memory={"useHierarchy": False}), d, 1, "linux.resources")
    assert cg.writes == []
    assert "linux.resources.memory.useHierarchy: false is ignored" in capsys.readouterr().err


def test_memory_v1_memsw_is_left_alone_without_swap(cg):
    d = cg(V1_MEMORY)
    memory.apply(res(memory={"limit": 8 << 20}), d, 1, "linux.resources")
    assert cg.writes == [("memory.limit_in_bytes", str(8 << 20))]


def test_memory_negative_values_other_than_minus_one(cg):
    cg(V1_MEMORY)
    with pytest.raises(ResourceError, match=r"linux\.resources\.memory\.limit: must be -1"):
        controllers.check(res(memory={"limit": -2}), "linux.resources")
    assert cg.writes == []
