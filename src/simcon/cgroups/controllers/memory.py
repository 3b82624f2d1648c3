"""memory: limit, reservation, swap, kernel, kernelTCP, swappiness, disableOOMKiller, useHierarchy,
checkBeforeUpdate.

Swap follows the runtime-spec (and runc): ``swap`` is the limit of memory plus swap. On v1 that is exactly
``memory.memsw.limit_in_bytes``; v2's ``memory.swap.max`` counts swap alone, so it gets ``swap - limit``.
"""

from __future__ import annotations

from simcon.cgroups.controllers._common import ResourceError, exists, read, v2_value, warn, write


def wants(resources) -> bool:  # noqa: ANN001
    return resources.memory is not None


def check(resources, field: str) -> None:  # noqa: ANN001
    mem = resources.memory
    if mem is None:
        return
    for name, value in (("limit", mem.limit), ("swap", mem.swap), ("reservation", mem.reservation)):
        if (value or 0) < -1:
            raise ResourceError(f"{field}.memory.{name}", f"must be -1 (no limit) or a number of bytes, got {value}")


def apply(resources, cgroup_dir: str, version: int, field: str) -> None:  # noqa: ANN001
    mem = resources.memory
    if mem is None:
        return
    field = f"{field}.memory"
    limit = mem.limit or 0  # 0 means "not set", as in runc
    swap = mem.swap or 0
    if mem.check_before_update and limit > 0:
        usage_file = "memory.usage_in_bytes" if version == 1 else "memory.current"
        usage = int(read(cgroup_dir, usage_file, f"{field}.limit") or 0)
        if limit < usage:
            raise ResourceError(f"{field}.limit", f"rejecting memory limit {limit} below the current usage {usage} "
                                "(checkBeforeUpdate)", path=f"{cgroup_dir}/{usage_file}")
    if version == 1:
        _apply_v1(mem, cgroup_dir, field, limit, swap)
    else:
        _apply_v2(mem, cgroup_dir, field, limit, swap)


def _apply_v1(mem, d: str, field: str, limit: int, swap: int) -> None:  # noqa: ANN001
    memsw = "memory.memsw.limit_in_bytes"
    if limit == -1 and swap == 0 and exists(d, memsw):
        swap = -1  # "no memory limit" lifts the swap limit too, or the old memsw would still cap it
    if limit and swap:
        # The kernel insists on limit <= memsw at every moment: raise memsw first when it grows.
        current = int(read(d, "memory.limit_in_bytes", f"{field}.limit"))
        if swap == -1 or current < swap:
            write(d, memsw, str(swap), f"{field}.swap")
            write(d, "memory.limit_in_bytes", str(limit), f"{field}.limit")
        else:
            write(d, "memory.limit_in_bytes", str(limit), f"{field}.limit")
            write(d, memsw, str(swap), f"{field}.swap")
    else:
        if limit > 0 and exists(d, memsw):
            current_memsw = int(read(d, memsw, f"{field}.limit"))
            if 0 <= current_memsw < limit:
                raise ResourceError(f"{field}.limit", f"{limit} is above the current memory+swap limit "
                                    f"{current_memsw}: set the swap limit too (linux.resources.memory.swap, "
                                    "update --memory-swap)", path=f"{d}/{memsw}")
        if limit:
            write(d, "memory.limit_in_bytes", str(limit), f"{field}.limit")
        if swap:
            write(d, memsw, str(swap), f"{field}.swap")
    if mem.reservation:
        write(d, "memory.soft_limit_in_bytes", str(mem.reservation), f"{field}.reservation")
    if mem.kernel:
        warn(f"{field}.kernel", "kernel memory limits are deprecated by Linux and ignored")
    if mem.kernel_tcp:
        write(d, "memory.kmem.tcp.limit_in_bytes", str(mem.kernel_tcp), f"{field}.kernelTCP")
    if mem.swappiness is not None:
        if mem.swappiness > 100:
            raise ResourceError(f"{field}.swappiness", f"must be 0-100, got {mem.swappiness}")
        write(d, "memory.swappiness", str(mem.swappiness), f"{field}.swappiness")
    if mem.disable_oom_killer:
        write(d, "memory.oom_control", "1", f"{field}.disableOOMKiller")
    if mem.use_hierarchy is not None:
        if mem.use_hierarchy or read(d, "memory.use_hierarchy", f"{field}.useHierarchy") != "1":
            write(d, "memory.use_hierarchy", "1" if mem.use_hierarchy else "0", f"{field}.useHierarchy")
        else:
            # Linux 5.16+ keeps every v1 memory cgroup hierarchical and refuses 0.
            warn(f"{field}.useHierarchy", "false is ignored: this kernel's memory cgroups are always hierarchical")


def swap_v2(limit: int, swap: int, field: str) -> int:
    """runc's conversion of the spec's memory+swap to v2's swap-only ``memory.swap.max``; 0 means leave it."""
    if limit == -1 and swap == 0:
        return -1
    if swap in (-1, 0):
        return swap
    if limit in (0, -1):
        raise ResourceError(f"{field}.swap", "a swap limit needs a memory limit (linux.resources.memory.limit)")
    if swap < limit:
        raise ResourceError(f"{field}.swap", f"memory+swap limit {swap} is below the memory limit {limit}")
    return swap - limit


def _apply_v2(mem, d: str, field: str, limit: int, swap: int) -> None:  # noqa: ANN001
    swap_max = swap_v2(limit, swap, field)
    if swap_max:
        if swap_max != -1 or exists(d, "memory.swap.max"):
            write(d, "memory.swap.max", v2_value(swap_max), f"{field}.swap")
    if limit:
        write(d, "memory.max", v2_value(limit), f"{field}.limit")
    if mem.reservation:
        write(d, "memory.low", v2_value(mem.reservation), f"{field}.reservation")
    if mem.kernel:
        warn(f"{field}.kernel", "kernel memory limits do not exist on cgroup v2: ignored")
    if mem.kernel_tcp:
        warn(f"{field}.kernelTCP", "kernel TCP memory limits do not exist on cgroup v2: ignored")
    if mem.swappiness is not None:
        warn(f"{field}.swappiness", "per-cgroup swappiness does not exist on cgroup v2: ignored")
    if mem.disable_oom_killer:
        warn(f"{field}.disableOOMKiller", "cgroup v2 cannot disable the OOM killer: ignored")
    if mem.use_hierarchy is False:
        warn(f"{field}.useHierarchy", "cgroup v2 is always hierarchical: false is ignored")
