"""How a container ended, in its state.json: written by whoever waited for the init.

``main`` is what the monitor of `run -d` becomes after start (``monitor.launch``): it waits, records, exits. It
runs in a bare interpreter, so it imports only the waiter and the state module.
"""

from __future__ import annotations

import os


def main(argv: list[str]) -> None:
    from simcon.monitor.waiter import exit_code, wait_for

    root, container_id, pid_text, start_text = argv
    init_pid, init_start = int(pid_text), int(start_text) or None
    status = wait_for(init_pid)
    if status is not None:
        record_exit(root, container_id, init_pid, init_start, exit_code(status))
    os._exit(0)


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
