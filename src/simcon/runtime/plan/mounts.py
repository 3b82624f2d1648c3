"""The filesystem section: ``mounts`` (options parsed by ``runtime.mountopts``), ``linux.devices`` and the
default devices, ``linux.mountLabel`` on the mounts runc labels."""

from __future__ import annotations

import os

from simcon.errors import ConfigError
from simcon.init.plan import DevicePlan, IdmapPlan, MountPlan
from simcon.linux import lsm
from simcon.linux import mount as m
from simcon.runtime.mountopts import MountOptionError, ParsedOptions, parse_options

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.spec.model import Device, IdMapping, Mount

# Filesystems that get no SELinux `context=` from linux.mountLabel, as in runc: the kernel labels them itself.
_UNLABELED_TYPES = frozenset({"proc", "sysfs", "mqueue", "cgroup", "cgroup2"})

# The devices every container gets (as in runc), unless /dev is bind-mounted from the host.
DEFAULT_DEVICES = (
    DevicePlan("/dev/null", "c", 1, 3, 0o666, 0, 0),
    DevicePlan("/dev/zero", "c", 1, 5, 0o666, 0, 0),
    DevicePlan("/dev/full", "c", 1, 7, 0o666, 0, 0),
    DevicePlan("/dev/random", "c", 1, 8, 0o666, 0, 0),
    DevicePlan("/dev/urandom", "c", 1, 9, 0o666, 0, 0),
    DevicePlan("/dev/tty", "c", 5, 0, 0o666, 0, 0),
)


def mounts_plan(mounts: list[Mount], bundle: str, config_file: str, *, host_netns: bool, mount_label: str | None,
                container_maps: tuple[list[IdMapping], list[IdMapping]] | None) -> tuple[MountPlan, ...]:
    """``container_maps``: linux.uidMappings/gidMappings when the container has a user namespace of its own."""
    result = []
    for i, mnt in enumerate(mounts):
        try:
            opts = parse_options(list(mnt.options or []))
        except MountOptionError as exc:
            raise ConfigError(config_file, f"mounts[{i}].options", f"{exc} (destination {mnt.destination})") from None
        fstype = mnt.type or ("bind" if opts.is_bind else "")
        if fstype == "bind" and not opts.is_bind:
            opts.flags |= m.MS_BIND | m.MS_REC  # runc treats type "bind" without bind/rbind as rbind
        source = mnt.source or fstype
        if opts.flags & m.MS_BIND and not os.path.isabs(source):
            source = os.path.join(bundle, source)
        result.append(_mount_plan(i, source, fstype, mnt, opts, config_file, host_netns=host_netns,
                                  mount_label=mount_label, container_maps=container_maps))
    return tuple(result)


def _mount_plan(index: int, source: str, fstype: str, mnt: Mount, opts: ParsedOptions, config_file: str, *,
                host_netns: bool, mount_label: str | None,
                container_maps: tuple[list[IdMapping], list[IdMapping]] | None) -> MountPlan:
    """The plan of ``mounts[index]`` from its parsed options; ``ConfigError`` naming the mount.

    Also the implicit rules runc applies: a cgroup mount is read-only unless `rw` is given; sysfs is read-only in
    the host's network namespace (it would show the host's network devices writable). An `idmap` without mappings
    of its own maps with the container's user namespace maps.
    """
    where = f"mounts[{index}]"

    def fail(field: str, problem: str) -> ConfigError:
        return ConfigError(config_file, f"{where}.{field}", f"{problem} (destination {mnt.destination})")

    flags = opts.flags
    is_bind = bool(flags & m.MS_BIND)
    if opts.tmpcopyup and fstype != "tmpfs":
        raise fail("options", f"option 'tmpcopyup': only valid for tmpfs mounts, not {fstype or 'this type'!r}")
    if fstype in ("cgroup", "cgroup2") and "rw" not in (mnt.options or []):
        flags |= m.MS_RDONLY
    if fstype == "sysfs" and host_netns:
        flags |= m.MS_RDONLY
    idmap = None
    if opts.idmap is not None or mnt.uid_mappings or mnt.gid_mappings:
        if not is_bind:
            raise fail("options", "idmapped mounts must be bind mounts")
        uid_mappings, gid_mappings = mnt.uid_mappings, mnt.gid_mappings
        if not (uid_mappings or gid_mappings) and container_maps is not None and all(container_maps):
            uid_mappings, gid_mappings = container_maps
        if not (uid_mappings and gid_mappings):
            missing = "uidMappings" if not uid_mappings else "gidMappings"
            raise fail(missing, "an idmapped mount needs both uidMappings and gidMappings (or a user namespace "
                                "with linux.uidMappings and linux.gidMappings)")
        for field, mappings in (("uidMappings", uid_mappings), ("gidMappings", gid_mappings)):
            for j, entry in enumerate(mappings):
                if entry.size == 0:
                    raise fail(f"{field}[{j}].size", "must be at least 1")
        idmap = IdmapPlan(_id_map(uid_mappings), _id_map(gid_mappings), opts.idmap == "ridmap")
    data = opts.data
    if mount_label and not is_bind and fstype not in _UNLABELED_TYPES:
        data = lsm.selinux_mount_data(data, mount_label)
    return MountPlan(index, source, mnt.destination, fstype, flags, tuple(opts.propagation), data,
                     opts.attr_set, opts.attr_clr, opts.tmpcopyup, idmap)


def _id_map(mappings: list[IdMapping]) -> str:
    return "".join(f"{entry.container_id} {entry.host_id} {entry.size}\n" for entry in mappings)


def devices_plan(devices: list[Device], mounts: tuple[MountPlan, ...]) -> tuple[tuple[DevicePlan, ...], bool]:
    """(the devices to make, whether to add the /dev links). The defaults come first; a config entry for a default
    path wins (its mode and owner), as in runc: the node is made once. A /dev bind-mounted from elsewhere (the
    host's, say) gets no defaults and no links: the config's nodes there are only checked, never added."""
    dev_is_bound = any(mp.destination.rstrip("/") == "/dev" and mp.is_bind for mp in mounts)
    planned = []
    for i, dev in enumerate(devices):
        path = os.path.normpath("/" + dev.path.lstrip("/"))
        planned.append(DevicePlan(dev.path, dev.type, dev.major or 0, dev.minor or 0,
                                  dev.file_mode if dev.file_mode is not None else 0o666, dev.uid or 0, dev.gid or 0,
                                  i, may_create=not (dev_is_bound and path.startswith("/dev/"))))
    if dev_is_bound:
        return tuple(planned), False
    listed = {os.path.normpath("/" + dev.path.lstrip("/")) for dev in planned}
    return tuple(dev for dev in DEFAULT_DEVICES if dev.path not in listed) + tuple(planned), True
