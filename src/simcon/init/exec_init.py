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
from simcon.init.plan import ExecLaunch, ExecPlan
from simcon.linux import namespaces as ns
from simcon.linux import process as proc

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.init.process_setup import Step


def run_exec_intermediate(plan: ExecPlan, launch: ExecLaunch, channel: sync.Channel) -> None:
    """Body of the intermediate child; never returns."""
    step = "make the process non-dumpable"
    try:
        # Until execve this is the host's interpreter holding host fds: no process of the container may open its
        # /proc/PID/exe or fd entries meanwhile. execve of the program makes it dumpable again.
        proc.set_dumpable(False)
        step = "wait for the parent"
        channel.expect(sync.PROCEED, step)
        for fd, flag, name in launch.namespaces:
            step = f"join {name} namespace"
            ns.setns(fd, flag, f"/proc/{plan.init_pid}/ns/{name}")
        step = "fork the process"
        pid = os.fork()
        if pid == 0:
            _run_process(plan, launch, channel)
        channel.send(sync.INIT_PID, pid=pid)
    except BaseException as exc:  # noqa: BLE001 - everything must reach the parent, nothing may unwind
        channel.report_failure(step, exc)
        sync.child_exit(1)
    sync.child_exit(0)


class _Process(process_setup.ProcessTail):
    """The exec'd process's steps before execve, in order: its own first, then the tail it shares with the
    container init (``process_setup.ProcessTail``)."""

    def __init__(self, plan: ExecPlan, launch: ExecLaunch, channel: sync.Channel) -> None:
        super().__init__(plan.process, plan.seccomp)
        self.plan = plan
        self.launch = launch
        self.channel = channel

    def steps(self) -> list[Step]:
        steps: list[Step] = [("start a session", os.setsid), ("change root", self.change_root),
                             ("find HOME in /etc/passwd", self.find_home)]
        if self.process.terminal:
            steps.append(("set up the console", self.setup_console))
        return steps + self.setup_steps()

    def change_root(self) -> None:
        launch = self.launch
        os.fchdir(launch.root_fd)
        os.chroot(".")
        for fd, _flag, _name in launch.namespaces:
            os.close(fd)
        os.close(launch.root_fd)

    def setup_console(self) -> None:
        """A new pty in the container's devpts; the master goes over the console socket, the slave is our stdio."""
        process = self.process
        master, slave_path = process_setup.open_console(process.console_size)
        process_setup.hand_over_console(self.launch.console_socket, master, slave_path, process.uid, process.gid)

    def exec(self) -> None:
        # The channel stays open (CLOEXEC) to report a failing execve.
        for _step, action in self.exec_steps((self.channel.fileno(),), self.launch.exec_trampoline_fd):
            action()


def _run_process(plan: ExecPlan, launch: ExecLaunch, channel: sync.Channel) -> None:
    process = _Process(plan, launch, channel)
    step = "start"
    try:
        for step, action in process.steps():
            action()
        step = "exec"
        process.exec()
    except BaseException as exc:  # noqa: BLE001
        channel.report_failure(step, exc)
    sync.child_exit(127)
