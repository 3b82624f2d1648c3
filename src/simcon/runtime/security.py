"""The security parts of the launch plan: capabilities, rlimits, oomScoreAdj, sysctl, personality, seccomp.

Each ``*_plan`` function turns one part of the validated config into plain values the init applies, and fails
here, in the parent, with the JSON path, for what the kernel or SimCon's own privileges would refuse later.
Things that cannot be granted but are harmless to skip (a capability this kernel does not know) are warnings.
"""

from __future__ import annotations

import os

from simcon.errors import ConfigError, UnsupportedError
from simcon.spec.constants import CAPABILITIES

CAP_SYS_RESOURCE = CAPABILITIES["CAP_SYS_RESOURCE"]

_CAP_SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def _warn(config_file: str, message: str) -> None:
    from simcon import log

    log.warning(f"{config_file}: {message}")


class CapsPlan:
    """The five capability sets as bit masks, and the kernel's highest capability number."""

    __slots__ = ("bounding", "effective", "permitted", "inheritable", "ambient", "last_cap")

    def __init__(self, bounding: int = 0, effective: int = 0, permitted: int = 0, inheritable: int = 0,
                 ambient: int = 0, last_cap: int = 40) -> None:
        self.bounding = bounding
        self.effective = effective
        self.permitted = permitted
        self.inheritable = inheritable
        self.ambient = ambient
        self.last_cap = last_cap


def _own_permitted() -> int:
    from simcon.linux import capabilities as caps

    return caps.capget()[1]


def bounding_set() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    return 0


def capabilities_plan(capabilities, config_file: str, prefix: str = "process.", *,  # noqa: ANN001
                      last_cap: int | None = None, own_permitted: int | None = None) -> CapsPlan:
    """Bit masks of ``process.capabilities`` (no section: no capabilities at all, as in runc).

    Names were validated against the known list already (unknown -> error). A capability newer than the running
    kernel, or one SimCon itself does not hold (so capset would refuse it), is a warning and left out.
    """
    from simcon.linux import capabilities as caps

    if last_cap is None:
        last_cap = caps.last_cap()
    plan = CapsPlan(last_cap=last_cap)
    if capabilities is None:
        return plan
    if own_permitted is None:
        own_permitted = _own_permitted()
    for field in _CAP_SETS:
        mask = 0
        for i, name in enumerate(getattr(capabilities, field)):
            where = f"{prefix}capabilities.{field}[{i}]"
            bit = CAPABILITIES.get(name)
            if bit is None:
                raise ConfigError(config_file, where, f'unknown capability "{name}"')
            if bit > last_cap:
                _warn(config_file, f"{where}: {name} is not supported by the running kernel "
                                   f"(cap_last_cap is {last_cap}); skipped")
                continue
            if field != "bounding" and not own_permitted & (1 << bit):
                _warn(config_file, f"{where}: SimCon itself does not hold {name}, so it cannot grant it; skipped")
                continue
            mask |= 1 << bit
        setattr(plan, field, mask)
    # The kernel refuses an ambient capability that is not both permitted and inheritable.
    missing = plan.ambient & ~(plan.permitted & plan.inheritable)
    if missing:
        names = [n for n, b in CAPABILITIES.items() if missing & (1 << b)]
        _warn(config_file, f"{prefix}capabilities.ambient: {', '.join(names)} not in both permitted and "
                           "inheritable; skipped")
        plan.ambient &= ~missing
    return plan


# --- rlimits -----------------------------------------------------------------------------------------------------


# <asm-generic/resource.h>: Python's resource module lacks some (RLIMIT_LOCKS) but takes any number.
RLIMIT_NUMBERS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4, "RLIMIT_RSS": 5,
    "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10,
    "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}


