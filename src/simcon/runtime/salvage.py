"""`delete --force` of a container whose state.json is missing or corrupt.

Such a directory would otherwise block its id for good (`create` finds it taken, `delete` cannot read it). What
the damaged record still holds is used, as far as it can be trusted (``state.salvage_state``): the cgroup finds
every process of the container, which is killed, and the cgroups are removed; the init alone is only killed when
its pid comes with its start time. Then the directory goes. Poststop hooks are not run from a damaged record.
"""

from __future__ import annotations

import os
import time

from simcon import log
from simcon.errors import SimconError
from simcon.linux import procfs
from simcon.runtime.state import STATE_FILE, LockedContainer, salvage_state

EMPTY_WAIT_SECONDS = 10.0


def delete_damaged(locked: LockedContainer) -> None:
    state = salvage_state(os.path.join(locked.path, STATE_FILE), locked.id)
    try:
        _kill_and_remove(state)
    except (SimconError, OSError) as exc:
        # The directory goes anyway: kept, it would block the id again, and it is what could not be trusted.
        # Said on stderr (not a container's stdio here) so that what may be left is not silent.
        log.notice(f"delete `{locked.id}`: damaged state: not everything could be cleaned up: {exc}")
    locked.remove()


def _kill_and_remove(state) -> None:  # noqa: ANN001 - a salvaged ContainerState
    from simcon.linux.pidfd import SIGKILL, kill_and_wait

    cgroups = None
    if state.cgroup is not None:
        from simcon.cgroups import CgroupManager

        cgroups = CgroupManager.from_state(state.cgroup)
        cgroups.signal_all(SIGKILL)  # thaws the freezers afterwards: a frozen task dies only once thawed
    if state.pid and procfs.is_alive(state.pid, state.init_start_time):
        kill_and_wait(state.pid, state.init_start_time)
    if cgroups is not None:
        deadline = time.monotonic() + EMPTY_WAIT_SECONDS
        while cgroups.pids() and time.monotonic() < deadline:
            time.sleep(0.01)
        cgroups.destroy()
