"""Faults: SimCon killed (SIGKILL) or interrupted (SIGINT, SIGTERM) at every named step, and what it leaves.

SimCon's own fault hook (``simcon.faults``, enabled only by SIMCON_TEST_FAULT=STEP:SIGNAL) makes the process that
reaches STEP send itself SIGNAL. The steps are not listed here: a traced run (SIMCON_TEST_FAULT_TRACE) of each
command names the steps it passes, so a step added to SimCon is covered without touching this file.

What must hold:
- SIGINT / SIGTERM: one line on stderr, exit 130 / 143, never a traceback; an interrupted `create` (or `run -d`)
  has rolled back completely by itself.
- SIGKILL: nothing can run in the dying process, so `delete --force` must find and remove what it left.
- Either way, afterwards: no process of the container or of SimCon for it, no cgroup directory, no state
  directory, no mount under the test's directory, no fd open on its state directory in any process.

Container init steps are killed in the init itself (create then reports the failure and rolls back); the init
traces only the steps before the root change (the trace file is out of its reach afterwards).
`make test-faults` (SIMCON_FAULT_ALL=1) runs every signal at every init step; `make test` runs SIGKILL there, and
all three at the steps of the CLI, the monitor and the verbs.
"""

from __future__ import annotations

import os
import json
import random
import secrets
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.simcon_only("SimCon's fault-injection hook")

SIGNALS = {"KILL": -signal.SIGKILL, "INT": 130, "TERM": 143}
WORDS = {"INT": "interrupted", "TERM": "terminated"}
ALL = os.environ.get("SIMCON_FAULT_ALL") == "1"


# --- what is left --------------------------------------------------------------------------------------------


