"""The launch plan: the config and command-line options turned into plain values, before anything forks.

Everything that can fail on bad input fails here, in the parent, with the JSON path in the message. The children
(``simcon.init``) receive the plan through fork and only carry it out: they never see the raw config.
"""

from __future__ import annotations

import os

from simcon.errors import ConfigError
from simcon.linux import lsm
from simcon.linux import mount as m
from simcon.linux.namespaces import NAMESPACES
from simcon.runtime.mountopts import PROPAGATION_OPTIONS, MountOptionError, finish_mount_plan, parse_options

# Filesystems that get no SELinux `context=` from linux.mountLabel, as in runc: the kernel labels them itself.
_UNLABELED_TYPES = frozenset({"proc", "sysfs", "mqueue", "cgroup", "cgroup2"})

# linux.rootfsPropagation takes the same names as a mount's propagation options.
ROOTFS_PROPAGATION = PROPAGATION_OPTIONS


class MountPlan:
    __slots__ = ("index", "source", "destination", "fstype", "flags", "propagation", "data", "attr_set", "attr_clr",
                 "tmpcopyup", "idmap")

    def __init__(self, index: int, source: str, destination: str, fstype: str, flags: int,
                 propagation: list[int], data: str) -> None:
        self.index = index
        self.source = source
        self.destination = destination
        self.fstype = fstype
        self.flags = flags
        self.propagation = propagation
        self.data = data
        self.attr_set = 0  # recursive mount attributes (mount_setattr), see mountopts.finish_mount_plan
        self.attr_clr = 0
        self.tmpcopyup = False
        self.idmap = None  # a mountopts.IdmapPlan for an idmapped bind mount

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & m.MS_BIND)

    def describe(self) -> str:
        return f"mounts[{self.index}] `{self.destination}`"


class DevicePlan:
    __slots__ = ("path", "kind", "major", "minor", "mode", "uid", "gid", "index", "may_create")

    def __init__(self, path: str, kind: str, major: int, minor: int, mode: int, uid: int, gid: int,
                 index: int | None = None) -> None:
        self.path = path
        self.kind = kind
        self.major = major
        self.minor = minor
        self.mode = mode
        self.uid = uid
        self.gid = gid
        self.index = index  # in linux.devices; None for a default device
        # False inside a /dev bind-mounted from elsewhere: the node must already be there (see rootfs.create_device).
        self.may_create = True

    def describe(self) -> str:
        where = "device" if self.index is None else f"linux.devices[{self.index}]"
        return f"{where} `{self.path}`"


# The devices every container gets (as in runc), unless /dev is bind-mounted from the host.
DEFAULT_DEVICES = (
    DevicePlan("/dev/null", "c", 1, 3, 0o666, 0, 0),
    DevicePlan("/dev/zero", "c", 1, 5, 0o666, 0, 0),
    DevicePlan("/dev/full", "c", 1, 7, 0o666, 0, 0),
    DevicePlan("/dev/random", "c", 1, 8, 0o666, 0, 0),
    DevicePlan("/dev/urandom", "c", 1, 9, 0o666, 0, 0),
    DevicePlan("/dev/tty", "c", 5, 0, 0o666, 0, 0),
)


class HookPlan:
    __slots__ = ("path", "args", "env", "timeout")

    def __init__(self, path: str, args: list[str], env: list[str], timeout: int | None) -> None:
        self.path = path
        self.args = args
        self.env = env
        self.timeout = timeout

    def to_json(self) -> dict:
        return {"path": self.path, "args": self.args, "env": self.env, "timeout": self.timeout}

    @classmethod
    def from_json(cls, data: dict) -> HookPlan:
        return cls(data["path"], data.get("args") or [], data.get("env") or [], data.get("timeout"))


