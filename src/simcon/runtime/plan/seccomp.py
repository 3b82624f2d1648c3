"""``linux.seccomp`` (or a ``--seccomp-profile`` file) compiled with libseccomp into a BPF program, before fork.

As in runc: syscall names this libseccomp does not know are skipped with a warning. With SCMP_ACT_NOTIFY the
parent connects to the listener socket now, since the init cannot reach it after pivot_root.
"""

from __future__ import annotations

import os

from simcon.errors import ConfigError, UnsupportedError
from simcon.init.plan import SeccompPlan
from simcon.linux import unixsock
from simcon.runtime import seccomp_cache

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.spec.model import Seccomp, SeccompArg


def _warn(config_file: str, message: str) -> None:
    from simcon import log

    log.warning(f"{config_file}: {message}")


_EPERM = 1


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


def seccomp_plan(seccomp: Seccomp, config_file: str) -> SeccompPlan:
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
    # A profile compiled before (by any container) comes from the cache: no libseccomp compile (seccomp_cache).
    key = _cache_key(seccomp)
    cached = seccomp_cache.load(key) if key is not None else None
    if cached is not None:
        program, skipped = cached
    else:
        program, skipped = _compile(seccomp, default, config_file)
        if key is not None:
            seccomp_cache.store(key, program, skipped)
    if skipped:
        _warn(config_file, f"{base}.syscalls: syscalls unknown to {sc.LIBRARY} skipped: {', '.join(skipped)}")
    notify = seccomp.default_action == "SCMP_ACT_NOTIFY" or any(c.action == "SCMP_ACT_NOTIFY"
                                                                 for c in seccomp.syscalls)
    if not notify:
        return SeccompPlan(program, flags, tuple(skipped))
    if not seccomp.listener_path:
        raise ConfigError(config_file, f"{base}.listenerPath", "required: SCMP_ACT_NOTIFY needs a listener socket "
                                                               "to send the notification fd to")
    if not os.path.isabs(seccomp.listener_path):
        raise ConfigError(config_file, f"{base}.listenerPath",
                          f'must be an absolute path, got "{seccomp.listener_path}"')
    return SeccompPlan(program, flags | sc.SECCOMP_FILTER_FLAG_NEW_LISTENER, tuple(skipped), seccomp.listener_path,
                       seccomp.listener_metadata)


def _compile(seccomp: Seccomp, default: int, config_file: str) -> tuple[bytes, list[str]]:
    """libseccomp's BPF program for ``linux.seccomp``, and the syscall names it did not know (skipped)."""
    from simcon.linux import seccomp as sc

    base = "linux.seccomp"
    try:
        filt = sc.Filter(default)
    except OSError as exc:
        raise UnsupportedError(f"{config_file}: {base}: cannot use {sc.LIBRARY} ({exc.strerror}); install "
                               "Debian's libseccomp2") from exc
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
                                  f"libseccomp cannot add {arch}: {exc.strerror}") from exc
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
                                          f'libseccomp refused the rule for "{name}": {exc.strerror}') from exc
        program = filt.export_bpf()
    return program, skipped


def _cache_key(seccomp: Seccomp) -> bytes | None:
    """The cache key of a compile: every field the program depends on, and what compiles it (libseccomp's
    version, the kernel, the architecture, this compiling code). None when libseccomp cannot be loaded (the
    compile then reports that)."""
    from simcon.linux import seccomp as sc

    try:
        version = sc.library_version()
    except OSError:
        return None
    profile = repr((seccomp.default_action, seccomp.default_errno_ret, seccomp.architectures,
                    [(c.names, c.action, c.errno_ret, [(a.index, a.value, a.value_two, a.op) for a in c.args])
                     for c in seccomp.syscalls]))
    uname = os.uname()
    code = [(st.st_size, st.st_mtime_ns) for st in (os.stat(__file__), os.stat(sc.__file__))]
    compiler = repr((version, uname.release, uname.machine, code))
    return seccomp_cache.make_key(profile.encode(), compiler.encode())


def seccomp_profile(path: str, bounding: list[str]) -> Seccomp | None:
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


def listener_state(seccomp: SeccompPlan, container_id: str, bundle: str, annotations: dict[str, str]) -> dict:
    """For SCMP_ACT_NOTIFY: the containerProcessState the init sends with the listener fd (it adds its pid)."""
    from simcon.version import OCI_VERSION

    state: dict = {"ociVersion": OCI_VERSION, "id": container_id, "status": "running", "pid": 0, "bundle": bundle}
    if annotations:
        state["annotations"] = dict(annotations)
    return {"ociVersion": OCI_VERSION, "fds": ["seccompFd"], "pid": 0, "metadata": seccomp.listener_metadata or "",
            "state": state}


def connect_listener(path: str, config_file: str) -> unixsock.Socket:
    """At launch, before fork: connect to listenerPath (the init cannot reach it after pivot_root)."""
    try:
        sock = unixsock.connect(path)
    except OSError as exc:
        raise ConfigError(config_file, "linux.seccomp.listenerPath", f'cannot connect to "{path}": {exc.strerror}') from exc
    return sock  # close-on-exec already (see unixsock)


def _seccomp_conditions(args: list[SeccompArg], where: str, config_file: str) -> list[tuple[int, int, int, int]]:
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
