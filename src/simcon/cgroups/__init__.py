"""Cgroups: one manager interface (``open_manager`` -> ``CgroupManager``) over v1 and v2 filesystem drivers, and the
systemd driver (``systemd``: a transient scope per container, for ``--systemd-cgroup``).

Modules: ``mounts`` (which hierarchies are mounted), ``paths`` (OCI ``cgroupsPath`` -> directory per hierarchy),
``fs`` (cgroupfs reads/writes with errors naming the file), ``v1``/``v2`` (per-hierarchy drivers), ``manager``
(the cgroupfs ``CgroupManager``), ``slices``/``systemd``/``systemd_dbus`` (the systemd driver, a ``CgroupManager``
subclass; imported only when a container uses it). Per-controller resource writers are in ``controllers``.

``open_manager`` and ``manager_from_state`` pick the driver; the runtime calls only these two.
"""

from __future__ import annotations

from simcon.cgroups import manager as _cgroupfs
from simcon.cgroups.manager import CgroupManager
from simcon.cgroups.mounts import MOUNTINFO, detect_mode

__all__ = ["CgroupManager", "detect_mode", "manager_from_state", "open_manager"]


def open_manager(cgroups_path: str | None, container_id: str, *, systemd: bool = False, rootless: bool = False,
                 mountinfo: str = MOUNTINFO) -> CgroupManager:
    """The manager for a new container: cgroupfs, or with ``systemd`` (``--systemd-cgroup``) a transient scope
    (``rootless``: the user's systemd manager)."""
    if systemd:
        from simcon.cgroups.systemd import open_systemd_manager

        return open_systemd_manager(cgroups_path, container_id, rootless=rootless, mountinfo=mountinfo)
    return _cgroupfs.open_manager(cgroups_path, container_id, mountinfo=mountinfo)


def manager_from_state(data: dict) -> CgroupManager:
    """The manager recorded in a container's state (``CgroupManager.to_state``), of the driver that made it."""
    if isinstance(data, dict) and data.get("driver") == "systemd":
        from simcon.cgroups.systemd import SystemdCgroupManager

        return SystemdCgroupManager.from_state(data)
    return CgroupManager.from_state(data)
