"""Live resource usage of containers for `simcon stats`: one sample per container from its cgroup (the stats
`events` reports, ``cgroups.stats.collect``), and the rates between two samples (CPU %), as `docker stats` shows
them: memory without the reclaimable page cache, block I/O as bytes read and written, pids."""

from __future__ import annotations

import os
import time

from simcon.errors import ContainerNotRunningError, SimconError
from simcon.runtime import status as st
from simcon.runtime.state import StateStore

# Memory limits at or above this are "no limit" (v1 reports PAGE_COUNTER_MAX pages, v2 "max"): show the host's.
_NO_LIMIT = 1 << 62


class Usage:
    """One sample of one container. Times in nanoseconds; ``at`` is CLOCK_MONOTONIC."""

    __slots__ = ("id", "at", "cpu_ns", "memory", "memory_limit", "pids", "pids_limit", "read_bytes",
                 "write_bytes")

    def __init__(self, container_id: str, at: int, cpu_ns: int, memory: int, memory_limit: int, pids: int,
                 pids_limit: int, read_bytes: int, write_bytes: int) -> None:
        self.id = container_id
        self.at = at
        self.cpu_ns = cpu_ns
        self.memory = memory
        self.memory_limit = memory_limit
        self.pids = pids
        self.pids_limit = pids_limit
        self.read_bytes = read_bytes
        self.write_bytes = write_bytes

    def memory_percent(self) -> float:
        return 100.0 * self.memory / self.memory_limit if self.memory_limit else 0.0

    def cpu_percent(self, before: Usage | None) -> float:
        """CPU time used since ``before`` as a share of one CPU's wall time (200 = two CPUs busy), as docker."""
        if before is None or self.at <= before.at:
            return 0.0
        return max(0.0, 100.0 * (self.cpu_ns - before.cpu_ns) / (self.at - before.at))

    def to_json(self, before: Usage | None) -> dict:
        return {"id": self.id, "cpu_percent": round(self.cpu_percent(before), 2), "cpu_total_ns": self.cpu_ns,
                "memory": {"usage": self.memory, "limit": self.memory_limit,
                           "percent": round(self.memory_percent(), 2)},
                "pids": {"current": self.pids, "limit": self.pids_limit},
                "blkio": {"read_bytes": self.read_bytes, "write_bytes": self.write_bytes}}


def host_memory(meminfo: str = "/proc/meminfo") -> int:
    with open(meminfo) as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def sample(store: StateStore, container_id: str) -> Usage:
    """The container's usage now; ``ContainerNotRunningError`` when it is stopped (or never started a cgroup)."""
    from simcon.cgroups import CgroupManager
    from simcon.cgroups.stats import collect
    from simcon.runtime.operations import container_status

    state, status = container_status(store, container_id)
    if status == st.STOPPED or status == st.CREATING:
        raise ContainerNotRunningError(container_id)
    if state.cgroup is None:
        raise SimconError("the container has no cgroup: no usage to show", container_id=container_id)
    data = collect(CgroupManager.from_state(state.cgroup))
    at = time.monotonic_ns()
    memory = data.get("memory") or {}
    raw = memory.get("raw") or {}
    usage = (memory.get("usage") or {}).get("usage") or 0
    # What the kernel may drop at once is not the container's own (docker subtracts it too).
    usage -= min(usage, raw.get("total_inactive_file", raw.get("inactive_file", 0)))
    limit = (memory.get("usage") or {}).get("limit") or 0
    if not limit or limit >= _NO_LIMIT:
        limit = host_memory()
    pids = data.get("pids") or {}
    blkio = data.get("blkio") or {}
    read = write = 0
    for entry in blkio.get("ioServiceBytesRecursive") or []:
        if entry.get("op") == "Read":
            read += entry.get("value", 0)
        elif entry.get("op") == "Write":
            write += entry.get("value", 0)
    return Usage(container_id, at, ((data.get("cpu") or {}).get("usage") or {}).get("total", 0), usage, limit,
                 pids.get("current", 0), pids.get("limit", 0), read, write)


def running_ids(store: StateStore) -> list[str]:
    """Every container under the root whose process runs (or is paused): `stats` without an id."""
    from simcon.runtime.operations import list_containers

    return [state.id for state, status in list_containers(store) if status in (st.RUNNING, st.PAUSED)]
