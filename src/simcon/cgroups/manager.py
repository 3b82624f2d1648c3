"""The one cgroup interface the runtime uses: a container's cgroup across every mounted hierarchy.

``open_manager`` resolves the container's directory in each hierarchy (v1: every v1 mount, named ones included;
v2: the unified mount; hybrid: both) and returns a ``CgroupManager`` holding one driver per hierarchy
(``V1Cgroup``/``V2Cgroup``). Nothing is touched until ``create``.

The manager remembers which directories it made itself (``created``), so ``destroy`` removes the container's
directories and then only those ancestors it created, leaving shared parents that other containers (or the
administrator) made. ``to_state``/``from_state`` carry this across ``simcon`` invocations.
"""

from __future__ import annotations

import errno as _errno
import os
import time

from simcon.cgroups import fs
from simcon.cgroups.mounts import MOUNTINFO, Hierarchy, mode_of, parse_mountinfo
from simcon.cgroups.paths import PROC_CGROUP, check_cgroups_path, container_dir, parse_proc_cgroup
from simcon.cgroups.v1 import V1Cgroup
from simcon.cgroups.v2 import V2Cgroup
from simcon.errors import CgroupError

SIGKILL = 9
FREEZE_TIMEOUT = 5.0
DESTROY_TIMEOUT = 3.0
STATE_VERSION = 1

# Which hierarchy lists a container's processes most reliably, best first (v2 sorts before all of them).
_PID_PREFERENCE = ("pids", "freezer", "memory")


def _driver(hierarchy: Hierarchy, cgroup_dir: str) -> V1Cgroup | V2Cgroup:
    return V2Cgroup(hierarchy, cgroup_dir) if hierarchy.version == 2 else V1Cgroup(hierarchy, cgroup_dir)


def _pid_rank(cg: V1Cgroup | V2Cgroup) -> int:
    if cg.version == 2:
        return 0
    for rank, name in enumerate(_PID_PREFERENCE, 1):
        if name in cg.hierarchy.controllers:
            return rank
    return len(_PID_PREFERENCE) + 1


def open_manager(
    cgroups_path: str | None,
    container_id: str,
    *,
    mountinfo: str = MOUNTINFO,
    proc_cgroup: str = PROC_CGROUP,
) -> CgroupManager:
    """The manager for a container whose OCI ``linux.cgroupsPath`` is ``cgroups_path`` (None: the default)."""
    path = check_cgroups_path(cgroups_path, container_id)
    hierarchies = parse_mountinfo(mountinfo)
    mode = mode_of(hierarchies)
    own = None if path.startswith("/") else parse_proc_cgroup(proc_cgroup)
    cgroups = [_driver(h, container_dir(h, path, own, proc_cgroup=proc_cgroup)) for h in hierarchies]
    return CgroupManager(mode, cgroups)


