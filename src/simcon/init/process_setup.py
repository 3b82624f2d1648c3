"""The steps that turn a SimCon child into the container's process, shared by the container init and `exec`.

Both run them in the same order around the uid switch: rlimits, bounding set, user (with keep-caps), the
remaining capability sets, the executable lookup, then the last moments before execve (signals, umask,
no_new_privs, closing every fd that is not stdio or preserved, seccomp, execve through the trampoline).
Each function takes plain values from a plan; nothing here reads the config.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import stat

from simcon.init import sync
from simcon.linux import capabilities as caps
from simcon.linux import pty
from simcon.linux import trampoline

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Python ignores SIGPIPE and SIGXFSZ and handles SIGINT; ignored signals survive execve, so these are undone.
_PYTHON_DISPOSITIONS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def set_rlimits(rlimits: list[tuple[int, int, int]]) -> None:
    for number, soft, hard in rlimits:
        resource.setrlimit(number, (soft, hard))


def drop_bounding_capabilities(capabilities) -> None:  # noqa: ANN001 - a runtime.plan.capabilities.CapsPlan
    # While we still hold CAP_SETPCAP: it is in the effective set until set_capabilities.
    for bit in range(capabilities.last_cap + 1):
        if not capabilities.bounding & (1 << bit):
            caps.bounding_drop(bit)


def switch_user(uid: int, gid: int, additional_gids: list[int], *, keep_caps: bool,
                setgroups_denied: bool = False) -> None:
    # keep-caps: a switch away from uid 0 would otherwise empty the permitted set set_capabilities trims.
    if keep_caps:
        caps.set_keepcaps(True)
    # Order matters: supplementary groups and gid can only be changed while still privileged.
    # A user namespace an unprivileged user made has setgroups(2) denied (the kernel's price for letting it write
    # gid_map): the groups cannot change there, and the plan refused additionalGids already.
    if not setgroups_denied:
        os.setgroups(additional_gids)
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if keep_caps:
        caps.set_keepcaps(False)


def set_capabilities(capabilities) -> None:  # noqa: ANN001 - a runtime.plan.capabilities.CapsPlan
    caps.capset(capabilities.effective, capabilities.permitted, capabilities.inheritable)
    caps.ambient_clear_all()
    for bit in range(capabilities.last_cap + 1):
        if capabilities.ambient & (1 << bit):
            caps.ambient_raise(bit)


def find_executable(name: str, env: list[str]) -> str:
    """The path execve gets for ``name``: searched in the process's own PATH (not SimCon's), as runc does."""
    if "/" in name:
        os.stat(name)
        return name
    path = DEFAULT_PATH
    for entry in env:
        if entry.startswith("PATH="):
            path = entry[5:]
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and os.access(candidate, os.X_OK):
            return candidate
    raise sync.InitError("exec", f'"{name}": executable file not found in $PATH')


def open_console(console_size: tuple[int, int] | None) -> tuple[int, str]:
    """A new pty on the container's devpts: (master fd, slave path)."""
    master, slave_path = pty.open_master("/dev/ptmx")
    try:
        if console_size:
            pty.set_window_size(master, *console_size)
    except BaseException:
        os.close(master)
        raise
    return master, slave_path


def hand_over_console(console_socket: socket.socket, master: int, slave_path: str, uid: int, gid: int) -> None:
    """Send the master over the console socket, then make the slave our stdio and controlling terminal."""
    try:
        socket.send_fds(console_socket, [slave_path.encode()], [master])
    finally:
        os.close(master)
    console_socket.close()
    slave = os.open(slave_path, os.O_RDWR | os.O_CLOEXEC)
    os.fchown(slave, uid, gid)
    pty.make_controlling_terminal(slave)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(slave)


def environment(env: list[str], home: str | None = None) -> dict[str, str]:
    """The process's environment; ``home`` is HOME when the config does not set it (see ``home_of``)."""
    result: dict[str, str] = {}
    for entry in env:
        key, sep, value = entry.partition("=")
        if sep:
            result[key] = value
    if home is not None:
        result.setdefault("HOME", home)
    return result


PASSWD_LIMIT = 4 << 20  # bytes of /etc/passwd read at most: the file belongs to the (maybe hostile) rootfs


def home_of(uid: int, passwd: str = "/etc/passwd") -> str:
    """The home directory of ``uid`` in the container's passwd file, ``/`` without an entry (as runc).

    Read after the root change, so the path is the container's; a FIFO, a device or a huge file there is not
    read (O_NONBLOCK, regular files only, bounded)."""
    try:
        fd = os.open(passwd, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError:
        return "/"
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return "/"
        data = os.read(fd, PASSWD_LIMIT)
    except OSError:
        return "/"
    finally:
        os.close(fd)
    wanted = str(uid).encode()
    for line in data.splitlines():
        fields = line.split(b":")
        if len(fields) >= 7 and fields[2] == wanted:
            return fields[5].decode(errors="surrogateescape") or "/"
    return "/"


def reset_signals() -> None:
    for sig in _PYTHON_DISPOSITIONS:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def close_fds_except(first: int, keep: tuple[int, ...]) -> None:
    """Close every fd from ``first`` up, except those in ``keep`` (only stdio and preserved fds may reach
    the container's process).

    Only the fds that are open are closed, listed from /proc/self/fd: this may run under the container's seccomp
    filter (without no_new_privs it is loaded early), and a profile that predates close_range refuses it, on
    which ``os.closerange`` falls back to one close(2) per number, about a million calls (issue 11). Without a
    /proc (a container that mounts none) the range is closed as before."""
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


def execve(executable: str, args: list[str], env: dict[str, str], trampoline_fd: int, *,
           wait_fifo_fd: int = -1) -> None:
    """Exec ``executable``, through the sealed trampoline when there is one (see linux.trampoline), so the
    program never finds the host's interpreter at /proc/self/exe. By path with a plain execve (which any
    seccomp profile allows); by fd only when /proc is not mounted. With ``wait_fifo_fd`` (an inheritable O_PATH
    fd of exec.fifo) the trampoline first waits there for `simcon start`."""
    if trampoline_fd >= 0:
        if wait_fifo_fd >= 0:
            argv = trampoline.wait_argv(wait_fifo_fd, executable, args)
        else:
            argv = [trampoline.ARGV0, executable, *args]
        try:
            os.execve(f"/proc/self/fd/{trampoline_fd}", argv, env)
        except FileNotFoundError:
            os.execve(trampoline_fd, argv, env)
    os.execve(executable, args, env)


class ProcessSteps:
    """The steps above as methods over ``self.plan``, for the container init and `exec`, whose plans share these
    field names (rlimits, capabilities, uid, gid, additional_gids, setgroups_denied, args, env)."""

    plan: object
    executable: str
    home: str | None = None  # HOME from the container's /etc/passwd when the config has none (find_home)

    def set_rlimits(self) -> None:
        set_rlimits(self.plan.rlimits)

    def drop_bounding_capabilities(self) -> None:
        drop_bounding_capabilities(self.plan.capabilities)

    def switch_user(self) -> None:
        p = self.plan
        switch_user(p.uid, p.gid, p.additional_gids, keep_caps=p.capabilities is not None,
                    setgroups_denied=p.setgroups_denied)

    def set_capabilities(self) -> None:
        set_capabilities(self.plan.capabilities)

    def find_home(self) -> None:
        if not any(entry.startswith("HOME=") for entry in self.plan.env):
            self.home = home_of(self.plan.uid)

    def find_executable(self) -> None:
        self.executable = find_executable(self.plan.args[0], self.plan.env)
