"""`stop`: a polite signal, a deadline, then SIGKILL for everything in the container."""

from __future__ import annotations

import os
import signal

from simcon.errors import ContainerNotRunningError
from simcon.linux import procfs
from simcon.runtime import status as st
from simcon.runtime.operations import container_status, kill_container

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

KILL_WAIT = 10.0  # seconds to wait for the init to go after SIGKILL; only a wedged kernel task takes longer


def stop_container(store: StateStore, container_id: str, timeout: float,
                   first_signal: int = signal.SIGTERM) -> bool:
    """Stop the container; True if it exited on ``first_signal``, False if it had to be killed.

    A container that is already stopped is not an error: stopping is idempotent, as engines expect.
    """
    from simcon.linux.pidfd import open_pidfd, wait_for_exit

    state, status = container_status(store, container_id)
    if status == st.STOPPED:
        return True
    pidfd = open_pidfd(state.pid)
    if pidfd is None:
        return True
    try:
        if not procfs.is_alive(state.pid, state.init_start_time):
            return True
        try:
            kill_container(store, container_id, first_signal)
        except ContainerNotRunningError:
            return True
        # A paused container cannot act on the signal; waiting would only delay the SIGKILL.
        if status != st.PAUSED and wait_for_exit(pidfd, timeout):
            return True
        try:
            kill_container(store, container_id, signal.SIGKILL, all_processes=True)
        except ContainerNotRunningError:
            return True
        wait_for_exit(pidfd, KILL_WAIT)
        return False
    finally:
        os.close(pidfd)
