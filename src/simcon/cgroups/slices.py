"""The systemd form of ``linux.cgroupsPath``: ``slice:prefix:name``, expanded with runc's rules.

- ``slice`` is a slice unit; ``a-b-c.slice`` lives below its parents ``a.slice`` and ``a-b.slice``, so its
  cgroup is ``/a.slice/a-b.slice/a-b-c.slice``; ``-.slice`` is the root. Empty: ``system.slice`` for root,
  ``user.slice`` (of the user's own manager) for a rootless container.
- ``prefix`` and ``name`` make the unit ``prefix-name.scope``; a ``name`` ending in ``.slice`` is used as is.
- No cgroupsPath at all: ``simcon-<container id>.scope`` in the default slice.

Pure string work: no D-Bus, nothing imported beyond ``simcon.errors`` (``paths`` uses it for the cgroupfs driver's
refusal too).
"""

from __future__ import annotations

from simcon.errors import CgroupError

SLICE_SUFFIX = ".slice"
SCOPE_SUFFIX = ".scope"
DEFAULT_PREFIX = "simcon"
ROOTFUL_SLICE = "system.slice"
ROOTLESS_SLICE = "user.slice"


# A plain tuple subclass, not collections.namedtuple (collections costs ~3 ms to import) nor typing.NamedTuple
# (typing pulls in re and enum): this module is on the path of `create` and `delete` (every cgroup manager
# imports it), which engines call for every container.
class SystemdPath(tuple):
    """A parsed ``slice:prefix:name`` (str, str, str), defaults filled in."""

    __slots__ = ()

    def __new__(cls, slice: str, prefix: str, name: str) -> SystemdPath:  # noqa: A002 - the spec's word
        return tuple.__new__(cls, (slice, prefix, name))

    def __repr__(self) -> str:
        return f"SystemdPath(slice={self[0]!r}, prefix={self[1]!r}, name={self[2]!r})"

    slice = property(lambda self: self[0], doc="the slice the unit goes into (`system.slice`)")
    prefix = property(lambda self: self[1], doc="the unit name's prefix (`simcon`, `libpod`, `cri-containerd`)")
    name = property(lambda self: self[2], doc="the unit's own name (the container id), or a `.slice` itself")

    @property
    def unit(self) -> str:
        """The transient unit SimCon starts: ``prefix-name.scope`` (or the ``name`` slice itself)."""
        if self.name.endswith(SLICE_SUFFIX):
            return self.name
        if not self.prefix:
            return self.name + SCOPE_SUFFIX
        return f"{self.prefix}-{self.name}{SCOPE_SUFFIX}"

    @property
    def relative_dir(self) -> str:
        """The unit's cgroup below the manager's root: ``/a.slice/a-b.slice/prefix-name.scope``."""
        return expand_slice(self.slice).rstrip("/") + "/" + self.unit


def is_systemd_form(cgroups_path: str | None) -> bool:
    """Whether ``cgroups_path`` looks like ``slice:prefix:name`` (relative, exactly two colons)."""
    return bool(cgroups_path) and not cgroups_path.startswith("/") and cgroups_path.count(":") == 2


def parse_systemd_path(cgroups_path: str | None, container_id: str, *, rootless: bool = False) -> SystemdPath:
    """``linux.cgroupsPath`` as the systemd driver reads it; runc's error text for any other form."""
    default_slice = ROOTLESS_SLICE if rootless else ROOTFUL_SLICE
    if not cgroups_path:
        if not container_id or "/" in container_id:
            raise CgroupError(f"container id {container_id!r} cannot name a systemd unit")
        return SystemdPath(default_slice, DEFAULT_PREFIX, container_id)
    parts = cgroups_path.split(":")
    if len(parts) != 3:
        raise CgroupError(
            f'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups, got {cgroups_path!r} '
            "instead"
        )
    slice_name, prefix, name = parts
    if not name:
        raise CgroupError(f"cgroups path {cgroups_path!r}: the name part of slice:prefix:name is empty")
    for what, value in (("prefix", prefix), ("name", name)):
        if "/" in value or "\0" in value:
            raise CgroupError(f"cgroups path {cgroups_path!r}: the {what} {value!r} cannot name a systemd unit")
    path = SystemdPath(slice_name or default_slice, prefix, name)
    expand_slice(path.slice)  # an invalid slice is an error now, not when systemd refuses it
    return path


def expand_slice(slice_name: str) -> str:
    """The cgroup of a slice unit: ``a-b-c.slice`` -> ``/a.slice/a-b.slice/a-b-c.slice``; ``-.slice`` -> ``/``."""
    if not slice_name.endswith(SLICE_SUFFIX) or len(slice_name) <= len(SLICE_SUFFIX) or "/" in slice_name:
        raise CgroupError(f"invalid slice name {slice_name!r}: expected NAME.slice (dashes separate its parents)")
    stem = slice_name[: -len(SLICE_SUFFIX)]
    if stem == "-":
        return "/"
    path = ""
    prefix = ""
    for component in stem.split("-"):
        # `a--b.slice` and `-a.slice` name no parent slice: systemd refuses them too.
        if not component:
            raise CgroupError(f"invalid slice name {slice_name!r}: empty component between dashes")
        path += "/" + prefix + component + SLICE_SUFFIX
        prefix += component + "-"
    return path
