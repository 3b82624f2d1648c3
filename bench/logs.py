"""Log throughput and monitor memory: SimCon's monitor (k8s-file, json-file) next to conmon (k8s-file) under runc.

    bench/logs.sh                       (as root; BENCH_LOG_MB=64 BENCH_LOG_RUNS=3 by default)

The same busybox container `cat`s a file of numbered 64-byte lines to stdout, once its monitor is ready (it
waits for a marker file). Throughput is the file's size over the time from the marker to the monitor's exit
(the last line is on disk then); each figure is the median of the runs. Pss is the monitor's
/proc/PID/smaps_rollup: the largest value sampled while logging, and idle (a container that sleeps). Both
write with their default rotation off (max-size 0 for SimCon; conmon has none unless --log-size-max).
Everything made (containers, cgroups, files) is removed, also on Ctrl-C.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SIMCON = os.environ.get("SIMCON") or str(REPO / ".venv" / "bin" / "simcon")
RUNC = shutil.which("runc") or "/usr/sbin/runc"
CONMON = shutil.which("conmon") or "/usr/bin/conmon"
LINE = 64


def pss_kb(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def wait_exit(pid: int, sample: list[int]) -> None:
    """Wait for ``pid`` (not our child) to exit, sampling its Pss every 20 ms."""
    fd = os.pidfd_open(pid)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while not poller.poll(20):
            value = pss_kb(pid)
            if value is not None:
                sample.append(value)
    finally:
        os.close(fd)


class Scene:
    def __init__(self, work: Path, megabytes: int) -> None:
        self.work = work
        self.data = work / "data"
        self.data.mkdir()
        lines = megabytes * (1 << 20) // LINE
        with open(self.data / "out", "wb") as f:
            block = 100_000
            for start in range(0, lines, block):
                f.write(b"".join(b"%063d\n" % n for n in range(start, min(lines, start + block))))
        self.lines = lines
        self.bytes = lines * LINE
        self.count = 0

    def bundle(self, script: str) -> tuple[Path, str]:
        self.count += 1
        cid = f"bench-logs-{os.getpid()}-{self.count}"
        path = self.work / cid
        subprocess.run([sys.executable, str(REPO / "tools" / "mkbundle.py"), str(path), "--cgroups-path",
                        f"/simcon-bench-logs/{cid}", "--", "sh", "-c", script], check=True, stdout=subprocess.DEVNULL)
        config = json.loads((path / "config.json").read_text())
        config["mounts"].append({"destination": "/data", "type": "bind", "source": str(self.data),
                                 "options": ["rbind"]})
        (path / "config.json").write_text(json.dumps(config))
        return path, cid


GO = "while [ ! -e /data/go ]; do sleep 0.01; done; "


def simcon_run(scene: Scene, driver: str, idle: bool = False) -> tuple[float, int, int]:
    """(seconds, peak Pss KB, the log file's size) for one SimCon run."""
    root = scene.work / "simcon-root"
    bundle, cid = scene.bundle("sleep 2" if idle else GO + "cat /data/out")
    log = scene.work / f"{cid}.log"
    (scene.data / "go").unlink(missing_ok=True)
    subprocess.run([SIMCON, "--root", str(root), "run", "-d", "--log-driver", driver, "--log-opt", f"path={log}",
                    "--log-opt", "max-size=0", "--bundle", str(bundle), cid], check=True)
    state = json.loads((root / cid / "state.json").read_text())
    monitor = state["monitor_pid"]
    time.sleep(0.5)  # the monitor has exec'd its lean interpreter
    return _measure(scene, monitor, log, idle, [SIMCON, "--root", str(root), "delete", "--force", cid])


def conmon_run(scene: Scene, idle: bool = False) -> tuple[float, int, int]:
    root = scene.work / "runc-root"
    bundle, cid = scene.bundle("sleep 2" if idle else GO + "cat /data/out")
    log = scene.work / f"{cid}.log"
    exits = scene.work / "exits"
    exits.mkdir(exist_ok=True)
    (scene.data / "go").unlink(missing_ok=True)
    pidfile = scene.work / f"{cid}.conmon.pid"
    subprocess.run([CONMON, "--api-version", "1", "-c", cid, "-u", cid, "-n", cid, "-r", RUNC, "-b", str(bundle),
                    "-p", str(scene.work / f"{cid}.pid"), "-l", f"k8s-file:{log}", "--exit-dir", str(exits),
                    "--socket-dir-path", str(exits), "--conmon-pidfile", str(pidfile),
                    "--runtime-arg", f"--root={root}"], check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not (scene.work / f"{cid}.pid").exists():  # conmon returns before its `runc create` is done
        if time.monotonic() > deadline:
            raise RuntimeError("conmon did not create the container")
        time.sleep(0.01)
    monitor = int(pidfile.read_text())
    CONMONS.append(monitor)
    subprocess.run([RUNC, "--root", str(root), "start", cid], check=True)
    time.sleep(0.5)
    return _measure(scene, monitor, log, idle, [RUNC, "--root", str(root), "delete", "--force", cid])


def _measure(scene: Scene, monitor: int, log: Path, idle: bool, delete: list[str]) -> tuple[float, int, int]:
    """The monitor's Pss before the writer starts (``idle``), then the writer released and timed until the
    monitor exits (its Pss sampled meanwhile); the log's size; the container deleted and its log removed."""
    sample: list[int] = []
    if idle:
        sample.append(pss_kb(monitor) or 0)
    start = time.monotonic()
    (scene.data / "go").touch()
    wait_exit(monitor, sample)
    elapsed = time.monotonic() - start
    size = log.stat().st_size
    subprocess.run(delete, check=False, stderr=subprocess.DEVNULL)
    log.unlink(missing_ok=True)
    return elapsed, max(sample or [0]), size


def cleanup(work: Path) -> None:
    """Whatever a failed or interrupted run left: its processes (found through its cgroups), cgroups, files."""
    import signal

    for pid in CONMONS:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for hierarchy in Path("/sys/fs/cgroup").glob("*/simcon-bench-logs"):
        for child in hierarchy.iterdir():
            if child.is_dir():
                for _ in range(100):
                    pids = (child / "cgroup.procs").read_text().split()
                    if not pids:
                        break
                    for pid in pids:
                        try:
                            os.kill(int(pid), signal.SIGKILL)
                        except ProcessLookupError:
                            pass
                    time.sleep(0.05)
                child.rmdir()
        hierarchy.rmdir()
    subprocess.run(["rm", "-rf", str(work)], check=False)


CONMONS: list[int] = []


def main() -> int:
    megabytes = int(os.environ.get("BENCH_LOG_MB", "64"))
    runs = int(os.environ.get("BENCH_LOG_RUNS", "3"))
    work = Path(tempfile.mkdtemp(prefix="simcon-bench-logs-"))
    rows = []
    try:
        scene = Scene(work, megabytes)
        cases = [("simcon k8s-file", lambda idle=False: simcon_run(scene, "k8s-file", idle)),
                 ("simcon json-file", lambda idle=False: simcon_run(scene, "json-file", idle)),
                 ("conmon k8s-file", lambda idle=False: conmon_run(scene, idle))]
        for name, run in cases:
            results = [run() for _ in range(runs)]
            seconds = statistics.median(r[0] for r in results)
            peak = max(r[1] for r in results)
            idle = run(True)[1]
            rows.append((name, scene.bytes / seconds / 1e6, scene.lines / seconds, peak / 1024, idle / 1024,
                         statistics.median(r[2] for r in results) / 1e6))
    finally:
        cleanup(work)
    print(f"log throughput: {megabytes} MB of {LINE}-byte lines, median of {runs} runs")
    print(f"{'':18} {'MB/s':>8} {'lines/s':>10} {'Pss busy MB':>12} {'Pss idle MB':>12} {'log MB':>8}")
    for name, mbps, lps, peak, idle, size in rows:
        print(f"{name:18} {mbps:8.1f} {lps:10.0f} {peak:12.1f} {idle:12.1f} {size:8.1f}")
    base = rows[-1]
    for row in rows[:-1]:
        print(f"{row[0]} / conmon: throughput {row[1] / base[1]:.2f}x, busy Pss {row[3] / base[3]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
