"""Typed models of the OCI runtime-spec 1.2 ``config.json`` (Linux parts).

Decoded once by :mod:`simcon.spec.load`; the rest of SimCon reads these objects, never raw JSON.

Conventions:

* Plain classes on :mod:`simcon.records` (not msgspec: importing it cost ~25 ms of every `create`, issue 11).
* Python attributes are snake_case; the JSON name is the spec's camelCase (``camel=True``), with an explicit
  ``name=`` where the spec capitalises differently (``hostID``, ``blockIO``, ``kernelTCP``, ``execCPUAffinity``...).
* Fields the spec calls REQUIRED have no default, so a missing one is a decode error naming its JSON path.
* Optional lists and maps default to empty, optional objects and scalars to ``None``: callers can iterate without
  checking, and ``if x is None`` means "not given".
* Unknown fields are ignored (the spec allows extensions); ``to_builtins`` leaves defaults out.
* Value checks that need context (namespace names, absolute paths, capabilities) live in
  :mod:`simcon.spec.validate`, not here; only the JSON types and integer ranges are enforced while decoding.
"""

from __future__ import annotations

from simcon.records import Int, Record, field

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    U16 = U32 = U64 = I64 = int
else:  # integer ranges, checked while decoding (simcon.records)
    U16 = Int(0, 0xFFFF)
    U32 = Int(0, 0xFFFF_FFFF)
    U64 = Int(0)  # no upper bound is checked (msgspec checked none either)
    I64 = Int(-(2**63), 2**63 - 1)

__all__ = [
    "BlockIO",
    "Box",
    "Capabilities",
    "Cpu",
    "Device",
    "DeviceCgroup",
    "ExecCpuAffinity",
    "Hook",
    "Hooks",
    "HugepageLimit",
    "IdMapping",
    "IntelRdt",
    "InterfacePriority",
    "IoPriority",
    "Linux",
    "Memory",
    "Mount",
    "Namespace",
    "NetDevice",
    "Network",
    "Personality",
    "Pids",
    "Process",
    "Rdma",
    "Resources",
    "Rlimit",
    "Root",
    "Scheduler",
    "Seccomp",
    "SeccompArg",
    "Spec",
    "Syscall",
    "ThrottleDevice",
    "TimeOffset",
    "User",
    "WeightDevice",
]


class _Model(Record, camel=True):
    """Shared options of every model: camelCase JSON names, defaults left out of ``to_builtins``."""


# --- root, mounts ----------------------------------------------------------------------------------------------


class Root(_Model):
    path: str
    readonly: bool = False


class IdMapping(_Model):
    container_id: U32 = field(name="containerID")
    host_id: U32 = field(name="hostID")
    size: U32


class Mount(_Model):
    destination: str
    source: str | None = None
    type: str | None = None
    options: list[str] = []
    uid_mappings: list[IdMapping] = []
    gid_mappings: list[IdMapping] = []


# --- process ---------------------------------------------------------------------------------------------------


class Box(_Model):
    height: U32
    width: U32


class User(_Model):
    uid: U32 = 0
    gid: U32 = 0
    umask: U32 | None = None
    additional_gids: list[U32] = []
    username: str | None = None


class Capabilities(_Model):
    bounding: list[str] = []
    effective: list[str] = []
    inheritable: list[str] = []
    permitted: list[str] = []
    ambient: list[str] = []


class Rlimit(_Model):
    type: str
    hard: U64
    soft: U64


class Scheduler(_Model):
    policy: str
    nice: int | None = None
    priority: int | None = None
    flags: list[str] = []
    runtime: U64 | None = None
    deadline: U64 | None = None
    period: U64 | None = None


class IoPriority(_Model):
    io_class: str = field(name="class")
    priority: int


class ExecCpuAffinity(_Model):
    initial: str | None = None
    final: str | None = None


class Process(_Model):
    terminal: bool = False
    console_size: Box | None = None
    user: User = field(default_factory=User)
    args: list[str] = []
    command_line: str | None = None
    env: list[str] = []
    cwd: str = ""
    capabilities: Capabilities | None = None
    rlimits: list[Rlimit] = []
    no_new_privileges: bool = False
    apparmor_profile: str | None = None
    oom_score_adj: I64 | None = None
    scheduler: Scheduler | None = None
    selinux_label: str | None = None
    io_priority: IoPriority | None = None
    exec_cpu_affinity: ExecCpuAffinity | None = field(default=None, name="execCPUAffinity")


# --- hooks -----------------------------------------------------------------------------------------------------


class Hook(_Model):
    path: str
    args: list[str] = []
    env: list[str] = []
    timeout: I64 | None = None


class Hooks(_Model):
    prestart: list[Hook] = []
    create_runtime: list[Hook] = []
    create_container: list[Hook] = []
    start_container: list[Hook] = []
    poststart: list[Hook] = []
    poststop: list[Hook] = []


# --- linux: resources ------------------------------------------------------------------------------------------


