"""Load: many lifecycles at once, on different ids and on the same id, while `list` runs in a loop.

Every command must succeed where it can, fail with one clear line where it cannot (a racing `create` of a taken
id, a `start` of a container another `start` already started), never with a traceback; `list` must never fail;
afterwards nothing is left (processes, cgroups, state, mounts). Bounded for `make test`: a few workers, a few
rounds each (about a minute on a loaded 2-core machine); LOAD_ROUNDS=N makes it longer.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

WORKERS = 4
ROUNDS = int(os.environ.get("LOAD_ROUNDS", "3"))
RACERS = 3


def _processes_naming(needle: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(needle in arg for arg in argv):
            found.append(f"pid {entry}: {' '.join(argv)[:200]}")
    return found


def _clean_failure(rt, proc) -> str | None:  # noqa: ANN001
    """None when ``proc`` succeeded or failed with one clear line; otherwise what is wrong."""
    if "Traceback" in proc.stderr or proc.returncode not in (0, 1):
        return rt.describe(proc)
    if proc.returncode == 1 and len(proc.stderr.strip().splitlines()) != 1:
        return rt.describe(proc)
    return None


class _Lister(threading.Thread):
    """`list` in a loop until stopped; collects every failure."""

    def __init__(self, rt) -> None:  # noqa: ANN001
        super().__init__(daemon=True)
        self.rt = rt
        self.stop = threading.Event()
        self.failures: list[str] = []
        self.runs = 0

    def run(self) -> None:
        while not self.stop.is_set():
            proc = self.rt.run("list", "--format", "json")
            self.runs += 1
            try:
                assert proc.returncode == 0 and proc.stderr == ""
                assert isinstance(json.loads(proc.stdout or "[]"), list)
            except (AssertionError, ValueError):
                self.failures.append(self.rt.describe(proc))


def _lifecycle(rt, mark: str) -> list[str]:  # noqa: ANN001
    """create, start, exec, kill, delete of a fresh container; the failures (there should be none)."""
    bundle = rt.bundle(["sleep", mark])
    failures = []
    steps = [
        ("create", "--bundle", str(bundle.path), bundle.cid),
        ("start", bundle.cid),
        ("exec", bundle.cid, "true"),
        ("kill", bundle.cid, "KILL"),
    ]
    for args in steps:
        proc = rt.run(*args)
        if proc.returncode != 0:
            failures.append(rt.describe(proc))
            break
    rt.wait_for(lambda: rt.status(bundle.cid) in ("stopped", None), 60, f"{bundle.cid} to stop")
    proc = rt.run("delete", bundle.cid)
    if proc.returncode != 0:
        failures.append(rt.describe(proc))
    return failures


def _race_one_id(rt, mark: str) -> list[str]:  # noqa: ANN001
    """RACERS commands at once on one id, for each verb: exactly one create and one start win, all end cleanly."""
    bundle = rt.bundle(["sleep", mark])
    problems = []
    for args, winners in (
        (("create", "--bundle", str(bundle.path), bundle.cid), 1),
        (("start", bundle.cid), 1),
        (("exec", bundle.cid, "true"), RACERS),
        (("kill", bundle.cid, "KILL"), None),
        (("delete", "--force", bundle.cid), None),
    ):
        with ThreadPoolExecutor(RACERS) as pool:
            procs = list(pool.map(lambda _: rt.run(*args), range(RACERS)))
        problems += [p for p in (_clean_failure(rt, proc) for proc in procs) if p]
        won = sum(proc.returncode == 0 for proc in procs)
        if winners is not None and won != winners:
            problems.append(f"{args[0]}: {won} of {RACERS} succeeded, expected {winners}:\n"
                            + "\n".join(rt.describe(p) for p in procs))
    return problems


def test_parallel_lifecycles_with_list_running(rt) -> None:
    mark = f"5813.{secrets.randbelow(10**6):06d}"
    lister = _Lister(rt)
    lister.start()
    try:
        with ThreadPoolExecutor(WORKERS + 1) as pool:
            jobs = [pool.submit(_lifecycle, rt, mark) for _ in range(WORKERS * ROUNDS)]
            jobs += [pool.submit(_race_one_id, rt, mark) for _ in range(ROUNDS)]
            failures = [f for job in jobs for f in job.result()]
    finally:
        lister.stop.set()
        lister.join(60)
    assert failures == [], "\n\n".join(failures)
    assert lister.runs > 0 and lister.failures == [], "\n\n".join(lister.failures)
    # No leaks: every container gone with everything it had.
    assert rt.root_entries() == []
    rt.wait_for(lambda: not _processes_naming(mark), 30, "the containers' processes to go")
    for cid in rt.ids:
        assert rt.existing_cgroup_dirs(rt.cgroup_path(cid)) == [], cid
    assert [line for line in rt.read_mountinfo() if f" {rt.tmp}/" in line] == []
