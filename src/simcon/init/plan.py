"""What the children carry out, as frozen plain values: built by ``runtime.plan`` before fork, never changed.

The children inherit these through fork and only read them; they never see the config. Sequences are tuples so
that nothing in a plan can be changed after it was built. What only the launch learns (fds it opens, what
newgidmap decided, the cgroup directories made) is not in the plan but in the launch's own state
(``ContainerLaunch``, ``ExecLaunch`` below), which the parent fills in before fork.

``simcon.records.Record`` with ``frozen=True``: typed, assignment refused, and cheap to define (plain Python; the
children import nothing more for them).
"""

from __future__ import annotations

from simcon.linux import mount as m
from simcon.linux import unixsock
from simcon.records import Record

# Mounts under the container's root do not propagate back to the host (linux.rootfsPropagation changes it).
DEFAULT_ROOTFS_PROPAGATION = m.MS_SLAVE | m.MS_REC


class CapsPlan(Record, frozen=True):
    """The five capability sets as bit masks, and the kernel's highest capability number."""

    bounding: int = 0
    effective: int = 0
    permitted: int = 0
    inheritable: int = 0
    ambient: int = 0
    last_cap: int = 40


class SeccompPlan(Record, frozen=True):
    """A compiled filter: the BPF program (struct sock_filter array), its seccomp(2) flags, the names skipped."""

    program: bytes
    flags: int
    skipped: tuple[str, ...] = ()
    # With SCMP_ACT_NOTIFY: where the listener fd goes (the parent connects to it before fork), and the
    # containerProcessState metadata sent with it.
    listener_path: str | None = None
    listener_metadata: str | None = None


class HookPlan(Record, frozen=True):
    path: str
    args: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    timeout: int | None = None

    def to_json(self) -> dict:
        return {"path": self.path, "args": list(self.args), "env": list(self.env), "timeout": self.timeout}

    @classmethod
    def from_json(cls, data: dict) -> HookPlan:
        return cls(data["path"], tuple(data.get("args") or ()), tuple(data.get("env") or ()), data.get("timeout"))


class IdmapPlan(Record, frozen=True):
    """An idmapped bind mount: the map lines ("inside outside count") of the user namespace giving the mapping."""

    uid_map: str
    gid_map: str
    recursive: bool = False  # ridmap: every mount of the rbind, not only the top one


class MountPlan(Record, frozen=True):
    index: int
    source: str
    destination: str
    fstype: str
    flags: int
    propagation: tuple[int, ...] = ()
    data: str = ""
    attr_set: int = 0  # recursive mount attributes (mount_setattr), see runtime.mountopts
    attr_clr: int = 0
    tmpcopyup: bool = False
    idmap: IdmapPlan | None = None

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & m.MS_BIND)

    def describe(self) -> str:
        return f"mounts[{self.index}] `{self.destination}`"


class DevicePlan(Record, frozen=True):
    path: str
    kind: str
    major: int
    minor: int
    mode: int
    uid: int
    gid: int
    index: int | None = None  # in linux.devices; None for a default device
    # False inside a /dev bind-mounted from elsewhere: the node must already be there (see rootfs.create_device).
    may_create: bool = True

    def describe(self) -> str:
        where = "device" if self.index is None else f"linux.devices[{self.index}]"
        return f"{where} `{self.path}`"


class ProcessPlan(Record, frozen=True):
    """The process a container starts with, or `exec` starts: the same fields, built by the same code
    (``runtime.plan.process``), carried out by the same ordered steps (``init.process_setup``)."""

    args: tuple[str, ...]
    env: tuple[str, ...] = ()
    cwd: str = "/"
    uid: int = 0
    gid: int = 0
    additional_gids: tuple[int, ...] = ()
    umask: int | None = None
    terminal: bool = False
    console_size: tuple[int, int] | None = None  # (rows, columns)
    no_new_privileges: bool = False
    capabilities: CapsPlan | None = None  # None: keep SimCon's own
    rlimits: tuple[tuple[int, int, int], ...] = ()  # (RLIMIT_* number, soft, hard)
    apparmor_profile: str | None = None  # entered at the program's execve
    selinux_label: str | None = None  # likewise, through /proc/thread-self/attr/exec
    preserve_fds: int = 0
    # The user namespace denies setgroups(2) (an unprivileged user's, with its own ids only): no groups change.
    setgroups_denied: bool = False


