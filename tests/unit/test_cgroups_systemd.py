"""The systemd cgroup driver's pure parts: slice:prefix:name (runc's rules), resource -> unit property
conversions, state round trip, and the errors on a host without systemd (this machine: systemd installed, not
running). The driver against a real systemd runs in the VM lane (tests/vm/test_systemd_cgroup.py)."""

from __future__ import annotations

import os

import pytest

from simcon.cgroups import open_manager
from simcon.cgroups import manager_from_state
from simcon.cgroups.slices import SystemdPath, expand_slice, is_systemd_form, parse_systemd_path
from simcon.cgroups.systemd import (
    UINT64_MAX,
    SystemdCgroupManager,
    cpu_quota_per_sec,
    cpuset_bits,
    open_systemd_manager,
    resource_properties,
    scope_properties,
)
from simcon.errors import CgroupError
from simcon.spec.model import Resources
from simcon.spec.load import _decode


def res(**fields) -> Resources:
    import json

    return _decode(json.dumps(fields).encode(), Resources, "test")


# -- slice:prefix:name -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("slice_name, expanded", [
    ("system.slice", "/system.slice"),
    ("-.slice", "/"),
    ("a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice"),
    ("kubepods-besteffort-pod123.slice", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod123.slice"),
])
def test_expand_slice_follows_runc(slice_name, expanded):
    assert expand_slice(slice_name) == expanded


@pytest.mark.parametrize("bad", ["system", ".slice", "a--b.slice", "-a.slice", "a-.slice", "a/b.slice", "foo.scope"])
def test_invalid_slice_names_are_refused(bad):
    with pytest.raises(CgroupError, match="invalid slice name"):
        expand_slice(bad)


def test_parse_kubernetes_style_path():
    p = parse_systemd_path("kubepods-besteffort-pod123.slice:cri-containerd:abc", "abc")
    assert p == SystemdPath("kubepods-besteffort-pod123.slice", "cri-containerd", "abc")
    assert p.unit == "cri-containerd-abc.scope"
    assert p.relative_dir == ("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod123.slice/"
                              "cri-containerd-abc.scope")


def test_defaults_system_slice_rootful_user_slice_rootless():
    assert parse_systemd_path(":libpod:x", "x").relative_dir == "/system.slice/libpod-x.scope"
    assert parse_systemd_path(":libpod:x", "x", rootless=True).relative_dir == "/user.slice/libpod-x.scope"
    assert parse_systemd_path(None, "web").unit == "simcon-web.scope"
    assert parse_systemd_path("", "web").relative_dir == "/system.slice/simcon-web.scope"


def test_name_ending_in_slice_is_the_unit_itself_and_empty_prefix():
    assert parse_systemd_path("system.slice::mine.slice", "x").unit == "mine.slice"
    assert parse_systemd_path("system.slice::web", "x").unit == "web.scope"


def test_plain_path_with_systemd_gets_runcs_error():
    with pytest.raises(CgroupError) as info:
        parse_systemd_path("/mygroup/web", "web")
    assert 'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups' in str(info.value)
    assert "/mygroup/web" in str(info.value)


def test_bad_parts_are_named():
    with pytest.raises(CgroupError, match="name part"):
        parse_systemd_path("system.slice:p:", "x")
    with pytest.raises(CgroupError, match="invalid slice name 'nope'"):
        parse_systemd_path("nope:p:x", "x")
    with pytest.raises(CgroupError, match="prefix"):
        parse_systemd_path("system.slice:a/b:x", "x")


def test_is_systemd_form():
    assert is_systemd_form("system.slice:simcon:web")
    assert not is_systemd_form("/a:b:c")
    assert not is_systemd_form("a/b")
    assert not is_systemd_form(None)


def test_cgroupfs_driver_refuses_the_systemd_form_and_names_the_flag():
    with pytest.raises(CgroupError, match="pass --systemd-cgroup"):
        open_manager("system.slice:simcon:web", "web")


# -- resources -> properties -------------------------------------------------------------------------------------


def props(**fields) -> dict:
    return dict(resource_properties(res(**fields)))


def test_memory_properties_with_runcs_swap_conversion():
    p = props(memory={"limit": 268435456, "reservation": 1048576, "swap": 536870912})
    assert p["MemoryMax"] == ("t", 268435456)
    assert p["MemoryLow"] == ("t", 1048576)
    assert p["MemorySwapMax"] == ("t", 536870912 - 268435456)


def test_minus_one_is_infinity():
    p = props(memory={"limit": -1}, pids={"limit": -1})
    assert p["MemoryMax"] == ("t", UINT64_MAX)
    assert p["MemorySwapMax"] == ("t", UINT64_MAX)  # no memory limit lifts the swap limit too (runc)
    assert p["TasksMax"] == ("t", UINT64_MAX)


def test_swap_below_limit_is_an_error_naming_the_field():
    with pytest.raises(CgroupError, match=r"linux\.resources\.memory\.swap"):
        props(memory={"limit": 200, "swap": 100})


