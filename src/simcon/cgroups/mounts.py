"""Which cgroup hierarchies are mounted, read from ``/proc/self/mountinfo``.

A mountinfo line (proc(5)) is::

    36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
    (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)    (10)       (11)

(4) is the root of the mount inside its filesystem, (5) the mount point, (9) the filesystem type and (11) the
per-superblock options. For ``cgroup`` (v1) the super options name the controllers of the hierarchy
(``rw,cpu,cpuacct``) or a named hierarchy (``rw,name=systemd``); ``cgroup2`` has one hierarchy whose controllers
are listed in ``cgroup.controllers`` at its root, not in the mount options.

The same hierarchy can be mounted more than once (bind mounts); the first mount of each superblock wins.
"""

from __future__ import annotations

from simcon.cgroups.fs import strerror
from simcon.errors import CgroupError

MOUNTINFO = "/proc/self/mountinfo"

# Super options of a v1 cgroup mount that are not controllers.
_V1_MOUNT_OPTIONS = frozenset(
    {"rw", "ro", "none", "xattr", "noprefix", "clone_children", "cpuset_v2_mode", "favordynmods", "nofavordynmods"}
)


class Hierarchy:
    """One mounted cgroup hierarchy.

    ``version`` is 1 or 2. ``controllers`` is a sorted tuple of the v1 controllers (a named hierarchy appears as
    ``name=systemd``); it is empty for v2. ``root`` is the cgroup shown at ``mount_point`` (``/`` unless only a
    sub-tree is bind mounted).
    """

    __slots__ = ("version", "controllers", "mount_point", "root")

    def __init__(self, version: int, controllers: tuple[str, ...], mount_point: str, root: str = "/") -> None:
        self.version = version
        self.controllers = controllers
        self.mount_point = mount_point
        self.root = root

    @property
    def key(self) -> str:
        """The hierarchy's name as in ``/proc/<pid>/cgroup``: ``cpu,cpuacct``, ``name=systemd``; ``""`` for v2."""
        return ",".join(self.controllers)

    def __repr__(self) -> str:
        return f"Hierarchy(v{self.version}, {self.key or 'unified'!r}, {self.mount_point!r}, root={self.root!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Hierarchy):
            return NotImplemented
        return (self.version, self.controllers, self.mount_point, self.root) == (
            other.version,
            other.controllers,
            other.mount_point,
            other.root,
        )

    __hash__ = None  # type: ignore[assignment]


def _unescape(field: str) -> str:
    r"""Undo the kernel's octal escapes in mountinfo paths (``\040`` is a space)."""
    if "\\" not in field:
        return field
    out = []
    i = 0
    while i < len(field):
        chunk = field[i + 1 : i + 4]
        if field[i] == "\\" and len(chunk) == 3 and all(c in "01234567" for c in chunk):
            out.append(chr(int(chunk, 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def _v1_controllers(super_options: str) -> tuple[str, ...]:
    names = []
    for opt in super_options.split(","):
        if opt.startswith("name="):
            names.append(opt)
        elif opt and "=" not in opt and opt not in _V1_MOUNT_OPTIONS:
            names.append(opt)
    return tuple(sorted(names))


def parse_mountinfo_text(text: str, source: str = MOUNTINFO) -> list[Hierarchy]:
    """The cgroup hierarchies in mountinfo ``text``, in mount order; ``source`` names the file in errors."""
    hierarchies: list[Hierarchy] = []
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if " cgroup" not in line:
            continue
        fields = line.split()
        try:
            sep = fields.index("-", 6)
            device, root, mount_point = fields[2], fields[3], fields[4]
            fstype, super_options = fields[sep + 1], fields[sep + 3]
        except (ValueError, IndexError):
            raise CgroupError(f"line {lineno}: malformed mountinfo line {line!r}", path=source) from None
        if fstype not in ("cgroup", "cgroup2") or device in seen:
            continue
        seen.add(device)
        if fstype == "cgroup2":
            hierarchies.append(Hierarchy(2, (), _unescape(mount_point), _unescape(root)))
        else:
            controllers = _v1_controllers(super_options)
            if controllers:
                hierarchies.append(Hierarchy(1, controllers, _unescape(mount_point), _unescape(root)))
    return hierarchies


def parse_mountinfo(path: str = MOUNTINFO) -> list[Hierarchy]:
    """The cgroup hierarchies mounted in this mount namespace (read from ``path``)."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read()
    except OSError as exc:
        raise CgroupError(f"read: {strerror(exc)}", path=path, errno=exc.errno or 0) from exc
    return parse_mountinfo_text(text, path)


def mode_of(hierarchies: list[Hierarchy]) -> str:
    """``unified`` (only cgroup2), ``legacy`` (only v1) or ``hybrid`` (v1 controllers plus a cgroup2 mount)."""
    has_v1 = any(h.version == 1 for h in hierarchies)
    has_v2 = any(h.version == 2 for h in hierarchies)
    if has_v2 and not has_v1:
        return "unified"
    if has_v1 and not has_v2:
        return "legacy"
    if has_v1 and has_v2:
        return "hybrid"
    raise CgroupError("no cgroup hierarchy is mounted")


def detect_mode(mountinfo: str = MOUNTINFO) -> str:
    """The cgroup mode of this host: ``unified``, ``legacy`` or ``hybrid``."""
    return mode_of(parse_mountinfo(mountinfo))
