"""cpuset: ``linux.resources.cpu.cpus`` and ``.mems`` (the same file names on v1 and v2)."""

from __future__ import annotations

from simcon.cgroups.controllers._common import write


def wants(resources) -> bool:  # noqa: ANN001
    cpu = resources.cpu
    return cpu is not None and bool(cpu.cpus or cpu.mems)


def apply(resources, cgroup_dir: str, version: int, field: str) -> None:  # noqa: ANN001, ARG001
    cpu = resources.cpu
    if cpu is None:
        return
    if cpu.cpus:
        write(cgroup_dir, "cpuset.cpus", cpu.cpus, f"{field}.cpu.cpus")
    if cpu.mems:
        write(cgroup_dir, "cpuset.mems", cpu.mems, f"{field}.cpu.mems")
