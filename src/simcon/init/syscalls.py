"""The seam between the init's steps and the kernel: every call the final process steps make, on one object.

``process_setup.ProcessTail`` (the steps the container init and `exec` share) calls the kernel only through a
``Syscalls``; the real one below forwards to ``linux/`` and ``os``. A unit test hands the steps a recording fake
instead and checks their order without root (tests/unit/test_process_order.py), as youki does with its
``Syscall`` trait.
"""

from __future__ import annotations

import os
import resource
import _signal as signal  # the C module: `signal` builds enums on import (enum: ~5 ms per call)

from simcon.linux import capabilities as caps
from simcon.linux import lsm, seccomp, trampoline
from simcon.linux import process as proc

# Python ignores SIGPIPE and SIGXFSZ and handles SIGINT; ignored signals survive execve, so these are undone.
_PYTHON_DISPOSITIONS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Syscalls:
    """The real kernel calls. Each method is one call (or one tight sequence of one kind, like closing fds)."""

    # -- limits and privileges

    def setrlimit(self, number: int, soft: int, hard: int) -> None:
        resource.setrlimit(number, (soft, hard))

    def bounding_drop(self, cap: int) -> None:
        caps.bounding_drop(cap)

    def set_keepcaps(self, on: bool) -> None:
        caps.set_keepcaps(on)

    def setgroups(self, gids: tuple[int, ...]) -> None:
        os.setgroups(list(gids))

    def setresgid(self, gid: int) -> None:
        os.setresgid(gid, gid, gid)

    def setresuid(self, uid: int) -> None:
        os.setresuid(uid, uid, uid)

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        caps.capset(effective, permitted, inheritable)

    def ambient_clear_all(self) -> None:
        caps.ambient_clear_all()

    def ambient_raise(self, cap: int) -> None:
        caps.ambient_raise(cap)

    def set_no_new_privs(self) -> None:
        proc.set_no_new_privs()

    def seccomp_load(self, program: bytes, flags: int) -> int:
        """Load the filter; the listener fd with SECCOMP_FILTER_FLAG_NEW_LISTENER, else -1."""
        return seccomp.load(program, flags)

    # -- the process's view

    def chdir(self, path: str) -> None:
        os.chdir(path)

    def stat(self, path: str) -> os.stat_result:
        return os.stat(path)

    def access(self, path: str, mode: int) -> bool:
        return os.access(path, mode)

    def set_personality(self, persona: int) -> None:
        proc.set_personality(persona)

    def umask(self, mask: int) -> None:
        os.umask(mask)

    def reset_signals(self) -> None:
        for sig in _PYTHON_DISPOSITIONS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])

    def apparmor_exec(self, profile: str) -> None:
        lsm.apparmor_exec(profile)

    def selinux_exec(self, label: str) -> None:
        lsm.selinux_exec(label)

    def close_fds_except(self, first: int, keep: tuple[int, ...]) -> None:
        """Close every fd from ``first`` up, except those in ``keep``.

        Only the fds that are open are closed, listed from /proc/self/fd: this may run under the container's
        seccomp filter (without no_new_privs it is loaded early), and a profile that predates close_range refuses
        it, on which ``os.closerange`` falls back to one close(2) per number, about a million calls (issue 11).
        Without a /proc (a container that mounts none) the range is closed as before."""
        try:
            open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
        except (OSError, ValueError):  # no /proc, or something else mounted there
            low = first
            for kept in sorted(fd for fd in keep if fd >= first):
                os.closerange(low, kept)
                low = kept + 1
            os.closerange(low, 1 << 20)
            return
        for fd in open_fds:
            if fd >= first and fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass  # the fd listdir read the directory through, already closed

    def set_inheritable(self, fd: int) -> None:
        os.set_inheritable(fd, True)

    def execve(self, executable: str, args: tuple[str, ...], env: dict[str, str], trampoline_fd: int, *,
               wait_fifo_fd: int = -1) -> None:
        """Exec ``executable``, through the sealed trampoline when there is one (see linux.trampoline), so the
        program never finds the host's interpreter at /proc/self/exe. By path with a plain execve (which any
        seccomp profile allows); by fd only when /proc is not mounted. With ``wait_fifo_fd`` (an inheritable
        O_PATH fd of exec.fifo) the trampoline first waits there for `simcon start`."""
        if trampoline_fd >= 0:
            if wait_fifo_fd >= 0:
                argv = trampoline.wait_argv(wait_fifo_fd, executable, list(args))
            else:
                argv = [trampoline.ARGV0, executable, *args]
            try:
                os.execve(f"/proc/self/fd/{trampoline_fd}", argv, env)
            except FileNotFoundError:
                os.execve(trampoline_fd, argv, env)
        os.execve(executable, list(args), env)


LINUX = Syscalls()