def test_cpu_properties():
    p = props(cpu={"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1,3", "mems": "0"})
    assert p["CPUWeight"] == ("t", 39)  # runc: 1 + (1024-2)*9999/262142
    assert p["CPUQuotaPeriodUSec"] == ("t", 100000)
    assert p["CPUQuotaPerSecUSec"] == ("t", 500000)
    assert p["AllowedCPUs"] == ("ay", bytes([0b1011]))
    assert p["AllowedMemoryNodes"] == ("ay", bytes([1]))


def test_cpu_quota_is_rounded_up_to_whole_percents_as_runc():
    assert cpu_quota_per_sec(12345, 100000) == 130000
    assert cpu_quota_per_sec(50000, 0) == 500000  # default period 100 ms
    assert cpu_quota_per_sec(-1, 100000) == UINT64_MAX
    assert dict(resource_properties(res(cpu={"period": 50000})))["CPUQuotaPerSecUSec"] == ("t", UINT64_MAX)


def test_cpuset_bits_little_endian_bytes():
    assert cpuset_bits("0", "f") == b"\x01"
    assert cpuset_bits("8-9", "f") == b"\x00\x03"
    with pytest.raises(CgroupError, match="f: invalid"):
        cpuset_bits("3-1", "f")
    with pytest.raises(CgroupError, match="f: invalid"):
        cpuset_bits("x", "f")


