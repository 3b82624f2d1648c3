"""The waiting half of the monitor: reap children until the container's init is among them.

Runs in the bare interpreter the monitor execs (see ``launch``): it imports the built-in ``posix`` only (not
``os``, which would cost each monitor about 0.5 MB: see ``capture``).
"""

from __future__ import annotations

import posix


def wait_for(init_pid: int) -> int | None:
    """The init's wait status; every other child reaped on the way (orphans land here). None: no such child."""
    while True:
        try:
            pid, status = posix.waitpid(-1, 0)
        except ChildProcessError:
            return None
        if pid == init_pid:
            return status


def exit_code(status: int) -> int:
    """A shell's view of a wait status: the exit code, or 128+N for a death by signal N."""
    if posix.WIFSIGNALED(status):
        return 128 + posix.WTERMSIG(status)
    return posix.waitstatus_to_exitcode(status)
