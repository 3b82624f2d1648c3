"""Signalling and waiting for a process through a pidfd, so a recycled pid is never hit."""

from __future__ import annotations

import os
import select

try:
    # The C function that `signal` re-exports; importing `signal` itself costs its enum classes (~5 ms).
    from _signal import pidfd_send_signal
except ImportError:  # pragma: no cover
    from signal import pidfd_send_signal

SIGKILL = 9


def open_pidfd(pid: int) -> int | None:
    """A pidfd for ``pid``, or None when no such process exists."""
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None


def send_signal(pidfd: int, sig: int) -> bool:
    """False when the process has already exited."""
    try:
        pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        return False
    return True


def wait_for_exit(pidfd: int, timeout: float) -> bool:
    """True once the process behind ``pidfd`` has exited (a pidfd polls readable then, reaped or not)."""
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(int(timeout * 1000)))


def kill_and_wait(pid: int, start_time: int | None, timeout: float = 10.0) -> None:
    """SIGKILL ``pid`` (if it is still the process that started at ``start_time``) and wait until it exited."""
    from simcon.linux import procfs

    pidfd = open_pidfd(pid)
    if pidfd is None:
        return
    try:
        if start_time is not None and not procfs.is_alive(pid, start_time):
            return
        if send_signal(pidfd, SIGKILL):
            wait_for_exit(pidfd, timeout)
    finally:
        os.close(pidfd)
