"""The process section, shared by `create` (``process`` of config.json) and `exec` (the container's recorded
process amended by the flags, or a process.json): one ``ProcessPlan`` built by one function."""

from __future__ import annotations

from simcon.init.plan import ProcessPlan
from simcon.runtime.plan import capabilities, lsm_labels, rlimits

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.spec.model import Linux, Process


def process_plan(process: Process, config_file: str, *, prefix: str = "process.", linux: Linux | None = None,
                 selinux_label: str | None = None, own_user_namespace: bool = False, setgroups_denied: bool = False,
                 preserve_fds: int = 0) -> ProcessPlan:
    """``ConfigError`` naming ``config_file`` and the JSON path (``prefix`` + field) for what cannot be applied.

    ``linux``: the config's linux section (create only). ``selinux_label``: the process label as
    ``lsm_labels.selinux_labels`` decided it (None on a host without SELinux). ``own_user_namespace``: the process
    runs in a user namespace of the container's own, where it holds every capability of its bounding set,
    whatever SimCon holds.
    """
    apparmor_profile = lsm_labels.check_lsm_labels(process, linux, config_file, prefix)
    own = capabilities.bounding_set() if own_user_namespace else None
    caps = capabilities.capabilities_plan(process.capabilities, config_file, prefix, own_permitted=own)
    limits = rlimits.rlimits_plan(process.rlimits, config_file, prefix)
    user = process.user
    console_size = None
    if process.console_size is not None:
        console_size = (process.console_size.height, process.console_size.width)
    return ProcessPlan(
        args=tuple(process.args),
        env=tuple(process.env or ()),
        cwd=process.cwd or "/",
        uid=user.uid or 0,
        gid=user.gid or 0,
        additional_gids=tuple(user.additional_gids or ()),
        umask=user.umask,
        terminal=bool(process.terminal),
        console_size=console_size,
        no_new_privileges=bool(process.no_new_privileges),
        capabilities=caps,
        rlimits=tuple(limits),
        apparmor_profile=apparmor_profile,
        selinux_label=selinux_label,
        preserve_fds=preserve_fds,
        setgroups_denied=setgroups_denied,
    )
