"""`create`: from a bundle to an init parked on exec.fifo, or to nothing at all.

Everything that can be checked is checked before fork, in one frozen plan (``runtime.plan``); every resource made
afterwards is recorded on the launcher, which undoes them all on any failure, so a failed create leaves no state
directory, cgroup, mount or process behind.
"""

from __future__ import annotations

import os
import sys

from simcon import fastjson, faults, interrupts
from simcon.errors import SimconError
from simcon.init.plan import ContainerLaunch
from simcon.linux import procfs
from simcon.linux.pidfd import kill_and_wait
from simcon.runtime import status as st
from simcon.runtime.plan.options import CreateOptions
from simcon.runtime.state import ContainerState, LockedContainer, StateStore, utc_timestamp, validate_id, write_atomically
from simcon.version import OCI_VERSION

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    import socket

    from simcon.cgroups import CgroupManager
    from simcon.init.plan import MountPlan
    from simcon.init.sync import Channel
    from simcon.runtime.plan import CreatePlan
    from simcon.runtime.plan.cgroup import CgroupRequest

__all__ = ["CreateOptions", "Created", "create_container"]


class Created:
    """What `create` hands back: the state, and for a relayed terminal the pty master."""

    __slots__ = ("state", "console_master")

    def __init__(self, state: ContainerState, console_master: int | None) -> None:
        self.state = state
        self.console_master = console_master


def create_container(store: StateStore, container_id: str, options: CreateOptions, *,
                     hold_signals_after_commit: bool = False) -> Created:
    """Create the container. Once it exists as asked (the commit point), SIGINT/SIGTERM have nothing left to undo:
    a pending one is dropped, and with ``hold_signals_after_commit`` (the `create` verb, which only exits next)
    both stay held until the process ends, so none can turn a created container into a failed command."""
    validate_id(container_id)
    if options.preserve_fds < 0:
        raise SimconError(f"--preserve-fds must not be negative (got {options.preserve_fds})")
    from simcon.runtime.plan import plan_create

    plan = plan_create(store, container_id, options)
    faults.point("create:planned")

    # From the directory made to the undo armed, signals wait: Ctrl-C in between would leave a stray directory.
    held = interrupts.block()
    try:
        locked = store.create_dir(container_id)
    except BaseException:
        interrupts.restore(held)
        raise
    state = ContainerState(
        oci_version=OCI_VERSION, id=container_id, status=st.CREATING, bundle=plan.bundle, rootfs=plan.container.rootfs,
        created=utc_timestamp(), annotations=dict(plan.annotations), creator_pid=os.getpid(),
        creator_start_time=procfs.start_time(os.getpid()),
        own_pid_namespace="pid" in plan.container.own_namespaces,
        poststart_hooks=[h.to_json() for h in plan.hooks.poststart],
        poststop_hooks=[h.to_json() for h in plan.hooks.poststop],
        process=plan.process_record,
    )
    launcher = _Launcher(locked, state, plan)
    master = None
    try:
        interrupts.restore(held)  # a signal held since create_dir is raised here, inside the try: undo runs
        faults.point("create:dir-made")
        locked.write(state)
        if plan.network is not None:
            from simcon.runtime.network import attach_network

            attach_network(plan.network, locked, state)  # CNI ADD, before any container process exists
        launcher.launch()
        if launcher.console_receiver is not None:
            from simcon.runtime.console import receive_master

            master = receive_master(launcher.console_receiver)
        if plan.pid_file:
            write_atomically(plan.pid_file, str(state.pid).encode(), 0o644)
        faults.point("create:done")
        # Committed: the container exists as asked. A signal from here on has nothing left to undo: dropped.
        committed = interrupts.block()
    except BaseException as exc:
        with interrupts.deferred():  # the rollback runs to its end, whatever signal comes
            launcher.undo(exc)
        raise
    finally:
        locked.release()
        launcher.close()
    interrupts.drop_pending()
    if not hold_signals_after_commit:
        interrupts.restore(committed)
    return Created(state, master)


def _expect(channel: Channel, kind: str, waiting_for: str, timeout: float) -> dict:
    """``channel.expect`` with a deadline: a child that hangs (a stuck mount, a hook without a timeout) is
    reported and, by the caller's undo, killed, instead of being waited on forever."""
    from simcon.errors import InitError
    from simcon.runtime.plan.hooks import START_TIMEOUT_ANNOTATION

    channel.sock.settimeout(timeout)
    try:
        return channel.expect(kind, waiting_for)
    except TimeoutError as exc:
        raise InitError(waiting_for, f"the {channel.peer} did not answer within {timeout:g}s; killed it "
                                     f"(annotation {START_TIMEOUT_ANNOTATION} sets the limit)") from exc


