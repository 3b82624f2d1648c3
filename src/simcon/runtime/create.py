"""`create`: from a bundle to an init parked on exec.fifo, or to nothing at all.

Everything that can be checked is checked before fork (config, plan, id); every resource made afterwards is
recorded on a cleanup stack that unwinds on any failure, so a failed create leaves no state directory, cgroup,
mount or process behind.
"""

from __future__ import annotations

import json
import os
import sys

from simcon import faults, interrupts
from simcon.version import OCI_VERSION
from simcon.errors import SimconError, UnsupportedError
from simcon.linux import procfs
from simcon.linux.pidfd import kill_and_wait
from simcon.runtime import status as st
from simcon.runtime.state import ContainerState, LockedContainer, StateStore, utc_timestamp, validate_id, write_atomically


class CreateOptions:
    __slots__ = ("bundle", "pid_file", "console_socket", "no_pivot", "no_new_keyring", "preserve_fds",
                 "relay_terminal", "init", "seccomp_profile", "rootless", "network", "systemd_cgroup",
                 "systemd_cgroup_default")

    def __init__(self, bundle: str = ".", pid_file: str | None = None, console_socket: str | None = None,
                 no_pivot: bool = False, no_new_keyring: bool = False, preserve_fds: int = 0,
                 relay_terminal: bool = False, init: bool = False, seccomp_profile: str | None = None,
                 rootless: bool | None = None, network: dict | None = None, systemd_cgroup: bool = False,
                 systemd_cgroup_default: bool = False) -> None:
        self.bundle = bundle
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        self.preserve_fds = preserve_fds
        # A foreground `run`: SimCon itself receives the pty master and relays it (no --console-socket needed).
        self.relay_terminal = relay_terminal
        # `--init`: the SimCon init stays as PID 1, reaping orphans and forwarding signals (see init.tiny_init).
        self.init = init
        # `--seccomp-profile`: a profile file (or "unconfined") that replaces the config's linux.seccomp.
        self.seccomp_profile = seccomp_profile
        # The global `--rootless`; None is "auto": rootless when not running as root.
        self.rootless = os.geteuid() != 0 if rootless is None else rootless
        # `--network`, `--publish`, `--dns` ...: option name (runtime.network.OPTION_KEYS) -> value.
        self.network = network or {}
        # The global `--systemd-cgroup`: the cgroup is a transient systemd scope (simcon.cgroups.systemd).
        self.systemd_cgroup = systemd_cgroup
        # simcon.toml's `cgroup_manager = "systemd"`: the systemd driver for a config.json without cgroupsPath.
        self.systemd_cgroup_default = systemd_cgroup_default


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
    bundle = os.path.abspath(options.bundle)
    config_file = os.path.join(bundle, "config.json")

    from simcon import log
    from simcon.runtime.plan import build_plan
    from simcon.spec.load import load_config_with_warnings

    spec, warnings = load_config_with_warnings(bundle)
    for problem in warnings:
        log.warning(f"{config_file}: {problem}")
    from simcon.runtime.network import attach_network, prepare_network

    # Checks the request and edits the spec (join the pinned netns, mount resolv.conf/hosts) before the plan.
    network = prepare_network(store, container_id, spec, options.network, config_file)
    plan = build_plan(spec, bundle, container_id, config_file=config_file, no_pivot=options.no_pivot,
                      preserve_fds=options.preserve_fds, seccomp_profile=options.seccomp_profile)
    plan.new_session_keyring = not options.no_new_keyring
    plan.rootless = options.rootless
    start_timeout = _start_timeout(spec.annotations, config_file)
    _bound(plan.start_container_hooks, start_timeout)
    plan.tiny_init = options.init or _wants_init(spec.annotations)
    console_receiver = _console_for(plan, options, container_id, config_file)
    faults.point("create:planned")

    # From the directory made to the undo armed, signals wait: Ctrl-C in between would leave a stray directory.
    held = interrupts.block()
    try:
        locked = store.create_dir(container_id)
    except BaseException:
        interrupts.restore(held)
        raise
    creator_start = procfs.start_time(os.getpid())
    state = ContainerState(
        oci_version=OCI_VERSION, id=container_id, status=st.CREATING, bundle=bundle, rootfs=plan.rootfs,
        created=utc_timestamp(), annotations=dict(spec.annotations or {}), creator_pid=os.getpid(),
        creator_start_time=creator_start, own_pid_namespace="pid" in plan.own_namespaces,
        poststart_hooks=[h.to_json() for h in _hooks(spec, "poststart")],
        poststop_hooks=[h.to_json() for h in _hooks(spec, "poststop")],
        process=_process_json(spec.process),
    )
    launcher = _Launcher(locked, state, plan, spec, container_id)
    launcher.timeout = start_timeout
    launcher.systemd_cgroup = options.systemd_cgroup or (
        options.systemd_cgroup_default and not (spec.linux is not None and spec.linux.cgroups_path))
    master = None
    try:
        interrupts.restore(held)  # a signal held since create_dir is raised here, inside the try: undo runs
        faults.point("create:dir-made")
        locked.write(state)
        if network is not None:
            attach_network(network, locked, state)  # CNI ADD, before any container process exists
        launcher.launch()
        if console_receiver is not None:
            from simcon.runtime.console import receive_master

            master = receive_master(console_receiver)
        if options.pid_file:
            write_atomically(os.path.abspath(options.pid_file), str(state.pid).encode(), 0o644)
        faults.point("create:done")
        # Committed: the container exists as asked. A signal from here on has nothing left to undo: dropped.
        committed = interrupts.block()
    except BaseException as exc:
        with interrupts.deferred():  # the rollback runs to its end, whatever signal comes
            launcher.undo(exc)
        raise
    finally:
        locked.release()
        if plan.console_socket is not None:
            plan.console_socket.close()
        if console_receiver is not None:
            console_receiver.close()
    interrupts.drop_pending()
    if not hold_signals_after_commit:
        interrupts.restore(committed)
    return Created(state, master)


