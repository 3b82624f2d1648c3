"""Ctrl-C and SIGTERM during a verb: an exception that unwinds through the rollbacks, never a crash.

``install()`` (called once by cli/main.py) makes SIGINT raise KeyboardInterrupt (Python's own) and SIGTERM raise
``Terminated``; both are BaseExceptions, so every ``except BaseException`` cleanup (create's undo, the monitor's
report) runs, and cli/main.py turns them into one line and exit 130 / 143.

Some code must not be interrupted halfway: a rollback, the child right after fork. ``deferred()`` blocks both
signals around such a section; a signal that arrives meanwhile is delivered when it ends. (The config models and
the plans were once msgspec classes, made and decoded with signals held: an exception raised from a signal
handler inside msgspec's C code crashed SimCon with SIGSEGV. They are plain Python now, ``simcon.records``, where
a Ctrl-C is an ordinary KeyboardInterrupt that unwinds like anywhere else, so nothing holds signals for them.)
Forked children call ``reset_in_child()``: they have their own ways to fail, and a parked container init must
die of a signal as the kernel does it.

Uses `_signal` (the C module): `signal` builds enum classes on import, which every `simcon state` would pay.
"""

from __future__ import annotations

import _signal

SIGINT = _signal.SIGINT
SIGTERM = _signal.SIGTERM
_BOTH = {SIGINT, SIGTERM}


class Terminated(BaseException):
    """SIGTERM arrived (a BaseException like KeyboardInterrupt, so `except Exception` does not swallow it)."""


# How many critical sections are open, and the signal that came during one (raised when the last one ends). The
# kernel-level mask alone is not enough: a signal delivered just before ``block()`` has its Python handler still
# due, and CPython runs it at the next Python code, which may be inside the section.
_critical = 0
_pending: int | None = None


def _handler(signum: int, frame: object) -> None:  # noqa: ARG001
    global _pending
    if _critical:
        _pending = signum
        return
    _raise(signum)


def _raise(signum: int) -> None:
    if signum == SIGINT:
        raise KeyboardInterrupt
    raise Terminated()


def install() -> None:
    _signal.signal(SIGINT, _handler)
    _signal.signal(SIGTERM, _handler)


def reset_in_child() -> None:
    """In a forked child: both signals back to the kernel's default, and unblocked."""
    _signal.signal(SIGINT, _signal.SIG_DFL)
    _signal.signal(SIGTERM, _signal.SIG_DFL)
    _signal.pthread_sigmask(_signal.SIG_UNBLOCK, _BOTH)


def block() -> object:
    """Hold SIGINT and SIGTERM from now on; returns what ``restore`` needs (for a section that is not a block)."""
    global _critical
    _critical += 1
    return _signal.pthread_sigmask(_signal.SIG_BLOCK, _BOTH)


def restore(previous: object) -> None:
    """End a ``block()``: a signal that arrived meanwhile is delivered now (and raises here)."""
    global _critical, _pending
    _signal.pthread_sigmask(_signal.SIG_SETMASK, previous)  # a held signal's Python handler is now due...
    _critical -= 1
    if _critical == 0 and _pending is not None:  # ...or it already came, during the section
        signum, _pending = _pending, None
        _raise(signum)


def drop_pending() -> None:
    """Forget a SIGINT or SIGTERM held by ``block()`` (the work it would have interrupted is done)."""
    global _pending
    while _signal.sigtimedwait(_BOTH, 0) is not None:
        pass
    _pending = None


class deferred:  # noqa: N801 - used as a function: `with interrupts.deferred():`
    """Hold SIGINT and SIGTERM while the block runs; they are delivered (and raise) when it ends."""

    __slots__ = ("_previous",)

    def __enter__(self) -> deferred:
        self._previous = block()
        return self

    def __exit__(self, *exc: object) -> None:
        restore(self._previous)