def rlimits_plan(rlimits, config_file: str, prefix: str = "process.") -> list[tuple[int, int, int]]:  # noqa: ANN001
    """(resource number, soft, hard) for each rlimit. A hard limit above SimCon's own is an error when SimCon
    lacks CAP_SYS_RESOURCE (setrlimit would refuse it in the init)."""
    import resource

    result = []
    can_raise = None
    for i, rlimit in enumerate(rlimits):
        where = f"{prefix}rlimits[{i}]"
        number = RLIMIT_NUMBERS.get(rlimit.type)
        if number is None:
            raise ConfigError(config_file, f"{where}.type", f'rlimit "{rlimit.type}" is not known on this host')
        soft, hard = _limit(rlimit.soft), _limit(rlimit.hard)
        _, own_hard = resource.getrlimit(number)
        if _above(hard, own_hard):
            if can_raise is None:
                can_raise = bool(_own_permitted() & (1 << CAP_SYS_RESOURCE))
            if not can_raise:
                raise ConfigError(config_file, f"{where}.hard",
                                  f"{rlimit.type} hard limit {_show(hard)} is above SimCon's own "
                                  f"({_show(own_hard)}) and SimCon lacks CAP_SYS_RESOURCE to raise it")
        result.append((number, soft, hard))
    return result


def _limit(value: int) -> int:
    """JSON carries 'unlimited' as 2**64-1; Python's resource module spells it RLIM_INFINITY (-1)."""
    import resource

    return resource.RLIM_INFINITY if value >= 2**64 - 1 else value


def _above(value: int, ceiling: int) -> bool:
    import resource

    if ceiling == resource.RLIM_INFINITY:
        return False
    return value == resource.RLIM_INFINITY or value > ceiling


def _show(value: int) -> str:
    import resource

    return "unlimited" if value == resource.RLIM_INFINITY else str(value)


# --- oom_score_adj -------------------------------------------------------------------------------------------------


def oom_score_adj_plan(value: int | None, config_file: str) -> int | None:
    if value is None:
        return None
    if not -1000 <= value <= 1000:
        raise ConfigError(config_file, "process.oomScoreAdj", f"must be between -1000 and 1000, got {value}")
    # Lowering it below our own needs CAP_SYS_RESOURCE.
    try:
        with open("/proc/self/oom_score_adj", "rb") as f:
            own = int(f.read())
    except OSError:
        return value
    if value < own and not _own_permitted() & (1 << CAP_SYS_RESOURCE):
        raise ConfigError(config_file, "process.oomScoreAdj",
                          f"{value} is below SimCon's own oom_score_adj ({own}) and SimCon lacks "
                          "CAP_SYS_RESOURCE to lower it")
    return value


# --- sysctl ------------------------------------------------------------------------------------------------------

_IPC_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax",
                "kernel.shmmni", "kernel.shm_rmid_forced")
_UTS_SYSCTLS = ("kernel.hostname", "kernel.domainname")


def sysctl_namespace(key: str) -> str | None:
    """The namespace a sysctl key belongs to, or None when it is not namespaced (a host-wide setting)."""
    dotted = key.replace("/", ".")
    if dotted in _IPC_SYSCTLS or dotted.startswith("fs.mqueue."):
        return "ipc"
    if dotted.startswith("net."):
        return "network"
    if dotted in _UTS_SYSCTLS:
        return "uts"
    return None


def sysctl_plan(sysctl: dict[str, str], has_namespace, config_file: str) -> list[tuple[str, str]]:  # noqa: ANN001
    """(path under /proc/sys, value) per key; each key must belong to a namespace the container has of its own."""
    result = []
    for key, value in sysctl.items():
        where = f'linux.sysctl["{key}"]'
        kind = sysctl_namespace(key)
        if kind is None:
            raise ConfigError(config_file, where, "not a namespaced sysctl: it would change the host, so it is "
                                                  "not allowed in a container")
        if not has_namespace(kind):
            raise ConfigError(config_file, where, f"needs a {kind} namespace of the container's own "
                                                  f'(add {{"type": "{kind}"}} to linux.namespaces)')
        relative = key.replace(".", "/") if "/" not in key else key
        if ".." in relative.split("/"):
            raise ConfigError(config_file, where, "must not contain '..'")
        result.append(("/proc/sys/" + relative.strip("/"), value))
    return result


# --- personality -------------------------------------------------------------------------------------------------

PER_LINUX = 0x0000
PER_LINUX32 = 0x0008


def personality_plan(personality, config_file: str) -> int | None:  # noqa: ANN001
    if personality is None:
        return None
    domains = {"LINUX": PER_LINUX, "LINUX32": PER_LINUX32}
    if personality.domain not in domains:
        raise ConfigError(config_file, "linux.personality.domain",
                          f'unknown domain "{personality.domain}" (expected LINUX or LINUX32)')
    if personality.flags:
        raise ConfigError(config_file, "linux.personality.flags",
                          "personality flags are not supported (the runtime-spec defines none yet)")
    return domains[personality.domain]


