"""The systemd cgroup driver (`--systemd-cgroup`) against Debian's systemd as PID 1 on cgroup v2: runs in the VM
lane's systemd boot (`make test-vm-systemd`, `run-in-vm.sh --systemd`).

What systemd reports (`systemctl show` on the scope) and what the container sees (its own cgroup2 mount) are both
checked, for create, update, pause, OOM events and delete; and the failure modes leave nothing behind. Every unit
lives in a per-session slice (`simcontest-<hex>.slice`) that the session stops at the end, so a failed test
leaves no scope behind either.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from simcon.cgroups.slices import expand_slice
from v2harness import MIB, LineReader, add_cgroup_mount

CGROUP_ROOT = Path("/sys/fs/cgroup")
RESOURCES = {
    "memory": {"limit": 96 * MIB, "reservation": 32 * MIB, "swap": 128 * MIB},
    "pids": {"limit": 42},
    "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
    "blockIO": {"weight": 500},
    "unified": {"memory.high": str(80 * MIB)},
}
HOG = "dd if=/dev/zero of=/dev/null bs=64M count=1"

pytestmark = [pytest.mark.systemd,
              pytest.mark.skipif(not os.path.isdir("/run/systemd/system"),
                                 reason="needs systemd as PID 1: run `make test-vm-systemd`")]


def systemctl(*args: str) -> str:
    return subprocess.run(["systemctl", *args], capture_output=True, text=True, check=False, timeout=60).stdout


def show(unit: str, *props: str) -> dict[str, str]:
    out = systemctl("show", unit, *(f"--property={p}" for p in props))
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def test_slice():  # noqa: ANN201
    name = f"simcontest-{os.urandom(3).hex()}.slice"
    yield name
    # Stopping the slice stops whatever a failed test left in it; then forget failed units.
    systemctl("stop", name)
    systemctl("reset-failed")


class Scoped:
    """A container of the driver: its bundle, unit name and the scope's cgroupfs directory."""

    def __init__(self, rt, bundle, slice_name: str) -> None:  # noqa: ANN001
        self.rt, self.bundle, self.cid = rt, bundle, bundle.cid
        self.unit = f"simcon-test-{bundle.cid}.scope"
        self.dir = CGROUP_ROOT / expand_slice(slice_name).lstrip("/") / self.unit

    def file(self, name: str) -> str:
        return (self.dir / name).read_text().strip()


def systemd_bundle(rt, slice_name: str, args: list[str], resources: dict | None = None) -> Scoped:  # noqa: ANN001
    bundle = rt.bundle(args, write=False)
    add_cgroup_mount(bundle)
    bundle.config["linux"]["cgroupsPath"] = f"{slice_name}:simcon-test:{bundle.cid}"
    if resources is not None:
        bundle.config["linux"]["resources"] = json.loads(json.dumps(resources))
    bundle.write()
    return Scoped(rt, bundle, slice_name)


