"""Accounting: a container's cgroup statistics in runc's ``events`` JSON layout, and OOM notifications.

The layout is runc's ``types.Stats`` (``cpu``, ``memory``, ``pids``, ``blkio``, ``hugetlb``), with its
``omitempty`` habits: zero counters are left out. Each controller is read from the v1 hierarchy that carries it,
else from the v2 directory; a file the kernel does not have is simply missing from the result.
"""

from __future__ import annotations

import errno as _errno
import os

from simcon.cgroups import fs
from simcon.errors import CgroupError

HUGEPAGES = "/sys/kernel/mm/hugepages"
USER_HZ = 100  # cpuacct.stat counts in USER_HZ ticks, which is 100 on every Linux ABI
UNLIMITED = 2**64 - 1


def _read(cgroup_dir: str, name: str) -> str | None:
    try:
        return fs.read(cgroup_dir, name)
    except CgroupError as exc:
        if exc.errno in (_errno.ENOENT, _errno.ENODEV, _errno.EOPNOTSUPP):
            return None
        raise


def _int(cgroup_dir: str, name: str) -> int | None:
    text = _read(cgroup_dir, name)
    if text is None:
        return None
    text = text.strip()
    return UNLIMITED if text == "max" else int(text)


def _keyed(cgroup_dir: str, name: str) -> dict[str, int]:
    """A flat-keyed file (``memory.stat``, ``cpu.stat``): ``key value`` per line."""
    text = _read(cgroup_dir, name) or ""
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def _put(target: dict, key: str, value: object) -> None:
    if value:
        target[key] = value


def _dir(cgroups, v1_controller: str) -> tuple[str, int] | None:  # noqa: ANN001
    for cg in cgroups.cgroups:
        if cg.version == 1 and cg.has(v1_controller):
            return cg.dir, 1
    for cg in cgroups.cgroups:
        if cg.version == 2:
            return cg.dir, 2
    return None


def collect(cgroups) -> dict:  # noqa: ANN001
    """The ``data`` of a runc ``stats`` event for the container behind ``cgroups`` (a ``CgroupManager``)."""
    data: dict = {"cpu": _cpu(cgroups), "cpuset": _cpuset(cgroups), "memory": _memory(cgroups),
                  "pids": _pids(cgroups), "blkio": _blkio(cgroups), "hugetlb": _hugetlb(cgroups), "intel_rdt": {},
                  "network_interfaces": None}
    return data


# -- cpu ----------------------------------------------------------------------------------------------------------


def _cpu(cgroups) -> dict:  # noqa: ANN001
    usage: dict = {}
    throttling: dict = {}
    where = _dir(cgroups, "cpuacct")
    if where and where[1] == 1:
        d = where[0]
        _put(usage, "total", _int(d, "cpuacct.usage"))
        percpu = _read(d, "cpuacct.usage_percpu")
        if percpu:
            usage["percpu"] = [int(v) for v in percpu.split()]
        for key, name in (("percpu_kernel", "cpuacct.usage_percpu_sys"), ("percpu_user", "cpuacct.usage_percpu_user")):
            text = _read(d, name)
            if text:
                usage[key] = [int(v) for v in text.split()]
        ticks = _keyed(d, "cpuacct.stat")
        usage["kernel"] = ticks.get("system", 0) * 1_000_000_000 // USER_HZ
        usage["user"] = ticks.get("user", 0) * 1_000_000_000 // USER_HZ
        cpu_dir = _dir(cgroups, "cpu")
        stat = _keyed(cpu_dir[0], "cpu.stat") if cpu_dir and cpu_dir[1] == 1 else {}
        _put(throttling, "periods", stat.get("nr_periods"))
        _put(throttling, "throttled_periods", stat.get("nr_throttled"))
        _put(throttling, "throttled_time", stat.get("throttled_time"))
    elif where:
        stat = _keyed(where[0], "cpu.stat")
        _put(usage, "total", stat.get("usage_usec", 0) * 1000)
        usage["kernel"] = stat.get("system_usec", 0) * 1000
        usage["user"] = stat.get("user_usec", 0) * 1000
        _put(throttling, "periods", stat.get("nr_periods"))
        _put(throttling, "throttled_periods", stat.get("nr_throttled"))
        _put(throttling, "throttled_time", stat.get("throttled_usec", 0) * 1000)
    return {"usage": usage, "throttling": throttling}


