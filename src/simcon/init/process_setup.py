"""The one ordered tail of steps that turns a SimCon child into the container's process, for the container init
and for `exec` alike (``ProcessTail``).

The order is the security argument, so it is written down once, here:

    setup_steps():  rlimits              (raising a hard limit needs CAP_SYS_RESOURCE: while still root)
                    seccomp filter       (without no_new_privs loading needs CAP_SYS_ADMIN: while we still have it)
                    bounding set         (dropping needs CAP_SETPCAP: before the user switch)
                    switch user          (setgroups, setresgid, setresuid, with keep-caps around them)
                    capabilities         (capset after the switch: the switch would clear them otherwise)
                    cwd, find the executable in the process's own PATH, personality
    exec_steps():   environment, umask, signal dispositions, no_new_privs, AppArmor/SELinux exec labels,
                    close every fd but stdio and the preserved ones,
                    seccomp filter       (with no_new_privs: the very last step, so none of SimCon's own runs
                                          under the container's filter)
                    execve               (through the sealed trampoline when there is one)

Each step is (name, action); the name is what an error report says failed. Every kernel call goes through
``self.sys`` (``init.syscalls``), so tests/unit/test_process_order.py checks this order without root. Nothing here
reads the config: the values come from a ``ProcessPlan``.
"""

from __future__ import annotations

import os
import stat

