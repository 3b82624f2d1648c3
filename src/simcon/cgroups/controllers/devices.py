"""devices: which device nodes the container may open (read, write) or create (mknod).

One list decides, on v1 and v2 alike (``effective_rules``): the config's ``linux.resources.devices`` in the order
written, then the default allow list (runc's and crun's: null, zero, full, random, urandom, tty, console, ptmx,
pts, tun, and mknod of any node), starting from "nothing allowed". Nothing else: a ``linux.devices`` entry is a
node in /dev, not a permission (as in runc and crun).

v1 writes ``devices.deny a`` and then each rule to ``devices.allow``/``devices.deny``: the kernel applies them one
by one. v2 has no such files: ``emulate`` computes what the v1 kernel would make of the same writes (a default
plus exceptions), ``cgroups.devfilter`` turns that into an eBPF program, and ``cgroups.v2`` attaches it to the
container's cgroup (replacing the previous one on ``update``). So a rule list means the same on both.
"""

from __future__ import annotations

from simcon.cgroups.controllers._common import ResourceError, exists, read, write
from simcon.cgroups.devfilter import ANY  # -1: a major or minor that matches every number (``*``)

_MAX_NUMBER = 0xFFFFFFFF  # the kernel's numbers are u32


# A plain tuple subclass, not collections.namedtuple (collections costs ~3 ms to import on every create) nor
# typing.NamedTuple (typing pulls in re and enum).
class Rule(tuple):
    """One rule, normalised: ``allow`` (bool), ``kind`` a (all), c or b; ``major``/``minor`` (``ANY``);
    ``access`` letters in ``rwm`` order."""

    __slots__ = ()
    _fields = ("allow", "kind", "major", "minor", "access")

    def __new__(cls, allow: bool, kind: str, major: int, minor: int, access: str) -> Rule:
        return tuple.__new__(cls, (allow, kind, major, minor, access))

    def __repr__(self) -> str:
        return "Rule(" + ", ".join(f"{name}={value!r}" for name, value in zip(self._fields, self)) + ")"

    def _replace(self, **changes: object) -> Rule:
        values = [changes.pop(name, value) for name, value in zip(self._fields, self)]
        if changes:
            raise TypeError(f"Rule has no field {next(iter(changes))!r}")
        return Rule(*values)

    allow = property(lambda self: self[0])
    kind = property(lambda self: self[1])
    major = property(lambda self: self[2])
    minor = property(lambda self: self[3])
    access = property(lambda self: self[4])

    def text(self) -> str:
        """As v1's devices.allow/deny and devices.list spell it: ``c 1:3 rwm``, ``c 136:* rwm``."""
        def number(n: int) -> str:
            return "*" if n == ANY else str(n)

        return f"{self.kind} {number(self.major)}:{number(self.minor)} {self.access}"


def _allow(kind: str, major: int, minor: int, access: str) -> Rule:
    return Rule(True, kind, major, minor, access)


# Allowed in every container, after the config's rules, as runc's specconv.AllowedDevices and crun's defaults.
DEFAULT_ALLOWED = (
    _allow("c", ANY, ANY, "m"),
    _allow("b", ANY, ANY, "m"),
    _allow("c", 1, 3, "rwm"),  # /dev/null
    _allow("c", 1, 8, "rwm"),  # /dev/random
    _allow("c", 1, 7, "rwm"),  # /dev/full
    _allow("c", 5, 0, "rwm"),  # /dev/tty
    _allow("c", 1, 5, "rwm"),  # /dev/zero
    _allow("c", 1, 9, "rwm"),  # /dev/urandom
    _allow("c", 5, 1, "rwm"),  # /dev/console
    _allow("c", 136, ANY, "rwm"),  # /dev/pts/*
    _allow("c", 5, 2, "rwm"),  # /dev/ptmx
    _allow("c", 10, 200, "rwm"),  # /dev/net/tun
)

_TYPES = ("a", "c", "b")


def wants(resources) -> bool:  # noqa: ANN001, ARG001
    return True  # even an empty list means "only the defaults"


def _number(value: int | None, where: str) -> int:
    if value is None or value == ANY:
        return ANY
    if not 0 <= value <= _MAX_NUMBER:
        raise ResourceError(where, f"expected -1 (any) or 0 to {_MAX_NUMBER}, got {value}")
    return value


def check(resources, field: str) -> None:  # noqa: ANN001
    """Each rule's type, numbers and access letters (the values, whatever the host): see ``controllers.check``."""
    effective_rules(resources, field)


def effective_rules(resources, field: str) -> list[Rule]:  # noqa: ANN001
    """The config's rules, checked and normalised, in their order, then the defaults: what every driver applies.

    ``field`` is the JSON path of ``resources`` (errors name ``<field>.devices[i].access``).
    """
    field = f"{field}.devices"
    rules = []
    for i, rule in enumerate(resources.devices):
        where = f"{field}[{i}]"
        if rule.type is not None and rule.type not in _TYPES:
            raise ResourceError(f"{where}.type", f"expected a, b or c, got {rule.type!r}")
        if rule.access is not None and (not rule.access or set(rule.access) - set("rwm")):
            raise ResourceError(f"{where}.access", f"expected letters from rwm, got {rule.access!r}")
        access = "".join(letter for letter in "rwm" if letter in (rule.access or "rwm"))
        rules.append(Rule(bool(rule.allow), rule.type or "a", _number(rule.major, f"{where}.major"),
                          _number(rule.minor, f"{where}.minor"), access))
    return [*rules, *DEFAULT_ALLOWED]


