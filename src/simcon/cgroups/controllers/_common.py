"""What every controller writer shares: writing a file on behalf of a named resource, formatting values.

A writer is ``apply(resources, cgroup_dir, version, field)``: ``resources`` is the spec model
(``simcon.spec.model.Resources``), ``cgroup_dir`` the container's directory in the hierarchy that carries the
controller, ``version`` 1 or 2, ``field`` the JSON path of ``resources`` for messages (``linux.resources`` from
config.json, ``resources`` for ``update``). Everything that differs between v1 and v2 (file names, units) stays
inside the writer.
"""

from __future__ import annotations

import errno as _errno
import os

from simcon.cgroups import fs
from simcon.errors import CgroupError

MAX = "max"


class ResourceError(CgroupError):
    """A resource could not be applied: names the JSON path of the resource and the cgroup file."""

    def __init__(self, field: str, problem: str, *, path: str = "", errno: int = 0) -> None:
        CgroupError.__init__(self, problem, path=path, errno=errno)
        self.field = field
        self.message = f"{field}: cgroup `{path}`: {problem}" if path else f"{field}: {problem}"
        self.args = (self.message,)


def write(cgroup_dir: str, name: str, value: str, field: str) -> None:
    """Write ``value`` to ``cgroup_dir/name`` for the resource ``field``; failures name both."""
    try:
        fs.write(cgroup_dir, name, value)
    except CgroupError as exc:
        path = os.path.join(cgroup_dir, name)
        if exc.errno == _errno.ENOENT:
            problem = f'cannot set "{value}": this host does not support it (no such file)'
        else:
            problem = exc.message.split(": ", 1)[1] if exc.message.startswith("cgroup `") else exc.message
        raise ResourceError(field, problem, path=path, errno=exc.errno) from exc


def read(cgroup_dir: str, name: str, field: str) -> str:
    try:
        return fs.read(cgroup_dir, name)
    except CgroupError as exc:
        raise ResourceError(field, exc.message.split(": ", 1)[-1], path=os.path.join(cgroup_dir, name),
                            errno=exc.errno) from exc


def exists(cgroup_dir: str, name: str) -> bool:
    return os.path.exists(os.path.join(cgroup_dir, name))


def v2_value(value: int) -> str:
    """v2 spells "no limit" as ``max`` where v1 takes -1."""
    return MAX if value == -1 else str(value)


def warn(field: str, text: str) -> None:
    from simcon import log

    log.warning(f"{field}: {text}")