def sd(rt, *args: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    return rt.run("--systemd-cgroup", *args)


def test_scope_carries_the_resources_and_the_container_sees_them(rt, test_slice) -> None:  # noqa: ANN001
    c = systemd_bundle(rt, test_slice, ["sleep", "1000"], RESOURCES)
    proc = sd(rt, "create", "--bundle", c.bundle.path, c.cid)
    assert proc.returncode == 0, rt.describe(proc)
    pid = rt.state(c.cid)["pid"]
    props = show(c.unit, "ActiveState", "Slice", "Delegate", "Description", "ControlGroup", "MemoryMax",
                 "MemoryLow", "MemorySwapMax", "TasksMax", "CPUWeight", "CPUQuotaPerSecUSec",
                 "CPUQuotaPeriodUSec", "AllowedCPUs", "IOWeight", "DefaultDependencies")
    assert props["ActiveState"] == "active", props
    assert props["Slice"] == test_slice
    assert props["Delegate"] == "yes"
    assert props["DefaultDependencies"] == "no"
    assert props["Description"] == f"simcon container {c.cid}"
    assert props["ControlGroup"] == "/" + str(c.dir.relative_to(CGROUP_ROOT))
    assert props["MemoryMax"] == str(96 * MIB)
    assert props["MemoryLow"] == str(32 * MIB)
    assert props["MemorySwapMax"] == str(32 * MIB)  # runc: swap - limit
    assert props["TasksMax"] == "42"
    assert props["CPUWeight"] == str(1 + (512 - 2) * 9999 // 262142)
    assert props["CPUQuotaPerSecUSec"] == "500ms"
    assert props["CPUQuotaPeriodUSec"] == "100ms"
    assert props["AllowedCPUs"] == "0"
    assert props["IOWeight"] == str(1 + (500 - 10) * 9999 // 990)
    # The init is in the scope, and the files agree with systemd (the cgroupfs writers ran after it).
    assert Path(f"/proc/{pid}/cgroup").read_text().strip() == f"0::{props['ControlGroup']}"
    assert c.file("memory.max") == str(96 * MIB)
    assert c.file("memory.high") == str(80 * MIB)  # no property: written by the unified writer
    assert c.file("cpu.max") == "50000 100000"
    rt.ok("start", c.cid)
    names = ("memory.max", "memory.low", "memory.swap.max", "memory.high", "pids.max", "cpu.max", "cpu.weight",
             "cpuset.cpus")
    script = "; ".join(f'echo "{n}=$(cat /sys/fs/cgroup/{n})"' for n in names)
    out = rt.ok("exec", c.cid, "sh", "-c", script).stdout
    inside = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    assert inside == {"memory.max": str(96 * MIB), "memory.low": str(32 * MIB), "memory.swap.max": str(32 * MIB),
                      "memory.high": str(80 * MIB), "pids.max": "42", "cpu.max": "50000 100000",
                      "cpu.weight": props["CPUWeight"], "cpuset.cpus": "0"}, out

    # update: systemd's property and the file change together.
    rt.ok("update", "--memory", str(128 * MIB), "--pids-limit", "50", c.cid)
    props = show(c.unit, "MemoryMax", "TasksMax")
    assert props == {"MemoryMax": str(128 * MIB), "TasksMax": "50"}
    assert c.file("memory.max") == str(128 * MIB) and c.file("pids.max") == "50"

    # pause/resume through the scope's cgroup.freeze; ps lists the scope's processes.
    rt.ok("pause", c.cid)
    assert c.file("cgroup.freeze") == "1" and rt.status(c.cid) == "paused"
    rt.ok("resume", c.cid)
    assert c.file("cgroup.freeze") == "0" and rt.status(c.cid) == "running"
    assert json.loads(rt.ok("ps", "--format", "json", c.cid).stdout) == [pid]

    # delete stops the scope: no unit, no cgroup.
    rt.ok("delete", "--force", c.cid)
    assert show(c.unit, "LoadState")["LoadState"] == "not-found"
    assert not c.dir.exists()


def test_oom_kill_is_an_event_and_the_run_exits_137(rt, test_slice) -> None:  # noqa: ANN001
    c = systemd_bundle(rt, test_slice, ["sh", "-c", f"while [ ! -e /go ]; do sleep 0.1; done; {HOG}; sleep 1000"],
                       {"memory": {"limit": 16 * MIB, "swap": 16 * MIB}})
    assert sd(rt, "create", "--bundle", c.bundle.path, c.cid).returncode == 0
    rt.ok("start", c.cid)
    events = rt.popen("events", "--interval", "1s", c.cid)
    try:
        reader = LineReader(events.stdout)
        rt.wait_for(lambda: reader.lines, what="the first stats event")
        (c.bundle.rootfs / "go").touch()
        rt.wait_for(lambda: any(json.loads(line)["type"] == "oom" for line in reader.lines), what="an oom event")
    finally:
        events.kill()
        events.wait(timeout=30)
    assert int(dict(line.split() for line in c.file("memory.events").splitlines())["oom_kill"]) >= 1
    rt.ok("delete", "--force", c.cid)
    assert show(c.unit, "LoadState")["LoadState"] == "not-found"

    # `run` of a hog: the status is the SIGKILL, and the exited scope is gone with the container.
    hog = systemd_bundle(rt, test_slice, ["sh", "-c", HOG], {"memory": {"limit": 16 * MIB, "swap": 16 * MIB}})
    proc = sd(rt, "run", "--bundle", hog.bundle.path, hog.cid)
    assert proc.returncode == 128 + signal.SIGKILL, rt.describe(proc)
    assert show(hog.unit, "LoadState")["LoadState"] == "not-found"
    assert not hog.dir.exists()


def test_kill_all_reaches_every_process_of_the_scope(rt, test_slice) -> None:  # noqa: ANN001
    # The shell, a child and a daemonized grandchild (reparented to the init): all in the scope.
    c = systemd_bundle(rt, test_slice, ["sh", "-c", "sleep 1000 & setsid sh -c 'sleep 1000 &'; wait"])
    assert sd(rt, "create", "--bundle", c.bundle.path, c.cid).returncode == 0
    rt.ok("start", c.cid)
    rt.wait_for(lambda: len(json.loads(rt.ok("ps", "--format", "json", c.cid).stdout)) >= 3, what="3 processes")
    pids = [int(p) for p in c.file("cgroup.procs").split()]
    rt.ok("kill", "--all", c.cid, "KILL")
    rt.wait_for(lambda: all(not Path(f"/proc/{p}").exists() or "Z" in Path(f"/proc/{p}/stat").read_text()
                            for p in pids), what="every process of the scope to be gone")
    rt.wait_status(c.cid, "stopped")
    rt.ok("delete", c.cid)
    assert show(c.unit, "LoadState")["LoadState"] == "not-found"
    assert not c.dir.exists()


def test_unit_that_exists_is_refused_and_left_alone(rt, test_slice) -> None:  # noqa: ANN001
    c = systemd_bundle(rt, test_slice, ["true"])
    other = subprocess.Popen(["systemd-run", "--scope", f"--unit={c.unit}", f"--slice={test_slice}",
                              "sleep", "1000"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rt.wait_for(lambda: show(c.unit, "ActiveState")["ActiveState"] == "active", what="the other scope")
        proc = sd(rt, "run", "--bundle", c.bundle.path, c.cid)
        assert proc.returncode == 1, rt.describe(proc)
        assert f"unit `{c.unit}` already exists (active)" in proc.stderr, proc.stderr
        assert rt.root_entries() == []
        assert show(c.unit, "ActiveState")["ActiveState"] == "active"  # not ours: not stopped
    finally:
        systemctl("stop", c.unit)
        other.wait(timeout=60)


def test_unusable_slice_fails_cleanly(rt, test_slice) -> None:  # noqa: ANN001
    # A masked slice cannot be started: the scope's job fails, and nothing stays (state, unit, cgroup).
    masked = test_slice.replace(".slice", "-masked.slice")
    systemctl("mask", "--runtime", masked)
    try:
        c = systemd_bundle(rt, masked, ["true"])
        proc = sd(rt, "run", "--bundle", c.bundle.path, c.cid)
        assert proc.returncode == 1, rt.describe(proc)
        err = proc.stderr.strip()
        assert err.startswith(f"simcon: run `{c.cid}`: systemd: start transient unit `{c.unit}`"), err
        assert len(err.splitlines()) == 1 and "Traceback" not in err
        assert rt.root_entries() == []
        assert show(c.unit, "LoadState")["LoadState"] == "not-found"
        assert not c.dir.exists()
    finally:
        systemctl("unmask", "--runtime", masked)


def test_without_the_flag_the_systemd_form_is_refused(rt, test_slice) -> None:  # noqa: ANN001
    c = systemd_bundle(rt, test_slice, ["true"])
    proc = rt.run("run", "--bundle", c.bundle.path, c.cid)
    assert proc.returncode == 1 and "pass --systemd-cgroup" in proc.stderr, rt.describe(proc)
    assert show(c.unit, "LoadState")["LoadState"] == "not-found"
