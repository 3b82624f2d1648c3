"""unified: raw cgroup v2 files (``{"memory.high": "1G"}``), written last so they win over the typed fields.

Only for a cgroup v2 directory: the manager refuses them on a host without cgroup2, naming the key.
"""

from __future__ import annotations

from simcon.cgroups.controllers._common import ResourceError, write


def wants(resources) -> bool:  # noqa: ANN001
    return bool(resources.unified)


def apply(resources, cgroup_dir: str, version: int, field: str) -> None:  # noqa: ANN001
    for key, value in resources.unified.items():
        where = f'{field}.unified["{key}"]'
        if version != 2:
            raise ResourceError(where, "raw cgroup v2 keys need cgroup v2, and this host has only v1 mounted")
        if not key or "/" in key or key.startswith(".") or "\0" in key:
            raise ResourceError(where, "not a cgroup file name")
        write(cgroup_dir, key, value, where)
