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

from simcon.init import process_setup, sync
from simcon.linux import lsm
from simcon.linux import namespaces as ns
from simcon.linux import process as proc
from simcon.linux import seccomp


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
        self.setgroups_denied = False  # the container's user namespace denies setgroups(2) (rootless)
        self.umask: int | None = None
        self.terminal = False
        self.console_size: tuple[int, int] | None = None
        self.console_socket = None  # a connected socket the pty master is sent over
        self.no_new_privileges = False
        self.capabilities = None  # a runtime.plan.capabilities.CapsPlan, or None: keep SimCon's own
        self.rlimits: list[tuple[int, int, int]] = []
        self.seccomp = None  # the container's runtime.plan.seccomp.SeccompPlan
        self.exec_trampoline_fd = -1  # the sealed memfd the process execs through (linux.trampoline)
        self.apparmor_profile: str | None = None
        self.selinux_label: str | None = None
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


class _Process(process_setup.ProcessSteps):
    """The exec'd process's steps before execve, in order."""

    def __init__(self, plan: ExecPlan, channel: sync.Channel) -> None:
        self.plan = plan
        self.channel = channel
        self.executable = ""

    def steps(self) -> list:
        p = self.plan
        steps = [("start a session", os.setsid), ("change root", self.change_root),
                 ("find HOME in /etc/passwd", self.find_home)]
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
        master, slave_path = process_setup.open_console(p.console_size)
        process_setup.hand_over_console(p.console_socket, master, slave_path, p.uid, p.gid)

    def load_seccomp(self) -> None:
        try:
            seccomp.load(self.plan.seccomp.program, self.plan.seccomp.flags)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, "seccomp filter") from None

    def exec(self) -> None:
        p = self.plan
        env = process_setup.environment(p.env, self.home)
        os.umask(p.umask if p.umask is not None else 0o022)
        process_setup.reset_signals()
        if p.no_new_privileges:
            proc.set_no_new_privs()
        # Only stdio and the preserved fds reach the process; the channel stays open (CLOEXEC) to report a
        # failing execve.
        if p.apparmor_profile:
            lsm.apparmor_exec(p.apparmor_profile)
        if p.selinux_label:
            lsm.selinux_exec(p.selinux_label)
        first = 3 + p.preserve_fds
        process_setup.close_fds_except(first, (self.channel.fileno(), p.exec_trampoline_fd))
        if p.seccomp is not None and p.no_new_privileges:
            self.load_seccomp()  # last, so none of SimCon's own steps run under the container's filter
        trampoline_fd = p.exec_trampoline_fd if p.exec_trampoline_fd >= first else -1
        process_setup.execve(self.executable, p.args, env, trampoline_fd)


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