# --- LSMs --------------------------------------------------------------------------------------------------------


def active_lsms(path: str = "/sys/kernel/security/lsm") -> list[str]:
    try:
        with open(path) as f:
            return [name for name in f.read().strip().split(",") if name]
    except OSError:
        return []


def apparmor_enabled(path: str = "/sys/module/apparmor/parameters/enabled") -> bool:
    try:
        with open(path) as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def selinux_enabled(mounts: str = "/proc/self/mountinfo") -> bool:
    try:
        with open(mounts) as f:
            return any(line.partition(" - ")[2].startswith("selinuxfs ") for line in f)
    except OSError:
        return False


def loaded_apparmor_profiles(path: str = "/sys/kernel/security/apparmor/profiles") -> set[str]:
    """Names of the profiles the kernel has loaded (lines "name (mode)")."""
    try:
        with open(path) as f:
            return {line.rsplit(" (", 1)[0] for line in f.read().splitlines() if line}
    except OSError:
        return set()


def check_lsm_labels(process, linux, config_file: str, prefix: str = "process.") -> str | None:  # noqa: ANN001
    """The AppArmor profile to apply (None: none asked for). A label for an LSM the host does not run is an
    error, as is an AppArmor profile the kernel has not loaded. SELinux labels are carried by the plan (see
    ``build_plan``): the process label is written to /proc/thread-self/attr/exec before execve, the mount label
    becomes a `context=` mount option."""
    profile = process.apparmor_profile if process is not None else None
    if profile:
        where = f"{prefix}apparmorProfile"
        if not apparmor_enabled():
            raise ConfigError(config_file, where, "AppArmor is not enabled on this host, so the label cannot be "
                                                  "applied")
        if profile != "unconfined" and profile not in loaded_apparmor_profiles():
            raise ConfigError(config_file, where, f'AppArmor profile "{profile}" is not loaded (load it with '
                                                  "apparmor_parser -r)")
    wanted = []
    if process is not None and process.selinux_label:
        wanted.append((f"{prefix}selinuxLabel", selinux_enabled()))
    if linux is not None and linux.mount_label:
        wanted.append(("linux.mountLabel", selinux_enabled()))
    for where, enabled in wanted:
        if not enabled:
            raise ConfigError(config_file, where, "SELinux is not enabled on this host, so the label cannot be "
                                                  "applied")
    return profile or None


# --- seccomp -----------------------------------------------------------------------------------------------------


_EPERM = 1


class SeccompPlan:
    """A compiled filter: the BPF program (struct sock_filter array), its seccomp(2) flags, the names skipped."""

    __slots__ = ("program", "flags", "skipped", "listener_path", "listener_metadata")

    def __init__(self, program: bytes, flags: int, skipped: list[str], listener_path: str | None = None,
                 listener_metadata: str | None = None) -> None:
        self.program = program
        self.flags = flags
        self.skipped = skipped
        # With SCMP_ACT_NOTIFY: where the listener fd goes (the init sends it there, see seccomp_listener_plan).
        self.listener_path = listener_path
        self.listener_metadata = listener_metadata


def _seccomp_action(name: str, errno_ret: int | None, where: str, config_file: str) -> int:
    from simcon.linux import seccomp as sc

    simple = {"SCMP_ACT_KILL": sc.SCMP_ACT_KILL_THREAD, "SCMP_ACT_KILL_THREAD": sc.SCMP_ACT_KILL_THREAD,
              "SCMP_ACT_KILL_PROCESS": sc.SCMP_ACT_KILL_PROCESS, "SCMP_ACT_TRAP": sc.SCMP_ACT_TRAP,
              "SCMP_ACT_ALLOW": sc.SCMP_ACT_ALLOW, "SCMP_ACT_LOG": sc.SCMP_ACT_LOG}
    if name in simple:
        return simple[name]
    if name in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"):
        value = _EPERM if errno_ret is None else errno_ret
        if value > 0xFFFF:
            raise ConfigError(config_file, where, f"errno {value} does not fit the 16 bits seccomp returns")
        return (sc.SCMP_ACT_ERRNO if name == "SCMP_ACT_ERRNO" else sc.SCMP_ACT_TRACE) | value
    if name == "SCMP_ACT_NOTIFY":
        return sc.SCMP_ACT_NOTIFY
    from simcon.spec.seccomp import ACTIONS

    raise ConfigError(config_file, where, f'unknown seccomp action "{name}" (expected one of {", ".join(ACTIONS)})')