class LaunchPlan:
    """What the children do, in plain values. Built by ``build_plan``; read-only after that."""

    def __init__(self) -> None:
        self.container_id = ""
        self.bundle = ""
        self.rootfs = ""
        self.rootfs_readonly = False
        self.rootfs_propagation = m.MS_SLAVE | m.MS_REC
        self.unshare_flags = 0
        self.join_namespaces: list[tuple[str, int, str]] = []  # (path, clone flag, type)
        self.own_namespaces: set[str] = set()
        self.mounts: list[MountPlan] = []
        self.cgroup_binds: list[tuple[str, str]] = []  # (host dir, path under the cgroup mount), set by create
        self.unified_cgroup_only = False
        self.devices: list[DevicePlan] = []
        self.dev_links = True  # /dev/fd, stdin...; False when /dev is bound from elsewhere (nothing is added there)
        self.masked_paths: list[str] = []
        self.readonly_paths: list[str] = []
        self.hostname: str | None = None
        self.domainname: str | None = None
        self.uid = 0
        self.gid = 0
        self.additional_gids: list[int] = []
        self.umask: int | None = None
        self.args: list[str] = []
        self.env: list[str] = []
        self.cwd = "/"
        self.no_new_privileges = False
        self.terminal = False
        self.console_size: tuple[int, int] | None = None  # (rows, columns)
        self.console_socket = None  # a connected socket; the init sends the pty master over it
        self.new_session_keyring = True
        self.no_pivot = False
        self.preserve_fds = 0
        self.state_dir_fd = -1  # O_PATH fd of the container directory: how init finds exec.fifo
        self.create_runtime_hooks = False  # whether init must stop for prestart/createRuntime hooks
        self.create_container_hooks: list[HookPlan] = []
        self.start_container_hooks: list[HookPlan] = []
        self.tiny_init = False  # `--init`: stay as PID 1 and fork the container process (init.tiny_init)
        # Security (see the modules of this package): applied by the init around the user switch and just before execve.
        self.capabilities = None  # a capabilities.CapsPlan
        self.rlimits: list[tuple[int, int, int]] = []  # (RLIMIT_* number, soft, hard)
        self.oom_score_adj: int | None = None
        self.sysctl: list[tuple[str, str]] = []  # (/proc/sys/... path, value)
        self.personality: int | None = None
        self.seccomp = None  # a seccomp.SeccompPlan: the compiled BPF program and its seccomp(2) flags
        # A new user namespace is created alone, first, so the parent can write its maps before the others exist.
        self.new_user_namespace = False
        self.exec_trampoline_fd = -1  # a sealed memfd the init execs the program through (linux.trampoline)
        self.seccomp_listener = None  # for SCMP_ACT_NOTIFY: a socket connected to linux.seccomp.listenerPath
        self.apparmor_profile: str | None = None  # entered at the container program's execve
        self.selinux_label: str | None = None  # likewise, through /proc/thread-self/attr/exec
        self.seccomp_listener_state: dict | None = None  # containerProcessState, sent with the listener fd
        self.uid_mappings: list[tuple[int, int, int]] = []  # (container id, host id, size)
        self.gid_mappings: list[tuple[int, int, int]] = []
        # An unprivileged user's new user namespace: the parent writes "deny" to setgroups before gid_map, as the
        # kernel requires, and the init then cannot call setgroups(2).
        self.setgroups_denied = False
        # An unprivileged user's maps of more than its own ids: written by newuidmap/newgidmap (setuid helpers).
        self.id_map_helpers = False
        self.rootless = False  # the global --rootless (auto: not root): cgroups are skipped where not writable

    def has_namespace(self, kind: str) -> bool:
        return kind in self.own_namespaces or any(t == kind for _, _, t in self.join_namespaces)


class _NoUser:
    uid = 0
    gid = 0
    umask = None
    additional_gids: list[int] = []


class _NoProcess:
    """The `process` fields the plan reads, for a config without one (an empty `Process` needs msgspec here)."""

    args: list[str] = []
    env: list[str] = []
    cwd = "/"
    no_new_privileges = False
    terminal = False
    console_size = None
    user = _NoUser()
    capabilities = None
    rlimits: list = []
    oom_score_adj = None
    apparmor_profile = None
    selinux_label = None


