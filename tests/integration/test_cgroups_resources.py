"""linux.resources and `update` on the host's cgroups: the limit seen from inside the container
(its cgroup mount) and in the host's cgroup files, exceeded (OOM kill, pids.max), changed while running, and
refused with a message naming the resource and the file, leaving nothing behind.

Tests marked v1_only read v1 file names; their v2 counterparts are in tests/vm (`make test-vm`). The rest run on
any host.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from simcon.cgroups.mounts import parse_mountinfo

MIB = 1 << 20
CGROUP_MOUNT = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}


def v1_mount(controller: str) -> str | None:
    for h in parse_mountinfo():
        if h.version == 1 and controller in h.controllers:
            return h.mount_point
    return None


def v2_mount() -> str | None:
    for h in parse_mountinfo():
        if h.version == 2:
            return h.mount_point
    return None


# Tests that read v1 file names; the same checks on a pure cgroup v2 kernel are in tests/vm (make test-vm).
v1_only = pytest.mark.skipif(
    not all(v1_mount(c) for c in ("memory", "pids", "cpu", "cpuset")),
    reason="reads the v1 memory, pids, cpu and cpuset files; the v2 versions of these checks run in tests/vm "
           "(make test-vm)")


def host_file(rt, cid: str, controller: str, name: str) -> Path:  # noqa: ANN001
    """The container's file of ``controller`` on the host: in the v1 hierarchy carrying it, else in cgroup2."""
    return Path(v1_mount(controller) or v2_mount()) / rt.cgroup_path(cid).lstrip("/") / name


def host_value(rt, cid: str, controller: str, name: str) -> str:  # noqa: ANN001
    return host_file(rt, cid, controller, name).read_text().strip()


def inside_path(controller: str, name: str) -> str:
    """Where the container sees its own file: its cgroup mount has one directory per hierarchy, named like the
    host's mount point."""
    return f"/sys/fs/cgroup/{os.path.basename(v1_mount(controller))}/{name}"


def limited_bundle(rt, args: list[str], resources: dict):  # noqa: ANN001, ANN201
    bundle = rt.bundle(args, write=False)
    bundle.config["mounts"].append(dict(CGROUP_MOUNT))
    bundle.config["linux"]["resources"] = resources
    out = rt.mkdir(f"out-{bundle.cid}")
    bundle.add_mount("/out", out)
    bundle.write()
    return bundle, out


def start(rt, bundle) -> None:  # noqa: ANN001
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    rt.ok("start", bundle.cid)


def read_when_written(path: Path, rt) -> str:  # noqa: ANN001
    rt.wait_for(lambda: path.exists() and path.read_text().endswith("\n"), what=f"{path} to be written")
    return path.read_text()


# -- limits, from inside and from the host ------------------------------------------------------------------------

RESOURCES = {
    "memory": {"limit": 64 * MIB, "swap": 96 * MIB, "reservation": 32 * MIB, "swappiness": 10},
    "pids": {"limit": 33},
    "cpu": {"shares": 256, "quota": 20000, "period": 100000, "cpus": "0"},
}
FILES = [("memory", "memory.limit_in_bytes", str(64 * MIB)), ("memory", "memory.memsw.limit_in_bytes", str(96 * MIB)),
         ("memory", "memory.soft_limit_in_bytes", str(32 * MIB)), ("memory", "memory.swappiness", "10"),
         ("pids", "pids.max", "33"), ("cpu", "cpu.shares", "256"), ("cpu", "cpu.cfs_quota_us", "20000"),
         ("cpu", "cpu.cfs_period_us", "100000"), ("cpuset", "cpuset.cpus", "0")]


@v1_only
def test_limits_seen_from_the_host_before_start_and_from_inside(rt):  # noqa: ANN001
    # memory.memsw.* exists only with swap accounting; the hierarchy's root shows which files this kernel has.
    files = [f for f in FILES if (Path(v1_mount(f[0])) / f[1]).exists()]
    script = "; ".join(f"echo {name}=$(cat {inside_path(c, name)})" for c, name, _ in files)
    bundle, out = limited_bundle(rt, ["sh", "-c", f"({script}) > /out/partial; mv /out/partial /out/result"],
                                 RESOURCES)
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    for controller, name, expected in files:  # in place before the process runs
        assert host_value(rt, bundle.cid, controller, name) == expected, name
    rt.ok("start", bundle.cid)
    inside = dict(line.split("=", 1) for line in read_when_written(out / "result", rt).splitlines())
    for _controller, name, expected in files:
        assert inside[name] == expected, f"inside the container: {name}"