class _Launcher:
    """The parent's side of the sync protocol (see ``simcon.init.sync``): carries a plan out and keeps what the
    launch learns (``ContainerLaunch`` for the children; pids, the cgroup, fds for itself) and must undo."""

    def __init__(self, locked: LockedContainer, state: ContainerState, plan: CreatePlan) -> None:
        self.locked = locked
        self.state = state
        self.plan = plan
        self.cgroups: CgroupManager | None = None
        self.intermediate_pid = 0
        self.init_pid = 0
        self.children = ContainerLaunch()
        self.console_receiver: socket.socket | None = None  # our end of a relayed terminal
        self.forked = False  # from here on the container exists for the hooks: a failure runs the poststop hooks

    def launch(self) -> None:
        from simcon.init import container_init, sync
        from simcon.init.syscalls import LINUX

        plan = self.plan
        container = plan.container
        children = self.children
        if container.sync_create_hooks:
            import simcon.init.hooks  # noqa: F401 - the init runs hooks after pivot_root, when imports fail

        self._connect_console()
        if container.seccomp is not None and container.seccomp.listener_path:
            from simcon.runtime.plan.seccomp import connect_listener

            children.seccomp_listener = connect_listener(container.seccomp.listener_path, plan.seccomp_file)
        self._create_cgroup()
        os.mkfifo(self.locked.fifo_path, 0o622)
        # Explicitly, past the umask: the init opens it after switching to the container's user.
        os.chmod(self.locked.fifo_path, 0o622)
        # With the host's privileges, before fork: the init inherits them (see _open_idmapped_trees).
        children.idmapped_trees = _open_idmapped_trees(container.mounts)
        children.state_dir_fd = os.open(self.locked.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        from simcon.runtime.state import save_seccomp

        save_seccomp(container.seccomp, self.locked.path)  # for `exec`
        from simcon.linux import trampoline

        if trampoline.usable():
            children.exec_trampoline_fd = trampoline.sealed_fd()
        parent_inter, child_inter = sync.Channel.pair("intermediate process")
        parent_init, child_init = sync.Channel.pair("container init")
        # Every fd the children need; nothing else of ours may reach the init (it lives on, parked until start).
        keep = (child_inter.fileno(), child_init.fileno(), children.state_dir_fd, children.exec_trampoline_fd,
                children.seccomp_listener.fileno() if children.seccomp_listener is not None else -1,
                children.console_socket.fileno() if children.console_socket is not None else -1,
                *children.idmapped_trees.values())
        sys.stdout.flush()
        sys.stderr.flush()
        with interrupts.deferred():  # no Ctrl-C between fork and the child's reset, nor before the pid is known
            pid = os.fork()
            if pid == 0:
                interrupts.reset_in_child()
                # Not the container's lock (flock belongs to the open file, and the init lives on), nor a pipe
                # of whoever ran us (`run -d`'s monitor waits for EOF on its report pipe): only what `keep` says.
                self.locked.release()
                parent_inter.close()
                parent_init.close()
                LINUX.close_fds_except(3 + container.process.preserve_fds, keep)
                container_init.run_intermediate(container, children, child_inter, child_init)
            self.intermediate_pid = pid
        self.forked = True
        faults.point("create:forked")
        child_inter.close()
        child_init.close()
        self._close_children_fds()
        try:
            if self.cgroups is not None:
                self.cgroups.add_process(pid)
            parent_inter.send(sync.PROCEED)
            if container.new_user_namespace:
                _write_id_maps(parent_inter, pid, plan)
            message = _expect(parent_inter, sync.INIT_PID, "start the container init", plan.start_timeout)
            self.init_pid = message["pid"]
            _reap(pid)
            self.intermediate_pid = 0
            self.state.pid = self.init_pid
            self.state.init_start_time = procfs.start_time(self.init_pid)
            self.locked.write(self.state)
            faults.point("create:init-pid-recorded")
            if container.sync_create_hooks:
                _expect(parent_init, sync.RUN_CREATE_HOOKS, "set up the rootfs", plan.start_timeout)
                self._run_create_runtime_hooks()
                faults.point("create:create-runtime-hooks-done")
                parent_init.send(sync.HOOKS_DONE, state=self.state.hook_view(st.CREATING))
            _expect(parent_init, sync.READY, "set up the container", plan.start_timeout)
            faults.point("create:init-ready")
        finally:
            parent_inter.close()
            parent_init.close()
        self.state.status = st.CREATED
        self.locked.write(self.state)

    def _connect_console(self) -> None:
        """The socket the init will send its pty master over: --console-socket, or our own for a relay."""
        if self.plan.console_socket is not None:
            from simcon.runtime.console import connect_console_socket

            self.children.console_socket = connect_console_socket(self.plan.console_socket)
        elif self.plan.relay_terminal:
            import socket

            self.console_receiver, self.children.console_socket = socket.socketpair(socket.AF_UNIX,
                                                                                    socket.SOCK_STREAM)

    def _create_cgroup(self) -> None:
        from simcon.cgroups import open_manager

        request = self.plan.cgroup
        cgroups = open_manager(request.path, self.plan.container_id, systemd=request.systemd,
                               rootless=request.rootless)
        # Recorded before mkdir: a create killed between the two still leaves `delete` what to remove.
        self.state.cgroup = cgroups.planned_state()
        self.locked.write(self.state)
        faults.point("create:cgroups-recorded")
        self.state.cgroup = None
        with interrupts.deferred():  # made and known to undo() as one step
            if _create_cgroups(cgroups, request, self.plan.container_id):
                self.cgroups = cgroups
        if self.cgroups is None:
            return
        from simcon.runtime.cgroup_ops import apply_resources

        apply_resources(cgroups, request)
        self.state.cgroup = cgroups.to_state()
        faults.point("create:cgroups-made")
        self.children.unified_cgroup_only = cgroups.mode == "unified"
        self.children.cgroup_binds = [(cg.dir, os.path.basename(cg.hierarchy.mount_point)) for cg in cgroups.cgroups]

    def _close_children_fds(self) -> None:
        """Once the children hold their copies: ours are not needed (the init's listener socket is the one that
        talks to the listener, its console socket the one that sends the master)."""
        children = self.children
        if children.state_dir_fd >= 0:
            os.close(children.state_dir_fd)
            children.state_dir_fd = -1
        if children.exec_trampoline_fd >= 0:
            os.close(children.exec_trampoline_fd)
            children.exec_trampoline_fd = -1
        if children.seccomp_listener is not None:
            children.seccomp_listener.close()
            children.seccomp_listener = None
        for fd in children.idmapped_trees.values():
            os.close(fd)
        children.idmapped_trees = {}

    def close(self) -> None:
        """Close what the launch kept open, whether it succeeded or not."""
        self._close_children_fds()
        if self.children.console_socket is not None:
            self.children.console_socket.close()
            self.children.console_socket = None
        if self.console_receiver is not None:
            self.console_receiver.close()
            self.console_receiver = None

    def _run_create_runtime_hooks(self) -> None:
        from simcon.init.hooks import run_hooks

        state_json = fastjson.dumps(self.state.hook_view(st.CREATING)).encode()
        run_hooks("prestart", list(self.plan.hooks.prestart), state_json)
        run_hooks("createRuntime", list(self.plan.hooks.create_runtime), state_json)

    def undo(self, cause: BaseException) -> None:
        """Remove everything launch() made. A failure here is attached to the original error, not lost."""
        problems: list[str] = []
        for pid in (self.intermediate_pid, self.init_pid):
            if pid:
                try:
                    kill_and_wait(pid, None)
                except OSError as exc:
                    problems.append(f"kill {pid}: {exc.strerror}")
        if self.intermediate_pid:
            _reap(self.intermediate_pid)
        if self.cgroups is not None:
            try:
                self.cgroups.destroy()
            except (OSError, SimconError) as exc:
                problems.append(str(exc))
        if self.state.network:
            from simcon.runtime.network import detach_network

            problems += detach_network(self.state, raise_errors=False)
        if self.forked and self.state.poststop_hooks:
            # runtime-spec lifecycle: a failed create "continues the lifecycle at step 12", the poststop hooks.
            from simcon.runtime.operations import run_hooks_warning

            run_hooks_warning("poststop", self.state, st.STOPPED, self.state.poststop_hooks)
        try:
            self.locked.remove()
        except OSError as exc:
            problems.append(f"remove {self.locked.path}: {exc.strerror}")
        if isinstance(cause, SimconError):
            cause.add_cleanup_failures(problems)


def _open_idmapped_trees(mounts: tuple[MountPlan, ...]) -> dict[int, int]:
    """In the parent, before fork: the detached idmapped copy of each idmapped mount's source, by mount index.

    Done here, with the host's privileges, because the kernel only idmaps a mount for a caller privileged over
    the filesystem, which an init in a user namespace is not. The init inherits the fds and attaches the trees
    (move_mount). ``InitError`` names the mount that failed.
    """
    from simcon.errors import InitError
    from simcon.linux import mount as m
    from simcon.linux.idmapped import clone_idmapped

    trees: dict[int, int] = {}
    try:
        for mp in mounts:
            if mp.idmap is None:
                continue
            try:
                trees[mp.index] = clone_idmapped(mp.source, mp.idmap.uid_map, mp.idmap.gid_map,
                                                 recursive_bind=bool(mp.flags & m.MS_REC),
                                                 recursive_idmap=mp.idmap.recursive)
            except OSError as exc:
                raise InitError(f"mount {mp.describe()}", exc.strerror or str(exc), errno=exc.errno or 0,
                                path=exc.filename or "") from exc
    except BaseException:
        for fd in trees.values():
            os.close(fd)
        raise
    return trees


def _create_cgroups(cgroups: CgroupManager, request: CgroupRequest, container_id: str) -> bool:
    """Create the container's cgroup; False when a rootless container runs without one.

    As runc does: a rootless container whose user may not write the cgroup hierarchy runs in the cgroup of its
    creator, and its linux.resources are ignored with a warning (they cannot be applied)."""
    import errno

    from simcon import log
    from simcon.errors import CgroupError

    try:
        cgroups.create()
        return True
    except CgroupError as exc:
        if not request.rootless or exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        where = exc.path or "the cgroup hierarchy"
    if request.sets_resources:
        log.warning(f"{container_id}: rootless: no cgroup (this user cannot create {where}); "
                    "linux.resources ignored")
    else:
        log.debug(f"{container_id}: rootless: no cgroup (this user cannot create {where})")
    return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _write_id_maps(channel: Channel, pid: int, plan: CreatePlan) -> None:
    """The parent's part of a new user namespace: the intermediate has unshared it and waits for its maps."""
    from simcon.errors import ConfigError
    from simcon.init import sync

    config_file = plan.config_file
    channel.expect(sync.IDMAP_REQUEST, "create the user namespace")
    setgroups_denied = plan.container.process.setgroups_denied
    if setgroups_denied:
        try:
            with open(f"/proc/{pid}/setgroups", "w") as f:
                f.write("deny")
        except OSError as exc:
            raise ConfigError(config_file, "linux.gidMappings",
                              f"cannot deny setgroups for the new user namespace ({exc.strerror})") from exc
    if plan.container.id_map_helpers:
        setgroups_denied = _run_id_map_helpers(pid, plan)
        writes = ()
    else:
        writes = (("uid_map", "uidMappings", plan.uid_mappings), ("gid_map", "gidMappings", plan.gid_mappings))
    for name, field, maps in writes:
        text = "".join(f"{inside} {outside} {size}\n" for inside, outside, size in maps)
        try:
            fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, text.encode())  # the kernel takes a map in one write only
            finally:
                os.close(fd)
        except OSError as exc:
            raise ConfigError(config_file, f"linux.{field}", f"the kernel refused the map ({exc.strerror})") from exc
    channel.send(sync.IDMAP_DONE, setgroups_denied=setgroups_denied)