class ContainerPlan(Record, frozen=True):
    """What the two children of `create` (the intermediate and the init) do."""

    container_id: str
    rootfs: str
    process: ProcessPlan
    rootfs_readonly: bool = False
    rootfs_propagation: int = DEFAULT_ROOTFS_PROPAGATION
    unshare_flags: int = 0
    join_namespaces: tuple[tuple[str, int, str], ...] = ()  # (path, clone flag, type), a user namespace first
    own_namespaces: frozenset[str] = frozenset()
    # A new user namespace is created alone, first, so the parent can write its maps before the others exist.
    new_user_namespace: bool = False
    # An unprivileged user's maps of more than its own ids: written by newuidmap/newgidmap (setuid helpers).
    id_map_helpers: bool = False
    mounts: tuple[MountPlan, ...] = ()
    devices: tuple[DevicePlan, ...] = ()
    dev_links: bool = True  # /dev/fd, stdin...; False when /dev is bound from elsewhere (nothing is added there)
    masked_paths: tuple[str, ...] = ()
    readonly_paths: tuple[str, ...] = ()
    hostname: str | None = None
    domainname: str | None = None
    oom_score_adj: int | None = None
    sysctl: tuple[tuple[str, str], ...] = ()  # (/proc/sys/... path, value)
    personality: int | None = None
    seccomp: SeccompPlan | None = None
    # containerProcessState sent with the seccomp listener fd; the init fills in its pid (in a copy).
    seccomp_listener_state: dict | None = None
    new_session_keyring: bool = True
    no_pivot: bool = False
    tiny_init: bool = False  # `--init`: stay as PID 1 and fork the container process (init.tiny_init)
    # Whether the init stops for the parent's prestart/createRuntime hooks (and then gets the state for its own).
    sync_create_hooks: bool = False
    create_container_hooks: tuple[HookPlan, ...] = ()
    start_container_hooks: tuple[HookPlan, ...] = ()

    def has_namespace(self, kind: str) -> bool:
        return kind in self.own_namespaces or any(t == kind for _, _, t in self.join_namespaces)


class ExecPlan(Record, frozen=True):
    """What the children of `exec` do: join the container of ``init_pid`` and start ``process`` there."""

    container_id: str
    init_pid: int
    process: ProcessPlan
    seccomp: SeccompPlan | None = None  # the container's own filter, as create compiled it


class ContainerLaunch:
    """What only the launch of a container learns, filled in by the parent before fork and read by the children:
    fds, the cgroups made, and what newgidmap decided. Not part of the plan, which stays as it was built."""

    __slots__ = ("state_dir_fd", "exec_trampoline_fd", "console_socket", "seccomp_listener", "idmapped_trees",
                 "cgroup_binds", "unified_cgroup_only", "setgroups_denied")

    def __init__(self) -> None:
        self.state_dir_fd = -1  # O_PATH fd of the container directory: how init finds exec.fifo
        self.exec_trampoline_fd = -1  # a sealed memfd the init execs the program through (linux.trampoline)
        self.console_socket: unixsock.Socket | None = None  # the init sends the pty master over it
        self.seccomp_listener: unixsock.Socket | None = None  # connected to linux.seccomp.listenerPath
        self.idmapped_trees: dict[int, int] = {}  # mount index -> fd of its detached idmapped tree
        self.cgroup_binds: list[tuple[str, str]] = []  # (host dir, path under the cgroup mount)
        self.unified_cgroup_only = False
        # Set from the parent's IDMAP_DONE: newgidmap may deny setgroups where the plan did not expect it.
        self.setgroups_denied: bool | None = None


class ExecLaunch:
    """What only the launch of an exec'd process learns: the fds of the container's namespaces and root."""

    __slots__ = ("namespaces", "root_fd", "exec_trampoline_fd", "console_socket")

    def __init__(self) -> None:
        self.namespaces: list[tuple[int, int, str]] = []  # (fd of /proc/PID/ns/NAME, clone flag, NAME)
        self.root_fd = -1
        self.exec_trampoline_fd = -1
        self.console_socket: unixsock.Socket | None = None

