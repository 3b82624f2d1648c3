"""Where a container's cgroup lives in each hierarchy, from the OCI ``linux.cgroupsPath`` (resolved like runc).

- absolute (``/a/b``): relative to the hierarchy as mounted, ``<mount point>/a/b``;
- relative (``a/b``): below the cgroup of the calling process in that hierarchy (from ``/proc/self/cgroup``);
- absent or empty: ``/simcon/<container id>``.

``..`` may be used as long as the result stays inside the mounted hierarchy and is not its root. The systemd
form ``slice:prefix:name`` is refused here: it means something only to the systemd driver (``--systemd-cgroup``,
``cgroups.systemd``), and taking it as a relative directory named ``a.slice:b:c`` would surprise everyone.
"""

from __future__ import annotations

import os

from simcon.cgroups.fs import strerror
from simcon.cgroups.mounts import Hierarchy
from simcon.cgroups.slices import is_systemd_form
from simcon.errors import CgroupError

PROC_CGROUP = "/proc/self/cgroup"
DEFAULT_PARENT = "/simcon"


def check_cgroups_path(cgroups_path: str | None, container_id: str) -> str:
    """The effective cgroups path (the default if absent); refuses the systemd form and odd container ids."""
    if not cgroups_path:
        if not container_id or "/" in container_id or container_id in (".", ".."):
            raise CgroupError(f"container id {container_id!r} cannot name a cgroup")
        return f"{DEFAULT_PARENT}/{container_id}"
    if "\0" in cgroups_path:
        raise CgroupError(f"cgroups path {cgroups_path!r} contains a NUL byte")
    if is_systemd_form(cgroups_path):
        raise CgroupError(
            f"cgroups path {cgroups_path!r} is in the systemd form `slice:prefix:name`: pass --systemd-cgroup "
            "(the systemd cgroup driver), or use a cgroupfs path such as `/mygroup/<id>`"
        )
    return cgroups_path


def parse_proc_cgroup_text(text: str) -> dict[str, str]:
    """``/proc/<pid>/cgroup`` as {hierarchy key: cgroup path}; the v2 line (``0::/x``) has the key ``""``."""
    own: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        key = ",".join(sorted(c for c in controllers.split(",") if c))
        own[key] = path
    return own


def parse_proc_cgroup(path: str = PROC_CGROUP) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError as exc:
        raise CgroupError(f"read: {strerror(exc)}", path=path, errno=exc.errno or 0) from exc
    return parse_proc_cgroup_text(text)


def _normalize(components: list[str], cgroups_path: str) -> list[str]:
    out: list[str] = []
    for part in components:
        if part in ("", "."):
            continue
        if part == "..":
            if not out:
                raise CgroupError(f"cgroups path {cgroups_path!r} escapes the cgroup hierarchy with `..`")
            out.pop()
        else:
            out.append(part)
    return out


def own_cgroup_below_mount(hierarchy: Hierarchy, own_path: str) -> list[str]:
    """The calling process's cgroup (``own_path`` as in /proc/self/cgroup) as components below the mount point."""
    root = hierarchy.root.rstrip("/")
    if root and own_path != root and not own_path.startswith(root + "/"):
        raise CgroupError(
            f"own cgroup {own_path!r} is outside the mounted part {hierarchy.root!r} of the hierarchy",
            path=hierarchy.mount_point,
        )
    return [p for p in own_path[len(root) :].split("/") if p]


def container_dir(
    hierarchy: Hierarchy, cgroups_path: str, own: dict[str, str] | None = None, *, proc_cgroup: str = PROC_CGROUP
) -> str:
    """The container's cgroup directory in ``hierarchy``.

    ``cgroups_path`` is the effective path (see ``check_cgroups_path``). ``own`` is the parsed /proc/self/cgroup,
    needed only for a relative path.
    """
    if cgroups_path.startswith("/"):
        base: list[str] = []
    else:
        if own is None:
            own = parse_proc_cgroup(proc_cgroup)
        if hierarchy.key not in own:
            raise CgroupError(
                f"this process is in no cgroup of hierarchy {hierarchy.key or 'unified'!r} "
                f"(no line in {proc_cgroup}), cannot resolve relative path {cgroups_path!r}",
                path=hierarchy.mount_point,
            )
        base = own_cgroup_below_mount(hierarchy, own[hierarchy.key])
    parts = _normalize(base + cgroups_path.split("/"), cgroups_path)
    if not parts:
        raise CgroupError(f"cgroups path {cgroups_path!r} is the root of the hierarchy", path=hierarchy.mount_point)
    return os.path.join(hierarchy.mount_point, *parts)
