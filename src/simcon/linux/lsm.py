"""LSMs: which ones the host runs (probes of securityfs, sysfs and mountinfo) and the labels of the calling task,
through /proc/self/attr (one write per function)."""

from __future__ import annotations

import os


def apparmor_exec(profile: str) -> None:
    """Have the next execve of this task enter ``profile`` (AppArmor's change_onexec)."""
    data = f"exec {profile}".encode()
    # The LSM-specific directory since Linux 5.8; the shared files before.
    for path in ("/proc/self/attr/apparmor/exec", "/proc/self/attr/exec"):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return
    raise FileNotFoundError(2, "no AppArmor attribute files in /proc/self/attr", "/proc/self/attr/exec")


def selinux_exec(label: str, path: str = "/proc/thread-self/attr/exec") -> None:
    """Have the next execve of this thread run in the SELinux context ``label`` (setexeccon)."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, label.encode())
    finally:
        os.close(fd)


def selinux_mount_data(data: str, label: str) -> str:
    """Mount data with the SELinux context every file of the new mount gets (runc's FormatMountLabel)."""
    context = f'context="{label}"'
    return f"{data},{context}" if data else context


# --- what the host runs -----------------------------------------------------------------------------------------


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