def _run_id_map_helpers(pid: int, plan: CreatePlan) -> bool:
    """newuidmap/newgidmap write maps beyond the user's own ids, as /etc/subuid and /etc/subgid allow. Returns
    whether newgidmap denied setgroups in the new user namespace (shadow does when no subgid range allows it)."""
    import subprocess

    from simcon.errors import ConfigError

    config_file = plan.config_file
    for helper, field, maps in (("newuidmap", "uidMappings", plan.uid_mappings),
                                ("newgidmap", "gidMappings", plan.gid_mappings)):
        argv = [helper, str(pid)] + [str(n) for triple in maps for n in triple]
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(config_file, f"linux.{field}", f"{helper} failed: {exc}") from exc
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            said = said.removeprefix(f"{helper}: ")
            raise ConfigError(config_file, f"linux.{field}", f"{helper} refused the map: {said} "
                                                             "(see /etc/subuid and /etc/subgid)")
    setgroups_denied = plan.container.process.setgroups_denied
    try:
        with open(f"/proc/{pid}/setgroups") as f:
            setgroups_denied = f.read().strip() == "deny"
    except OSError:
        pass
    if setgroups_denied and plan.container.process.additional_gids:
        raise ConfigError(config_file, "process.user.additionalGids",
                          "rootless: newgidmap denied setgroups in the user namespace, so no supplementary groups")
    return setgroups_denied