def _processes_naming(*needles: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(needle in arg for arg in argv for needle in needles):
            found.append(f"pid {entry}: {' '.join(argv)[:200]}")
    return found


def _fds_under(path: str) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
            except OSError:
                continue
            if target == path or target.startswith(path + "/"):
                found.append(f"pid {entry} fd {fd} -> {target}")
    return found


def leftovers(rt, cid: str, mark: str) -> list[str]:  # noqa: ANN001
    """Everything of container ``cid`` (payload marked by ``mark``) still on the host."""
    problems = []
    try:
        rt.wait_for(lambda: not _processes_naming(cid, mark), 60, "the container's processes to go")
    except AssertionError:
        problems += _processes_naming(cid, mark)
    problems += [f"cgroup {d}" for d in rt.existing_cgroup_dirs(rt.cgroup_path(cid))]
    if (rt.root / cid).exists():
        problems.append(f"state dir {rt.root / cid}: {sorted(p.name for p in (rt.root / cid).iterdir())}")
    tmp = str(rt.tmp)
    problems += [f"mount {line}" for line in rt.read_mountinfo() if f" {tmp}/" in line]
    problems += _fds_under(str(rt.root / cid))
    return problems


# --- running a command with a fault -------------------------------------------------------------------------


def with_env(**env: str) -> list[str]:
    return ["env", *(f"{k}={v}" for k, v in env.items())]


def traced_steps(rt, *args, prefix: str = "") -> list[str]:  # noqa: ANN001
    """The fault steps a successful run of ``args`` passes, in order (those starting with ``prefix``)."""
    trace = rt.tmp / f"trace-{secrets.token_hex(3)}"
    rt.ok(*args, wrap=with_env(SIMCON_TEST_FAULT_TRACE=str(trace)))
    seen: list[str] = []
    for step in trace.read_text().splitlines():
        if step.startswith(prefix) and step not in seen:
            seen.append(step)
    return seen


def sleeper(rt, mark: str):  # noqa: ANN001, ANN201
    bundle = rt.bundle(["sleep", mark])
    return bundle


def new_mark() -> str:
    return f"4711.{secrets.randbelow(10**6):06d}"


def check_outcome(rt, proc, sig: str) -> None:  # noqa: ANN001
    assert "Traceback" not in proc.stderr, rt.describe(proc)
    if sig == "KILL":
        assert proc.returncode == -signal.SIGKILL, rt.describe(proc)
        return
    assert proc.returncode == SIGNALS[sig], rt.describe(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and WORDS[sig] in lines[0], rt.describe(proc)


def delete_and_check(rt, cid: str, mark: str) -> None:  # noqa: ANN001
    proc = rt.run("delete", "--force", cid)
    assert "Traceback" not in proc.stderr, rt.describe(proc)
    assert proc.returncode == 0 or "does not exist" in proc.stderr, rt.describe(proc)
    assert leftovers(rt, cid, mark) == []


# --- create --------------------------------------------------------------------------------------------------


def _create_steps(rt) -> list[str]:  # noqa: ANN001
    mark = new_mark()
    bundle = sleeper(rt, mark)
    steps = traced_steps(rt, "create", "--bundle", bundle.path, bundle.cid)
    delete_and_check(rt, bundle.cid, mark)
    assert "create:cgroups-made" in steps and "create:done" in steps, steps
    return steps


def test_create_interrupted_at_each_step_rolls_back_by_itself(rt) -> None:
    steps = [s for s in _create_steps(rt) if s.startswith("create:")]
    for step in steps:
        for sig in ("INT", "TERM"):
            mark = new_mark()
            bundle = sleeper(rt, mark)
            proc = rt.run("create", "--bundle", bundle.path, bundle.cid,
                          wrap=with_env(SIMCON_TEST_FAULT=f"{step}:{sig}"))
            check_outcome(rt, proc, sig)
            assert leftovers(rt, bundle.cid, mark) == [], f"{step}:{sig}"


def test_create_killed_at_each_step_is_cleaned_by_delete_force(rt) -> None:
    steps = [s for s in _create_steps(rt) if s.startswith("create:")]
    for step in steps:
        mark = new_mark()
        bundle = sleeper(rt, mark)
        proc = rt.run("create", "--bundle", bundle.path, bundle.cid, wrap=with_env(SIMCON_TEST_FAULT=f"{step}:KILL"))
        check_outcome(rt, proc, "KILL")
        delete_and_check(rt, bundle.cid, mark)


def test_container_init_killed_at_each_step_fails_create_cleanly(rt) -> None:
    steps = [s for s in _create_steps(rt) if s.startswith("init:")]
    assert len(steps) > 5, steps
    for step in steps:
        for sig in (("KILL", "INT", "TERM") if ALL else ("KILL",)):
            mark = new_mark()
            bundle = sleeper(rt, mark)
            proc = rt.run("create", "--bundle", bundle.path, bundle.cid,
                          wrap=with_env(SIMCON_TEST_FAULT=f"{step}:{sig}"))
            assert proc.returncode == 1, f"{step}:{sig}\n" + rt.describe(proc)
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and "Traceback" not in proc.stderr, rt.describe(proc)
            assert leftovers(rt, bundle.cid, mark) == [], f"{step}:{sig}"


# --- start, exec, delete -------------------------------------------------------------------------------------


def _created(rt):  # noqa: ANN001, ANN202
    mark = new_mark()
    bundle = sleeper(rt, mark)
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    return bundle, mark


def test_start_interrupted_or_killed_at_each_step(rt) -> None:
    bundle, mark = _created(rt)
    steps = traced_steps(rt, "start", bundle.cid, prefix="start:")
    delete_and_check(rt, bundle.cid, mark)
    assert steps == ["start:locked", "start:released", "start:done"], steps
    for step in steps:
        for sig in SIGNALS:
            bundle, mark = _created(rt)
            proc = rt.run("start", bundle.cid, wrap=with_env(SIMCON_TEST_FAULT=f"{step}:{sig}"))
            status = rt.status(bundle.cid)
            if step == "start:locked" or sig == "KILL":
                check_outcome(rt, proc, sig)
            else:
                # Once the process was released, start has succeeded: a signal after that is not a failure.
                assert proc.returncode == 0 and proc.stderr == "", f"{step}:{sig}\n" + rt.describe(proc)
                assert status == "running", f"{step}:{sig}: {status}"
            if step == "start:locked":
                assert status == "created", f"{step}:{sig}: {status}"  # nothing was started
            delete_and_check(rt, bundle.cid, mark)


def test_start_again_after_a_start_killed_right_after_the_release(rt) -> None:
    """The process runs but exec.fifo is still there: a second `start` must see that, not wait for ever."""
    bundle, mark = _created(rt)
    proc = rt.run("start", bundle.cid, wrap=with_env(SIMCON_TEST_FAULT="start:released:KILL"))
    check_outcome(rt, proc, "KILL")
    rt.wait_for(lambda: _processes_naming(mark), 30, "the container's process")
    proc = rt.run("start", bundle.cid, timeout=60)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, rt.describe(proc)
    assert rt.status(bundle.cid) == "running"
    delete_and_check(rt, bundle.cid, mark)


def test_exec_killed_or_interrupted_at_each_step(rt) -> None:
    mark = new_mark()
    bundle = sleeper(rt, mark)
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    exec_mark = new_mark()
    steps = traced_steps(rt, "exec", "-d", bundle.cid, "sleep", exec_mark, prefix="exec:")
    assert steps, "exec passed no fault step"
    marks: list[str] = []
    for step in steps:
        proc = rt.run("exec", "-d", bundle.cid, "sleep", exec_mark, wrap=with_env(SIMCON_TEST_FAULT=f"{step}:KILL"))
        check_outcome(rt, proc, "KILL")
        assert rt.status(bundle.cid) == "running"
        for sig in ("INT", "TERM"):
            # Held from fork on (exec forwards them to its process once it knows it); detached, the process runs
            # when the signal could act, so exec has succeeded.
            running = new_mark()
            marks.append(running)
            proc = rt.run("exec", "-d", bundle.cid, "sleep", running, wrap=with_env(SIMCON_TEST_FAULT=f"{step}:{sig}"))
            assert proc.returncode == 0 and proc.stderr == "", f"{step}:{sig}\n" + rt.describe(proc)
            assert _processes_naming(running), f"{step}:{sig}: the process does not run"
    delete_and_check(rt, bundle.cid, mark)
    assert _processes_naming(exec_mark, *marks) == []


def test_delete_interrupted_or_killed_at_each_step_then_delete_force(rt) -> None:
    bundle, mark = _created(rt)
    rt.ok("start", bundle.cid)
    steps = traced_steps(rt, "delete", "--force", bundle.cid, prefix="delete:")
    assert leftovers(rt, bundle.cid, mark) == []
    assert steps and steps[0] == "delete:locked", steps
    for step in steps:
        for sig in SIGNALS:
            bundle, mark = _created(rt)
            rt.ok("start", bundle.cid)
            proc = rt.run("delete", "--force", bundle.cid, wrap=with_env(SIMCON_TEST_FAULT=f"{step}:{sig}"))
            check_outcome(rt, proc, sig)
            delete_and_check(rt, bundle.cid, mark)


# --- run -d and its monitor ----------------------------------------------------------------------------------


def test_run_detached_with_its_monitor_killed_or_interrupted_at_each_step(rt) -> None:
    mark = new_mark()
    bundle = sleeper(rt, mark)
    steps = traced_steps(rt, "run", "-d", "--bundle", bundle.path, bundle.cid, prefix="monitor:")
    delete_and_check(rt, bundle.cid, mark)
    assert "monitor:forked" in steps, steps
    for step in steps:
        for sig in SIGNALS:
            mark = new_mark()
            bundle = sleeper(rt, mark)
            # The timeout is the hang of issue 10 item 13: the parked init held the monitor's report pipe.
            proc = rt.run("run", "-d", "--bundle", bundle.path, bundle.cid, timeout=60,
                          wrap=with_env(SIMCON_TEST_FAULT=f"{step}:{sig}"))
            assert "Traceback" not in proc.stderr, rt.describe(proc)
            if step == "monitor:reported":
                assert proc.returncode == 0, rt.describe(proc)  # the container ran before the monitor died
            else:
                assert proc.returncode == 1, f"{step}:{sig}\n" + rt.describe(proc)
                assert len(proc.stderr.strip().splitlines()) == 1, rt.describe(proc)
                if sig != "KILL":  # the monitor rolled back by itself
                    assert leftovers(rt, bundle.cid, mark) == [], f"{step}:{sig}"
            delete_and_check(rt, bundle.cid, mark)


# --- fds (issue 10 item 13) ----------------------------------------------------------------------------------


def _fds(pid: int) -> dict[int, str]:
    result = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            result[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            pass
    return result


def _with_stray_fd(rt) -> list[str]:  # noqa: ANN001
    """Run SimCon with fd 7 open on a file (not CLOEXEC): nothing of its caller beyond stdio may reach the init."""
    return ["sh", "-c", 'exec 7>>"$0"; exec "$@"', str(rt.tmp / "caller-fd")]


def test_the_parked_init_holds_only_stdio_and_its_own_fds(rt) -> None:
    mark = new_mark()
    bundle = sleeper(rt, mark)
    rt.ok("create", "--bundle", bundle.path, bundle.cid, wrap=_with_stray_fd(rt))
    pid = rt.state(bundle.cid)["pid"]
    extra = {fd: target for fd, target in _fds(pid).items() if fd > 2}
    allowed = (str(rt.root / bundle.cid), "/memfd:simcon-exec")  # exec.fifo's directory, the exec trampoline
    assert all(target.startswith(allowed) for target in extra.values()), extra
    rt.ok("start", bundle.cid)
    rt.wait_for(lambda: mark in open(f"/proc/{pid}/cmdline").read(), what="the container's process")
    assert sorted(_fds(pid)) == [0, 1, 2], _fds(pid)


def test_run_detached_container_holds_only_stdio(rt) -> None:
    mark = new_mark()
    bundle = sleeper(rt, mark)
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid, wrap=_with_stray_fd(rt))
    pid = rt.state(bundle.cid)["pid"]
    assert sorted(_fds(pid)) == [0, 1, 2], _fds(pid)


def test_preserved_fds_are_the_only_extra_ones(rt) -> None:
    mark = new_mark()
    bundle = sleeper(rt, mark)
    wrap = ["sh", "-c", 'exec 3>>"$0" 7>>"$0"; exec "$@"', str(rt.tmp / "preserved")]
    rt.ok("run", "-d", "--preserve-fds", "1", "--bundle", bundle.path, bundle.cid, wrap=wrap)
    fds = _fds(rt.state(bundle.cid)["pid"])
    assert sorted(fds) == [0, 1, 2, 3] and fds[3] == str(rt.tmp / "preserved"), fds


# --- cgroups made, pid not recorded (issue 10 item 14) ---------------------------------------------------------


@pytest.mark.parametrize("step", ["create:cgroups-recorded", "create:cgroups-made", "create:forked"])
def test_delete_removes_the_cgroups_of_a_create_killed_before_the_pid_was_recorded(rt, step: str) -> None:
    mark = new_mark()
    bundle = sleeper(rt, mark)
    proc = rt.run("create", "--bundle", bundle.path, bundle.cid, wrap=with_env(SIMCON_TEST_FAULT=f"{step}:KILL"))
    assert proc.returncode == -signal.SIGKILL, rt.describe(proc)
    assert rt.state(bundle.cid)["pid"] == 0 or step == "create:forked"
    proc = rt.run("delete", bundle.cid)  # not even --force: a crashed create is `stopped`
    assert proc.returncode == 0, rt.describe(proc)
    assert leftovers(rt, bundle.cid, mark) == []


# --- a full disk (issue 10 item 16) ----------------------------------------------------------------------------


def _fill(directory) -> None:  # noqa: ANN001
    fd = os.open(directory / "filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)


def test_start_on_a_full_disk_either_runs_and_succeeds_or_does_not_run(rt) -> None:
    root = rt.mkdir("small-root")
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "simcon-test-full", str(root)], check=True)
    mark = new_mark()
    bundle = sleeper(rt, mark)
    log = rt.tmp / "runtime.log"
    at = ["--root", str(root), "--log", str(log)]
    try:
        rt.ok(*at, "create", "--bundle", bundle.path, bundle.cid, root=False)
        _fill(root)
        proc = rt.run(*at, "start", bundle.cid, root=False)
        assert "Traceback" not in proc.stderr, rt.describe(proc)
        state = json.loads(rt.ok(*at, "state", bundle.cid, root=False).stdout)
        if proc.returncode == 0:
            rt.wait_for(lambda: _processes_naming(mark), 30, "the container's process")
            assert state["status"] == "running", state
        else:
            assert state["status"] != "running" and not _processes_naming(mark), rt.describe(proc)
        # SimCon's choice of the two: the process runs, start succeeds, the runtime log says what was not saved.
        assert proc.returncode == 0, rt.describe(proc)
        assert "the container runs, but its state could not be recorded" in log.read_text()
    finally:
        rt.run(*at, "delete", "--force", bundle.cid, root=False)
        subprocess.run(["umount", str(root)], check=False)
    assert leftovers(rt, bundle.cid, mark) == []


def test_run_detached_interrupted_while_its_monitor_works_leaves_no_container(rt) -> None:
    """Ctrl-C of `run -d` while the monitor creates the container: one line, and the monitor, finding nobody to
    report to, removes what it made."""
    mark = new_mark()
    bundle = sleeper(rt, mark)
    started = rt.tmp / "hook-started"
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/sh", "args": ["sh", "-c", f"touch {started}; sleep 3"]}]}
    bundle.write()
    for sig, code, word in ((signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")):
        started.unlink(missing_ok=True)
        proc = rt.popen("run", "-d", "--bundle", bundle.path, bundle.cid)
        try:
            rt.wait_for(started.exists, 60, "the prestart hook")
            proc.send_signal(sig)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == code and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1 and word in err, err
        rt.wait_for(lambda: not (rt.root / bundle.cid).exists(), 60, "the monitor to remove the container")
        assert leftovers(rt, bundle.cid, mark) == []


# --- Ctrl-C at any moment (issue 10 item 17: SIGSEGV inside msgspec, a KeyboardInterrupt traceback) -----------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_at_random_moments_of_create_never_crashes_and_rolls_back(rt, sig: int) -> None:
    """Not at a named step: at a moment spread over the whole of `create` (interpreter start, imports, config
    decoding, fork, the init's setup). Each try either finished before the signal (then it is a normal container)
    or ends with one line and nothing left; never a crash (SIGSEGV) or a traceback."""
    mark = new_mark()
    bundle = sleeper(rt, mark)
    began = time.monotonic()
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    duration = time.monotonic() - began
    delete_and_check(rt, bundle.cid, mark)
    rng = random.Random(4711 + sig)
    code = 128 + sig
    for attempt in range(12):
        bundle.cid = rt.new_id()
        # stderr through a file: a container that got created keeps create's stdio (its own), so a pipe never
        # reaches EOF.
        # From the moment SimCon's main() runs (`cli:started` traced): a signal while the interpreter itself starts
        # is Python's to report (a "Fatal Python error" for one in its site import), not SimCon's.
        trace = rt.tmp / f"trace-{attempt}-{sig}"
        with open(rt.tmp / "create-stderr", "w+") as stderr:
            proc = rt.popen("create", "--bundle", bundle.path, bundle.cid, stdout=subprocess.DEVNULL, stderr=stderr,
                            env={**os.environ, "SIMCON_TEST_FAULT_TRACE": str(trace)})
            rt.wait_for(lambda: trace.exists() or proc.poll() is not None, 60, "create to start")  # noqa: B023
            time.sleep(rng.uniform(0, duration))
            proc.send_signal(sig)
            proc.wait(timeout=120)
            stderr.seek(0)
            err = stderr.read()
        assert "Traceback" not in err and proc.returncode != -signal.SIGSEGV, f"try {attempt}: {err}"
        if proc.returncode == 0:  # done before the signal came
            delete_and_check(rt, bundle.cid, mark)
            continue
        assert proc.returncode == code, f"try {attempt}: exit {proc.returncode}: {err}"
        assert len(err.strip().splitlines()) == 1, err  # one line, and a full rollback
        assert leftovers(rt, bundle.cid, mark) == [], f"try {attempt}"