def seccomp_plan(seccomp, config_file: str) -> SeccompPlan:  # noqa: ANN001
    """Compile ``linux.seccomp`` with libseccomp into a BPF program, in the parent, before fork.

    As in runc: syscall names this libseccomp does not know are skipped with a warning; rules whose action is
    the default action are dropped; several conditions on the same argument become separate rules (OR), on
    different arguments one rule (AND).
    """
    from simcon.linux import seccomp as sc
    from simcon.spec.seccomp import FLAGS

    base = "linux.seccomp"
    default = _seccomp_action(seccomp.default_action, seccomp.default_errno_ret, f"{base}.defaultAction",
                              config_file)
    flags = 0
    for i, flag in enumerate(seccomp.flags):
        if flag not in FLAGS:
            raise ConfigError(config_file, f"{base}.flags[{i}]",
                              f'unknown seccomp flag "{flag}" (expected one of {", ".join(FLAGS)})')
        flags |= getattr(sc, flag)
    try:
        filt = sc.Filter(default)
    except OSError as exc:
        raise UnsupportedError(f"{config_file}: {base}: cannot use {sc.LIBRARY} ({exc.strerror}); install "
                               "Debian's libseccomp2") from None
    skipped: list[str] = []
    with filt:
        filt.set_attr(sc.SCMP_FLTATR_CTL_NNP, 0)  # noNewPrivileges is the config's decision, not libseccomp's
        for i, arch in enumerate(seccomp.architectures):
            token = filt.resolve_arch(arch.removeprefix("SCMP_ARCH_").lower()) if arch.startswith("SCMP_ARCH_") else 0
            if not token:
                raise ConfigError(config_file, f"{base}.architectures[{i}]", f'unknown architecture "{arch}"')
            try:
                filt.add_arch(token)
            except OSError as exc:
                raise ConfigError(config_file, f"{base}.architectures[{i}]",
                                  f"libseccomp cannot add {arch}: {exc.strerror}") from None
        for i, call in enumerate(seccomp.syscalls):
            where = f"{base}.syscalls[{i}]"
            if not call.names:
                raise ConfigError(config_file, f"{where}.names", "must not be empty")
            action = _seccomp_action(call.action, call.errno_ret, f"{where}.action", config_file)
            conditions = _seccomp_conditions(call.args, f"{where}.args", config_file)
            if action == default:
                continue
            indexes = [c[0] for c in conditions]
            # Two checks on one argument cannot both hold in a single rule: each becomes its own rule.
            groups = [[c] for c in conditions] if len(set(indexes)) != len(indexes) else [conditions]
            for j, name in enumerate(call.names):
                nr = filt.resolve_syscall(name)
                if nr is None:
                    skipped.append(name)
                    continue
                for group in groups:
                    try:
                        filt.add_rule(action, nr, group)
                    except OSError as exc:
                        raise ConfigError(config_file, f"{where}.names[{j}]",
                                          f'libseccomp refused the rule for "{name}": {exc.strerror}') from None
        program = filt.export_bpf()
    if skipped:
        _warn(config_file, f"{base}.syscalls: syscalls unknown to {sc.LIBRARY} skipped: {', '.join(skipped)}")
    notify = seccomp.default_action == "SCMP_ACT_NOTIFY" or any(c.action == "SCMP_ACT_NOTIFY"
                                                                 for c in seccomp.syscalls)
    if not notify:
        return SeccompPlan(program, flags, skipped)
    if not seccomp.listener_path:
        raise ConfigError(config_file, f"{base}.listenerPath", "required: SCMP_ACT_NOTIFY needs a listener socket "
                                                               "to send the notification fd to")
    if not os.path.isabs(seccomp.listener_path):
        raise ConfigError(config_file, f"{base}.listenerPath",
                          f'must be an absolute path, got "{seccomp.listener_path}"')
    return SeccompPlan(program, flags | sc.SECCOMP_FILTER_FLAG_NEW_LISTENER, skipped, seccomp.listener_path,
                       seccomp.listener_metadata)


