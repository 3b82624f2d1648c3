"""Waiting for a container's process and decoding how it ended: the one wait loop and the one exit-status decoder,
used by the monitor of `run -d`, by a foreground `run` and by `exec`.

Runs in the bare interpreter the monitor execs (see ``launch``): it imports the built-in ``posix`` only (not
``os``, which would cost each monitor about 0.5 MB: see ``capture``).
"""

from __future__ import annotations

import posix


def wait_for(pid: int) -> int | None:
    """``pid``'s wait status, reaping every other child on the way (orphans of the container land on a subreaper).

    None when ``pid`` is not (or no longer) our child to wait for (ECHILD: some other subreaper took it, or it was
    reaped already): its status cannot be known here.
    """
    while True:
        try:
            reaped, status = posix.waitpid(-1, 0)
        except ChildProcessError:
            return None
        if reaped == pid:
            return status


def exit_code(status: int | None) -> int:
    """A shell's view of a wait status: the exit code, or 128+N for a death by signal N.

    An unknown status (``wait_for`` gave None) is 0: `run` and `exec` exit 0 then, and the monitor records
    nothing (it checks for None itself)."""
    if status is None:
        return 0
    if posix.WIFSIGNALED(status):
        return 128 + posix.WTERMSIG(status)
    return posix.waitstatus_to_exitcode(status)
