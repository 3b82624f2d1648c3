"""The systemd cgroup driver (``--systemd-cgroup``): the container's cgroup is a transient scope unit.

As runc's systemd driver does on cgroup v2:

1. ``open_systemd_manager`` parses ``slice:prefix:name`` (``slices``) and computes the scope's directory:
   ``/sys/fs/cgroup/<expanded slice>/<prefix>-<name>.scope`` (below the user manager's cgroup when rootless).
2. ``create`` (before fork) checks that systemd is reachable and that the unit does not exist yet.
3. ``apply`` before the unit exists only converts ``linux.resources`` into unit properties (conversion errors come
   before anything starts) and keeps the resources.
4. ``add_process(pid)`` starts the scope over D-Bus (``StartTransientUnit`` with ``PIDs``, ``Delegate=yes``,
   ``Slice``, ``Description``, ``DefaultDependencies=no``, accounting and the resource properties), waits for the
   job, then lets the cgroupfs writers set everything (those without a systemd property too), exactly as the
   cgroupfs driver would: systemd's values and SimCon's agree, so a ``daemon-reload`` undoes nothing.
5. ``update`` sets the properties with ``SetUnitProperties`` (runtime) and then writes the files again.
6. ``destroy`` stops the scope (waiting for the job), forgets it if it failed, and removes what is left.

Pause/resume, ``ps``, ``events``, ``kill --all`` use the scope's cgroupfs directory like the v2 driver: no D-Bus,
so those verbs never import jeepney. Only cgroup v2 (unified) hosts are supported.
"""

from __future__ import annotations

import errno
import os

from simcon.cgroups import systemd_dbus
from simcon.cgroups.manager import CgroupManager
from simcon.cgroups.mounts import MOUNTINFO, Hierarchy, mode_of, parse_mountinfo
from simcon.cgroups.slices import SystemdPath, parse_systemd_path
from simcon.cgroups.v2 import V2Cgroup
from simcon.errors import CgroupError

DRIVER = "systemd"
UINT64_MAX = 2**64 - 1
DEFAULT_CPU_PERIOD = 100_000
# systemd turns CPUQuotaPerSecUSec into a whole percent of a CPU: runc rounds up to 10 ms per second so that the
# container's own cpu.max (written exactly afterwards) fits below what systemd sets.
CPU_QUOTA_GRAIN = 10_000

Property = tuple[str, tuple[str, object]]


# -- resources -> unit properties (runc's conversions) ----------------------------------------------------------


def _u64(value: int) -> int:
    """-1 (no limit) is systemd's "infinity", UINT64_MAX."""
    return UINT64_MAX if value == -1 else value


