"""``linux.uidMappings``/``gidMappings`` of a new user namespace, checked so the kernel and the init will not
refuse them; for an unprivileged user, what it may map without (or with) newuidmap/newgidmap.
"""

from __future__ import annotations

import os

from simcon.errors import ConfigError, UnsupportedError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.spec.model import Linux, Process

_MAX_MAP_LINES = 340  # the kernel's limit per uid_map/gid_map (Linux 4.15+)


def _mapped(value: int, maps: list[tuple[int, int, int]]) -> bool:
    return any(inside <= value < inside + size for inside, _, size in maps)


ID_MAP_HELPERS = ("newuidmap", "newgidmap")


def own_ids_only(uid_maps: list, gid_maps: list) -> bool:
    """Whether the maps are what the kernel lets an unprivileged user write itself: its own euid (egid), size 1."""
    return all(len(maps) == 1 and maps[0][1] == own and maps[0][2] == 1
               for maps, own in ((uid_maps, os.geteuid()), (gid_maps, os.getegid())))


def _check_unprivileged_maps(uid_maps: list[tuple[int, int, int]], gid_maps: list[tuple[int, int, int]],
                             process: Process, config_file: str) -> None:
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


def id_mappings_plan(linux: Linux, process: Process,
                     config_file: str) -> tuple[list[tuple[int, int, int]], list[tuple[int, int, int]]]:
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
