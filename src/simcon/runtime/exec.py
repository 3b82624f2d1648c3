"""`exec`: start another process in a running container.

The process joins every namespace of the container's init (by its /proc/PID/ns files, see ``init.exec_init``)
and its cgroup, and starts from the container's own `process` (recorded in state.json at create) unless a
process.json or the flags say otherwise. In the foreground SimCon is a child subreaper, so the process (whose first
parent, the intermediate, exits at once) becomes its child: SimCon forwards signals to it, relays its terminal,
and exits with its status.
"""

from __future__ import annotations

import os
import signal
import sys

from simcon import faults, interrupts
from simcon.errors import ConfigError, InvalidStateError, SimconError, UsageError
from simcon.linux import procfs
from simcon.runtime import status as st
from simcon.runtime.state import ContainerState, StateStore, validate_id, write_atomically

# Joined in this order: the user namespace first (it grants the rights to join the others), the mount namespace
# last (after it the host's /proc is gone).
NAMESPACE_ORDER = ("user", "ipc", "uts", "net", "pid", "cgroup", "time", "mnt")


class ExecOptions:
    """What `simcon exec` was asked for, besides the container id."""

    def __init__(self, **fields: object) -> None:
        self.process_file: str | None = None
        self.args: list[str] = []
        self.detach = False
        self.tty = False
        self.cwd: str | None = None
        self.env: list[str] = []
        self.user: str | None = None
        self.additional_gids: list[int] = []
        self.caps: list[str] = []
        self.no_new_privs = False
        self.apparmor: str | None = None
        self.process_label: str | None = None
        self.pid_file: str | None = None
        self.console_socket: str | None = None
        self.preserve_fds = 0
        self.cgroup: list[str] = []
        self.ignore_paused = False
        for name, value in fields.items():
            if not hasattr(self, name):
                raise TypeError(f"unknown exec option {name!r}")
            setattr(self, name, value)


def exec_in_container(store: StateStore, container_id: str, options: ExecOptions) -> int:
    validate_id(container_id)
    if options.preserve_fds < 0:
        raise UsageError(f"--preserve-fds must not be negative (got {options.preserve_fds})")
    state = store.read_unlocked(container_id)
    status = st.derive_status(state, store.container_dir(container_id))
    if status == st.PAUSED and not options.ignore_paused:
        raise InvalidStateError(container_id, "exec in", status, "resume it first (or use --ignore-paused)")
    if status not in (st.CREATED, st.RUNNING, st.PAUSED):
        raise InvalidStateError(container_id, "exec in", status)

    process, source = _process_for(state, options)
    plan = _plan(process, source, state, options)
    plan.seccomp = _container_seccomp(state, store.container_dir(container_id))
    launcher = _ExecLauncher(state, plan, options, join_cgroup_late=status == st.PAUSED)
    from simcon.runtime.run import FORWARDED

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


# --- the process -------------------------------------------------------------------------------------------------


def _process_for(state: ContainerState, options: ExecOptions):  # noqa: ANN202
    """The OCI process to run and the file its errors should name."""
    from simcon.spec.load import decode_process, read_json_file

    if options.process_file:
        # As runc: a process.json is the whole process; the process flags do not amend it.
        file = os.path.abspath(options.process_file)
        if not os.path.lexists(file):
            raise ConfigError(file, "", "no such file (given by --process)")
        return decode_process(read_json_file(file), file), file
    if not options.args:
        raise UsageError("give a COMMAND, or a process.json with --process")
    base = _container_process(state)
    process = _amend(base, options)
    return process, "exec"


def _container_process(state: ContainerState):  # noqa: ANN202
    import msgspec

    from simcon.spec.model import Process

    if state.process is not None:
        return msgspec.convert(state.process, Process)
    # A container created before SimCon recorded the process: fall back to the bundle's config.
    from simcon.spec.load import load_config

    process = load_config(state.bundle).process
    if process is None:
        raise UsageError(f"container `{state.id}` has no `process` in its config to start from: give the whole "
                         "process with --process FILE")
    return process


