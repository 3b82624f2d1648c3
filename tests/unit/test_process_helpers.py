"""The small pure parts of --init and the monitor: which signals the tiny init forwards, how an exit is told."""

from __future__ import annotations

import os
import signal

from simcon.init.tiny_init import FORWARDED
from simcon.monitor.waiter import exit_code, wait_for


def test_tiny_init_forwards_the_signals_a_user_sends() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH,
                signal.SIGQUIT, signal.SIGCONT, signal.SIGRTMIN):
        assert sig in FORWARDED, sig


def test_tiny_init_keeps_sigchld_and_faults() -> None:
    for sig in (signal.SIGCHLD, signal.SIGKILL, signal.SIGSTOP, signal.SIGSEGV, signal.SIGBUS, signal.SIGTSTP):
        assert sig not in FORWARDED, sig


def test_exit_code_of_a_plain_exit_and_of_a_signal() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(3)
    assert exit_code(wait_for(pid)) == 3
    pid = os.fork()
    if pid == 0:
        os.kill(os.getpid(), signal.SIGKILL)
        os._exit(0)
    assert exit_code(wait_for(pid)) == 137

