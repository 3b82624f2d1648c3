"""`exec`: start another process in a running container.

The process joins every namespace of the container's init (by its /proc/PID/ns files, see ``init.exec_init``)
and its cgroup, and starts from the container's own `process` (recorded in state.json at create) unless a
process.json or the flags say otherwise. In the foreground SimCon is a child subreaper, so the process (whose first
parent, the intermediate, exits at once) becomes its child: SimCon forwards signals to it, relays its terminal,
and exits with its status.
"""

from __future__ import annotations

import os
import _signal as signal  # the C module: `signal` builds enums on import (enum: ~5 ms per call)
import sys

from simcon import faults, interrupts
from simcon.errors import InvalidStateError, SimconError, UsageError
from simcon.init.plan import ExecLaunch
from simcon.linux import procfs
from simcon.runtime import status as st
from simcon.runtime.plan.options import ExecOptions
from simcon.runtime.state import ContainerState, StateStore, validate_id, write_atomically

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    import socket

    from simcon.init.plan import ExecPlan

__all__ = ["ExecOptions", "exec_in_container"]

# Joined in this order: the user namespace first (it grants the rights to join the others), the mount namespace
# last (after it the host's /proc is gone).
NAMESPACE_ORDER = ("user", "ipc", "uts", "net", "pid", "cgroup", "time", "mnt")


def exec_in_container(store: StateStore, container_id: str, options: ExecOptions) -> int:
    validate_id(container_id)
    if options.preserve_fds < 0:
        raise UsageError(f"--preserve-fds must not be negative (got {options.preserve_fds})")
    state = store.read_unlocked(container_id)
    status = st.derive_status(state, store.container_dir(container_id))
    if status == st.PAUSED and not options.ignore_paused:
        raise InvalidStateError(container_id, "exec in", status, "resume it first (or use --ignore-paused)")
    st.require("exec", status, container_id, verb="exec in")

    from simcon.runtime.plan import build_exec_plan

    plan = build_exec_plan(state, store.container_dir(container_id), options)
    launcher = _ExecLauncher(state, plan, options, join_cgroup_late=status == st.PAUSED)
    from simcon.runtime.forwarding import FORWARDED

    # Held back from the moment of fork until the handlers know whom to forward to: the process may run (and
    # be signalled by whoever watches it) before launch() returns. Its exec path clears the mask again.
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    try:
        try:
            pid = launcher.launch()
        finally:
            launcher.close()
        if options.pid_file:
            write_atomically(os.path.abspath(options.pid_file), str(pid).encode(), 0o644)
        if options.detach:
            # The process runs: exec has succeeded. A Ctrl-C or SIGTERM held since fork has nothing left to stop.
            interrupts.drop_pending()
            return 0
        return _wait_in_foreground(pid, launcher.console_master)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)


# --- launching ---------------------------------------------------------------------------------------------------


