"""LSM labels in the launch plan: an AppArmor profile the host cannot apply is an error here; SELinux labels on a
host without SELinux are skipped with a warning (as crun)."""

from __future__ import annotations

from simcon.errors import ConfigError
from simcon.linux import lsm as host_lsm

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.spec.model import Linux, Process


def check_lsm_labels(process: Process | None, linux: Linux | None, config_file: str,
                     prefix: str = "process.") -> str | None:
    """The AppArmor profile to apply (None: none asked for). A label for an LSM the host does not run is an
    error, as is an AppArmor profile the kernel has not loaded. SELinux labels: see ``selinux_labels``."""
    profile = process.apparmor_profile if process is not None else None
    if profile:
        where = f"{prefix}apparmorProfile"
        if not host_lsm.apparmor_enabled():
            raise ConfigError(config_file, where, "AppArmor is not enabled on this host, so the label cannot be "
                                                  "applied")
        if profile != "unconfined" and profile not in host_lsm.loaded_apparmor_profiles():
            raise ConfigError(config_file, where, f'AppArmor profile "{profile}" is not loaded (load it with '
                                                  "apparmor_parser -r)")
    return profile or None


def selinux_labels(process: Process | None, linux: Linux | None, config_file: str,
                   prefix: str = "process.") -> tuple[str | None, str | None]:
    """(process label, mount label) to apply. The process label is written to /proc/thread-self/attr/exec before
    execve, the mount label becomes a `context=` mount option. On a host without SELinux both are skipped with a
    warning in the runtime log, as crun does: a bundle written for an SELinux host still runs here."""
    process_label = (process.selinux_label if process is not None else None) or None
    mount_label = (linux.mount_label if linux is not None else None) or None
    if (process_label or mount_label) and not host_lsm.selinux_enabled():
        from simcon import log

        for where, label in ((f"{prefix}selinuxLabel", process_label), ("linux.mountLabel", mount_label)):
            if label:
                log.warning(f"{config_file}: {where}: SELinux is not enabled on this host: label {label!r} "
                            "ignored")
        return None, None
    return process_label, mount_label