INIT_ANNOTATION = "run.oci.simcon.init"


def _wants_init(annotations: dict | None) -> bool:
    return (annotations or {}).get(INIT_ANNOTATION, "").lower() in ("1", "true", "yes")


START_TIMEOUT_ANNOTATION = "run.oci.simcon.start-timeout"
DEFAULT_START_TIMEOUT = 120.0  # seconds the parent waits for each answer of its children during create


def _start_timeout(annotations: dict | None, config_file: str) -> float:
    text = (annotations or {}).get(START_TIMEOUT_ANNOTATION)
    if text is None:
        return DEFAULT_START_TIMEOUT
    try:
        value = float(text)
        if not 0 < value < 1e9:
            raise ValueError
    except ValueError:
        from simcon.errors import ConfigError

        raise ConfigError(config_file, f'annotations["{START_TIMEOUT_ANNOTATION}"]',
                          f"expected a positive number of seconds, got {text!r}") from None
    return value


def _bound(hooks: list, timeout: float) -> list:
    """Hooks without a timeout of their own get the start timeout: nothing on the way to a running container
    may hang forever. (createContainer hooks need none: the wait for the init's READY is bounded already.)"""
    for hook in hooks:
        if hook.timeout is None:
            hook.timeout = max(1, int(timeout + 0.999))
    return hooks


def _expect(channel, kind: str, waiting_for: str, timeout: float) -> dict:  # noqa: ANN001
    """``channel.expect`` with a deadline: a child that hangs (a stuck mount, a hook without a timeout) is
    reported and, by the caller's undo, killed, instead of being waited on forever."""
    from simcon.errors import InitError

    channel.sock.settimeout(timeout)
    try:
        return channel.expect(kind, waiting_for)
    except TimeoutError:
        raise InitError(waiting_for, f"the {channel.peer} did not answer within {timeout:g}s; killed it "
                                     f"(annotation {START_TIMEOUT_ANNOTATION} sets the limit)") from None


def _process_json(process) -> dict:  # noqa: ANN001
    import msgspec

    return msgspec.to_builtins(process)


def _console_for(plan, options: CreateOptions, container_id: str, config_file: str):  # noqa: ANN001, ANN202
    """Connect the console socket the init will send its pty master over; returns our receiving end, if any."""
    if not plan.terminal:
        if options.console_socket:
            raise UnsupportedError(f"--console-socket is only valid when {config_file} has process.terminal "
                                   "true", container_id=container_id)
        return None
    import socket

    from simcon.runtime.console import connect_console_socket

    if options.console_socket:
        plan.console_socket = connect_console_socket(options.console_socket)
        return None
    if not options.relay_terminal:
        raise UnsupportedError(
            f"{config_file}: process.terminal is true: a detached container needs --console-socket to receive "
            "its terminal", container_id=container_id)
    receiver, plan.console_socket = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    return receiver