_NO_PROCESS = _NoProcess()


def hooks_of(hooks: object | None, name: str) -> list[HookPlan]:
    if hooks is None:
        return []
    return [HookPlan(h.path, list(h.args or []), list(h.env or []), h.timeout) for h in getattr(hooks, name) or []]


def build_plan(spec, bundle: str, container_id: str, *, config_file: str, no_pivot: bool = False,
               preserve_fds: int = 0, seccomp_profile: str | None = None) -> LaunchPlan:
    """Turn a validated ``Spec`` into a ``LaunchPlan``. Raises ``ConfigError`` naming the JSON path.

    ``seccomp_profile``: a profile file (or ``unconfined``) that replaces ``linux.seccomp`` (`--seccomp-profile`).
    """
    plan = LaunchPlan()
    plan.container_id = container_id
    plan.bundle = bundle
    plan.no_pivot = no_pivot
    plan.preserve_fds = preserve_fds

    root_path = spec.root.path
    plan.rootfs = os.path.realpath(root_path if os.path.isabs(root_path) else os.path.join(bundle, root_path))
    plan.rootfs_readonly = bool(spec.root.readonly)

    linux = spec.linux
    if linux is not None:
        if linux.rootfs_propagation:
            plan.rootfs_propagation = ROOTFS_PROPAGATION[linux.rootfs_propagation]
        for i, ns in enumerate(linux.namespaces or []):
            flag = NAMESPACES[ns.type][0]
            if ns.path:
                plan.join_namespaces.append((ns.path, flag, ns.type))
            else:
                plan.unshare_flags |= flag
                plan.own_namespaces.add(ns.type)
        plan.masked_paths = list(linux.masked_paths or [])
        plan.readonly_paths = list(linux.readonly_paths or [])
        for i, dev in enumerate(linux.devices or []):
            mode = dev.file_mode if dev.file_mode is not None else 0o666
            plan.devices.append(DevicePlan(dev.path, dev.type, dev.major or 0, dev.minor or 0, mode,
                                           dev.uid or 0, dev.gid or 0, i))
        # A user namespace given by path is joined first: it grants the rights to join the others.
        plan.join_namespaces.sort(key=lambda joined: joined[2] != "user")
        if "user" in plan.own_namespaces:
            from simcon.runtime.plan import idmaps

            plan.unshare_flags &= ~NAMESPACES["user"][0]
            plan.new_user_namespace = True
            plan.uid_mappings, plan.gid_mappings = idmaps.id_mappings_plan(linux, spec.process or _NO_PROCESS,
                                                                           config_file)
            if os.geteuid() != 0:
                plan.id_map_helpers = not idmaps.own_ids_only(plan.uid_mappings, plan.gid_mappings)
                plan.setgroups_denied = not plan.id_map_helpers

    from simcon.runtime.plan import lsm_labels

    plan.selinux_label, mount_label = lsm_labels.selinux_labels(spec.process, linux, config_file)
    for i, mnt in enumerate(spec.mounts or []):
        try:
            opts = parse_options(list(mnt.options or []))
        except MountOptionError as exc:
            raise ConfigError(config_file, f"mounts[{i}].options", f"{exc} (destination {mnt.destination})") from None
        fstype = mnt.type or ("bind" if opts.is_bind else "")
        if fstype == "bind" and not opts.is_bind:
            opts.flags |= m.MS_BIND | m.MS_REC  # runc treats type "bind" without bind/rbind as rbind
        source = mnt.source or fstype
        if opts.flags & m.MS_BIND and not os.path.isabs(source):
            source = os.path.join(bundle, source)
        mp = MountPlan(i, source, mnt.destination, fstype, opts.flags, opts.propagation, opts.data)
        container_maps = (linux.uid_mappings, linux.gid_mappings) if linux and "user" in plan.own_namespaces else None
        finish_mount_plan(mp, mnt, opts, config_file, host_netns=not plan.has_namespace("network"),
                          container_maps=container_maps)
        if mount_label and not mp.is_bind and fstype not in _UNLABELED_TYPES:
            mp.data = lsm.selinux_mount_data(mp.data, mount_label)
        plan.mounts.append(mp)

    dev_is_bound = any(mp.destination.rstrip("/") == "/dev" and mp.is_bind for mp in plan.mounts)
    plan.dev_links = not dev_is_bound
    if dev_is_bound:
        # That /dev is someone else's directory (the host's, say): check the nodes there, never add any.
        for dev in plan.devices:
            dev.may_create = not os.path.normpath("/" + dev.path.lstrip("/")).startswith("/dev/")
    else:
        # A config entry for a default path wins (its mode and owner), as in runc: the node is made once.
        listed = {os.path.normpath("/" + dev.path.lstrip("/")) for dev in plan.devices}
        plan.devices = [dev for dev in DEFAULT_DEVICES if dev.path not in listed] + plan.devices

    plan.hostname = spec.hostname or None
    plan.domainname = spec.domainname or None

    # Without `process` (optional in the runtime-spec) the init sets up everything, parks, and is never started.
    process = spec.process or _NO_PROCESS
    plan.args = list(process.args)
    plan.env = list(process.env or [])
    plan.cwd = process.cwd or "/"
    plan.no_new_privileges = bool(process.no_new_privileges)
    plan.terminal = bool(process.terminal)
    if process.console_size is not None:
        plan.console_size = (process.console_size.height, process.console_size.width)
    if process.user is not None:
        plan.uid = process.user.uid or 0
        plan.gid = process.user.gid or 0
        plan.additional_gids = list(process.user.additional_gids or [])
        plan.umask = process.user.umask

    _plan_security(plan, spec, config_file, seccomp_profile)

    plan.create_runtime_hooks = bool(hooks_of(spec.hooks, "prestart") or hooks_of(spec.hooks, "create_runtime"))
    plan.create_container_hooks = hooks_of(spec.hooks, "create_container")
    plan.start_container_hooks = hooks_of(spec.hooks, "start_container")
    return plan


