"""devices: the allow/deny list.

v1: ``devices.deny "a"`` first (nothing allowed), then each rule in order to ``devices.allow`` or
``devices.deny``, then the device nodes of ``linux.devices`` and runc's default set (null, zero, full, random,
urandom, tty, console, ptmx, pts, tun, and mknod of anything), so a config means on SimCon what it means on runc.

v2 controls devices with an eBPF program attached to the cgroup; SimCon has no eBPF loader, so on v2 the rules are
NOT enforced: a warning says so, and the container can use whatever device nodes exist in its /dev (only those
SimCon created from ``linux.devices`` and the defaults, plus any it can mknod itself with CAP_MKNOD).
"""

from __future__ import annotations

from simcon.cgroups.controllers._common import ResourceError, warn, write

# (type, major, minor, access) allowed in every container, as runc's specconv.AllowedDevices.
DEFAULT_ALLOWED = (
    ("c", None, None, "m"),
    ("b", None, None, "m"),
    ("c", 1, 3, "rwm"),  # /dev/null
    ("c", 1, 8, "rwm"),  # /dev/random
    ("c", 1, 7, "rwm"),  # /dev/full
    ("c", 5, 0, "rwm"),  # /dev/tty
    ("c", 1, 5, "rwm"),  # /dev/zero
    ("c", 1, 9, "rwm"),  # /dev/urandom
    ("c", 5, 1, "rwm"),  # /dev/console
    ("c", 136, None, "rwm"),  # /dev/pts/*
    ("c", 5, 2, "rwm"),  # /dev/ptmx
    ("c", 10, 200, "rwm"),  # /dev/net/tun
)

_TYPES = ("a", "c", "b")


def rule_text(kind: str | None, major: int | None, minor: int | None, access: str | None) -> str:
    """``c 1:3 rwm``; a missing (or -1) number is ``*``, a missing type ``a``, a missing access ``rwm``."""
    def number(n: int | None) -> str:
        return "*" if n is None or n == -1 else str(n)

    return f"{kind or 'a'} {number(major)}:{number(minor)} {access or 'rwm'}"


def wants(resources) -> bool:  # noqa: ANN001, ARG001
    return True  # even an empty list means "only the defaults"


def apply(resources, cgroup_dir: str, version: int, field: str, extra=()) -> None:  # noqa: ANN001
    """``extra``: (type, major, minor, access) allow rules for the config's ``linux.devices``."""
    field = f"{field}.devices"
    for i, rule in enumerate(resources.devices):
        if rule.type is not None and rule.type not in _TYPES:
            raise ResourceError(f"{field}[{i}].type", f"expected a, b or c, got {rule.type!r}")
        if rule.access is not None and (not rule.access or set(rule.access) - set("rwm")):
            raise ResourceError(f"{field}[{i}].access", f"expected letters from rwm, got {rule.access!r}")
    if version == 2:
        if resources.devices:
            warn(field, "not enforced on cgroup v2 (SimCon has no eBPF device filter): the container can use "
                 "every device node in its /dev")
        return
    write(cgroup_dir, "devices.deny", "a", field)
    for i, rule in enumerate(resources.devices):
        text = rule_text(rule.type, rule.major, rule.minor, rule.access)
        write(cgroup_dir, "devices.allow" if rule.allow else "devices.deny", text, f"{field}[{i}]")
    for kind, major, minor, access in (*extra, *DEFAULT_ALLOWED):
        write(cgroup_dir, "devices.allow", rule_text(kind, major, minor, access), f"{field} (default rule)")