@pytest.mark.skipif(not v1_mount("devices"), reason="no v1 devices hierarchy on this host")
def test_device_list_denies_all_but_the_defaults(rt):  # noqa: ANN001
    bundle, out = limited_bundle(rt, ["sh", "-c", "cat /sys/fs/cgroup/devices/devices.list > /out/result; "
                                      "echo x > /dev/null && echo null-ok >> /out/result"], {})
    bundle.config["linux"]["resources"]["devices"] = [{"allow": False, "access": "rwm"}]
    bundle.write()
    start(rt, bundle)
    result = read_when_written(out / "result", rt)
    rt.wait_for(lambda: "null-ok" in (out / "result").read_text(), what="the write to /dev/null")
    rules = result.splitlines()
    assert "a *:* rwm" not in rules
    assert "c 1:3 rwm" in rules and "c 136:* rwm" in rules


# -- exceeding the limits -----------------------------------------------------------------------------------------


@v1_only
def test_fork_bomb_stops_at_pids_max(rt):  # noqa: ANN001
    # The inner shell dies when fork fails; the outer one then reads the counters with builtins only.
    inner = 'i=0; while [ $i -lt 30 ]; do sleep 1000 & i=$((i+1)); done; echo spawned-all'
    outer = (f"sh -c '{inner}'; echo inner=$?; read n < {inside_path('pids', 'pids.current')}; echo current=$n; "
             f"read m < {inside_path('pids', 'pids.max')}; echo max=$m")
    proc = rt.run_container(["sh", "-c", outer], edit=lambda b: (
        b.config["mounts"].append(dict(CGROUP_MOUNT)), b.config["linux"].update(resources={"pids": {"limit": 10}})))
    assert proc.returncode == 0, rt.describe(proc)
    assert "spawned-all" not in proc.stdout
    assert "can't fork" in proc.stderr or "Resource temporarily unavailable" in proc.stderr, rt.describe(proc)
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert values["max"] == "10"
    assert 0 < int(values["current"]) <= 10
    assert values["inner"] != "0"


class EventReader:
    """`simcon events` in the background; its JSON lines collected as they come."""

    def __init__(self, rt, cid: str, *extra: str) -> None:  # noqa: ANN001
        self.proc = rt.popen("events", *extra, cid)
        self.events: list[dict] = []
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.append(json.loads(line))

    def of_type(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["type"] == kind]

    def stop(self) -> str:
        self.proc.kill()
        _, err = self.proc.communicate(timeout=30)
        return err


@v1_only
def test_memory_hog_is_oom_killed_and_events_reports_it(rt):  # noqa: ANN001
    script = ("while [ ! -e /out/go ]; do sleep 0.1; done; "
              "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo dd=$? > /out/result; sleep 1000")
    bundle, out = limited_bundle(rt, ["sh", "-c", script], {"memory": {"limit": 16 * MIB, "swap": 16 * MIB}})
    start(rt, bundle)
    # runc prints its first stats after one interval, SimCon at once; either way the OOM watch is set up by then.
    reader = EventReader(rt, bundle.cid, "--interval", "1s")
    try:
        rt.wait_for(lambda: reader.of_type("stats"), what="the first stats event")
        (out / "go").write_text("")
        result = read_when_written(out / "result", rt)
        assert result.strip() == "dd=137", "dd should die of SIGKILL (128+9) from the OOM killer"
        rt.wait_for(lambda: reader.of_type("oom"), what="an oom event")
    finally:
        err = reader.stop()
    assert reader.of_type("oom")[0] == {"type": "oom", "id": bundle.cid}, err
    oom_control = dict(line.split() for line in host_value(rt, bundle.cid, "memory", "memory.oom_control").splitlines())
    assert int(oom_control["oom_kill"]) >= 1
    assert rt.status(bundle.cid) == "running"  # only the hog died


@pytest.mark.simcon_only("runc 1.1 keeps `events` running after the container stopped")
def test_events_ends_when_the_container_stops(rt):  # noqa: ANN001
    bundle, out = limited_bundle(rt, ["sh", "-c", "while [ ! -e /out/go ]; do sleep 0.1; done"], {})
    start(rt, bundle)
    reader = EventReader(rt, bundle.cid, "--interval", "100ms")
    rt.wait_for(lambda: len(reader.of_type("stats")) >= 2, what="two stats events")
    (out / "go").write_text("")
    assert reader.proc.wait(timeout=60) == 0
    reader.thread.join(timeout=30)
    stats = reader.of_type("stats")[0]
    assert stats["id"] == bundle.cid
    assert {"cpu", "memory", "pids", "blkio", "hugetlb"} <= set(stats["data"])


def test_events_stats_once(rt):  # noqa: ANN001
    bundle, _ = limited_bundle(rt, ["sleep", "1000"], {"memory": {"limit": 48 * MIB}, "pids": {"limit": 20}})
    start(rt, bundle)
    lines = rt.ok("events", "--stats", bundle.cid).stdout.splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["type"] == "stats" and event["id"] == bundle.cid
    data = event["data"]
    assert data["memory"]["usage"]["limit"] == 48 * MIB
    assert data["memory"]["usage"]["usage"] > 0
    assert data["pids"] == {"current": 1, "limit": 20}
    assert data["cpu"]["usage"]["total"] > 0