class CgroupManager:
    """A container's cgroup: one directory per mounted hierarchy, created and removed together."""

    __slots__ = ("mode", "cgroups", "created")

    def __init__(self, mode: str, cgroups: list[V1Cgroup | V2Cgroup], created: list[str] | None = None) -> None:
        self.mode = mode
        self.cgroups = cgroups
        # Directories this manager made itself (ancestors and container dirs), in creation order.
        self.created: list[str] = list(created or [])

    # -- queries --------------------------------------------------------------------------------------------------

    @property
    def dirs(self) -> dict[str, str]:
        """The container's directory per hierarchy key (``cpu``, ``name=systemd``...; ``""`` for v2)."""
        return {cg.hierarchy.key: cg.dir for cg in self.cgroups}

    def dir_for(self, controller: str) -> str | None:
        """Where ``controller``'s files live: the v1 hierarchy carrying it, else v2 if it offers it, else None."""
        for cg in self.cgroups:
            if cg.version == 1 and cg.has(controller):
                return cg.dir
        for cg in self.cgroups:
            if cg.version == 2 and cg.has(controller):
                return cg.dir
        return None

    def exists(self) -> bool:
        return any(os.path.isdir(cg.dir) for cg in self.cgroups)

    def pids(self) -> list[int]:
        """Every process in the container's cgroup or below it, in any hierarchy, sorted."""
        found: set[int] = set()
        for cg in sorted(self.cgroups, key=_pid_rank):
            found.update(_subtree_pids(cg.dir))
        return sorted(found)

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def create(self) -> None:
        """Make the container's directory in every hierarchy (ancestors too), ready for ``add_process``.

        On failure everything made so far is removed again. A container directory that already exists is reused
        only if no process is in it.
        """
        made: list[str] = []
        try:
            for cg in self.cgroups:
                self._create_one(cg, made)
        except BaseException as exc:
            problems = _remove_made(made)
            if problems:
                _append(exc, "cleanup after the failed create: " + "; ".join(problems))
            raise
        self.created.extend(made)

    def _create_one(self, cg: V1Cgroup | V2Cgroup, made: list[str]) -> None:
        mount_point = cg.hierarchy.mount_point
        rel = os.path.relpath(cg.dir, mount_point)
        path = mount_point
        existed = True
        for part in rel.split(os.sep):
            path = os.path.join(path, part)
            try:
                fs.mkdir(path, 0o755)
            except FileExistsError:
                existed = True
                continue
            except OSError as exc:
                raise CgroupError(f"mkdir: {fs.strerror(exc)}", path=path, errno=exc.errno or 0) from exc
            existed = False
            made.append(path)
            cg.init_dir(path)
        if existed:
            busy = _subtree_pids(cg.dir)
            if busy:
                raise CgroupError(
                    f"already exists with {len(busy)} process(es) in it (pid {busy[0]}): "
                    "another container uses this cgroup",
                    path=cg.dir,
                    errno=_errno.EBUSY,
                )
            cg.init_dir(cg.dir)

    def add_process(self, pid: int) -> None:
        """Move process ``pid`` into the container's cgroup in every hierarchy."""
        for cg in self.cgroups:
            fs.write(cg.dir, "cgroup.procs", str(pid))

    def apply(self, resources, field: str = "linux.resources", devices: bool = False) -> None:  # noqa: ANN001
        """Write ``resources`` (a ``spec.model.Resources``) through each controller's writer.

        ``field`` is the JSON path of ``resources`` in messages. ``devices`` also writes the device list (rules
        plus defaults, see ``controllers.devices``): always at create; ``update`` only when it brings rules.
        """
        from simcon.cgroups.controllers import WRITERS, ResourceError, unified
        from simcon.cgroups.controllers import devices as devices_writer

        for v1_name, json_name, writer in WRITERS:
            if writer is devices_writer:
                if not devices:
                    continue
            elif not writer.wants(resources):
                continue
            target = self._target(v1_name)
            if target is None:
                if writer is devices_writer:
                    continue  # no devices hierarchy at all: nothing could restrict them
                if writer is unified:
                    writer.apply(resources, "", 1, field)  # raises, naming the key
                raise ResourceError(f"{field}.{json_name}",
                                    f"no cgroup hierarchy on this host has the {v1_name} controller")
            cgroup_dir, version = target
            writer.apply(resources, cgroup_dir, version, field)

    def _target(self, v1_controller: str) -> tuple[str, int] | None:
        """(directory, version) for a controller: the v1 hierarchy carrying it, else the v2 directory."""
        for cg in self.cgroups:
            if cg.version == 1 and v1_controller and cg.has(v1_controller):
                return cg.dir, 1
        for cg in self.cgroups:
            if cg.version == 2:
                return cg.dir, 2
        return None

    def signal_all(self, sig: int) -> None:
        """Send ``sig`` to every process in the container.

        SIGKILL goes through v2 ``cgroup.kill`` when there is one; otherwise the v1 freezer (if mounted) holds
        the processes still while they are signalled, so none escapes by forking. After SIGKILL every freezer is
        thawed: a task held by the v1 freezer does not die (and its cgroup cannot be removed) until thawed.
        """
        if sig != SIGKILL:
            self._signal_pids(sig)
            return
        try:
            if any([cg.kill() for cg in self.cgroups if cg.version == 2]):
                self._signal_pids(sig)  # stragglers that joined only v1 hierarchies
                return
            for cg in self.cgroups:
                if cg.version == 1 and cg.can_freeze() and os.path.isdir(cg.dir):
                    try:
                        cg.freeze(FREEZE_TIMEOUT)
                    except CgroupError:
                        pass  # signal anyway: a kill without the freezer beats no kill
            self._signal_pids(sig)
        finally:
            for cg in self._freezers():
                if os.path.isdir(cg.dir):
                    cg.thaw()

    def _signal_pids(self, sig: int) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
            except OSError as exc:
                message = f"send signal {sig} to pid {pid}: {fs.strerror(exc)}"
                raise CgroupError(message, path=self.cgroups[0].dir, errno=exc.errno or 0) from exc

    def destroy(self) -> None:
        """Remove the container's directories (children first), then the ancestors this manager created.

        Missing directories are fine (idempotent). A container directory busy with exiting processes is retried
        for a few seconds; an ancestor that is not empty belongs to someone else too and stays.
        """
        deadline = time.monotonic() + DESTROY_TIMEOUT
        problems: list[CgroupError] = []
        for cg in self.cgroups:
            try:
                _remove_tree(cg.dir, deadline)
            except CgroupError as exc:
                problems.append(exc)
        finals = [cg.dir for cg in self.cgroups]
        ancestors = [d for d in self.created if not any(_is_within(d, f) for f in finals)]
        for d in sorted(ancestors, key=lambda p: p.count("/"), reverse=True):
            try:
                fs.rmdir(d)
            except OSError as exc:
                if exc.errno not in (_errno.ENOENT, _errno.ENOTEMPTY, _errno.EBUSY):
                    problems.append(CgroupError(f"rmdir: {fs.strerror(exc)}", path=d, errno=exc.errno or 0))
        if problems:
            first = problems[0]
            for other in problems[1:]:
                _append(first, f"also {other}")
            raise first

    # -- freezer --------------------------------------------------------------------------------------------------

    def _freezers(self) -> list[V1Cgroup | V2Cgroup]:
        """The freezers this container has: the v1 freezer hierarchy; v2 ``cgroup.freeze`` once the dir exists."""
        return [cg for cg in self.cgroups if cg.can_freeze()]

    def freeze(self, timeout: float = FREEZE_TIMEOUT) -> None:
        """Freeze every process and wait until the kernel reports it done.

        One freezer does it: the v1 freezer hierarchy when mounted (legacy, hybrid), else v2 ``cgroup.freeze``.
        Never both: a task held by the v1 freezer never reaches v2's ``frozen 1``.
        """
        freezers = self._freezers()
        if not freezers:
            where = self.cgroups[0].dir if self.cgroups else ""
            raise CgroupError("freeze: no freezer (v1 freezer hierarchy or v2 cgroup.freeze) is available", path=where)
        v1 = [cg for cg in freezers if cg.version == 1]
        (v1 or freezers)[0].freeze(timeout)

    def thaw(self) -> None:
        """Thaw every freezer (also one frozen by someone else, so ``resume`` always resumes)."""
        for cg in self._freezers():
            cg.thaw()

    def is_frozen(self) -> bool:
        """Whether any freezer holds the container frozen (its processes cannot run)."""
        for cg in self._freezers():
            try:
                if cg.is_frozen():
                    return True
            except CgroupError as exc:
                if exc.errno != _errno.ENOENT:
                    raise
        return False

    # -- persistence ----------------------------------------------------------------------------------------------

    def to_state(self) -> dict:
        return {
            "version": STATE_VERSION,
            "mode": self.mode,
            "cgroups": [
                {
                    "version": cg.version,
                    "controllers": list(cg.hierarchy.controllers),
                    "mount_point": cg.hierarchy.mount_point,
                    "root": cg.hierarchy.root,
                    "dir": cg.dir,
                }
                for cg in self.cgroups
            ],
            "created": list(self.created),
        }

    def planned_state(self) -> dict:
        """``to_state()`` as it will be once ``create()`` has run: what create records before it makes anything,
        so a create killed half-way leaves nothing `delete` cannot find. Removing these is safe either way:
        ``destroy`` removes the container's own directories and only the empty ones of the ancestors."""
        planned = list(self.created)
        for cg in self.cgroups:
            path = cg.hierarchy.mount_point
            for part in os.path.relpath(cg.dir, path).split(os.sep):
                path = os.path.join(path, part)
                if path not in planned and not os.path.isdir(path):
                    planned.append(path)
        state = self.to_state()
        state["created"] = planned
        return state

    @classmethod
    def from_state(cls, data: dict) -> CgroupManager:
        try:
            if data["version"] != STATE_VERSION:
                raise CgroupError(f"cgroup state has version {data['version']!r}, expected {STATE_VERSION}")
            cgroups = []
            for item in data["cgroups"]:
                version = item["version"]
                if version not in (1, 2):
                    raise ValueError(f"version {version!r}")
                hierarchy = Hierarchy(version, tuple(item["controllers"]), str(item["mount_point"]), str(item["root"]))
                cgroups.append(_driver(hierarchy, str(item["dir"])))
            return cls(str(data["mode"]), cgroups, [str(d) for d in data["created"]])
        except (KeyError, TypeError, ValueError) as exc:
            raise CgroupError(f"invalid cgroup state: {type(exc).__name__}: {exc}") from exc

    def __repr__(self) -> str:
        return f"CgroupManager({self.mode!r}, {self.cgroups!r}, created={self.created!r})"


