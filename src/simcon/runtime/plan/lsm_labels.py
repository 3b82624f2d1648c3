"""LSM labels in the launch plan: an AppArmor profile or SELinux label the host cannot apply is an error here."""

from __future__ import annotations

from simcon.errors import ConfigError
from simcon.linux import lsm as host_lsm


def check_lsm_labels(process, linux, config_file: str, prefix: str = "process.") -> str | None:  # noqa: ANN001
    """The AppArmor profile to apply (None: none asked for). A label for an LSM the host does not run is an
    error, as is an AppArmor profile the kernel has not loaded. SELinux labels are carried by the plan (see
    ``build_plan``): the process label is written to /proc/thread-self/attr/exec before execve, the mount label
    becomes a `context=` mount option."""
    profile = process.apparmor_profile if process is not None else None
    if profile:
        where = f"{prefix}apparmorProfile"
        if not host_lsm.apparmor_enabled():
            raise ConfigError(config_file, where, "AppArmor is not enabled on this host, so the label cannot be "
                                                  "applied")
        if profile != "unconfined" and profile not in host_lsm.loaded_apparmor_profiles():
            raise ConfigError(config_file, where, f'AppArmor profile "{profile}" is not loaded (load it with '
                                                  "apparmor_parser -r)")
    wanted = []
    if process is not None and process.selinux_label:
        wanted.append((f"{prefix}selinuxLabel", host_lsm.selinux_enabled()))
    if linux is not None and linux.mount_label:
        wanted.append(("linux.mountLabel", host_lsm.selinux_enabled()))
    for where, enabled in wanted:
        if not enabled:
            raise ConfigError(config_file, where, "SELinux is not enabled on this host, so the label cannot be "
                                                  "applied")
    return profile or None