def seccomp_profile(path: str, bounding: list[str]):  # noqa: ANN201 - a model.Seccomp, or None
    """The ``--seccomp-profile FILE`` option: a profile file (OCI ``linux.seccomp`` or Docker/moby format, read
    as ``simcon spec --seccomp`` reads it) that replaces the config's filter; ``unconfined``: no filter."""
    if path == "unconfined":
        return None
    import json

    from simcon.spec.load import decode_seccomp
    from simcon.spec.seccomp import profile_from_file

    if not os.path.exists(path):
        raise ConfigError(path, "", "no such seccomp profile file")
    profile = profile_from_file(path, bounding)
    return decode_seccomp(json.dumps(profile).encode(), path)


def seccomp_listener_plan(plan, spec, config_file: str) -> None:  # noqa: ANN001
    """For SCMP_ACT_NOTIFY: connect to listenerPath now (the init cannot reach it after pivot_root) and prepare
    the containerProcessState the init sends with the listener fd; the init adds its pid."""
    import socket

    from simcon import OCI_VERSION

    seccomp = plan.seccomp
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(seccomp.listener_path)
    except OSError as exc:
        sock.close()
        raise ConfigError(config_file, "linux.seccomp.listenerPath",
                          f'cannot connect to "{seccomp.listener_path}": {exc.strerror}') from None
    sock.set_inheritable(False)
    plan.seccomp_listener = sock
    state = {"ociVersion": OCI_VERSION, "id": plan.container_id, "status": "running", "pid": 0,
             "bundle": plan.bundle}
    if spec.annotations:
        state["annotations"] = dict(spec.annotations)
    plan.seccomp_listener_state = {"ociVersion": OCI_VERSION, "fds": ["seccompFd"], "pid": 0,
                                   "metadata": seccomp.listener_metadata or "", "state": state}


def _seccomp_conditions(args, where: str, config_file: str) -> list[tuple[int, int, int, int]]:  # noqa: ANN001
    from simcon.linux import seccomp as sc
    from simcon.spec.seccomp import OPERATORS

    result = []
    for k, arg in enumerate(args):
        if arg.index > 5:
            raise ConfigError(config_file, f"{where}[{k}].index", f"a syscall has 6 arguments (0-5), got {arg.index}")
        if arg.op not in OPERATORS:
            raise ConfigError(config_file, f"{where}[{k}].op",
                              f'unknown operator "{arg.op}" (expected one of {", ".join(OPERATORS)})')
        result.append((arg.index, getattr(sc, arg.op), arg.value, arg.value_two))
    return result


# --- user namespaces -------------------------------------------------------------------------------------------

_MAX_MAP_LINES = 340  # the kernel's limit per uid_map/gid_map (Linux 4.15+)


def _mapped(value: int, maps: list[tuple[int, int, int]]) -> bool:
    return any(inside <= value < inside + size for inside, _, size in maps)


ID_MAP_HELPERS = ("newuidmap", "newgidmap")


def own_ids_only(uid_maps: list, gid_maps: list) -> bool:
    """Whether the maps are what the kernel lets an unprivileged user write itself: its own euid (egid), size 1."""
    return all(len(maps) == 1 and maps[0][1] == own and maps[0][2] == 1
               for maps, own in ((uid_maps, os.geteuid()), (gid_maps, os.getegid())))


def _check_unprivileged_maps(uid_maps: list, gid_maps: list, process, config_file: str) -> None:  # noqa: ANN001
    """Anything beyond the user's own ids goes through the setuid helpers newuidmap/newgidmap, which check
    /etc/subuid and /etc/subgid; without them it is refused here."""
    import shutil

    if not own_ids_only(uid_maps, gid_maps):
        if all(shutil.which(helper) for helper in ID_MAP_HELPERS):
            return
        for field, maps, own in (("uidMappings", uid_maps, os.geteuid()), ("gidMappings", gid_maps, os.getegid())):
            if len(maps) != 1 or maps[0][1] != own or maps[0][2] != 1:
                shown = ", ".join(f"{inside}:{outside}:{size}" for inside, outside, size in maps)
                raise UnsupportedError(
                    f"{config_file}: linux.{field}: rootless: as uid {os.geteuid()} SimCon can map only your own "
                    f"{'uid' if field == 'uidMappings' else 'gid'} {own} (one mapping, size 1), not {shown}, "
                    "without newuidmap/newgidmap (Debian package uidmap, with ranges in /etc/subuid and "
                    "/etc/subgid)")
    if process.user.additional_gids:
        raise UnsupportedError(f"{config_file}: process.user.additionalGids: rootless: setgroups is denied in a "
                               "user namespace an unprivileged user creates, so no supplementary groups")


