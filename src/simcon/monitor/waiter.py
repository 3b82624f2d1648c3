"""The monitor after start: wait for the container's init, record how it ended, exit.

Runs in a bare interpreter (`python -I -S`, see ``launch``): it imports ``os`` and the state module only.
"""

from __future__ import annotations

import os


def main(argv: list[str]) -> None:
    root, container_id, pid_text, start_text = argv
    init_pid, init_start = int(pid_text), int(start_text) or None
    status = _wait_for(init_pid)
    if status is not None:
        record_exit(root, container_id, init_pid, init_start, _exit_code(status))
    os._exit(0)


def _wait_for(init_pid: int) -> int | None:
    """Reap every child (orphans of the container's processes land here) until the init is among them."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return None
        if pid == init_pid:
            return status


def _exit_code(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


def record_exit(root: str, container_id: str, init_pid: int, init_start: int | None, code: int) -> bool:
    """Write the exit code and time into state.json, unless the container is gone or is another one now."""
    from simcon.errors import SimconError
    from simcon.runtime.state import StateStore, utc_timestamp

    finished = utc_timestamp()
    try:
        with StateStore(root).open(container_id) as locked:
            state = locked.read()
            if state.pid != init_pid or (init_start is not None and state.init_start_time != init_start):
                return False
            state.exit_status = code
            state.finished = finished
            locked.write(state)
    except (SimconError, OSError):
        return False  # deleted meanwhile (`delete --force` kills the init first): nothing to record
    return True