# -- helpers ------------------------------------------------------------------------------------------------------


def _append(exc: BaseException, text: str) -> None:
    """Add ``text`` to the one-line message of a SimCon error (a note on anything else): nothing is dropped."""
    if isinstance(exc, CgroupError):
        exc.message = f"{exc.message}; {text}"
        exc.args = (exc.message,)
    else:
        exc.add_note(text)


def _is_within(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _subtree_pids(cgroup_dir: str) -> list[int]:
    pids: list[int] = []
    for d in fs.subtree(cgroup_dir):
        try:
            pids.extend(fs.read_pids(d))
        except CgroupError as exc:
            if exc.errno != _errno.ENOENT:  # the cgroup vanished while we walked
                raise
    return pids


def _remove_tree(cgroup_dir: str, deadline: float) -> None:
    """rmdir ``cgroup_dir`` and its child cgroups bottom-up, retrying EBUSY (processes still exiting)."""
    delay = 0.005
    while True:
        try:
            for d in fs.subtree(cgroup_dir):
                try:
                    fs.rmdir(d)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    raise CgroupError(f"rmdir: {fs.strerror(exc)}", path=d, errno=exc.errno or 0) from exc
            return
        except CgroupError as exc:
            if exc.errno != _errno.EBUSY or time.monotonic() >= deadline:
                if exc.errno == _errno.EBUSY:
                    left = _subtree_pids(cgroup_dir)
                    if left:
                        _append(exc, f"processes still in it: {' '.join(map(str, left[:10]))}")
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.1)


def _remove_made(made: list[str]) -> list[str]:
    """Undo ``create``: rmdir what it made, deepest first; returns the failures as text."""
    problems = []
    for d in reversed(made):
        try:
            fs.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError as exc:
            problems.append(f"rmdir `{d}`: {fs.strerror(exc)}")
    return problems