def test_pids_io_weight_and_idle():
    p = props(pids={"limit": 64}, blockIO={"weight": 500}, cpu={"idle": 1, "shares": 1024})
    assert p["TasksMax"] == ("t", 64)
    assert p["IOWeight"] == ("t", 1 + (500 - 10) * 9999 // 990)
    assert p["CPUWeight"] == ("t", 0)


def test_unified_keys_with_properties():
    p = props(unified={"memory.high": "max", "memory.min": "4096", "pids.max": "10", "cpu.max": "20000 100000",
                       "cpuset.cpus": "1", "memory.oom.group": "1"})
    assert p["MemoryHigh"] == ("t", UINT64_MAX)
    assert p["MemoryMin"] == ("t", 4096)
    assert p["TasksMax"] == ("t", 10)
    assert p["CPUQuotaPerSecUSec"] == ("t", 200000)
    assert p["AllowedCPUs"] == ("ay", b"\x02")
    assert "memory.oom.group" not in str(p)  # no property: the cgroupfs writer sets it


def test_nothing_set_no_properties():
    assert resource_properties(Resources()) == []


def test_scope_properties():
    path = parse_systemd_path("machine.slice:simcon:web", "web")
    p = dict(scope_properties(path, "web", 1234, [("MemoryMax", ("t", 1))]))
    assert p["PIDs"] == ("au", [1234])
    assert p["Delegate"] == ("b", True)
    assert p["DefaultDependencies"] == ("b", False)
    assert p["Slice"] == ("s", "machine.slice")
    assert p["Description"] == ("s", "simcon container web")
    assert p["MemoryMax"] == ("t", 1)


# -- the manager without systemd ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _systemd_booted(request, monkeypatch):
    """The tests below compute paths as on a systemd host; the one that checks the refusal says so."""
    if "no_systemd" not in request.node.name:
        monkeypatch.setattr("simcon.cgroups.systemd_dbus.systemd_booted", lambda: True)


def _unified_mountinfo(tmp_path) -> str:
    mp = tmp_path / "cg"
    mp.mkdir()
    path = tmp_path / "mountinfo"
    path.write_text(f"40 31 0:60 / {mp} rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n")
    return str(path)


def test_open_computes_the_scope_dir(tmp_path):
    m = open_systemd_manager("kubepods-burstable.slice:cri-containerd:abc", "abc",
                             mountinfo=_unified_mountinfo(tmp_path))
    assert m.cgroups[0].dir == str(tmp_path / "cg/kubepods.slice/kubepods-burstable.slice/cri-containerd-abc.scope")
    assert m.unit == "cri-containerd-abc.scope"


def test_open_refuses_a_v1_or_hybrid_host(tmp_path):
    path = tmp_path / "mountinfo"
    (tmp_path / "mem").mkdir()
    path.write_text(f"40 31 0:60 / {tmp_path}/mem rw - cgroup cgroup rw,memory\n")
    with pytest.raises(CgroupError, match="needs a pure cgroup v2"):
        open_systemd_manager(None, "web", mountinfo=str(path))


def test_state_round_trip_picks_the_systemd_driver(tmp_path):
    m = open_systemd_manager("a-b.slice:p:web", "web", mountinfo=_unified_mountinfo(tmp_path))
    back = manager_from_state(m.to_state())
    assert isinstance(back, SystemdCgroupManager)
    assert back.unit == "p-web.scope" and back.path.slice == "a-b.slice" and back.started
    assert back.dirs == m.dirs
    assert m.planned_state()["created"] == []  # systemd's slices are never SimCon's to rmdir


def test_no_systemd_is_a_clear_error_suggesting_cgroupfs(tmp_path, monkeypatch):
    monkeypatch.setattr("simcon.cgroups.systemd_dbus.systemd_booted", lambda: False)
    with pytest.raises(CgroupError) as info:
        open_systemd_manager(None, "web", mountinfo=_unified_mountinfo(tmp_path))
    assert "systemd is not running" in str(info.value)
    assert "cgroupfs" in info.value.hint


def test_unreachable_bus_is_a_clear_error(tmp_path, monkeypatch):
    from simcon.cgroups.systemd_dbus import SystemdManager

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    with pytest.raises(CgroupError) as info:
        SystemdManager(user=True)
    assert "cannot reach the user's systemd manager over D-Bus" in str(info.value)
    assert "no such file" in str(info.value)


def test_hot_verbs_do_not_import_jeepney(tmp_path):
    """`state`, `kill`, `ps` & co load the cgroup state; the systemd driver's state must not pull jeepney in."""
    import json
    import subprocess
    import sys

    state = open_systemd_manager(None, "web", mountinfo=_unified_mountinfo(tmp_path)).to_state()
    code = ("import json, sys\n"
            "from simcon.cgroups import manager_from_state\n"
            f"m = manager_from_state(json.loads({json.dumps(state)!r}))\n"
            "m.pids(); m.exists(); m.is_frozen()\n"
            "print(type(m).__name__, 'jeepney' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "SystemdCgroupManager False"


def test_destroy_without_systemd_falls_back_to_cgroupfs(tmp_path, monkeypatch):
    """`delete` after systemd went away must still remove the container: the scope's directory goes by rmdir."""
    m = open_systemd_manager(None, "web", mountinfo=_unified_mountinfo(tmp_path))
    scope = m.cgroups[0].dir
    os.makedirs(scope)
    m = manager_from_state(m.to_state())
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")
    m.destroy()
    assert not os.path.exists(scope)


class FakeSystemd:
    """Stands in for systemd's manager, which this machine does not run (it is tested for real in the VM lane's
    systemd boot): StartTransientUnit makes the scope's directory with the files the writers need."""

    calls: list = []

    def __init__(self, *, user: bool = False) -> None:
        self.user = user

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass

    def unit_path(self, unit):
        FakeSystemd.calls.append(("GetUnit", unit))
        return None

    def start_transient_unit(self, unit, props):
        FakeSystemd.calls.append(("StartTransientUnit", unit, dict(props)))
        os.makedirs(FakeSystemd.scope_dir)
        for name in ("cgroup.procs", "memory.max", "memory.low", "pids.max", "cgroup.controllers"):
            with open(os.path.join(FakeSystemd.scope_dir, name), "w") as f:
                f.write("")

    def set_unit_properties(self, unit, props):
        FakeSystemd.calls.append(("SetUnitProperties", unit, dict(props)))

    def stop_unit(self, unit):
        FakeSystemd.calls.append(("StopUnit", unit))
        import shutil

        shutil.rmtree(FakeSystemd.scope_dir)  # systemd removes the scope's cgroup
        return True

    def reset_failed_unit(self, unit):
        FakeSystemd.calls.append(("ResetFailedUnit", unit))


def test_lifecycle_order_properties_first_then_the_files(tmp_path, monkeypatch):
    monkeypatch.setattr("simcon.cgroups.systemd_dbus.SystemdManager", FakeSystemd)
    FakeSystemd.calls = []
    m = open_systemd_manager("machine.slice:libpod:abc", "abc", mountinfo=_unified_mountinfo(tmp_path))
    FakeSystemd.scope_dir = m.cgroups[0].dir
    m.create()
    m.apply(res(memory={"limit": 1048576}, pids={"limit": 7}))  # before fork: nothing written yet
    assert not os.path.exists(m.cgroups[0].dir)
    m.add_process(4321)
    kind, unit, props = FakeSystemd.calls[1]
    assert (kind, unit) == ("StartTransientUnit", "libpod-abc.scope")
    assert props["PIDs"] == ("au", [4321]) and props["MemoryMax"] == ("t", 1048576) and props["TasksMax"] == ("t", 7)
    scope = m.cgroups[0].dir
    with open(os.path.join(scope, "memory.max")) as f:
        assert f.read() == "1048576"  # the cgroupfs writer ran after the unit started
    # update: SetUnitProperties, then the files again
    m = manager_from_state(m.to_state())
    m.apply(res(pids={"limit": 9}), "resources")
    assert FakeSystemd.calls[-1] == ("SetUnitProperties", "libpod-abc.scope", {"TasksMax": ("t", 9)})
    with open(os.path.join(scope, "pids.max")) as f:
        assert f.read() == "9"
    m.destroy()
    assert FakeSystemd.calls[-2:] == [("StopUnit", "libpod-abc.scope"), ("ResetFailedUnit", "libpod-abc.scope")]
    assert not os.path.exists(scope)