def emulate(rules: list[Rule]) -> tuple[bool, list[Rule]]:
    """What the v1 kernel makes of ``devices.deny a`` followed by ``rules``: (allow by default?, exceptions).

    The kernel's semantics (security/device_cgroup.c): type ``a`` resets everything, whatever its numbers say,
    to allow-all or deny-all with no exceptions. A rule of the other kind than the default adds an exception (its
    access merged into an exception with the same type and numbers); a rule of the same kind as the default
    takes its access away from the exception with exactly the same type and numbers (a wildcard does not reach a
    specific one, nor the reverse). Exceptions are allow rules under deny-all, deny rules under allow-all.
    """
    default_allow = False
    exceptions: list[Rule] = []
    for rule in rules:
        if rule.kind == "a":
            default_allow, exceptions = rule.allow, []
            continue
        same = [i for i, ex in enumerate(exceptions) if (ex.kind, ex.major, ex.minor) == rule[1:4]]
        if rule.allow != default_allow:
            if same:
                ex = exceptions[same[0]]
                exceptions[same[0]] = ex._replace(access="".join(c for c in "rwm" if c in ex.access + rule.access))
            else:
                exceptions.append(rule)
            continue
        for i in reversed(same):
            left = "".join(c for c in exceptions[i].access if c not in rule.access)
            if left:
                exceptions[i] = exceptions[i]._replace(access=left)
            else:
                del exceptions[i]
    return default_allow, exceptions


def permits(default_allow: bool, exceptions: list[Rule], kind: str, major: int, minor: int, access: str) -> bool:
    """Whether the kernel lets an access through (the v1 check; the eBPF program must decide the same).

    Under deny-all one exception must match and grant every letter asked for; under allow-all no exception may
    match and share a letter with the request.
    """
    for ex in exceptions:
        if ex.kind != kind or ex.major not in (ANY, major) or ex.minor not in (ANY, minor):
            continue
        if default_allow and set(access) & set(ex.access):
            return False
        if not default_allow and set(access) <= set(ex.access):
            return True
    return default_allow


def parse_list(text: str) -> tuple[bool, list[Rule]] | None:
    """v1's ``devices.list`` as (allow by default?, exceptions); None if a line is not understood.

    Under allow-all the kernel shows only ``a *:* rwm``, hiding the deny exceptions: that reads as (True, []),
    which is only ever used to decide that a reset is needed.
    """
    exceptions = []
    for line in text.splitlines():
        try:
            kind, numbers, access = line.split()
            major, minor = (ANY if n == "*" else int(n) for n in numbers.split(":"))
        except ValueError:
            return None
        if kind == "a":
            return True, []
        exceptions.append(Rule(True, kind, major, minor, access))
    return False, exceptions


def _transition(current: list[Rule], target: list[Rule]) -> list[tuple[str, Rule]]:
    """The writes that turn deny-all ``current`` into deny-all ``target`` without passing through less than
    either allows: every grant of the target first (merged into what is there), then what is left over taken away
    from each exact exception."""
    writes = [("devices.allow", ex) for ex in target]
    wanted = {(ex.kind, ex.major, ex.minor): ex.access for ex in target}
    for ex in current:
        left = "".join(c for c in ex.access if c not in wanted.get((ex.kind, ex.major, ex.minor), ""))
        if left:
            writes.append(("devices.deny", ex._replace(allow=False, access=left)))
    return writes


def apply(resources, cgroup_dir: str, version: int, field: str) -> None:  # noqa: ANN001
    rules = effective_rules(resources, field)
    where = f"{field}.devices"
    if version == 2:
        from simcon.cgroups import devfilter, v2

        default_allow, exceptions = emulate(rules)
        v2.set_device_filter(cgroup_dir, devfilter.program(default_allow, exceptions), where)
        return
    # A running container (`update`) already has a deny-all list: change it in place, as runc does, so that no
    # open of /dev/null fails in between. A new cgroup (allow-all) starts from `deny a` and the rules in order.
    default_allow, exceptions = emulate(rules)
    current = parse_list(read(cgroup_dir, "devices.list", where)) if exists(cgroup_dir, "devices.list") else None
    if current is not None and not current[0] and not default_allow:
        for name, rule in _transition(current[1], exceptions):
            write(cgroup_dir, name, rule.text(), where)
        return
    write(cgroup_dir, "devices.deny", "a", where)
    count = len(resources.devices)
    for i, rule in enumerate(rules):
        name = f"{where}[{i}]" if i < count else f"{where} (default rule {rule.text()})"
        write(cgroup_dir, "devices.allow" if rule.allow else "devices.deny", rule.text(), name)
