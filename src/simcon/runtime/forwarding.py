"""Passing on the signals sent to a foreground `simcon run` or `simcon exec` to the container's process.

A user's Ctrl-C or an engine's SIGTERM reaches SimCon, the process it started; the container's process is the one
that should decide what they mean. ``forwarding_to(pid)`` installs one handler for every catchable signal in
``FORWARDED`` for as long as SimCon waits, and puts the previous handlers back afterwards.
"""

from __future__ import annotations

import os

# The C module `signal` re-exports: `signal` itself builds its enums on import (enum, ~5 ms of every `run`).
import _signal as signal

# Every catchable signal a user or engine may send to `simcon run` or `exec` is passed on to the container.
FORWARDED = (
    signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2,
    signal.SIGWINCH, signal.SIGCONT, signal.SIGALRM, signal.SIGPWR, signal.SIGVTALRM, signal.SIGPROF,
)


class forwarding_to:  # noqa: N801 - used as `with forwarding_to(pid):`, like a contextlib function
    """While inside the ``with``: each signal in ``FORWARDED`` that reaches SimCon is sent on to ``pid``.

    A target already gone is not an error (it exited between the signal and the handler). A class rather than
    ``contextlib.contextmanager``: contextlib is not otherwise imported by `run` or `exec`."""

    __slots__ = ("pid", "_previous")

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._previous: dict = {}

    def _forward(self, signum: int, _frame: object) -> None:
        try:
            os.kill(self.pid, signum)
        except ProcessLookupError:
            pass

    def __enter__(self) -> forwarding_to:
        self._previous = {sig: signal.signal(sig, self._forward) for sig in FORWARDED}
        return self

    def __exit__(self, *_exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}
