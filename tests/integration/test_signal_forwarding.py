"""Signals sent to a foreground `simcon run` / `simcon exec` reach the container's process.

(Named test_signal_forwarding, not test_signals: tests/unit/test_signals.py exists and the test dirs are not
packages, so pytest cannot hold two modules of one basename.)
"""

from __future__ import annotations

import signal
import tempfile

import pytest

# A trap that reports and exits with a code of its own, so the caller's exit status proves the trap ran.
TRAP = "trap 'echo got {name}; exit {code}' {name}; echo ready > /dev/stderr; while :; do sleep 0.1; done"


def _signal_runner(rt, argv: list[str], sig: int) -> tuple[int, str]:  # noqa: ANN001
    with tempfile.NamedTemporaryFile() as out, tempfile.NamedTemporaryFile() as err:
        runner = rt.popen(*argv, stdout=out, stderr=err)
        try:
            rt.wait_for(lambda: "ready" in open(err.name).read(), what="the trap to be set")
            runner.send_signal(sig)
            code = runner.wait(timeout=60)
            return code, open(out.name).read()
        finally:
            if runner.poll() is None:
                runner.kill()
                runner.wait(timeout=30)


@pytest.mark.parametrize(("name", "code"), [("TERM", 7), ("HUP", 8), ("USR1", 9), ("INT", 10)])
def test_run_forwards_signals(rt, name: str, code: int) -> None:
    bundle = rt.bundle(["sh", "-c", TRAP.format(name=name, code=code)])
    status, out = _signal_runner(rt, ["run", "--bundle", bundle.path, bundle.cid], getattr(signal, f"SIG{name}"))
    assert (status, out) == (code, f"got {name}\n")


@pytest.mark.parametrize(("name", "code"), [("TERM", 7), ("USR2", 11)])
def test_exec_forwards_signals(rt, name: str, code: int) -> None:
    bundle = rt.bundle(["sleep", "3600"])
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    status, out = _signal_runner(rt, ["exec", bundle.cid, "sh", "-c", TRAP.format(name=name, code=code)],
                                 getattr(signal, f"SIG{name}"))
    assert (status, out) == (code, f"got {name}\n")
    assert rt.status(bundle.cid) == "running", "only the exec'd process got the signal"


def test_exec_killed_by_a_forwarded_signal_reports_128_plus_n(rt) -> None:
    bundle = rt.bundle(["sleep", "3600"])
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    status, _ = _signal_runner(rt, ["exec", bundle.cid, "sh", "-c", "echo ready >&2; exec sleep 3600"],
                               signal.SIGTERM)
    assert status == 128 + signal.SIGTERM


@pytest.mark.simcon_only("SimCon's log drivers")
def test_run_with_a_log_driver_forwards_signals(rt) -> None:
    """With a log driver the monitor is the init's parent; the foreground `run` waits on it and still forwards."""
    bundle = rt.bundle(["sh", "-c", TRAP.format(name="TERM", code=7)])
    runner = rt.popen("run", "--log-driver", "k8s-file", "--bundle", bundle.path, bundle.cid)
    try:
        rt.wait_for(lambda: "ready" in rt.run("logs", bundle.cid).stderr, what="the trap to be set")
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(timeout=60) == 7
    finally:
        if runner.poll() is None:
            runner.kill()
        runner.communicate(timeout=30)
    assert rt.run("logs", bundle.cid).stdout == "got TERM\n"