# -- update -------------------------------------------------------------------------------------------------------


def exec_cat(rt, cid: str, controller: str, name: str) -> str:  # noqa: ANN001
    return rt.ok("exec", cid, "cat", inside_path(controller, name)).stdout.strip()


def update_stdin(rt, cid: str, document: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    return subprocess.run(rt.argv("update", "--resources=-", cid), input=document, capture_output=True, text=True,
                          timeout=60)


@v1_only
def test_update_with_flags_while_running(rt):  # noqa: ANN001
    bundle, _ = limited_bundle(rt, ["sleep", "1000"], {"memory": {"limit": 64 * MIB, "swap": 64 * MIB},
                                                        "pids": {"limit": 33}})
    start(rt, bundle)
    rt.ok("update", "--memory", "128m", "--memory-swap", "256m", "--pids-limit", "50", "--cpu-share", "300",
          "--cpu-quota", "30000", "--cpu-period", "100000", bundle.cid)
    assert host_value(rt, bundle.cid, "memory", "memory.limit_in_bytes") == str(128 * MIB)
    assert host_value(rt, bundle.cid, "memory", "memory.memsw.limit_in_bytes") == str(256 * MIB)
    assert host_value(rt, bundle.cid, "pids", "pids.max") == "50"
    assert host_value(rt, bundle.cid, "cpu", "cpu.shares") == "300"
    assert host_value(rt, bundle.cid, "cpu", "cpu.cfs_quota_us") == "30000"
    assert exec_cat(rt, bundle.cid, "memory", "memory.limit_in_bytes") == str(128 * MIB)
    assert exec_cat(rt, bundle.cid, "pids", "pids.max") == "50"


@v1_only
def test_update_resources_from_stdin_as_containerd_calls_it(rt):  # noqa: ANN001
    bundle, _ = limited_bundle(rt, ["sleep", "1000"], {"memory": {"limit": 64 * MIB, "swap": 64 * MIB}})
    start(rt, bundle)
    doc = {"memory": {"limit": 32 * MIB, "swap": 32 * MIB}, "pids": {"limit": 7}, "cpu": {"shares": 512}}
    proc = update_stdin(rt, bundle.cid, json.dumps(doc))
    assert proc.returncode == 0, proc.stderr
    assert host_value(rt, bundle.cid, "memory", "memory.limit_in_bytes") == str(32 * MIB)
    assert host_value(rt, bundle.cid, "pids", "pids.max") == "7"
    assert exec_cat(rt, bundle.cid, "cpu", "cpu.shares") == "512"


@pytest.mark.simcon_only("SimCon's messages")
def test_update_bad_json_names_the_path_and_changes_nothing(rt):  # noqa: ANN001
    bundle, _ = limited_bundle(rt, ["sleep", "1000"], {"pids": {"limit": 33}})
    start(rt, bundle)
    proc = update_stdin(rt, bundle.cid, '{"pids": {"limit": 5}, "memory": {"limit": "lots"}}')
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"simcon: update `{bundle.cid}`: <stdin>: memory.limit: expected an integer, got a string"]
    assert host_value(rt, bundle.cid, "pids", "pids.max") == "33"


@pytest.mark.simcon_only("SimCon's messages")
def test_update_error_names_the_resource_and_the_file(rt):  # noqa: ANN001
    bundle, _ = limited_bundle(rt, ["sleep", "1000"], {})
    start(rt, bundle)
    proc = rt.run("update", "--cpuset-cpus", "4095", bundle.cid)
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert "resources.cpu.cpus" in line and str(host_file(rt, bundle.cid, "cpuset", "cpuset.cpus")) in line, line
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.simcon_only("SimCon's messages")
def test_update_of_a_stopped_container_is_refused(rt):  # noqa: ANN001
    bundle, _ = limited_bundle(rt, ["true"], {})
    start(rt, bundle)
    rt.wait_status(bundle.cid, "stopped")
    proc = rt.run("update", "--pids-limit", "5", bundle.cid)
    assert proc.returncode == 1 and "container not running" in proc.stderr


@pytest.mark.simcon_only("SimCon's messages")
def test_create_with_a_resource_the_host_refuses_names_it_and_leaves_nothing(rt):  # noqa: ANN001
    bundle, _ = limited_bundle(rt, ["true"], {"memory": {"limit": 64 * MIB}, "cpu": {"cpus": "4095"}})
    proc = rt.run("create", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert "linux.resources.cpu.cpus" in line and "cpuset.cpus" in line, line
    assert len(line.splitlines()) == 1
    assert rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid)) == []
    assert rt.root_entries() == []
