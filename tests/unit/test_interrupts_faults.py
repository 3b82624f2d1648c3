"""simcon.interrupts (Ctrl-C / SIGTERM as exceptions, held in critical sections) and simcon.faults (test hooks)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from simcon import faults, interrupts


@pytest.fixture
def installed():
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    interrupts.install()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def test_sigterm_raises_terminated_and_sigint_keyboardinterrupt(installed) -> None:
    with pytest.raises(interrupts.Terminated):
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0)  # a bytecode boundary for the handler
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        signal.sigtimedwait([], 0)


def test_a_signal_in_a_deferred_block_is_raised_when_it_ends(installed) -> None:
    reached_end = False
    with pytest.raises(interrupts.Terminated):
        with interrupts.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            reached_end = True  # not interrupted in the middle
    assert reached_end


def test_drop_pending_forgets_a_held_signal(installed) -> None:
    held = interrupts.block()
    os.kill(os.getpid(), signal.SIGINT)
    interrupts.drop_pending()
    interrupts.restore(held)  # nothing raised: the signal is gone
    assert signal.SIGINT not in signal.sigpending()


def test_fault_specs_are_parsed() -> None:
    assert faults._parse("create:dir-made:KILL,init:change root:sigint, delete:locked:15") == {
        "create:dir-made": signal.SIGKILL, "init:change root": signal.SIGINT, "delete:locked": signal.SIGTERM}
    assert faults._parse("") == {}
    assert faults._parse("nosignal,:KILL,x:BOGUS") == {}


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SIMCON_TEST_FAULT")}
    environment.update(env)
    return subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60)


def test_point_does_nothing_when_unset_and_kills_at_the_named_step(tmp_path) -> None:
    code = "from simcon import faults; faults.point('a'); print('after a'); faults.point('b'); print('after b')"
    assert _run(code).stdout == "after a\nafter b\n"
    proc = _run(code, SIMCON_TEST_FAULT="b:KILL")
    assert proc.stdout == "after a\n" and proc.returncode == -signal.SIGKILL
    trace = tmp_path / "trace"
    assert _run(code, SIMCON_TEST_FAULT_TRACE=str(trace)).returncode == 0
    assert trace.read_text() == "a\nb\n"


def test_unset_point_is_the_no_op_function() -> None:
    if os.environ.get(faults.ENV) or os.environ.get(faults.TRACE_ENV):
        pytest.skip("this test run has fault injection enabled")
    assert faults.point is not faults._fire
