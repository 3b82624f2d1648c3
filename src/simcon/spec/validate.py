"""Checks on a decoded config: a list of small functions, each looking at one thing.

Every check is ``check_xxx(spec, bundle) -> Iterator[Problem]``; a :class:`Problem` names the JSON path and says what
is wrong in one lowercase phrase. :func:`validate` runs them all and splits errors from warnings. Decoding (JSON
types, required fields, integer ranges) has already happened in :mod:`simcon.spec.load`; these checks are about
values and how fields fit together.

To add a check: write a generator below and append it to :data:`CHECKS`.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:  # annotations only: collections.abc imports `collections` (~3 ms of every create)
    from collections.abc import Callable, Iterator

from simcon.errors import quote
from simcon.records import Record
from simcon.spec.constants import (
    CAPABILITIES,
    DEVICE_TYPES,
    NAMESPACES,
    OCI_VERSION_MAX,
    OCI_VERSION_MIN,
    RLIMITS,
    ROOTFS_PROPAGATIONS,
)
from simcon.spec.model import Process, Spec

__all__ = ["CHECKS", "Problem", "validate", "validate_process"]


class Problem(Record, frozen=True):
    """One finding: where (`linux.namespaces[3].type`) and what (`duplicate namespace "pid"`)."""

    path: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def _q(text: str) -> str:
    """Quote a value for a message, JSON style (control characters escaped), shortened if huge."""
    return quote(text)


def _one_of(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(names)


# Not `re`: with enum and functools it costs ~10 ms of an import, and these are the only two patterns.
_CAP_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ_")


def _version(text: str) -> tuple[int, int] | None:
    """(major, minor) of ``MAJOR.MINOR.PATCH``, optionally followed by ``-pre`` or ``+build`` (one line)."""
    cut = min((i for i in (text.find("-"), text.find("+")) if i >= 0), default=len(text))
    numbers = text[:cut].split(".")
    if len(numbers) != 3 or not all(n.isdecimal() for n in numbers) or "\n" in text[cut:]:
        return None
    return int(numbers[0]), int(numbers[1])


def _is_cap_name(name: str) -> bool:
    """``CAP_`` and upper-case letters or underscores."""
    return len(name) > 4 and name.startswith("CAP_") and _CAP_LETTERS.issuperset(name[4:])


# --- the whole document ----------------------------------------------------------------------------------------


def check_oci_version(spec: Spec, bundle: str) -> Iterator[Problem]:
    version = _version(spec.oci_version)
    if version is None:
        yield Problem("ociVersion", f"{_q(spec.oci_version)} is not a version (expected MAJOR.MINOR.PATCH, "
                                    f"like {_q(OCI_VERSION_MAX)})")
        return
    major, minor = version
    max_major, max_minor = (int(part) for part in OCI_VERSION_MAX.split(".")[:2])
    if major != max_major:
        yield Problem("ociVersion", f"unsupported version {_q(spec.oci_version)}: SimCon supports "
                                    f"{OCI_VERSION_MIN} to {OCI_VERSION_MAX}")
    elif minor > max_minor:
        yield Problem("ociVersion", f"version {_q(spec.oci_version)} is newer than {OCI_VERSION_MAX}, the newest "
                                    "SimCon knows; fields it does not know are ignored", warning=True)


def check_root(spec: Spec, bundle: str) -> Iterator[Problem]:
    if spec.root is None:
        yield Problem("root", "required field is missing")
        return
    if not spec.root.path:
        yield Problem("root.path", "must not be empty")
        return
    full = os.path.join(bundle, spec.root.path)
    if not os.path.exists(full):
        yield Problem("root.path", f"directory {_q(full)} does not exist")
    elif not os.path.isdir(full):
        yield Problem("root.path", f"{_q(full)} is not a directory")


def check_process(spec: Spec, bundle: str) -> Iterator[Problem]:
    if spec.process is None:
        return  # optional (runtime-spec): the container only holds its namespaces, and `start` refuses to run
    yield from process_problems(spec.process, "process.")


def check_mounts(spec: Spec, bundle: str) -> Iterator[Problem]:
    for i, mount in enumerate(spec.mounts):
        if not os.path.isabs(mount.destination):
            yield Problem(f"mounts[{i}].destination", f"must be an absolute path, got {_q(mount.destination)}")


def check_hostname(spec: Spec, bundle: str) -> Iterator[Problem]:
    has_uts = any(ns.type == "uts" for ns in spec.linux.namespaces)
    for field, value in (("hostname", spec.hostname), ("domainname", spec.domainname)):
        if value and not has_uts:
            yield Problem(field, f"setting the {field} needs a uts namespace "
                                 '(add {"type": "uts"} to linux.namespaces)')


def check_hooks(spec: Spec, bundle: str) -> Iterator[Problem]:
    hooks = spec.hooks
    for kind, hook_list in (("prestart", hooks.prestart), ("createRuntime", hooks.create_runtime),
                            ("createContainer", hooks.create_container), ("startContainer", hooks.start_container),
                            ("poststart", hooks.poststart), ("poststop", hooks.poststop)):
        for i, hook in enumerate(hook_list):
            where = f"hooks.{kind}[{i}]"
            if not os.path.isabs(hook.path):
                yield Problem(f"{where}.path", f"must be an absolute path, got {_q(hook.path)}")
            if hook.timeout is not None and hook.timeout <= 0:
                yield Problem(f"{where}.timeout", f"must be greater than zero, got {hook.timeout}")
            yield from _env_problems(hook.env, f"{where}.env")


# --- linux -----------------------------------------------------------------------------------------------------


def check_namespaces(spec: Spec, bundle: str) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, ns in enumerate(spec.linux.namespaces):
        if ns.type not in NAMESPACES:
            yield Problem(f"linux.namespaces[{i}].type",
                          f"unknown namespace type {_q(ns.type)} (expected one of {_one_of(NAMESPACES)})")
        elif ns.type in seen:
            yield Problem(f"linux.namespaces[{i}].type", f"duplicate namespace {_q(ns.type)}")
        seen.add(ns.type)
        if ns.path is not None and not os.path.isabs(ns.path):
            yield Problem(f"linux.namespaces[{i}].path", f"must be an absolute path, got {_q(ns.path)}")


def check_user_namespace(spec: Spec, bundle: str) -> Iterator[Problem]:
    linux = spec.linux
    userns = [(i, ns) for i, ns in enumerate(linux.namespaces) if ns.type == "user"]
    if not userns:
        for field, mappings in (("uidMappings", linux.uid_mappings), ("gidMappings", linux.gid_mappings)):
            if mappings:
                yield Problem(f"linux.{field}", f"{field[:3]} mappings need a user namespace "
                                                '(add {"type": "user"} to linux.namespaces)')
        return
    i, ns = userns[0]
    # Joining an existing user namespace (path given) takes its mappings from there.
    if ns.path is None and not (linux.uid_mappings and linux.gid_mappings):
        yield Problem(f"linux.namespaces[{i}]", "a new user namespace needs linux.uidMappings and "
                                                "linux.gidMappings")


def check_rootfs_propagation(spec: Spec, bundle: str) -> Iterator[Problem]:
    value = spec.linux.rootfs_propagation
    if value is not None and value not in ROOTFS_PROPAGATIONS:
        yield Problem("linux.rootfsPropagation",
                      f"unknown propagation {_q(value)} (expected one of {_one_of(ROOTFS_PROPAGATIONS)})")


def check_devices(spec: Spec, bundle: str) -> Iterator[Problem]:
    for i, dev in enumerate(spec.linux.devices):
        where = f"linux.devices[{i}]"
        if dev.type not in DEVICE_TYPES:
            yield Problem(f"{where}.type", f"unknown device type {_q(dev.type)} (expected c, b, u or p)")
        elif dev.type != "p" and (dev.major is None or dev.minor is None):
            yield Problem(where, f"device type {_q(dev.type)} needs major and minor")
        if not os.path.isabs(dev.path):
            yield Problem(f"{where}.path", f"must be an absolute path, got {_q(dev.path)}")


def check_sysctl(spec: Spec, bundle: str) -> Iterator[Problem]:
    for key in spec.linux.sysctl:
        if not key.strip():
            yield Problem(f"linux.sysctl[{_q(key)}]", "key must not be empty")


def check_masked_and_readonly_paths(spec: Spec, bundle: str) -> Iterator[Problem]:
    for field, paths in (("maskedPaths", spec.linux.masked_paths), ("readonlyPaths", spec.linux.readonly_paths)):
        for i, path in enumerate(paths):
            if not os.path.isabs(path):
                yield Problem(f"linux.{field}[{i}]", f"must be an absolute path, got {_q(path)}")


def check_unsupported(spec: Spec, bundle: str) -> Iterator[Problem]:
    """Settings SimCon cannot apply yet. Security ones (seccomp, LSM labels) are not here: they are errors, raised
    where the plan is built (runtime.plan), since ignoring them would run the container less confined."""
    return iter(())


# --- process (shared with `exec --process`) --------------------------------------------------------------------


def process_problems(process: Process, prefix: str) -> Iterator[Problem]:
    """Checks of a process object; ``prefix`` is ``"process."`` in config.json and ``""`` in process.json."""
    if not process.args:
        yield Problem(f"{prefix}args", "must not be empty")
    if not process.cwd:
        yield Problem(f"{prefix}cwd", "required field is missing (an absolute path)")
    elif not os.path.isabs(process.cwd):
        yield Problem(f"{prefix}cwd", f"must be an absolute path, got {_q(process.cwd)}")
    yield from _env_problems(process.env, f"{prefix}env")
    yield from _capability_problems(process, prefix)
    yield from _rlimit_problems(process, prefix)


def _env_problems(env: list[str], where: str) -> Iterator[Problem]:
    """Each entry is NAME=VALUE. An entry without `=` (or with an empty name) was dropped silently before."""
    for i, entry in enumerate(env):
        name, sep, _value = entry.partition("=")
        if not sep or not name:
            yield Problem(f"{where}[{i}]", f"{_q(entry)} is not NAME=VALUE")


def _capability_problems(process: Process, prefix: str) -> Iterator[Problem]:
    caps = process.capabilities
    if caps is None:
        return
    for field, names in (("bounding", caps.bounding), ("effective", caps.effective),
                         ("inheritable", caps.inheritable), ("permitted", caps.permitted),
                         ("ambient", caps.ambient)):
        for i, name in enumerate(names):
            where = f"{prefix}capabilities.{field}[{i}]"
            if not _is_cap_name(name):
                yield Problem(where, f"{_q(name)} is not a capability name (expected CAP_ and upper case, "
                                     'like "CAP_KILL")')
            elif name not in CAPABILITIES:
                yield Problem(where, f"unknown capability {_q(name)}")


def _rlimit_problems(process: Process, prefix: str) -> Iterator[Problem]:
    seen: set[str] = set()
    for i, rlimit in enumerate(process.rlimits):
        where = f"{prefix}rlimits[{i}]"
        if rlimit.type not in RLIMITS:
            yield Problem(f"{where}.type", f"unknown rlimit {_q(rlimit.type)} (expected one of {_one_of(RLIMITS)})")
        elif rlimit.type in seen:
            yield Problem(f"{where}.type", f"duplicate rlimit {_q(rlimit.type)}")
        seen.add(rlimit.type)
        if rlimit.soft > rlimit.hard:
            yield Problem(where, f"soft limit {rlimit.soft} is greater than hard limit {rlimit.hard}")


# --- running them ----------------------------------------------------------------------------------------------

CHECKS: list[Callable[[Spec, str], Iterator[Problem]]] = [
    check_oci_version,
    check_root,
    check_process,
    check_mounts,
    check_hostname,
    check_hooks,
    check_namespaces,
    check_user_namespace,
    check_rootfs_propagation,
    check_devices,
    check_sysctl,
    check_masked_and_readonly_paths,
    check_unsupported,
]


def _split(problems: Iterator[Problem]) -> tuple[list[Problem], list[Problem]]:
    errors: list[Problem] = []
    warnings: list[Problem] = []
    for problem in problems:
        (warnings if problem.warning else errors).append(problem)
    return errors, warnings


def validate(spec: Spec, bundle: str) -> tuple[list[Problem], list[Problem]]:
    """Run every check; return (errors, warnings), each in document order of the checks."""
    return _split(problem for check in CHECKS for problem in check(spec, bundle))


def validate_process(process: Process) -> tuple[list[Problem], list[Problem]]:
    """The checks that apply to a standalone process.json (paths relative to its top level)."""
    return _split(process_problems(process, ""))
