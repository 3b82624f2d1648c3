"""Operations on a container's cgroup: apply resources at create, update, pause/resume, ps, events.

Each takes the container's lock where it changes something, checks the status against ``status.ALLOWED``, and
leaves nothing frozen behind when it fails.
"""

from __future__ import annotations

import select
import time

from simcon.errors import ContainerNotRunningError, SimconError, UsageError
from simcon.runtime import status as st
from simcon.runtime.state import StateStore, validate_id

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.cgroups import CgroupManager
    from simcon.runtime.plan.cgroup import CgroupRequest


def apply_resources(cgroups: CgroupManager, request: CgroupRequest) -> None:
    """At create: write ``linux.resources`` and the device list.

    The device list is the config's rules in order plus the defaults, nothing more: ``linux.devices`` entries get
    no permission of their own (as in runc and crun), so "deny all, allow c 1:11 r" means what it says.
    """
    cgroups.apply(request.resources, "linux.resources", devices=True)


def _manager(state):  # noqa: ANN001, ANN202
    from simcon.cgroups import manager_from_state

    if state.cgroup is None:
        raise SimconError("the container has no cgroup", container_id=state.id)
    return manager_from_state(state.cgroup)


# -- update -------------------------------------------------------------------------------------------------------


def update_container(store: StateStore, container_id: str, resources) -> None:  # noqa: ANN001
    validate_id(container_id)
    with store.open(container_id) as locked:
        state = locked.read()
        if st.derive_status(state, locked.path) not in st.ALLOWED["update"]:
            raise ContainerNotRunningError(container_id)
        # Device rules are replaced only when the update brings some (then with the defaults after them).
        _manager(state).apply(resources, "resources", devices=bool(resources.devices))


# -- pause / resume -----------------------------------------------------------------------------------------------


def pause_container(store: StateStore, container_id: str) -> None:
    validate_id(container_id)
    with store.open(container_id) as locked:
        state = locked.read()
        st.require("pause", st.derive_status(state, locked.path), container_id)
        cgroups = _manager(state)
        cgroups.freeze()  # thaws again itself when the kernel does not confirm the freeze
        try:
            state.status = st.PAUSED
            locked.write(state)
        except BaseException:
            cgroups.thaw()
            raise


def resume_container(store: StateStore, container_id: str) -> None:
    validate_id(container_id)
    with store.open(container_id) as locked:
        state = locked.read()
        st.require("resume", st.derive_status(state, locked.path), container_id)
        _manager(state).thaw()
        state.status = st.RUNNING
        locked.write(state)


# -- ps -----------------------------------------------------------------------------------------------------------


def container_pids(store: StateStore, container_id: str) -> list[int]:
    from simcon.runtime.operations import container_status

    state, status = container_status(store, container_id)
    if status == st.STOPPED:
        raise ContainerNotRunningError(container_id)
    return _manager(state).pids()


# -- events -------------------------------------------------------------------------------------------------------


def stats_event(container_id: str, cgroups) -> dict:  # noqa: ANN001
    from simcon.cgroups.stats import collect

    return {"type": "stats", "id": container_id, "data": collect(cgroups)}


def watch_events(store: StateStore, container_id: str, *, interval: float, stats_only: bool, emit) -> None:  # noqa: ANN001
    """Emit a stats event now (and, unless ``stats_only``, every ``interval`` seconds and an ``oom`` event for
    every OOM kill) until the container stops."""
    from simcon.cgroups.stats import OomWatcher
    from simcon.runtime.operations import container_status

    if interval <= 0:
        raise UsageError(f"--interval must be positive (got {interval:g}s)")
    state, status = container_status(store, container_id)
    if status == st.STOPPED:
        raise ContainerNotRunningError(container_id)
    cgroups = _manager(state)
    if stats_only:
        emit(stats_event(container_id, cgroups))
        return
    watcher = OomWatcher(cgroups)
    try:
        due = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= due:
                emit(stats_event(container_id, cgroups))
                due = now + interval
            fds = [watcher.fileno()] if watcher.fileno() is not None else []
            # Wake at least twice a second to notice that the container stopped.
            select.select(fds, [], [], max(0.0, min(due - time.monotonic(), 0.5)))
            for _ in range(watcher.new_ooms()):
                emit({"type": "oom", "id": container_id})
            try:
                _, status = container_status(store, container_id)
            except SimconError:
                return
            if status == st.STOPPED:
                return
    finally:
        watcher.close()