def _amend(base, options: ExecOptions):  # noqa: ANN001, ANN202
    """runc's rules: args replace, env appends (a later KEY wins), the rest overrides what is given."""
    import msgspec

    from simcon.spec.model import Capabilities

    if options.cwd is not None and not os.path.isabs(options.cwd):
        raise UsageError(f"--cwd {options.cwd!r}: must be an absolute path")
    user = base.user
    uid, gid = user.uid, user.gid
    if options.user:
        uid, gid = _parse_user(options.user, gid)
    user = msgspec.structs.replace(user, uid=uid, gid=gid,
                                   additional_gids=list(user.additional_gids) + list(options.additional_gids))
    capabilities = base.capabilities
    if options.caps:
        _check_cap_names(options.caps)
        capabilities = capabilities or Capabilities()
        capabilities = msgspec.structs.replace(
            capabilities,
            bounding=_union(capabilities.bounding, options.caps),
            effective=_union(capabilities.effective, options.caps),
            permitted=_union(capabilities.permitted, options.caps),
        )
    return msgspec.structs.replace(
        base,
        args=list(options.args),
        env=list(base.env) + list(options.env),
        cwd=options.cwd or base.cwd,
        user=user,
        terminal=options.tty,
        capabilities=capabilities,
        no_new_privileges=base.no_new_privileges or options.no_new_privs,
        apparmor_profile=options.apparmor or base.apparmor_profile,
        selinux_label=options.process_label or base.selinux_label,
    )


def _union(existing: list[str], added: list[str]) -> list[str]:
    return list(existing) + [c for c in added if c not in existing]


def _parse_user(text: str, default_gid: int) -> tuple[int, int]:
    uid_text, sep, gid_text = text.partition(":")
    try:
        uid = int(uid_text)
        gid = int(gid_text) if sep else default_gid
        if uid < 0 or gid < 0 or uid > 0xFFFFFFFF or gid > 0xFFFFFFFF:
            raise ValueError
    except ValueError:
        raise UsageError(f"--user {text!r}: expected UID[:GID] as numbers") from None
    return uid, gid


def _check_cap_names(names: list[str]) -> None:
    try:
        from simcon.spec.constants import CAPABILITIES
    except ImportError:
        return
    for name in names:
        if name not in CAPABILITIES:
            raise UsageError(f"--cap {name!r}: unknown capability (names look like CAP_NET_ADMIN)")


def _plan(process, source: str, state: ContainerState, options: ExecOptions):  # noqa: ANN001, ANN202
    from simcon.init.exec_init import ExecPlan

    if not process.args:
        raise ConfigError(source, "args", "no command to run")
    plan = ExecPlan()
    plan.container_id = state.id
    plan.init_pid = state.pid
    plan.args = list(process.args)
    plan.env = list(process.env or [])
    plan.cwd = process.cwd or "/"
    plan.uid = process.user.uid or 0
    plan.gid = process.user.gid or 0
    plan.additional_gids = list(process.user.additional_gids or [])
    plan.setgroups_denied = _setgroups_denied(state.pid)
    if plan.setgroups_denied and plan.additional_gids:
        raise ConfigError(source, "user.additionalGids", "the container's user namespace denies setgroups "
                                                         "(a rootless container): no supplementary groups")
    plan.umask = process.user.umask
    plan.terminal = bool(process.terminal)
    if process.console_size is not None:
        plan.console_size = (process.console_size.height, process.console_size.width)
    plan.no_new_privileges = bool(process.no_new_privileges)
    plan.preserve_fds = options.preserve_fds
    if not os.path.isabs(plan.cwd):
        raise ConfigError(source, "cwd", f"must be an absolute path (got {plan.cwd!r})")
    _plan_security(plan, process, source)
    return plan