class DeviceCgroup(_Model):
    allow: bool
    type: str | None = None
    major: int | None = None
    minor: int | None = None
    access: str | None = None


class Memory(_Model):
    limit: I64 | None = None
    reservation: I64 | None = None
    swap: I64 | None = None
    kernel: I64 | None = None
    kernel_tcp: I64 | None = field(default=None, name="kernelTCP")
    swappiness: U64 | None = None
    disable_oom_killer: bool | None = field(default=None, name="disableOOMKiller")
    use_hierarchy: bool | None = None
    check_before_update: bool | None = None


class Cpu(_Model):
    shares: U64 | None = None
    quota: I64 | None = None
    burst: U64 | None = None
    period: U64 | None = None
    realtime_runtime: I64 | None = None
    realtime_period: U64 | None = None
    cpus: str | None = None
    mems: str | None = None
    idle: I64 | None = None


class Pids(_Model):
    limit: I64


class WeightDevice(_Model):
    major: I64
    minor: I64
    weight: U16 | None = None
    leaf_weight: U16 | None = None


class ThrottleDevice(_Model):
    major: I64
    minor: I64
    rate: U64


class BlockIO(_Model):
    weight: U16 | None = None
    leaf_weight: U16 | None = None
    weight_device: list[WeightDevice] = []
    throttle_read_bps_device: list[ThrottleDevice] = []
    throttle_write_bps_device: list[ThrottleDevice] = []
    throttle_read_iops_device: list[ThrottleDevice] = field(default_factory=list,
                                                                    name="throttleReadIOPSDevice")
    throttle_write_iops_device: list[ThrottleDevice] = field(default_factory=list,
                                                                     name="throttleWriteIOPSDevice")


class HugepageLimit(_Model):
    page_size: str
    limit: U64


class InterfacePriority(_Model):
    name: str
    priority: U32


class Network(_Model):
    class_id: U32 | None = field(default=None, name="classID")
    priorities: list[InterfacePriority] = []


class Rdma(_Model):
    hca_handles: U32 | None = None
    hca_objects: U32 | None = None


class Resources(_Model):
    devices: list[DeviceCgroup] = []
    memory: Memory | None = None
    cpu: Cpu | None = None
    pids: Pids | None = None
    block_io: BlockIO | None = field(default=None, name="blockIO")
    hugepage_limits: list[HugepageLimit] = []
    network: Network | None = None
    rdma: dict[str, Rdma] = {}
    unified: dict[str, str] = {}


# --- linux: the rest -------------------------------------------------------------------------------------------


class Namespace(_Model):
    type: str
    path: str | None = None


class TimeOffset(_Model):
    secs: I64 | None = None
    nanosecs: U32 | None = None


class Device(_Model):
    type: str
    path: str
    major: I64 | None = None
    minor: I64 | None = None
    file_mode: U32 | None = None
    uid: U32 | None = None
    gid: U32 | None = None


class IntelRdt(_Model):
    clos_id: str | None = field(default=None, name="closID")
    l3_cache_schema: str | None = None
    mem_bw_schema: str | None = None
    enable_cmt: bool | None = field(default=None, name="enableCMT")
    enable_mbm: bool | None = field(default=None, name="enableMBM")


class SeccompArg(_Model):
    index: U32
    value: U64
    op: str
    value_two: U64 = 0


class Syscall(_Model):
    names: list[str]
    action: str
    errno_ret: U32 | None = None
    args: list[SeccompArg] = []


class Seccomp(_Model):
    default_action: str
    default_errno_ret: U32 | None = None
    architectures: list[str] = []
    flags: list[str] = []
    listener_path: str | None = None
    listener_metadata: str | None = None
    syscalls: list[Syscall] = []


class Personality(_Model):
    domain: str
    flags: list[str] = []


class NetDevice(_Model):
    name: str | None = None


class Linux(_Model):
    namespaces: list[Namespace] = []
    uid_mappings: list[IdMapping] = []
    gid_mappings: list[IdMapping] = []
    time_offsets: dict[str, TimeOffset] = {}
    devices: list[Device] = []
    net_devices: dict[str, NetDevice] = {}
    cgroups_path: str | None = None
    resources: Resources | None = None
    intel_rdt: IntelRdt | None = None
    sysctl: dict[str, str] = {}
    seccomp: Seccomp | None = None
    rootfs_propagation: str | None = None
    masked_paths: list[str] = []
    readonly_paths: list[str] = []
    mount_label: str | None = None
    personality: Personality | None = None


# --- the document ----------------------------------------------------------------------------------------------


class Spec(_Model):
    oci_version: str
    root: Root | None = None
    mounts: list[Mount] = []
    process: Process | None = None
    hostname: str | None = None
    domainname: str | None = None
    hooks: Hooks = field(default_factory=Hooks)
    annotations: dict[str, str] = {}
    linux: Linux = field(default_factory=Linux)

