"""network.priorities: one ``net_prio.ifpriomap`` line per interface (v1 only)."""

from __future__ import annotations

from simcon.cgroups.controllers._common import ResourceError, write


def wants(resources) -> bool:  # noqa: ANN001
    return resources.network is not None and bool(resources.network.priorities)


def apply(resources, cgroup_dir: str, version: int, field: str) -> None:  # noqa: ANN001
    if not wants(resources):
        return
    for i, prio in enumerate(resources.network.priorities):
        where = f"{field}.network.priorities[{i}]"
        if version == 2:
            raise ResourceError(where, "cgroup v2 has no net_prio controller")
        write(cgroup_dir, "net_prio.ifpriomap", f"{prio.name} {prio.priority}", where)