# -- cpuset -------------------------------------------------------------------------------------------------------

_CPUSET_FLAGS = ("cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate", "memory_spread_page",
                 "memory_spread_slab", "memory_pressure", "sched_load_balance", "sched_relax_domain_level")


def parse_list(text: str) -> list[int]:
    """A kernel cpu/node list (``0-2,5``) as numbers."""
    out: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        out.extend(range(int(first), int(last or first) + 1))
    return out


def _cpuset(cgroups) -> dict:  # noqa: ANN001
    where = _dir(cgroups, "cpuset")
    if where is None:
        return {}
    d, version = where
    out: dict = {}
    suffix = "" if version == 1 else ".effective"
    for key in ("cpus", "mems"):
        text = _read(d, f"cpuset.{key}{suffix}")
        if text:
            out[key] = parse_list(text)
    if version == 1:
        for flag in _CPUSET_FLAGS:
            value = _int(d, f"cpuset.{flag}")
            if value is not None:
                out[flag] = value
    return out


# -- memory -------------------------------------------------------------------------------------------------------


def _entry(d: str, prefix: str, limit_name: str = "limit_in_bytes") -> dict:
    entry: dict = {"limit": _int(d, f"{prefix}.{limit_name}") or 0}
    _put(entry, "usage", _int(d, f"{prefix}.usage_in_bytes"))
    _put(entry, "max", _int(d, f"{prefix}.max_usage_in_bytes"))
    entry["failcnt"] = _int(d, f"{prefix}.failcnt") or 0
    return entry


def _memory(cgroups) -> dict:  # noqa: ANN001
    where = _dir(cgroups, "memory")
    if where is None:
        return {}
    d, version = where
    out: dict = {}
    raw = _keyed(d, "memory.stat")
    if version == 1:
        _put(out, "cache", raw.get("cache"))
        out["usage"] = _entry(d, "memory")
        out["swap"] = _entry(d, "memory.memsw")
        out["kernel"] = _entry(d, "memory.kmem")
        out["kernelTCP"] = _entry(d, "memory.kmem.tcp")
    else:
        _put(out, "cache", raw.get("file"))
        events = _keyed(d, "memory.events")
        usage: dict = {"limit": _int(d, "memory.max") or 0}
        _put(usage, "usage", _int(d, "memory.current"))
        _put(usage, "max", _int(d, "memory.peak"))
        usage["failcnt"] = events.get("max", 0)
        out["usage"] = usage
        swap_current = _int(d, "memory.swap.current")
        if swap_current is not None:
            # runc reports v2 swap as memory+swap, like v1's memsw.
            swap: dict = {"limit": _int(d, "memory.swap.max") or 0, "failcnt": 0}
            _put(swap, "usage", swap_current + (usage.get("usage") or 0))
            out["swap"] = swap
    _put(out, "raw", raw)
    return out


# -- pids, blkio, hugetlb -----------------------------------------------------------------------------------------


def _pids(cgroups) -> dict:  # noqa: ANN001
    where = _dir(cgroups, "pids")
    if where is None:
        return {}
    out: dict = {}
    _put(out, "current", _int(where[0], "pids.current"))
    limit = _int(where[0], "pids.max")
    _put(out, "limit", 0 if limit == UNLIMITED else limit)
    return out


def _blkio_v1(d: str, name: str) -> list[dict]:
    entries = []
    for line in (_read(d, name) or "").splitlines():
        fields = line.split()
        if len(fields) != 3 or ":" not in fields[0]:
            continue  # "Total N"
        major, minor = fields[0].split(":")
        entry: dict = {}
        _put(entry, "major", int(major))
        _put(entry, "minor", int(minor))
        entry["op"] = fields[1]
        _put(entry, "value", int(fields[2]))
        entries.append(entry)
    return entries


