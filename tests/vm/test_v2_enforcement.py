"""Limits enforced by a pure cgroup v2 kernel: a memory hog is OOM-killed (and `events` says so), a fork loop
stops at pids.max, and `update` changes the limits of a running container."""

from __future__ import annotations

import json
import signal
import subprocess

from v2harness import MIB, LineReader, add_cgroup_mount, cgroup_dir, read_keyed, start_container

# Touches 64 MiB at once: dd's buffer is filled from /dev/zero before anything is written.
HOG = "dd if=/dev/zero of=/dev/null bs=64M count=1"
TIGHT_MEMORY = {"memory": {"limit": 16 * MIB, "swap": 16 * MIB}}


def test_memory_hog_is_oom_killed(rt) -> None:  # noqa: ANN001
    def edit(bundle) -> None:  # noqa: ANN001
        bundle.config["linux"]["resources"] = TIGHT_MEMORY

    proc = rt.run_container(["sh", "-c", HOG], edit=edit)
    assert proc.returncode == 128 + signal.SIGKILL, rt.describe(proc)


def test_events_reports_the_oom_kill(rt) -> None:  # noqa: ANN001
    # The hog waits for /go so that `events` is already watching when the kill happens; sh outlives it.
    bundle = start_container(rt, ["sh", "-c", f"while [ ! -e /go ]; do sleep 0.1; done; {HOG}; sleep 1000"],
                             resources=TIGHT_MEMORY)
    events = rt.popen("events", "--interval", "1s", bundle.cid)
    try:
        reader = LineReader(events.stdout)
        rt.wait_for(lambda: reader.lines, what="the first stats event")
        first = json.loads(reader.lines[0])
        assert first["type"] == "stats" and first["id"] == bundle.cid, first
        (bundle.rootfs / "go").touch()
        rt.wait_for(lambda: any(json.loads(line)["type"] == "oom" for line in reader.lines),
                    what="an oom event")
        assert {"type": "oom", "id": bundle.cid} in [json.loads(line) for line in reader.lines]
    finally:
        events.kill()
        events.wait(timeout=30)
    assert read_keyed(cgroup_dir(rt, bundle.cid) / "memory.events")["oom_kill"] >= 1
    assert rt.status(bundle.cid) == "running"


def test_fork_loop_stops_at_pids_max(rt) -> None:  # noqa: ANN001
    # The loop runs in a subshell: ash gives up on the first failed fork, then the outer shell reads the
    # counters with builtins only (a fork would fail too).
    script = ("(i=0; while [ $i -lt 40 ]; do sleep 1000 & i=$((i+1)); done) 2>/dev/null; "
              "read current < /sys/fs/cgroup/pids.current; echo current=$current; "
              "while read key value; do echo event-$key=$value; done < /sys/fs/cgroup/pids.events")

    def edit(bundle) -> None:  # noqa: ANN001
        add_cgroup_mount(bundle)
        bundle.config["linux"]["resources"] = {"pids": {"limit": 10}}

    proc = rt.run_container(["sh", "-c", script], edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    assert 0 < int(values["current"]) <= 10, proc.stdout
    assert int(values["event-max"]) >= 1, proc.stdout


def test_update_changes_limits_of_a_running_container(rt) -> None:  # noqa: ANN001
    bundle = start_container(rt, ["sleep", "1000"],
                             resources={"memory": {"limit": 64 * MIB}, "pids": {"limit": 20}})
    host = cgroup_dir(rt, bundle.cid)
    assert (host / "memory.max").read_text().strip() == str(64 * MIB)

    # As containerd and podman call it: a LinuxResources document.
    doc = rt.tmp / "resources.json"
    doc.write_text(json.dumps({"memory": {"limit": 128 * MIB}, "pids": {"limit": 30},
                               "cpu": {"quota": 20000, "period": 100000}}))
    rt.ok("update", "--resources", doc, bundle.cid)
    assert (host / "memory.max").read_text().strip() == str(128 * MIB)
    assert (host / "pids.max").read_text().strip() == "30"
    assert (host / "cpu.max").read_text().strip() == "20000 100000"

    # Through stdin, as `update --resources=- ID`.
    argv = rt.argv("update", "--resources", "-", bundle.cid)
    proc = subprocess.run(argv, input=json.dumps({"pids": {"limit": 35}}), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, rt.describe(proc)
    assert (host / "pids.max").read_text().strip() == "35"

    # As people call it: flags.
    rt.ok("update", "--pids-limit", "40", "--memory", "256m", bundle.cid)
    assert (host / "pids.max").read_text().strip() == "40"
    assert (host / "memory.max").read_text().strip() == str(256 * MIB)
    inside = rt.ok("exec", bundle.cid, "cat", "/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/memory.max").stdout
    assert inside.split() == ["40", str(256 * MIB)]
