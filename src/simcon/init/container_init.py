"""The two children of `simcon create`: the intermediate process and the container init.

The intermediate joins and creates the namespaces, then forks the init, which becomes PID 1 of a new pid
namespace. The init runs a linear list of named steps; the first that fails is reported to the parent as
(step, errno, message, path) over its channel (see ``sync`` for the ladder).

After pivot_root no module can be imported any more (the host's filesystem is gone), so this module and
everything it calls is imported by the parent before fork.
"""

from __future__ import annotations

import errno
import os

from simcon import fastjson, faults
from simcon.init import process_setup, sync, tiny_init
from simcon.init import rootfs as fs
from simcon.init.plan import ContainerLaunch, ContainerPlan, HookPlan, MountPlan
from simcon.linux import mount as m
from simcon.linux import namespaces as ns
from simcon.linux import process as proc
from simcon.linux import unixsock

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable

    from simcon.init.process_setup import Step


def run_intermediate(plan: ContainerPlan, launch: ContainerLaunch, channel: sync.Channel,
                     init_channel: sync.Channel) -> None:
    """Body of the intermediate child; never returns."""
    step = "make the intermediate non-dumpable"
    try:
        # Until execve the init holds host resources (the state directory's fd, the channels): no process of the
        # container (an early `exec`) may reach them through /proc/PID/fd. The init inherits this; execve of the
        # container's program makes it dumpable again.
        proc.set_dumpable(False)
        step = "wait for the parent"
        channel.expect(sync.PROCEED, step)
        if plan.oom_score_adj is not None:
            step = "set process.oomScoreAdj"
            # Here, through the host's /proc and before any namespace change; the init inherits it. After PROCEED,
            # so the kernel's refusal (below oom_score_adj_min without CAP_SYS_RESOURCE) reaches a listening parent.
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(plan.oom_score_adj))
        for path, flag, kind in plan.join_namespaces:
            step = f"join {kind} namespace"
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                ns.setns(fd, flag, path)
            finally:
                os.close(fd)
        if plan.new_user_namespace:
            step = "create the user namespace"
            ns.unshare(ns.CLONE_NEWUSER)
            if plan.process.setgroups_denied or plan.id_map_helpers:
                # An unprivileged parent can write the maps of a dumpable process only (a non-dumpable one's
                # /proc files belong to root). Nothing of the container runs yet, and the parent is our own user.
                proc.set_dumpable(True)
            channel.send(sync.IDMAP_REQUEST)
            maps = channel.expect(sync.IDMAP_DONE, "wait for the uid and gid maps")
            proc.set_dumpable(False)
            # newgidmap may have denied setgroups (shadow does when no subgid range allows it): the launch's
            # finding, kept beside the plan (which is never changed).
            launch.setgroups_denied = bool(maps.get("setgroups_denied", plan.process.setgroups_denied))
            step = "become root in the user namespace"
            # Whatever the init creates must belong to an id inside the maps, and the new namespaces to this one.
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        step = "create namespaces"
        if plan.unshare_flags:
            ns.unshare(plan.unshare_flags)
        step = "fork the container init"
        pid = os.fork()
        if pid == 0:
            channel.close()
            run_init(plan, launch, init_channel)
        channel.send(sync.INIT_PID, pid=pid)
    except BaseException as exc:  # noqa: BLE001 - everything must reach the parent, nothing may unwind
        channel.report_failure(step, exc)
        sync.child_exit(1)
    sync.child_exit(0)