def cpu_quota_per_sec(quota: int, period: int) -> int:
    """CPUQuotaPerSecUSec for a CFS quota/period, rounded up to whole percents; UINT64_MAX for no quota."""
    if quota <= 0:
        return UINT64_MAX
    usec = quota * 1_000_000 // (period or DEFAULT_CPU_PERIOD)
    if usec % CPU_QUOTA_GRAIN:
        usec = (usec // CPU_QUOTA_GRAIN + 1) * CPU_QUOTA_GRAIN
    return usec


def cpuset_bits(spec: str, field: str) -> bytes:
    """A cpuset list (``0-3,6``) as the byte mask AllowedCPUs/AllowedMemoryNodes take (byte 0 = CPUs 0-7)."""
    mask = 0
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise CgroupError(f"{field}: invalid cpu/node list {spec!r}") from None
        if first < 0 or last < first:
            raise CgroupError(f"{field}: invalid range {part!r} in {spec!r}")
        for bit in range(first, last + 1):
            mask |= 1 << bit
    return mask.to_bytes((mask.bit_length() + 7) // 8 or 1, "little")


def resource_properties(resources, field: str = "linux.resources") -> list[Property]:  # noqa: ANN001
    """The unit properties for ``resources`` (a ``spec.model.Resources``) that systemd has on cgroup v2.

    Everything else (and these too) is written by the cgroupfs writers afterwards. Device rules are left to the
    writers' eBPF filter: systemd's DeviceAllow= would attach a second program with the same rules.
    """
    from simcon.cgroups.controllers.blkio import blkio_to_io_weight
    from simcon.cgroups.controllers.cpu import shares_to_weight
    from simcon.cgroups.controllers.memory import swap_v2

    props: list[Property] = []
    mem = resources.memory
    if mem is not None:
        limit, swap = mem.limit or 0, mem.swap or 0
        if limit:
            props.append(("MemoryMax", ("t", _u64(limit))))
        if mem.reservation:
            props.append(("MemoryLow", ("t", _u64(mem.reservation))))
        swap_max = swap_v2(limit, swap, f"{field}.memory")
        if swap_max:
            props.append(("MemorySwapMax", ("t", _u64(swap_max))))
    cpu = resources.cpu
    if cpu is not None:
        if cpu.idle:
            props.append(("CPUWeight", ("t", 0)))  # systemd 252+: weight 0 is "idle"
        elif cpu.shares:
            props.append(("CPUWeight", ("t", shares_to_weight(cpu.shares))))
        quota, period = cpu.quota or 0, cpu.period or 0
        if period:
            props.append(("CPUQuotaPeriodUSec", ("t", period)))
        if quota or period:
            props.append(("CPUQuotaPerSecUSec", ("t", cpu_quota_per_sec(quota, period))))
        if cpu.cpus:
            props.append(("AllowedCPUs", ("ay", cpuset_bits(cpu.cpus, f"{field}.cpu.cpus"))))
        if cpu.mems:
            props.append(("AllowedMemoryNodes", ("ay", cpuset_bits(cpu.mems, f"{field}.cpu.mems"))))
    if resources.pids is not None and (resources.pids.limit > 0 or resources.pids.limit == -1):
        props.append(("TasksMax", ("t", _u64(resources.pids.limit))))
    bio = resources.block_io
    if bio is not None and bio.weight:
        props.append(("IOWeight", ("t", blkio_to_io_weight(bio.weight))))
    props.extend(_unified_properties(resources.unified, f"{field}.unified"))
    return props


# unified keys systemd has a property for, and how the value converts ("max" -> infinity).
_UNIFIED_U64 = {
    "memory.min": "MemoryMin",
    "memory.low": "MemoryLow",
    "memory.high": "MemoryHigh",
    "memory.max": "MemoryMax",
    "memory.swap.max": "MemorySwapMax",
    "pids.max": "TasksMax",
    "cpu.weight": "CPUWeight",
    "io.weight": "IOWeight",
}


def _unified_properties(unified: dict[str, str], field: str) -> list[Property]:
    props: list[Property] = []
    for key, raw in unified.items():
        value = raw.strip()
        if key in _UNIFIED_U64:
            if key == "io.weight" and value.startswith("default "):
                value = value.split()[1]
            if value == "max":
                number = UINT64_MAX
            else:
                try:
                    number = int(value)
                except ValueError:
                    continue  # the cgroupfs writer reports it, naming the file
            props.append((_UNIFIED_U64[key], ("t", number)))
        elif key == "cpu.max":
            words = value.split()
            try:
                period = int(words[1]) if len(words) > 1 else 0
                quota = -1 if words[0] == "max" else int(words[0])
            except (ValueError, IndexError):
                continue
            if period:
                props.append(("CPUQuotaPeriodUSec", ("t", period)))
            props.append(("CPUQuotaPerSecUSec", ("t", cpu_quota_per_sec(quota, period))))
        elif key in ("cpuset.cpus", "cpuset.mems"):
            name = "AllowedCPUs" if key == "cpuset.cpus" else "AllowedMemoryNodes"
            props.append((name, ("ay", cpuset_bits(value, f"{field}[{key!r}]"))))
    return props


def scope_properties(path: SystemdPath, container_id: str, pid: int, resources: list[Property]) -> list[Property]:
    """Everything StartTransientUnit gets for the container's scope."""
    props: list[Property] = [
        ("Description", ("s", f"simcon container {container_id}")),
        ("Slice", ("s", path.slice)),
        ("PIDs", ("au", [pid])),
        # The container's cgroup subtree is SimCon's (and the container's) to manage, not systemd's.
        ("Delegate", ("b", True)),
        # No ordering against shutdown.target & co: the scope lives and dies with the container.
        ("DefaultDependencies", ("b", False)),
        ("MemoryAccounting", ("b", True)),
        ("CPUAccounting", ("b", True)),
        ("IOAccounting", ("b", True)),
        ("TasksAccounting", ("b", True)),
    ]
    if path.unit.endswith(".slice"):
        props = [p for p in props if p[0] not in ("PIDs", "Delegate")]
    return props + resources


# -- the manager ------------------------------------------------------------------------------------------------


def open_systemd_manager(
    cgroups_path: str | None, container_id: str, *, rootless: bool = False, mountinfo: str = MOUNTINFO
) -> SystemdCgroupManager:
    """The systemd-driven manager for a container whose ``linux.cgroupsPath`` is ``cgroups_path``."""
    path = parse_systemd_path(cgroups_path, container_id, rootless=rootless)
    if not rootless and not systemd_dbus.systemd_booted():
        raise systemd_dbus.SystemdError(
            "systemd is not running as this system's init (no /run/systemd/system), so --systemd-cgroup "
            "cannot be used", hint=systemd_dbus.CGROUPFS_HINT)
    hierarchies = parse_mountinfo(mountinfo)
    mode = mode_of(hierarchies)
    if mode != "unified":
        raise CgroupError(
            f"the systemd cgroup driver needs a pure cgroup v2 (unified) host; this one is {mode}: leave out "
            "--systemd-cgroup to use the cgroupfs driver"
        )
    (hierarchy,) = [h for h in hierarchies if h.version == 2]
    base = ""
    if rootless:
        # The user's manager runs in its own cgroup (/user.slice/user-UID.slice/user@UID.service): its slices
        # are below it.
        with systemd_dbus.SystemdManager(user=True) as systemd:
            base = str(systemd.manager_property("ControlGroup") or "").rstrip("/")
    cgroup_dir = hierarchy.mount_point.rstrip("/") + base + path.relative_dir
    return SystemdCgroupManager(mode, [V2Cgroup(hierarchy, cgroup_dir)], path=path, container_id=container_id,
                                user=rootless)


class SystemdCgroupManager(CgroupManager):
    """A container's cgroup as a transient systemd scope; cgroupfs for everything systemd has no call for."""

    __slots__ = ("path", "container_id", "user", "started", "_pending", "_properties")

    driver = DRIVER

    def __init__(self, mode: str, cgroups: list, *, path: SystemdPath, container_id: str, user: bool = False,
                 started: bool = False) -> None:
        super().__init__(mode, cgroups, None)
        self.path = path
        self.container_id = container_id
        self.user = user
        # Whether this manager started the unit (or found it in the container's state): only then is it stopped.
        self.started = started
        self._pending: list[tuple] = []
        self._properties: list[Property] = []

    @property
    def unit(self) -> str:
        return self.path.unit

    def _systemd(self) -> systemd_dbus.SystemdManager:
        return systemd_dbus.SystemdManager(user=self.user)

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def create(self) -> None:
        """Before fork: systemd must be reachable and the unit free (a failed leftover of ours is forgotten).

        Nothing is made here: a scope needs a process, so it starts in ``add_process``.
        """
        with self._systemd() as systemd:
            unit_path = systemd.unit_path(self.unit)
            if unit_path is None:
                return
            state = str(systemd.get_property(unit_path, "org.freedesktop.systemd1.Unit", "ActiveState"))
            if state in ("failed", "inactive"):
                systemd.reset_failed_unit(self.unit)
                return
            raise systemd_dbus.SystemdError(f"unit `{self.unit}` already exists ({state}): another container uses the "
                               f"cgroupsPath {self.path.slice}:{self.path.prefix}:{self.path.name}")

    def apply(self, resources, field: str = "linux.resources", **options: object) -> None:  # noqa: ANN001
        """``CgroupManager.apply`` (``options`` passed through to it) after the unit's properties."""
        properties = resource_properties(resources, field)
        if not self.started:
            # Before the scope exists: its properties go into StartTransientUnit, the files follow right after.
            self._properties = properties
            self._pending.append((resources, field, options))
            return
        if properties:
            with self._systemd() as systemd:
                systemd.set_unit_properties(self.unit, properties)
        super().apply(resources, field, **options)

    def add_process(self, pid: int) -> None:
        """Start the scope with ``pid`` in it and wait for the job; then write the resources through cgroupfs."""
        if self.started:
            super().add_process(pid)
            return
        props = scope_properties(self.path, self.container_id, pid, self._properties)
        with self._systemd() as systemd:
            try:
                systemd.start_transient_unit(self.unit, props)
            except systemd_dbus.SystemdError as exc:
                if exc.dbus_name != "org.freedesktop.systemd1.UnitExists":
                    try:
                        systemd.reset_failed_unit(self.unit)  # a failed job leaves a failed unit: not ours to keep
                    except systemd_dbus.SystemdError as cleanup:
                        exc.message += f" (cleanup also failed: {cleanup})"
                        exc.args = (exc.message,)
                raise
            self.started = True
        if not os.path.isdir(self.cgroups[0].dir):
            raise CgroupError(f"systemd started `{self.unit}` but its cgroup is not where expected",
                              path=self.cgroups[0].dir)
        pending, self._pending = self._pending, []
        for resources, field, options in pending:
            super().apply(resources, field, **options)

    def signal_all(self, sig: int) -> None:
        """As cgroupfs; but systemd removes the scope's cgroup as soon as its last process exits, so a cgroup that
        vanished under us had nothing left to signal."""
        try:
            super().signal_all(sig)
        except CgroupError as exc:
            if exc.errno != errno.ENOENT or os.path.isdir(self.cgroups[0].dir):
                raise

    def destroy(self) -> None:
        """Stop the scope (systemd kills what is left and removes its cgroup), forget it, remove leftovers."""
        if self.started:
            try:
                with self._systemd() as systemd:
                    systemd.stop_unit(self.unit)
                    systemd.reset_failed_unit(self.unit)
            except systemd_dbus.SystemdError as exc:
                # systemd gone (or its bus): the cgroup can still be removed through cgroupfs, and a `delete` that
                # cannot finish would leave the engine with a container it can never remove.
                if os.path.isdir(self.cgroups[0].dir):
                    super().destroy()
                from simcon import log

                log.warning(f"{self.container_id}: {exc}; removed the scope's cgroup through cgroupfs instead")
                self.started = False
                return
            self.started = False
        super().destroy()

    # -- persistence ----------------------------------------------------------------------------------------------

    def to_state(self) -> dict:
        data = super().to_state()
        data.update(driver=DRIVER, slice=self.path.slice, prefix=self.path.prefix, name=self.path.name,
                    container_id=self.container_id, user=self.user)
        return data

    def planned_state(self) -> dict:
        """What create records before it makes anything: the unit and its directory. Never the slices as
        directories "to remove": systemd makes and removes them, and ``destroy`` stops the unit instead."""
        return self.to_state()

    @classmethod
    def from_state(cls, data: dict) -> SystemdCgroupManager:
        try:
            (item,) = data["cgroups"]
            hierarchy = Hierarchy(2, (), str(item["mount_point"]), str(item["root"]))
            path = SystemdPath(str(data["slice"]), str(data["prefix"]), str(data["name"]))
            # A container's state is written once its scope runs: that unit is the container's.
            return cls(str(data["mode"]), [V2Cgroup(hierarchy, str(item["dir"]))], path=path,
                       container_id=str(data["container_id"]), user=bool(data["user"]), started=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise CgroupError(f"invalid systemd cgroup state: {type(exc).__name__}: {exc}") from exc

    def __repr__(self) -> str:
        return f"SystemdCgroupManager({self.unit!r}, {self.cgroups!r})"
