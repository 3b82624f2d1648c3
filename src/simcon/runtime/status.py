"""A container's status, derived from the live system on every read, and the operations each status allows.

The stored status is never trusted on its own: a container whose init died (or whose pid was reused by another
process) is stopped, whatever state.json says.
"""

from __future__ import annotations

import os

from simcon.errors import InvalidStateError
from simcon.linux import procfs
from simcon.runtime.state import EXEC_FIFO, ContainerState

CREATING = "creating"
CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
STOPPED = "stopped"

# Which operations the OCI runtime.md (and runc's observable behaviour) allow in which status; every verb that
# changes or enters a container checks its entry here.
ALLOWED: dict[str, frozenset[str]] = {
    "start": frozenset({CREATED}),
    "kill": frozenset({CREATED, RUNNING, PAUSED}),
    "delete": frozenset({CREATED, STOPPED}),
    "delete --force": frozenset({CREATING, CREATED, RUNNING, PAUSED, STOPPED}),
    "pause": frozenset({RUNNING}),
    "resume": frozenset({PAUSED}),
    "exec": frozenset({CREATED, RUNNING, PAUSED}),  # paused only with --ignore-paused (checked by exec)
    "update": frozenset({CREATED, RUNNING, PAUSED}),
}


def derive_status(state: ContainerState, container_dir: str) -> str:
    if state.status == CREATING:
        if procfs.is_alive(state.creator_pid, state.creator_start_time):
            return CREATING
        return STOPPED  # the create crashed half-way; `delete` cleans up what it left
    if not procfs.is_alive(state.pid, state.init_start_time):
        return STOPPED
    if os.path.exists(os.path.join(container_dir, EXEC_FIFO)):
        return CREATED
    # Only `pause` freezes a container, and it records that; checking the freezer on every read would put the
    # cgroup driver on the start path of `state` and `list`.
    if state.status == PAUSED and state.cgroup is not None and _is_frozen(state):
        return PAUSED
    return RUNNING


def _is_frozen(state: ContainerState) -> bool:
    from simcon.cgroups import manager_from_state

    try:
        return manager_from_state(state.cgroup).is_frozen()
    except OSError:
        return False


def require(operation: str, status: str, container_id: str, *, verb: str | None = None) -> None:
    """``InvalidStateError`` unless ``ALLOWED[operation]`` has ``status``; ``verb`` words the message
    ("cannot exec in a stopped container"), the operation's first word by default."""
    if status not in ALLOWED[operation]:
        raise InvalidStateError(container_id, verb or operation.split()[0], status)