def _plan_security(plan: LaunchPlan, spec, config_file: str, seccomp_profile: str | None = None) -> None:  # noqa: ANN001
    from simcon.runtime.plan import capabilities, lsm_labels, personality, rlimits, seccomp, sysctl

    process = spec.process or _NO_PROCESS
    linux = spec.linux
    plan.apparmor_profile = lsm_labels.check_lsm_labels(process, linux, config_file)
    # In a user namespace of its own the init holds every capability of its bounding set, whatever SimCon holds.
    own = capabilities.bounding_set() if plan.new_user_namespace else None
    plan.capabilities = capabilities.capabilities_plan(process.capabilities, config_file, own_permitted=own)
    plan.rlimits = rlimits.rlimits_plan(process.rlimits, config_file)
    plan.oom_score_adj = rlimits.oom_score_adj_plan(process.oom_score_adj, config_file)
    if linux is not None:
        plan.sysctl = sysctl.sysctl_plan(linux.sysctl, plan.has_namespace, config_file)
        plan.personality = personality.personality_plan(linux.personality, config_file)
    filter_section, seccomp_file = (linux.seccomp if linux is not None else None), config_file
    if seccomp_profile is not None:
        bounding = list(process.capabilities.bounding) if process.capabilities is not None else []
        filter_section, seccomp_file = seccomp.seccomp_profile(seccomp_profile, bounding), seccomp_profile
    if filter_section is not None:
        plan.seccomp = seccomp.seccomp_plan(filter_section, seccomp_file)
        if plan.seccomp.listener_path:
            seccomp.seccomp_listener_plan(plan, spec, seccomp_file)