def _blkio(cgroups) -> dict:  # noqa: ANN001
    where = _dir(cgroups, "blkio")
    if where is None:
        return {}
    d, version = where
    out: dict = {}
    if version == 1:
        for key, names in (("ioServiceBytesRecursive", ("blkio.io_service_bytes_recursive",
                                                        "blkio.throttle.io_service_bytes_recursive")),
                           ("ioServicedRecursive", ("blkio.io_serviced_recursive",
                                                    "blkio.throttle.io_serviced_recursive"))):
            for name in names:  # CFQ's files when it is there and has data, else the throttle layer's
                entries = _blkio_v1(d, name)
                if entries:
                    out[key] = entries
                    break
        return out
    service_bytes, serviced = [], []
    for line in (_read(d, "io.stat") or "").splitlines():
        fields = line.split()
        if not fields or ":" not in fields[0]:
            continue
        major, minor = (int(x) for x in fields[0].split(":"))
        values = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        for op, bytes_key, ios_key in (("Read", "rbytes", "rios"), ("Write", "wbytes", "wios")):
            for target, key in ((service_bytes, bytes_key), (serviced, ios_key)):
                entry: dict = {"major": major, "minor": minor, "op": op}
                _put(entry, "value", int(values.get(key, 0)))
                target.append(entry)
    _put(out, "ioServiceBytesRecursive", service_bytes)
    _put(out, "ioServicedRecursive", serviced)
    return out


def page_sizes(hugepages: str = HUGEPAGES) -> list[str]:
    """The huge page sizes of this host as cgroup file names spell them: ``2MB``, ``1GB``."""
    sizes = []
    try:
        names = os.listdir(hugepages)
    except OSError:
        return sizes
    for name in sorted(names):
        if name.startswith("hugepages-") and name.endswith("kB"):
            kb = int(name[len("hugepages-"):-2])
            for unit, size in (("GB", 1 << 20), ("MB", 1 << 10), ("KB", 1)):
                if kb % size == 0:
                    sizes.append(f"{kb // size}{unit}")
                    break
    return sizes


def _hugetlb(cgroups) -> dict:  # noqa: ANN001
    where = _dir(cgroups, "hugetlb")
    if where is None:
        return {}
    d, version = where
    out: dict = {}
    for size in page_sizes():
        entry: dict = {}
        if version == 1:
            usage = _int(d, f"hugetlb.{size}.usage_in_bytes")
            if usage is None:
                continue
            _put(entry, "usage", usage)
            _put(entry, "max", _int(d, f"hugetlb.{size}.max_usage_in_bytes"))
            entry["failcnt"] = _int(d, f"hugetlb.{size}.failcnt") or 0
        else:
            usage = _int(d, f"hugetlb.{size}.current")
            if usage is None:
                continue
            _put(entry, "usage", usage)
            entry["failcnt"] = _keyed(d, f"hugetlb.{size}.events").get("max", 0)
        out[size] = entry
    return out


# -- OOM notifications --------------------------------------------------------------------------------------------


class OomWatcher:
    """Counts OOM kills in the container's memory cgroup from the moment it is made.

    v1: an eventfd registered on ``memory.oom_control`` through ``cgroup.event_control`` wakes the caller
    (``fileno``); the ``oom_kill`` counter of ``memory.oom_control`` says how many kills happened (the eventfd
    also fires when the cgroup goes away). v2: ``memory.events`` ``oom_kill``, read on every call.
    """

    def __init__(self, cgroups) -> None:  # noqa: ANN001
        self._efd: int | None = None
        self._dir: str | None = None
        self._file = ""
        where = _dir(cgroups, "memory")
        if where is None:
            return
        self._dir, version = where
        self._file = "memory.oom_control" if version == 1 else "memory.events"
        if version == 1:
            self._register_v1()
        self._seen = self._count()

    def _register_v1(self) -> None:
        assert self._dir is not None
        efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        try:
            control = os.open(os.path.join(self._dir, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
            try:
                fs.write(self._dir, "cgroup.event_control", f"{efd} {control}")
            finally:
                os.close(control)  # the kernel holds its own reference
        except (OSError, CgroupError):
            os.close(efd)
            return  # polling the counter still works
        self._efd = efd

    def _count(self) -> int:
        if self._dir is None:
            return 0
        try:
            return _keyed(self._dir, self._file).get("oom_kill", 0)
        except CgroupError:
            return 0

    def fileno(self) -> int | None:
        return self._efd

    def new_ooms(self) -> int:
        if self._efd is not None:
            try:
                os.eventfd_read(self._efd)
            except BlockingIOError:
                pass
        count = self._count()
        new, self._seen = max(0, count - self._seen), max(count, self._seen)
        return new

    def close(self) -> None:
        if self._efd is not None:
            os.close(self._efd)
            self._efd = None