class _ExecLauncher:
    """The parent's side of ``init.exec_init``, with what it must undo when a step fails."""

    def __init__(self, state: ContainerState, plan: ExecPlan, options: ExecOptions, *, join_cgroup_late: bool) -> None:
        self.state = state
        self.plan = plan
        self.options = options
        self.join_cgroup_late = join_cgroup_late
        self.children = ExecLaunch()  # what the children get besides the plan: the fds opened here
        self.console_master: int | None = None
        self._receiver: socket.socket | None = None
        self._fds: list[int] = []

    def launch(self) -> int:
        from simcon.init import exec_init, sync

        state = self.state
        children = self.children
        self._open_namespaces()
        cgroups = self._cgroup_dirs()
        self._connect_console()
        from simcon.linux import trampoline

        if trampoline.usable():
            children.exec_trampoline_fd = trampoline.sealed_fd()
            self._fds.append(children.exec_trampoline_fd)
        if not self.options.detach:
            from simcon.linux import process as proc

            proc.set_child_subreaper(True)
        parent, child = sync.Channel.pair("exec'd process")
        sys.stdout.flush()
        sys.stderr.flush()
        intermediate = os.fork()
        if intermediate == 0:
            parent.close()
            exec_init.run_exec_intermediate(self.plan, children, child)
        child.close()
        self._close_fds()
        faults.point("exec:forked")
        pid = 0
        try:
            if not self.join_cgroup_late:
                _join_cgroups(cgroups, intermediate)
            parent.send(sync.PROCEED)
            pid = parent.expect(sync.INIT_PID, "join the container's namespaces")["pid"]
            faults.point("exec:pid-known")
            _reap(intermediate)
            intermediate = 0
            # EOF: the process's copy of the channel closed on execve; anything else is its report of a failure.
            parent.wait_for_exec("start the process")
            if self.join_cgroup_late:
                # A paused container: joining its frozen cgroup earlier would have frozen our own children.
                _join_cgroups(cgroups, pid)
        except BaseException as exc:
            problems = []
            for victim in (intermediate, pid):
                if victim:
                    try:
                        _kill(victim)
                        _reap(victim)
                    except OSError as cleanup:
                        problems.append(f"kill {victim}: {cleanup.strerror}")
            if isinstance(exc, SimconError):
                exc.add_cleanup_failures(problems)
            raise
        finally:
            parent.close()
        if self._receiver is not None:
            from simcon.runtime.console import receive_master

            self.console_master = receive_master(self._receiver)
        if not procfs.is_alive(state.pid, state.init_start_time):
            _kill(pid)
            raise SimconError("container stopped while the process was being started", container_id=state.id)
        return pid

    def _open_namespaces(self) -> None:
        """fds of the init's namespaces that differ from ours, opened while the init is checked to be itself."""
        from simcon.linux.namespaces import NAMESPACES

        state = self.state
        flags = {name: flag for flag, name in NAMESPACES.values()}
        try:
            for name in NAMESPACE_ORDER:
                path = f"/proc/{state.pid}/ns/{name}"
                try:
                    theirs = os.stat(path)
                except FileNotFoundError:
                    if name == "time":
                        continue  # a kernel without time namespaces
                    raise
                ours = os.stat(f"/proc/self/ns/{name}")
                if (theirs.st_dev, theirs.st_ino) == (ours.st_dev, ours.st_ino):
                    continue
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                self._fds.append(fd)
                self.children.namespaces.append((fd, flags[name], name))
            self.children.root_fd = os.open(f"/proc/{state.pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            self._fds.append(self.children.root_fd)
        except (FileNotFoundError, ProcessLookupError):
            raise InvalidStateError(state.id, "exec in", st.STOPPED) from None
        # Opened, then checked: had the pid been recycled in between, the start time would differ.
        if not procfs.is_alive(state.pid, state.init_start_time):
            raise InvalidStateError(state.id, "exec in", st.STOPPED)

    def _cgroup_dirs(self) -> list[str]:
        """The directories whose cgroup.procs the process joins: the container's, or its sub-cgroups (--cgroup)."""
        if self.state.cgroup is None:
            return []
        from simcon.cgroups import manager_from_state

        manager = manager_from_state(self.state.cgroup)
        plain, by_controller = _parse_cgroup_option(self.options.cgroup)
        dirs = []
        for cg in manager.cgroups:
            sub = plain
            for controller in cg.hierarchy.controllers:
                sub = by_controller.get(controller, sub)
            sub = by_controller.get(cg.hierarchy.key, sub)
            directory = os.path.normpath(os.path.join(cg.dir, sub)) if sub else cg.dir
            if not (directory + "/").startswith(cg.dir + "/"):
                raise UsageError(f"--cgroup {sub!r}: must stay inside the container's cgroup")
            if sub and not os.path.isdir(directory):
                raise UsageError(f"--cgroup {sub!r}: no such sub-cgroup `{directory}`")
            dirs.append(directory)
        return dirs

    def _connect_console(self) -> None:
        children = self.children
        if not self.plan.process.terminal:
            if self.options.console_socket:
                raise UsageError("--console-socket needs --tty (or terminal: true in the process)")
            return
        from simcon.runtime.console import connect_console_socket

        if self.options.console_socket:
            children.console_socket = connect_console_socket(self.options.console_socket)
            return
        if self.options.detach:
            raise UsageError("--tty with --detach needs --console-socket to receive the terminal")
        import socket

        self._receiver, children.console_socket = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def _close_fds(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []
        if self.children.console_socket is not None:
            self.children.console_socket.close()
            self.children.console_socket = None

    def close(self) -> None:
        self._close_fds()
        if self._receiver is not None:
            self._receiver.close()
            self._receiver = None


def _parse_cgroup_option(values: list[str]) -> tuple[str, dict[str, str]]:
    plain = ""
    by_controller: dict[str, str] = {}
    for value in values:
        controllers, sep, path = value.rpartition(":")
        path = path.lstrip("/")
        if not sep:
            plain = path
            continue
        for controller in controllers.split(","):
            by_controller[controller] = path
    return plain, by_controller


def _join_cgroups(dirs: list[str], pid: int) -> None:
    from simcon.cgroups import fs

    for directory in dirs:
        fs.write(directory, "cgroup.procs", str(pid))


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


# --- the foreground ----------------------------------------------------------------------------------------------


def _wait_in_foreground(pid: int, console_master: int | None) -> int:
    from simcon.monitor.waiter import exit_code, wait_for
    from simcon.runtime.forwarding import FORWARDED, forwarding_to

    relay = None
    if console_master is not None:
        from simcon.runtime.console import Relay

        relay = Relay(console_master)
    with forwarding_to(pid):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)  # what came since fork is forwarded now
        try:
            if relay is not None:
                relay.start()
            status = wait_for(pid)
        finally:
            if relay is not None:
                relay.finish()
    return exit_code(status)
