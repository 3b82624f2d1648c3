"""Fault injection for tests: SimCon kills itself at a named step.

    SIMCON_TEST_FAULT=STEP:SIGNAL[,STEP:SIGNAL...]     e.g.  create:cgroups-made:KILL   init:change root:INT

When a process of SimCon (the CLI, a forked child, the monitor) reaches ``point(STEP)`` and STEP is named in the
variable, it sends itself SIGNAL (a name such as KILL, INT, TERM, or a number). The fault tests
(tests/integration/test_faults.py) use it to stop SimCon at every named step of create, start, run -d, exec,
delete, the monitor and the container init's step runner, and then check that `delete --force` leaves nothing
behind. ``points()`` lists the steps a command passed, one per line, in the file named by SIMCON_TEST_FAULT_TRACE,
so the tests find every step without a hard-coded list.

Unset (every real use), ``point`` is a function that does nothing: the variable is read once, at import.
"""

from __future__ import annotations

import os

ENV = "SIMCON_TEST_FAULT"
TRACE_ENV = "SIMCON_TEST_FAULT_TRACE"

_SIGNALS = {"HUP": 1, "INT": 2, "QUIT": 3, "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "TERM": 15}


def _parse(text: str) -> dict[str, int]:
    faults = {}
    for item in text.split(","):
        step, sep, name = item.rpartition(":")
        if not sep or not step:
            continue
        name = name.strip().upper().removeprefix("SIG")
        number = int(name) if name.isdigit() else _SIGNALS.get(name)
        if number:
            faults[step.strip()] = number
    return faults


def _fire(step: str) -> None:
    if _trace is not None:
        try:
            fd = os.open(_trace, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, f"{step}\n".encode())
            finally:
                os.close(fd)
        except OSError:
            pass
    sig = _faults.get(step)
    if sig:
        if os.getpid() == 1:
            # The container init is PID 1 of its namespace: the kernel drops signals it sends itself. Dying at
            # once is what such a signal would do.
            os._exit(128 + sig)
        os.kill(os.getpid(), sig)


_faults = _parse(os.environ.get(ENV, ""))
_trace = os.environ.get(TRACE_ENV) or None

if _faults or _trace:
    point = _fire
else:
    def point(step: str) -> None:  # noqa: ARG001 - the real thing: no fault, no cost
        """SimCon reached ``step`` (see the module docstring)."""
