"""pids: ``limit`` to ``pids.max`` (v1 and v2); zero or negative means no limit (``max``)."""

from __future__ import annotations

from simcon.cgroups.controllers._common import MAX, write


def wants(resources) -> bool:  # noqa: ANN001
    return resources.pids is not None


def apply(resources, cgroup_dir: str, version: int, field: str) -> None:  # noqa: ANN001, ARG001
    if resources.pids is None:
        return
    limit = resources.pids.limit
    write(cgroup_dir, "pids.max", str(limit) if limit > 0 else MAX, f"{field}.pids.limit")