def _hooks(spec, name: str) -> list:  # noqa: ANN001
    from simcon.runtime.plan import hooks_of

    return hooks_of(spec.hooks, name)


class _Launcher:
    """The parent's side of the sync protocol (see ``simcon.init.sync``), with what it must undo on failure."""

    def __init__(self, locked: LockedContainer, state: ContainerState, plan, spec, container_id: str) -> None:  # noqa: ANN001
        self.locked = locked
        self.state = state
        self.plan = plan
        self.spec = spec
        self.id = container_id
        self.cgroups = None
        self.intermediate_pid = 0
        self.init_pid = 0
        self.timeout = DEFAULT_START_TIMEOUT
        self.forked = False  # from here on the container exists for the hooks: a failure runs the poststop hooks
        self.systemd_cgroup = False

    def launch(self) -> None:
        from simcon.cgroups import open_manager
        from simcon.init import container_init, process_setup, sync

        plan = self.plan
        spec = self.spec
        if spec.hooks is not None and any(
            getattr(spec.hooks, k) for k in ("prestart", "create_runtime", "create_container", "start_container")
        ):
            import simcon.init.hooks  # noqa: F401 - the init runs hooks after pivot_root, when imports fail

        cgroups = open_manager(spec.linux.cgroups_path if spec.linux else None, self.id,
                               systemd=self.systemd_cgroup, rootless=plan.rootless)
        # Recorded before mkdir: a create killed between the two still leaves `delete` what to remove.
        self.state.cgroup = cgroups.planned_state()
        self.locked.write(self.state)
        faults.point("create:cgroups-recorded")
        self.state.cgroup = None
        with interrupts.deferred():  # made and known to undo() as one step
            if _create_cgroups(cgroups, plan, spec, self.id):
                self.cgroups = cgroups
        if self.cgroups is not None:
            from simcon.runtime.cgroup_ops import apply_spec_resources

            apply_spec_resources(cgroups, spec)
            self.state.cgroup = cgroups.to_state()
            faults.point("create:cgroups-made")
            plan.unified_cgroup_only = cgroups.mode == "unified"
            plan.cgroup_binds = [(cg.dir, os.path.basename(cg.hierarchy.mount_point)) for cg in cgroups.cgroups]

        os.mkfifo(self.locked.fifo_path, 0o622)
        # Explicitly, past the umask: the init opens it after switching to the container's user.
        os.chmod(self.locked.fifo_path, 0o622)
        from simcon.runtime.mountopts import open_idmapped_trees

        # With the host's privileges, before fork: the init inherits them (see mountopts.open_idmapped_trees).
        idmapped_trees = open_idmapped_trees(plan.mounts)
        plan.state_dir_fd = os.open(self.locked.path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        from simcon.runtime.state import save_seccomp

        save_seccomp(plan.seccomp, self.locked.path)  # for `exec`
        from simcon.linux import trampoline

        if trampoline.usable():
            plan.exec_trampoline_fd = trampoline.sealed_fd()
        parent_inter, child_inter = sync.Channel.pair("intermediate process")
        parent_init, child_init = sync.Channel.pair("container init")
        # Every fd the children need; nothing else of ours may reach the init (it lives on, parked until start).
        keep = (child_inter.fileno(), child_init.fileno(), plan.state_dir_fd, plan.exec_trampoline_fd,
                plan.seccomp_listener.fileno() if plan.seccomp_listener is not None else -1,
                plan.console_socket.fileno() if plan.console_socket is not None else -1, *idmapped_trees)
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
                process_setup.close_fds_except(3 + plan.preserve_fds, keep)
                container_init.run_intermediate(plan, child_inter, child_init)
            self.intermediate_pid = pid
        self.forked = True
        faults.point("create:forked")
        child_inter.close()
        child_init.close()
        os.close(plan.state_dir_fd)
        if plan.exec_trampoline_fd >= 0:
            os.close(plan.exec_trampoline_fd)
        if plan.seccomp_listener is not None:
            plan.seccomp_listener.close()  # the init's copy is the one that talks to the listener
        for fd in idmapped_trees:
            os.close(fd)
        try:
            if self.cgroups is not None:
                self.cgroups.add_process(pid)
            parent_inter.send(sync.PROCEED)
            if plan.new_user_namespace:
                _write_id_maps(parent_inter, pid, plan, os.path.join(self.state.bundle, "config.json"))
            message = _expect(parent_inter, sync.INIT_PID, "start the container init", self.timeout)
            self.init_pid = message["pid"]
            _reap(pid)
            self.intermediate_pid = 0
            self.state.pid = self.init_pid
            self.state.init_start_time = procfs.start_time(self.init_pid)
            self.locked.write(self.state)
            faults.point("create:init-pid-recorded")
            if plan.create_runtime_hooks or plan.create_container_hooks or plan.start_container_hooks:
                _expect(parent_init, sync.RUN_CREATE_HOOKS, "set up the rootfs", self.timeout)
                self._run_create_runtime_hooks()
                faults.point("create:create-runtime-hooks-done")
                parent_init.send(sync.HOOKS_DONE, state=self.state.hook_view(st.CREATING))
            _expect(parent_init, sync.READY, "set up the container", self.timeout)
            faults.point("create:init-ready")
        finally:
            parent_inter.close()
            parent_init.close()
        self.state.status = st.CREATED
        self.locked.write(self.state)

    def _run_create_runtime_hooks(self) -> None:
        from simcon.init.hooks import run_hooks

        state_json = json.dumps(self.state.hook_view(st.CREATING)).encode()
        run_hooks("prestart", _bound(_hooks(self.spec, "prestart"), self.timeout), state_json)
        run_hooks("createRuntime", _bound(_hooks(self.spec, "create_runtime"), self.timeout), state_json)

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
        if problems and isinstance(cause, SimconError):
            cause.message += " (cleanup also failed: " + "; ".join(problems) + ")"
            cause.args = (cause.message,)


def _create_cgroups(cgroups, plan, spec, container_id: str) -> bool:  # noqa: ANN001
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
        if not plan.rootless or exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        where = exc.path or "the cgroup hierarchy"
    resources = spec.linux.resources if spec.linux else None
    if resources is not None and any(v for v in _fields(resources)):
        log.warning(f"{container_id}: rootless: no cgroup (this user cannot create {where}); "
                    "linux.resources ignored")
    else:
        log.debug(f"{container_id}: rootless: no cgroup (this user cannot create {where})")
    return False


def _fields(model) -> list:  # noqa: ANN001
    import msgspec

    return list(msgspec.to_builtins(model).values())


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _write_id_maps(channel, pid: int, plan, config_file: str) -> None:  # noqa: ANN001
    """The parent's part of a new user namespace: the intermediate has unshared it and waits for its maps."""
    from simcon.errors import ConfigError
    from simcon.init import sync

    channel.expect(sync.IDMAP_REQUEST, "create the user namespace")
    if plan.setgroups_denied:
        try:
            with open(f"/proc/{pid}/setgroups", "w") as f:
                f.write("deny")
        except OSError as exc:
            raise ConfigError(config_file, "linux.gidMappings",
                              f"cannot deny setgroups for the new user namespace ({exc.strerror})") from None
    if plan.id_map_helpers:
        _run_id_map_helpers(pid, plan, config_file)
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
            raise ConfigError(config_file, f"linux.{field}", f"the kernel refused the map ({exc.strerror})") from None
    channel.send(sync.IDMAP_DONE, setgroups_denied=plan.setgroups_denied)


def _run_id_map_helpers(pid: int, plan, config_file: str) -> None:  # noqa: ANN001
    """newuidmap/newgidmap write maps beyond the user's own ids, as /etc/subuid and /etc/subgid allow."""
    import subprocess

    from simcon.errors import ConfigError

    for helper, field, maps in (("newuidmap", "uidMappings", plan.uid_mappings),
                                ("newgidmap", "gidMappings", plan.gid_mappings)):
        argv = [helper, str(pid)] + [str(n) for triple in maps for n in triple]
        try:
            done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(config_file, f"linux.{field}", f"{helper} failed: {exc}") from None
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
            said = said.removeprefix(f"{helper}: ")
            raise ConfigError(config_file, f"linux.{field}", f"{helper} refused the map: {said} "
                                                             "(see /etc/subuid and /etc/subgid)")
    try:
        with open(f"/proc/{pid}/setgroups") as f:
            plan.setgroups_denied = f.read().strip() == "deny"
    except OSError:
        pass
    if plan.setgroups_denied and plan.additional_gids:
        raise ConfigError(config_file, "process.user.additionalGids",
                          "rootless: newgidmap denied setgroups in the user namespace, so no supplementary groups")
