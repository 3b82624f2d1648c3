"""The exec plan: the process `exec` starts in a running container, built by the same ``process_plan`` as the
container's own process.

The process is the container's (recorded in state.json at create) amended by the flags, or a process.json given
with ``--process`` (which the flags do not amend, as in runc). The seccomp filter is the container's own, as
create compiled it.
"""

from __future__ import annotations

import os

from simcon.errors import ConfigError, UnsupportedError, UsageError
from simcon.init.plan import ExecPlan, SeccompPlan
from simcon.runtime.plan.options import ExecOptions
from simcon.runtime.plan.process import process_plan

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import ContainerState
    from simcon.spec.model import Process

_LSM_FLAGS = {"process.apparmorProfile": "--apparmor", "process.selinuxLabel": "--process-label"}


def build_exec_plan(state: ContainerState, state_dir: str, options: ExecOptions) -> ExecPlan:
    """``ConfigError`` naming the process.json (or ``exec``) and the field; ``UsageError`` naming the flag."""
    process, source = _process_for(state, options)
    if not process.args:
        raise ConfigError(source, "args", "no command to run")
    cwd = process.cwd or "/"
    prefix = "" if source != "exec" else "process."
    setgroups_denied = _setgroups_denied(state.pid)
    if setgroups_denied and process.user.additional_gids:
        raise ConfigError(source, "user.additionalGids", "the container's user namespace denies setgroups "
                                                         "(a rootless container): no supplementary groups")
    if not os.path.isabs(cwd):
        raise ConfigError(source, "cwd", f"must be an absolute path (got {cwd!r})")
    from simcon.runtime.plan import lsm_labels

    try:
        selinux_label = lsm_labels.selinux_labels(process, None, source, prefix)[0]
        planned = process_plan(process, source, prefix=prefix, selinux_label=selinux_label,
                               own_user_namespace=_own_user_namespace(state.pid),
                               setgroups_denied=setgroups_denied, preserve_fds=options.preserve_fds)
    except ConfigError as exc:
        flag = _LSM_FLAGS.get(exc.json_path)
        if source != "exec" or flag is None:
            raise
        raise UsageError(f"{flag}: {exc.problem}") from exc
    return ExecPlan(state.id, state.pid, planned, _container_seccomp(state, state_dir))


# --- the process -------------------------------------------------------------------------------------------------


def _process_for(state: ContainerState, options: ExecOptions) -> tuple[Process, str]:
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


def _container_process(state: ContainerState) -> Process:
    from simcon.records import DecodeError, convert
    from simcon.spec.model import Process

    if state.process is not None:
        try:
            return convert(state.process, Process, "process")  # type: ignore[return-value]
        except DecodeError as exc:  # written by SimCon at create: a damaged record
            from simcon.errors import StateError

            raise StateError(f"container `{state.id}`: state.json: {exc}", container_id=state.id) from None
    # A container created before SimCon recorded the process: fall back to the bundle's config.
    from simcon.spec.load import load_config

    process = load_config(state.bundle).process
    if process is None:
        raise UsageError(f"container `{state.id}` has no `process` in its config to start from: give the whole "
                         "process with --process FILE")
    return process


def _amend(base: Process, options: ExecOptions) -> Process:
    """runc's rules: args replace, env appends (a later KEY wins), the rest overrides what is given."""
    from simcon.records import replace
    from simcon.spec.model import Capabilities

    if options.cwd is not None and not os.path.isabs(options.cwd):
        raise UsageError(f"--cwd {options.cwd!r}: must be an absolute path")
    for entry in options.env:
        name, sep, _value = entry.partition("=")
        if not sep or not name:  # as config.json's process.env (spec.validate); runc refuses these too
            raise UsageError(f"--env {entry!r}: expected KEY=VALUE")
    user = base.user
    uid, gid = user.uid, user.gid
    if options.user:
        uid, gid = _parse_user(options.user, gid)
    user = replace(user, uid=uid, gid=gid,
                   additional_gids=list(user.additional_gids) + list(options.additional_gids))
    capabilities = base.capabilities
    if options.caps:
        _check_cap_names(options.caps)
        capabilities = capabilities or Capabilities()
        capabilities = replace(
            capabilities,
            bounding=_union(capabilities.bounding, options.caps),
            effective=_union(capabilities.effective, options.caps),
            permitted=_union(capabilities.permitted, options.caps),
        )
    return replace(
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
    from simcon.spec.constants import CAPABILITIES

    for name in names:
        if name not in CAPABILITIES:
            raise UsageError(f"--cap {name!r}: unknown capability (names look like CAP_NET_ADMIN)")


# --- what the container's init tells --------------------------------------------------------------------------


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


def _container_seccomp(state: ContainerState, directory: str) -> SeccompPlan | None:
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
        raise UnsupportedError(f"exec `{state.id}`: the container's seccomp profile uses SCMP_ACT_NOTIFY, which "
                               "SimCon does not support for exec'd processes yet", container_id=state.id)
    return plan
