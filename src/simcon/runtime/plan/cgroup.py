"""The cgroup section: which driver makes the container's cgroup, where (``linux.cgroupsPath``, checked here,
before anything is made), and what is written there (``linux.resources``, its values checked here once).

The path rules belong to the drivers and are applied here once, up front: ``cgroups.paths.check_cgroups_path``
for cgroupfs (which refuses the systemd form ``slice:prefix:name``), ``cgroups.slices.parse_systemd_path`` for
the systemd driver (``--systemd-cgroup``, or simcon.toml's ``cgroup_manager`` for a config without a path).
"""

from __future__ import annotations

from simcon.records import Record, to_builtins
from simcon.spec.model import Resources

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.spec.model import Linux


class CgroupRequest(Record, frozen=True):
    path: str | None  # linux.cgroupsPath as the config gives it (None: the driver's default), checked
    resources: Resources  # linux.resources (empty when absent), written at create with the default device rules
    driver: str = "cgroupfs"  # or "systemd"
    # The global --rootless (auto: not root): a cgroup this user cannot create is done without (cgroupfs), the
    # user's own systemd manager (systemd).
    rootless: bool = False

    @property
    def systemd(self) -> bool:
        return self.driver == "systemd"

    @property
    def sets_resources(self) -> bool:
        """Whether linux.resources asks for anything (a rootless container without a cgroup warns then)."""
        return any(to_builtins(self.resources).values())


def cgroup_plan(linux: Linux | None, container_id: str, *, systemd: bool = False, systemd_default: bool = False,
                rootless: bool = False) -> CgroupRequest:
    """``CgroupError`` for a path the driver would refuse, as the driver words it."""
    path = (linux.cgroups_path if linux is not None else None) or None
    # simcon.toml's cgroup_manager = "systemd" applies only to a config.json without cgroupsPath.
    systemd = systemd or (systemd_default and path is None)
    if systemd:
        from simcon.cgroups.slices import parse_systemd_path

        parse_systemd_path(path, container_id, rootless=rootless)
    else:
        from simcon.cgroups.paths import check_cgroups_path

        check_cgroups_path(path, container_id)
    resources = linux.resources if linux is not None and linux.resources is not None else Resources()
    from simcon.cgroups import controllers

    controllers.check(resources, "linux.resources")  # once, before any cgroup is made
    return CgroupRequest(path, resources, "systemd" if systemd else "cgroupfs", rootless)


def update_resources(data: bytes, source: str) -> Resources:
    """The JSON LinuxResources that `update` applies (``--resources`` file or stdin, or the flags as JSON), with
    JSON-path errors naming ``source``."""
    from simcon.cgroups import controllers
    from simcon.spec.load import decode_resources

    resources = decode_resources(data, source)
    controllers.check(resources, "resources")
    return resources