def _own_user_namespace(pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    except OSError:
        return False


def _setgroups_denied(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/setgroups", "rb") as f:
            return f.read().strip() == b"deny"
    except OSError:
        return False


def _container_seccomp(state: ContainerState, directory: str):  # noqa: ANN202
    """The container's seccomp filter, which every exec'd process gets too (as in runc): as create compiled it
    (kept in the state directory), or compiled again from the bundle for a container created without that."""
    from simcon.runtime.state import saved_seccomp

    found, plan = saved_seccomp(directory)
    if not found:
        from simcon.runtime.plan.seccomp import seccomp_plan
        from simcon.spec.load import load_config

        seccomp = load_config(state.bundle).linux.seccomp
        if seccomp is None:
            return None
        plan = seccomp_plan(seccomp, os.path.join(state.bundle, "config.json"))
    if plan is None:
        return None
    if plan.listener_path:
        from simcon.errors import UnsupportedError

        raise UnsupportedError(f"exec `{state.id}`: the container's seccomp profile uses SCMP_ACT_NOTIFY, which "
                               "SimCon does not support for exec'd processes yet", container_id=state.id)
    return plan


_LSM_FLAGS = {"process.apparmorProfile": "--apparmor", "process.selinuxLabel": "--process-label"}


def _plan_security(plan, process, source: str) -> None:  # noqa: ANN001
    from simcon.runtime.plan import capabilities, lsm_labels, rlimits

    try:
        plan.apparmor_profile = lsm_labels.check_lsm_labels(process, None, source, "" if source != "exec" else "process.")
        plan.selinux_label = lsm_labels.selinux_labels(process, None, source, "" if source != "exec" else "process.")[0]
    except ConfigError as exc:
        flag = _LSM_FLAGS.get(exc.json_path)
        if source != "exec" or flag is None:
            raise
        raise UsageError(f"{flag}: {exc.problem}") from None
    # Joining a user namespace of the container's own, the process holds every capability of its bounding set.
    own = capabilities.bounding_set() if _own_user_namespace(plan.init_pid) else None
    plan.capabilities = capabilities.capabilities_plan(process.capabilities, source,
                                                       "" if source != "exec" else "process.", own_permitted=own)
    plan.rlimits = rlimits.rlimits_plan(process.rlimits, source, "" if source != "exec" else "process.")


# --- launching ---------------------------------------------------------------------------------------------------


class _ExecLauncher:
    """The parent's side of ``init.exec_init``, with what it must undo when a step fails."""

    def __init__(self, state: ContainerState, plan, options: ExecOptions, *, join_cgroup_late: bool) -> None:  # noqa: ANN001
        self.state = state
        self.plan = plan
        self.options = options
        self.join_cgroup_late = join_cgroup_late
        self.console_master: int | None = None
        self._receiver = None
        self._fds: list[int] = []

    def launch(self) -> int:
        from simcon.init import exec_init, sync

        plan = self.plan
        state = self.state
        self._open_namespaces()
        cgroups = self._cgroup_dirs()
        self._connect_console()
        from simcon.linux import trampoline

        if trampoline.usable():
            plan.exec_trampoline_fd = trampoline.sealed_fd()
            self._fds.append(plan.exec_trampoline_fd)
        if not self.options.detach:
            from simcon.linux import process as proc

            proc.set_child_subreaper(True)
        parent, child = sync.Channel.pair("exec'd process")
        sys.stdout.flush()
        sys.stderr.flush()
        intermediate = os.fork()
        if intermediate == 0:
            parent.close()
            exec_init.run_exec_intermediate(plan, child)
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
            data = parent.sock.recv(65536)
            if data:
                parent.sock.close()
                _raise_reported(data, "start the process")
            if self.join_cgroup_late:
                # A paused container: joining its frozen cgroup earlier would have frozen our own children.
                _join_cgroups(cgroups, pid)
        except BaseException:
            for victim in (intermediate, pid):
                if victim:
                    _kill(victim)
                    _reap(victim)
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
                self.plan.namespaces.append((fd, flags[name], name))
            self.plan.root_fd = os.open(f"/proc/{state.pid}/root", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            self._fds.append(self.plan.root_fd)
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
        plan = self.plan
        if not plan.terminal:
            if self.options.console_socket:
                raise UsageError("--console-socket needs --tty (or terminal: true in the process)")
            return
        from simcon.runtime.console import connect_console_socket

        if self.options.console_socket:
            plan.console_socket = connect_console_socket(self.options.console_socket)
            return
        if self.options.detach:
            raise UsageError("--tty with --detach needs --console-socket to receive the terminal")
        import socket

        self._receiver, plan.console_socket = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)

    def _close_fds(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []
        if self.plan.console_socket is not None:
            self.plan.console_socket.close()
            self.plan.console_socket = None

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


def _raise_reported(data: bytes, waiting_for: str) -> None:
    import json

    from simcon.errors import InitError

    try:
        message = json.loads(data)
    except ValueError:
        raise InitError(waiting_for, f"protocol error: unreadable message {data[:80]!r}") from None
    raise InitError(message.get("step", waiting_for), message.get("message", "failed"),
                    errno=message.get("errno", 0), path=message.get("path", ""))


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
    from simcon.runtime.run import FORWARDED, exit_code

    relay = None
    if console_master is not None:
        from simcon.runtime.console import Relay

        relay = Relay(console_master)

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    previous = {sig: signal.signal(sig, forward) for sig in FORWARDED}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    try:
        if relay is not None:
            relay.start()
        status = _wait_for(pid)
    finally:
        if relay is not None:
            relay.finish()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return exit_code(status)


def _wait_for(pid: int) -> int:
    while True:
        try:
            reaped, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 0
        if reaped == pid:
            return status