class _Init(process_setup.ProcessTail):
    """The container init's steps, in the order they run. Each method is one step of the error report; the last
    ones are the tail it shares with `exec` (``process_setup.ProcessTail``)."""

    def __init__(self, plan: ContainerPlan, launch: ContainerLaunch, channel: sync.Channel) -> None:
        super().__init__(plan.process, plan.seccomp, personality=plan.personality)
        self.plan = plan
        self.launch = launch
        self.channel = channel
        if launch.setgroups_denied is not None:
            self.setgroups_denied = launch.setgroups_denied
        self.state: dict = {}
        self.host_pid = 0
        self.root_fd = -1

    def steps(self) -> list[Step]:
        p = self.plan
        steps: list[Step] = [("start a session", os.setsid)]
        if self.launch.seccomp_listener is not None:
            # The host's /proc is still mounted here: its "self" is our pid as the host sees it.
            steps.append(("find the host pid", lambda: setattr(self, "host_pid", int(os.readlink("/proc/self")))))
        if p.new_session_keyring:
            steps.append(("join a new session keyring", self.join_keyring))
        if p.has_namespace("mount"):
            steps.append(("set rootfs propagation", lambda: fs.set_root_propagation(p.rootfs_propagation)))
            # Always (as runc), before the bind: a rootfs bound from a shared mount (the host's, or ours after
            # rootfsPropagation "shared") joins its peer group, which pivot_root refuses and which would carry
            # the container's mounts out. A shared rootfsPropagation is applied to the new root after the change.
            steps.append(("make the rootfs parent private", lambda: fs.make_parent_mount_private(p.rootfs)))
            steps += [("bind the rootfs", lambda: fs.bind_rootfs(p.rootfs)), ("open the rootfs", self.open_rootfs)]
            steps += [(f"mount {mp.describe()}", self._mounter(mp)) for mp in p.mounts]
            steps += [(f"create {dev.describe()}", lambda dev=dev: fs.create_device(self.root_fd, dev))
                      for dev in p.devices]
            if p.dev_links:
                steps.append(("create /dev links", lambda: fs.create_dev_symlinks(self.root_fd)))
            steps.append(("create the working directory", lambda: fs.make_workdir(self.root_fd, p.process.cwd)))
        steps.append(("wait for createRuntime hooks", self.sync_hooks))
        if p.create_container_hooks:
            steps.append(("run createContainer hooks", self.run_create_container_hooks))
        if p.has_namespace("mount"):
            steps.append(("change root", self.change_root))
            # Through the container's own /proc, before readonlyPaths makes /proc/sys read-only.
            steps += [(f"write sysctl `{path}`", lambda path=path, value=value: self.write_sysctl(path, value))
                      for path, value in p.sysctl]
            steps += [(f"mask `{path}`", lambda path=path: fs.mask_path(path)) for path in p.masked_paths]
            steps += [(f"make `{path}` read-only", lambda path=path: fs.make_readonly(path))
                      for path in p.readonly_paths]
            if p.rootfs_readonly:
                steps.append(("make the rootfs read-only", fs.remount_root_readonly))
        else:
            steps.append(("change root", lambda: os.chroot(p.rootfs)))
        steps.append(("find HOME in /etc/passwd", self.find_home))
        if p.process.terminal:
            steps.append(("set up the console", self.setup_console))
        if p.has_namespace("mount") and p.rootfs_propagation & m.MS_UNBINDABLE:
            # After every bind from inside the root (masks, /dev/console): none could be made from an unbindable one.
            steps.append(("make the root unbindable", lambda: fs.set_root_propagation(p.rootfs_propagation)))
        if p.hostname is not None:
            steps.append(("set hostname", lambda: proc.sethostname(p.hostname)))
        if p.domainname is not None:
            steps.append(("set domainname", lambda: proc.setdomainname(p.domainname)))
        return steps + self.setup_steps()

    # -- steps ---------------------------------------------------------------------------------------------

    def _mounter(self, mp: MountPlan) -> Callable[[], None]:
        launch = self.launch
        return lambda: fs.mount_one(self.root_fd, mp, launch.cgroup_binds, launch.unified_cgroup_only,
                                    launch.idmapped_trees.pop(mp.index, -1))

    def open_rootfs(self) -> None:
        # Every path inside the rootfs is resolved against this fd from now on (see rootfs.open_in_root).
        self.root_fd = fs.open_rootfs(self.plan.rootfs)

    def change_root(self) -> None:
        os.close(self.root_fd)
        (fs.move_into if self.plan.no_pivot else fs.pivot_into)(self.plan.rootfs)
        # The parent mount was made private for pivot_root, which the new root inherits: a shared
        # rootfsPropagation is applied again to the new root (unbindable: after the last bind, see steps()).
        if self.plan.rootfs_propagation & m.MS_SHARED:
            fs.set_root_propagation(self.plan.rootfs_propagation)

    def sync_hooks(self) -> None:
        if not self.plan.sync_create_hooks:
            return
        self.channel.send(sync.RUN_CREATE_HOOKS)
        message = self.channel.expect(sync.HOOKS_DONE, "wait for createRuntime hooks")
        self.state = message["state"]

    def _run_hooks(self, kind: str, hooks: tuple[HookPlan, ...]) -> None:
        # Imported by create before fork whenever the config has hooks (nothing can be imported after pivot).
        from simcon.init.hooks import HookFailed, run_hook

        state_json = fastjson.dumps(self.state).encode()
        for index, hook in enumerate(hooks):
            try:
                run_hook(hook.path, hook.args, hook.env, hook.timeout, state_json)
            except HookFailed as exc:
                raise sync.InitError(f"{kind} hook #{index} `{hook.path}`", exc.problem) from None

    def run_create_container_hooks(self) -> None:
        self._run_hooks("createContainer", self.plan.create_container_hooks)

    def join_keyring(self) -> None:
        # A container must not share the caller's session keyring (its keys would be visible inside).
        try:
            proc.join_session_keyring(f"_ses.{self.plan.container_id}")
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EPERM, errno.EACCES):
                raise

    def setup_console(self) -> None:
        """A pty in the container's devpts: its slave bound to /dev/console, the master handed over the
        console socket, the slave the init's stdio and controlling terminal."""
        process = self.plan.process
        master, slave_path = process_setup.open_console(process.console_size)
        try:
            if not os.path.lexists("/dev/console"):
                os.close(os.open("/dev/console", os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
            m.mount(slave_path, "/dev/console", None, m.MS_BIND)
        except BaseException:
            os.close(master)
            raise
        process_setup.hand_over_console(self.launch.console_socket, master, slave_path, process.uid, process.gid)

    def load_seccomp(self) -> int:
        """The tail's step, then, with SCMP_ACT_NOTIFY, the listener fd handed to listenerPath's socket."""
        listener = super().load_seccomp()
        sock = self.launch.seccomp_listener
        if sock is not None:
            state = dict(self.plan.seccomp_listener_state or {})
            state["state"] = dict(state.get("state") or {})
            state["pid"] = state["state"]["pid"] = self.host_pid
            try:
                unixsock.send_fds(sock, fastjson.dumps(state).encode(), [listener])
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, self.seccomp.listener_path) from exc
            finally:
                os.close(listener)
                sock.close()
        return -1

    def write_sysctl(self, path: str, value: str) -> None:
        with open(path, "w") as f:
            f.write(value)

    # -- after the parent let go ---------------------------------------------------------------------------

    def wait_for_start(self) -> None:
        """Block on exec.fifo until `simcon start` opens it for reading, then tell it we are going."""
        fd = os.open("exec.fifo", os.O_WRONLY | os.O_CLOEXEC, dir_fd=self.launch.state_dir_fd)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
        os.close(self.launch.state_dir_fd)

    def waits_in_trampoline(self) -> bool:
        """Whether the wait for `start` can happen in the sealed trampoline (linux.trampoline's wait mode)
        rather than in this interpreter: then all the setup below runs before the wait, a created container holds
        a few pages instead of a Python process, and the program is exec'd the instant `start` reads the fifo.
        Not when something of ours must run after `start` (startContainer hooks, the tiny init), nor without
        the trampoline (not x86_64) or the container's /proc (the trampoline reopens the fifo through it)."""
        p = self.plan
        return (self.launch.exec_trampoline_fd >= 3 + p.process.preserve_fds and not p.start_container_hooks
                and not p.tiny_init and os.path.isdir("/proc/self/fd"))

    def exec_process(self, *, wait_in_trampoline: bool = False) -> None:
        p = self.plan
        fifo = -1
        if wait_in_trampoline:
            # The trampoline reopens this O_PATH fd for writing and closes it; the state directory's fd goes now.
            fifo = os.open("exec.fifo", os.O_PATH | os.O_CLOEXEC, dir_fd=self.launch.state_dir_fd)
            os.close(self.launch.state_dir_fd)
        if p.start_container_hooks:
            self.state["status"] = "created"  # the user's process has not run yet (runtime-spec)
            self._run_hooks("startContainer", p.start_container_hooks)
        if p.tiny_init:
            tiny_init.stay_as_pid1()  # returns in the child, which execs below
        listener = self.launch.seccomp_listener
        keep = (listener.fileno(),) if listener is not None else ()
        for _step, action in self.exec_steps(keep, self.launch.exec_trampoline_fd, wait_fifo_fd=fifo):
            action()


def run_init(plan: ContainerPlan, launch: ContainerLaunch, channel: sync.Channel) -> None:
    """Body of the container init; never returns."""
    init = _Init(plan, launch, channel)
    step = "start"
    try:
        for step, action in init.steps():
            faults.point(f"init:{step}")
            action()
        step = "report ready"
        channel.send(sync.READY)
        channel.close()
    except BaseException as exc:  # noqa: BLE001
        channel.report_failure(step, exc)
        sync.child_exit(1)
    try:
        if init.waits_in_trampoline():
            init.exec_process(wait_in_trampoline=True)
        else:
            init.wait_for_start()
            init.exec_process()
    except BaseException as exc:  # noqa: BLE001 - nobody is listening on the channel any more: use stderr
        detail = exc.strerror if isinstance(exc, OSError) else str(exc)
        where = f" `{exc.filename}`" if isinstance(exc, OSError) and exc.filename else ""
        try:
            os.write(2, f"simcon init: exec {plan.process.args[0]}{where}: {detail}\n".encode())
        except OSError:
            pass
        sync.child_exit(127 if isinstance(exc, OSError) and exc.errno == errno.ENOENT else 126)
