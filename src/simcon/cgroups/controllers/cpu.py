"""cpu: shares (v2 weight), quota and period, burst, realtime runtime/period, idle.

cpus and mems belong to the cpuset controller (``cpuset.py``), a separate hierarchy on v1.
"""

from __future__ import annotations

from simcon.cgroups.controllers._common import ResourceError, read, write

# v1's cpu.shares range; the kernel clamps silently, so we read back and say so.
MIN_SHARES = 2
MAX_SHARES = 262144


def shares_to_weight(shares: int) -> int:
    """runc's map of v1 cpu.shares [2, 262144] onto v2 cpu.weight [1, 10000]; 0 stays "not set"."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def wants(resources) -> bool:  # noqa: ANN001
    cpu = resources.cpu
    return cpu is not None and any(
        v is not None for v in (cpu.shares, cpu.quota, cpu.period, cpu.burst, cpu.realtime_runtime,
                                cpu.realtime_period, cpu.idle))


def apply(resources, cgroup_dir: str, version: int, field: str) -> None:  # noqa: ANN001
    cpu = resources.cpu
    if cpu is None:
        return
    field = f"{field}.cpu"
    if version == 1:
        _apply_v1(cpu, cgroup_dir, field)
    else:
        _apply_v2(cpu, cgroup_dir, field)


def _apply_v1(cpu, d: str, field: str) -> None:  # noqa: ANN001
    if cpu.shares:
        write(d, "cpu.shares", str(cpu.shares), f"{field}.shares")
        got = int(read(d, "cpu.shares", f"{field}.shares"))
        if got != cpu.shares:
            bound = "maximum" if cpu.shares > got else "minimum"
            raise ResourceError(f"{field}.shares", f"{cpu.shares} is out of range: the {bound} is {got}",
                                path=f"{d}/cpu.shares")
    quota, period = cpu.quota or 0, cpu.period or 0
    if period:
        try:
            write(d, "cpu.cfs_period_us", str(period), f"{field}.period")
        except ResourceError:
            # A new period can be refused while the old quota does not fit it: set the quota first then.
            if not quota:
                raise
            write(d, "cpu.cfs_quota_us", str(quota), f"{field}.quota")
            write(d, "cpu.cfs_period_us", str(period), f"{field}.period")
    if quota:
        write(d, "cpu.cfs_quota_us", str(quota), f"{field}.quota")
    if cpu.burst is not None:
        write(d, "cpu.cfs_burst_us", str(cpu.burst), f"{field}.burst")
    if cpu.realtime_period:
        write(d, "cpu.rt_period_us", str(cpu.realtime_period), f"{field}.realtimePeriod")
    if cpu.realtime_runtime:
        write(d, "cpu.rt_runtime_us", str(cpu.realtime_runtime), f"{field}.realtimeRuntime")
    if cpu.idle is not None:
        write(d, "cpu.idle", str(cpu.idle), f"{field}.idle")


def _apply_v2(cpu, d: str, field: str) -> None:  # noqa: ANN001
    for name in ("realtime_runtime", "realtime_period"):
        if getattr(cpu, name):
            json_name = "realtimeRuntime" if name == "realtime_runtime" else "realtimePeriod"
            raise ResourceError(f"{field}.{json_name}", "realtime CPU scheduling limits do not exist on cgroup v2")
    if cpu.idle is not None:
        write(d, "cpu.idle", str(cpu.idle), f"{field}.idle")
    if cpu.shares:
        write(d, "cpu.weight", str(shares_to_weight(cpu.shares)), f"{field}.shares")
    quota, period = cpu.quota or 0, cpu.period or 0
    if quota or period:
        value = str(quota) if quota > 0 else "max"
        if period:
            value += f" {period}"
        write(d, "cpu.max", value, f"{field}.quota" if quota else f"{field}.period")
    if cpu.burst is not None:
        write(d, "cpu.max.burst", str(cpu.burst), f"{field}.burst")