def id_mappings_plan(linux, process, config_file: str) -> tuple[list, list]:  # noqa: ANN001
    """(uid maps, gid maps) as (container id, host id, size) for a new user namespace, checked so the kernel and
    the init will not refuse them: ranges that do not overlap, container id 0 mapped (the init sets the container
    up as root inside), and every id the process runs as mapped."""
    result = []
    for field, mappings in (("uidMappings", linux.uid_mappings), ("gidMappings", linux.gid_mappings)):
        where = f"linux.{field}"
        maps = [(m.container_id, m.host_id, m.size) for m in mappings]
        if not maps:
            raise ConfigError(config_file, where, "a new user namespace needs at least one mapping")
        if len(maps) > _MAX_MAP_LINES:
            raise ConfigError(config_file, where, f"at most {_MAX_MAP_LINES} mappings, got {len(maps)}")
        for i, (inside, outside, size) in enumerate(maps):
            if size == 0:
                raise ConfigError(config_file, f"{where}[{i}].size", "must be greater than zero")
            for j, (other_in, other_out, other_size) in enumerate(maps[:i]):
                if inside < other_in + other_size and other_in < inside + size:
                    raise ConfigError(config_file, f"{where}[{i}]", f"containerID range overlaps {where}[{j}]")
                if outside < other_out + other_size and other_out < outside + size:
                    raise ConfigError(config_file, f"{where}[{i}]", f"hostID range overlaps {where}[{j}]")
        if not _mapped(0, maps):
            raise ConfigError(config_file, where, "must map container id 0 (SimCon sets the container up as root "
                                                  "inside the user namespace)")
        result.append(maps)
    uid_maps, gid_maps = result
    if os.geteuid() != 0:
        _check_unprivileged_maps(uid_maps, gid_maps, process, config_file)
    user = process.user
    if not _mapped(user.uid, uid_maps):
        raise ConfigError(config_file, "process.user.uid", f"{user.uid} is not mapped by linux.uidMappings")
    if not _mapped(user.gid, gid_maps):
        raise ConfigError(config_file, "process.user.gid", f"{user.gid} is not mapped by linux.gidMappings")
    for i, gid in enumerate(user.additional_gids):
        if not _mapped(gid, gid_maps):
            raise ConfigError(config_file, f"process.user.additionalGids[{i}]",
                              f"{gid} is not mapped by linux.gidMappings")
    return uid_maps, gid_maps


# --- the filter of a created container, for `exec` -------------------------------------------------------------

SECCOMP_FILE = "seccomp.bpf"  # in the container's state directory
_SECCOMP_HEADER = "<II"  # seccomp(2) flags, whether the filter notifies


def save_seccomp(seccomp: SeccompPlan | None, directory: str) -> None:
    """Keep the container's compiled filter (an empty file: none) so `exec` applies exactly it, without
    reading the bundle again or recompiling."""
    import struct

    from simcon.runtime.state import write_atomically

    data = b""
    if seccomp is not None:
        data = struct.pack(_SECCOMP_HEADER, seccomp.flags, int(bool(seccomp.listener_path))) + seccomp.program
    write_atomically(os.path.join(directory, SECCOMP_FILE), data, 0o600)


def saved_seccomp(directory: str) -> tuple[bool, SeccompPlan | None]:
    """(found, filter) as save_seccomp left it; found is False for a container created without the file."""
    import struct

    try:
        with open(os.path.join(directory, SECCOMP_FILE), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return False, None
    if not data:
        return True, None
    size = struct.calcsize(_SECCOMP_HEADER)
    flags, notify = struct.unpack_from(_SECCOMP_HEADER, data)
    return True, SeccompPlan(data[size:], flags, [], "notify" if notify else None)