from simcon.init import sync
from simcon.init.syscalls import LINUX, Syscalls
from simcon.linux import pty, unixsock

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable

    from simcon.init.plan import ProcessPlan, SeccompPlan

    Step = tuple[str, Callable[[], object]]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ProcessTail:
    """The final steps of a process, in order; subclasses (the container init, the exec'd process) put their own
    steps before ``setup_steps`` and may extend ``load_seccomp`` (the init hands the listener fd on)."""

    def __init__(self, process: ProcessPlan, seccomp: SeccompPlan | None, *, personality: int | None = None,
                 syscalls: Syscalls = LINUX) -> None:
        self.process = process
        self.seccomp = seccomp
        self.personality = personality
        self.sys = syscalls
        # What the user namespace decided may differ from the plan's guess (newgidmap may deny setgroups).
        self.setgroups_denied = process.setgroups_denied
        self.executable = ""
        self.home: str | None = None  # HOME from the container's /etc/passwd when the config has none (find_home)
        self.env: dict[str, str] = {}

    def setup_steps(self) -> list[Step]:
        p = self.process
        steps: list[Step] = []
        if p.rlimits:
            steps.append(("set rlimits", self.set_rlimits))
        if self.seccomp is not None and not p.no_new_privileges:
            steps.append(("load the seccomp filter", self.load_seccomp))
        if p.capabilities is not None:
            steps.append(("drop capabilities from the bounding set", self.drop_bounding_capabilities))
        steps.append(("switch user", self.switch_user))
        if p.capabilities is not None:
            steps.append(("set capabilities", self.set_capabilities))
        steps.append(("change to the working directory", lambda: self.sys.chdir(p.cwd)))
        if p.args:  # none: a config without `process`, whose init is never started
            steps.append(("find the executable", self.find_executable))
        if self.personality is not None:
            steps.append(("set personality", lambda: self.sys.set_personality(self.personality)))
        return steps

    def exec_steps(self, keep_fds: tuple[int, ...], trampoline_fd: int, *, wait_fifo_fd: int = -1) -> list[Step]:
        """``keep_fds``: fds above stdio and the preserved ones that must survive until execve (CLOEXEC ones).
        ``wait_fifo_fd``: exec.fifo for the trampoline to wait on for `simcon start` (container init only)."""
        p = self.process
        first = 3 + p.preserve_fds
        steps: list[Step] = [
            ("set the environment", self.set_environment),
            ("set the umask", lambda: self.sys.umask(p.umask if p.umask is not None else 0o022)),
            ("reset signals", self.sys.reset_signals),
        ]
        if p.no_new_privileges:
            steps.append(("set no_new_privs", self.sys.set_no_new_privs))
        if p.apparmor_profile:
            # Through the container's /proc, for the next execve.
            steps.append(("set the AppArmor profile", lambda: self.sys.apparmor_exec(p.apparmor_profile)))
        if p.selinux_label:
            steps.append(("set the SELinux label", lambda: self.sys.selinux_exec(p.selinux_label)))
        # Only stdio and the preserved fds may reach the container's process.
        steps.append(("close fds", lambda: self.sys.close_fds_except(first, (*keep_fds, trampoline_fd,
                                                                           wait_fifo_fd))))
        if self.seccomp is not None and p.no_new_privileges:
            # The last of SimCon's own steps (only the trampoline's wait, if any, runs under the filter after it).
            steps.append(("load the seccomp filter", self.load_seccomp))
        if wait_fifo_fd >= 0:
            steps.append(("hand exec.fifo to the trampoline", lambda: self.sys.set_inheritable(wait_fifo_fd)))
        kept_trampoline = trampoline_fd if trampoline_fd >= first else -1
        steps.append(("exec", lambda: self.sys.execve(self.executable, p.args, self.env, kept_trampoline,
                                                      wait_fifo_fd=wait_fifo_fd)))
        return steps

    # -- the steps ------------------------------------------------------------------------------------------

    def set_rlimits(self) -> None:
        for number, soft, hard in self.process.rlimits:
            self.sys.setrlimit(number, soft, hard)

    def load_seccomp(self) -> int:
        """Load the filter; returns the listener fd (SCMP_ACT_NOTIFY), else -1."""
        try:
            return self.sys.seccomp_load(self.seccomp.program, self.seccomp.flags)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, "seccomp filter") from exc

    def drop_bounding_capabilities(self) -> None:
        # While we still hold CAP_SETPCAP: it is in the effective set until set_capabilities.
        capabilities = self.process.capabilities
        for bit in range(capabilities.last_cap + 1):
            if not capabilities.bounding & (1 << bit):
                self.sys.bounding_drop(bit)

    def switch_user(self) -> None:
        p = self.process
        # keep-caps: a switch away from uid 0 would otherwise empty the permitted set set_capabilities trims.
        keep_caps = p.capabilities is not None
        if keep_caps:
            self.sys.set_keepcaps(True)
        # Order matters: supplementary groups and gid can only be changed while still privileged. A user
        # namespace an unprivileged user made has setgroups(2) denied (the kernel's price for letting it write
        # gid_map): the groups cannot change there, and the plan refused additionalGids already.
        if not self.setgroups_denied:
            self.sys.setgroups(p.additional_gids)
        self.sys.setresgid(p.gid)
        self.sys.setresuid(p.uid)
        if keep_caps:
            self.sys.set_keepcaps(False)

    def set_capabilities(self) -> None:
        capabilities = self.process.capabilities
        self.sys.capset(capabilities.effective, capabilities.permitted, capabilities.inheritable)
        self.sys.ambient_clear_all()
        for bit in range(capabilities.last_cap + 1):
            if capabilities.ambient & (1 << bit):
                self.sys.ambient_raise(bit)

    def find_executable(self) -> None:
        """The path execve gets for args[0]: searched in the process's own PATH (not SimCon's), as runc does."""
        name = self.process.args[0]
        if "/" in name:
            self.sys.stat(name)
            self.executable = name
            return
        path = DEFAULT_PATH
        for entry in self.process.env:
            if entry.startswith("PATH="):
                path = entry[5:]
        for directory in path.split(":"):
            candidate = os.path.join(directory or ".", name)
            try:
                st = self.sys.stat(candidate)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and self.sys.access(candidate, os.X_OK):
                self.executable = candidate
                return
        raise sync.InitError("exec", f'"{name}": executable file not found in $PATH')

    def find_home(self) -> None:
        """A step of the init and of exec, after the root change: HOME for a config that sets none."""
        if not any(entry.startswith("HOME=") for entry in self.process.env):
            self.home = home_of(self.process.uid)

    def set_environment(self) -> None:
        self.env = environment(self.process.env, self.home)


def environment(env: tuple[str, ...], home: str | None = None) -> dict[str, str]:
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


def hand_over_console(console_socket: unixsock.Socket, master: int, slave_path: str, uid: int, gid: int) -> None:
    """Send the master over the console socket, then make the slave our stdio and controlling terminal."""
    try:
        unixsock.send_fds(console_socket, slave_path.encode(), [master])
    finally:
        os.close(master)
    console_socket.close()
    slave = os.open(slave_path, os.O_RDWR | os.O_CLOEXEC)
    os.fchown(slave, uid, gid)
    pty.make_controlling_terminal(slave)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.close(slave)
