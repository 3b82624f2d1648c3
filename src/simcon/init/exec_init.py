"""The children of `simcon exec`: an intermediate that joins the container's namespaces, and the process itself.

    parent (simcon exec)              intermediate                      process
      | open /proc/PID/ns/*, /proc/PID/root
      |---- fork ------------------->|
      | join the container's cgroup  |
      |---- PROCEED ---------------->|
      |                              | setns: user, ipc, uts, net, pid, cgroup, time, mnt
      |                              |---- fork ------------------------->|  (now in the container's pid ns)
      |<--- INIT_PID {pid} ----------|                                    |
      | waitpid(intermediate)        x                                    | setsid, chroot to the init's root,
      |                                                                   | console, rlimits, caps, user, cwd,
      |                                                                   | look up the executable
      |<--- EOF (the channel is CLOEXEC: execve succeeded) ---------------| execve
      |     or ERROR {step, errno, message, path}, and the process exits

setns(CLONE_NEWPID) only moves the caller's future children, which is why the process is a grandchild. The mount
namespace comes last: after it, /proc/PID/ns of the host is out of reach. Its root is taken from the init's
/proc/PID/root (an fd opened by the parent), which is right after pivot_root and after the MS_MOVE + chroot of
--no-pivot alike.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import stat

from simcon.init import sync
from simcon.linux import capabilities as caps
from simcon.linux import lsm
from simcon.linux import namespaces as ns
from simcon.linux import process as proc
from simcon.linux import pty
from simcon.linux import seccomp
from simcon.linux import trampoline

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ExecPlan:
    """What the children of `exec` do, in plain values, built by ``runtime.exec`` before fork."""

    def __init__(self) -> None:
        self.container_id = ""
        self.init_pid = 0
        self.namespaces: list[tuple[int, int, str]] = []  # (fd of /proc/PID/ns/NAME, clone flag, NAME)
        self.root_fd = -1
        self.args: list[str] = []
        self.env: list[str] = []
        self.cwd = "/"
        self.uid = 0
        self.gid = 0
        self.additional_gids: list[int] = []
        self.umask: int | None = None
        self.terminal = False
        self.console_size: tuple[int, int] | None = None
        self.console_socket = None  # a connected socket the pty master is sent over
        self.no_new_privileges = False
        self.capabilities = None  # a runtime.security.CapsPlan, or None: keep SimCon's own
        self.rlimits: list[tuple[int, int, int]] = []
        self.seccomp = None  # the container's runtime.security.SeccompPlan
        self.exec_trampoline_fd = -1  # the sealed memfd the process execs through (linux.trampoline)
        self.apparmor_profile: str | None = None
        self.preserve_fds = 0


def run_exec_intermediate(plan: ExecPlan, channel: sync.Channel) -> None:
    """Body of the intermediate child; never returns."""
    step = "make the process non-dumpable"
    try:
        # Until execve this is the host's interpreter holding host fds: no process of the container may open its
        # /proc/PID/exe or fd entries meanwhile. execve of the program makes it dumpable again.
        proc.set_dumpable(False)
        step = "wait for the parent"
        channel.expect(sync.PROCEED, step)
        for fd, flag, name in plan.namespaces:
            step = f"join {name} namespace"
            ns.setns(fd, flag, f"/proc/{plan.init_pid}/ns/{name}")
        step = "fork the process"
        pid = os.fork()
        if pid == 0:
            _run_process(plan, channel)
        channel.send(sync.INIT_PID, pid=pid)
    except BaseException as exc:  # noqa: BLE001 - everything must reach the parent, nothing may unwind
        channel.report_failure(step, exc)
        sync.child_exit(1)
    sync.child_exit(0)


class _Process:
    """The exec'd process's steps before execve, in order."""

    def __init__(self, plan: ExecPlan, channel: sync.Channel) -> None:
        self.plan = plan
        self.channel = channel
        self.executable = ""

    def steps(self) -> list:
        p = self.plan
        steps = [("start a session", os.setsid), ("change root", self.change_root)]
        if p.terminal:
            steps.append(("set up the console", self.setup_console))
        if p.rlimits:
            steps.append(("set rlimits", self.set_rlimits))
        if p.seccomp is not None and not p.no_new_privileges:
            # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while we still have it.
            steps.append(("load the seccomp filter", self.load_seccomp))
        if p.capabilities is not None:
            steps.append(("drop capabilities from the bounding set", self.drop_bounding_capabilities))
        steps.append(("switch user", self.switch_user))
        if p.capabilities is not None:
            steps.append(("set capabilities", self.set_capabilities))
        steps += [
            ("change to the working directory", lambda: os.chdir(p.cwd)),
            ("find the executable", self.find_executable),
        ]
        return steps

    def change_root(self) -> None:
        p = self.plan
        os.fchdir(p.root_fd)
        os.chroot(".")
        for fd, _flag, _name in p.namespaces:
            os.close(fd)
        os.close(p.root_fd)

    def setup_console(self) -> None:
        """A new pty in the container's devpts; the master goes over the console socket, the slave is our stdio."""
        p = self.plan
        master, slave_path = pty.open_master("/dev/ptmx")
        try:
            if p.console_size:
                pty.set_window_size(master, *p.console_size)
            socket.send_fds(p.console_socket, [slave_path.encode()], [master])
        finally:
            os.close(master)
        p.console_socket.close()
        slave = os.open(slave_path, os.O_RDWR | os.O_CLOEXEC)
        os.fchown(slave, p.uid, p.gid)
        pty.make_controlling_terminal(slave)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.close(slave)

    def load_seccomp(self) -> None:
        try:
            seccomp.load(self.plan.seccomp.program, self.plan.seccomp.flags)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, "seccomp filter") from None

    def set_rlimits(self) -> None:
        for number, soft, hard in self.plan.rlimits:
            resource.setrlimit(number, (soft, hard))

    def drop_bounding_capabilities(self) -> None:
        c = self.plan.capabilities
        for bit in range(c.last_cap + 1):
            if not c.bounding & (1 << bit):
                caps.bounding_drop(bit)

    def switch_user(self) -> None:
        p = self.plan
        if p.capabilities is not None:
            caps.set_keepcaps(True)
        os.setgroups(p.additional_gids)
        os.setresgid(p.gid, p.gid, p.gid)
        os.setresuid(p.uid, p.uid, p.uid)
        if p.capabilities is not None:
            caps.set_keepcaps(False)

    def set_capabilities(self) -> None:
        c = self.plan.capabilities
        caps.capset(c.effective, c.permitted, c.inheritable)
        caps.ambient_clear_all()
        for bit in range(c.last_cap + 1):
            if c.ambient & (1 << bit):
                caps.ambient_raise(bit)

    def find_executable(self) -> None:
        name = self.plan.args[0]
        if "/" in name:
            os.stat(name)
            self.executable = name
            return
        path = DEFAULT_PATH
        for entry in self.plan.env:
            if entry.startswith("PATH="):
                path = entry[5:]
        for directory in path.split(":"):
            candidate = os.path.join(directory or ".", name)
            try:
                st = os.stat(candidate)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and os.access(candidate, os.X_OK):
                self.executable = candidate
                return
        raise _Failed(f'exec: "{name}": executable file not found in $PATH')

    def exec(self) -> None:
        p = self.plan
        env: dict[str, str] = {}
        for entry in p.env:
            key, sep, value = entry.partition("=")
            if sep:
                env[key] = value
        os.umask(p.umask if p.umask is not None else 0o022)
        # Python ignores SIGPIPE and SIGXFSZ and handles SIGINT; ignored signals survive execve, so undo that.
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        if p.no_new_privileges:
            proc.set_no_new_privs()
        # Only stdio and the preserved fds reach the process; the channel stays open (CLOEXEC) to report a
        # failing execve.
        if p.apparmor_profile:
            lsm.apparmor_exec(p.apparmor_profile)
        first = 3 + p.preserve_fds
        low = first
        for kept in sorted(fd for fd in (self.channel.fileno(), p.exec_trampoline_fd) if fd >= first):
            os.closerange(low, kept)
            low = kept + 1
        os.closerange(low, 1 << 20)
        if p.seccomp is not None and p.no_new_privileges:
            self.load_seccomp()  # last, so none of SimCon's own steps run under the container's filter
        if p.exec_trampoline_fd >= first:
            # Through the sealed trampoline, as the container init does (see linux.trampoline).
            argv = [trampoline.ARGV0, self.executable, *p.args]
            try:
                os.execve(f"/proc/self/fd/{p.exec_trampoline_fd}", argv, env)
            except FileNotFoundError:
                os.execve(p.exec_trampoline_fd, argv, env)
        os.execve(self.executable, p.args, env)


class _Failed(Exception):
    """A step failed for a reason that is not an OSError; the text is what the user sees."""


def _run_process(plan: ExecPlan, channel: sync.Channel) -> None:
    process = _Process(plan, channel)
    step = "start"
    try:
        for step, action in process.steps():
            action()
        step = "exec"
        process.exec()
    except BaseException as exc:  # noqa: BLE001
        channel.report_failure(step, exc)
    sync.child_exit(127)
