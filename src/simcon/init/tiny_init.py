"""`--init`: the SimCon init stays behind as PID 1 of the container, the job tini or `docker --init` do.

The busybox-style rootfs of a container has no Python, so the tiny init cannot be a program started inside it.
Instead the container init, already inside every namespace and past pivot_root with everything imported, forks
just before execve: the child goes on to exec the container's process, and the init stays as PID 1, which

- reaps every orphan re-parented to it, so a process that forks and abandons children leaves no zombies;
- forwards every catchable signal it receives to the container's process (the kernel delivers a signal to the
  init of a pid namespace only if it has a handler, so the handlers are also what makes `kill` reach it);
- exits with the process's status once it is gone: its code, or 128+N for a death by signal N.

Nothing here may import after fork: this module is imported by ``container_init`` before the first fork.
"""

from __future__ import annotations

import os
import _signal as signal  # the C module: `signal` builds enums on import (enum: ~5 ms per call)

# Synchronous faults belong to the process that causes them; SIGCHLD is ours; SIGKILL/SIGSTOP cannot be caught.
_NOT_FORWARDED = {
    signal.SIGCHLD, signal.SIGKILL, signal.SIGSTOP, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE,
    signal.SIGABRT, signal.SIGTRAP, signal.SIGSYS, signal.SIGTTIN, signal.SIGTTOU, signal.SIGTSTP,
}
_VALID = signal.valid_signals()  # once: each call builds a set of enum members (~0.1 ms)
FORWARDED = tuple(sig for sig in range(1, signal.SIGRTMAX + 1) if sig not in _NOT_FORWARDED and sig in _VALID)


def stay_as_pid1() -> None:
    """Fork. Returns in the child, which goes on to exec the container's process; never returns in the parent.

    Forwarded signals are blocked across the fork, so one that arrives before the handlers are installed waits
    instead of killing the init; the child's exec path resets its mask and handlers.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    child = os.fork()
    if child == 0:
        return
    _reap_and_forward(child)


def _reap_and_forward(child: int) -> None:
    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        try:
            signal.signal(sig, forward)
        except (OSError, ValueError):
            pass
    # The container's fds belong to its process; PID 1 keeps only stdio.
    os.closerange(3, 1 << 20)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        if pid == child:
            if os.WIFSIGNALED(status):
                os._exit(128 + os.WTERMSIG(status))
            os._exit(os.waitstatus_to_exitcode(status))
