"""How a container ended, in its state.json: written by whoever waited for the init.

``main`` is what the monitor of `run -d` becomes after start (``monitor.launch``): it waits (capturing the
container's output into its log driver, when there is one: ``monitor.capture``), records, exits. It runs in a
bare interpreter, so it imports only the waiter or the capture loop, the driver, and the state module.
"""

from __future__ import annotations

import posix  # not `os`: the monitor that runs this stays small (see monitor.capture)


def main(argv: list[str]) -> None:
    from simcon.monitor.waiter import exit_code, wait_for

    root, container_id, pid_text, start_text, *capture = argv
    init_pid, init_start = int(pid_text), int(start_text) or None
    if capture:
        # The exit is recorded when the init is reaped, while the rest of its output may still be written.
        _capture(root, container_id, init_pid, capture[0],
                 lambda status: record_exit(root, container_id, init_pid, init_start, exit_code(status)))
        posix._exit(0)
    status = wait_for(init_pid)
    if status is not None:
        record_exit(root, container_id, init_pid, init_start, exit_code(status))
    posix._exit(0)


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


def _capture(root: str, container_id: str, init_pid: int, settings_json: str, on_exit) -> int | None:  # noqa: ANN001
    """Run the capture loop over fds 3, 4, ... (as ``launch`` handed them over) until the init is gone."""
    from simcon import fastjson
    from simcon.monitor.capture import Capture
    from simcon.monitor.logdrivers import open_driver
    from simcon.monitor.logdrivers.base import LogContext

    settings = fastjson.loads(settings_json)
    log = settings["log"]
    streams = [(3 + n, name) for n, name in enumerate(settings["streams"])]
    reporter = _ErrorReporter(root, container_id, init_pid)
    try:
        entry = tuple(log["entry"]) if log.get("entry") else None
        driver = open_driver(log["driver"], log["options"], LogContext(container_id, path=log["path"]), entry)
    except Exception as exc:  # noqa: BLE001 - the monitor has no one to raise to: record it, keep reaping
        reporter(f"log driver `{log['driver']}`: {exc}")
        from simcon.monitor.logdrivers import NoneDriver

        driver = NoneDriver({}, LogContext(container_id))
    return Capture(driver, streams, init_pid, reporter, on_exit).run()


class _ErrorReporter:
    """Records the log target's state in state.json (``logError``) and in the monitor's log beside it."""

    def __init__(self, root: str, container_id: str, init_pid: int) -> None:
        self.root = root
        self.id = container_id
        self.init_pid = init_pid
        self.current: str | None = None

    def __call__(self, message: str | None) -> None:
        if message == self.current:
            return
        self.current = message
        from simcon.errors import SimconError
        from simcon.runtime.state import StateStore, utc_timestamp

        line = f"{utc_timestamp()} {'log target failed: ' + message if message else 'log target works again'}\n"
        try:
            fd = posix.open(f"{self.root}/{self.id}/monitor.log",
                            posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT | posix.O_CLOEXEC, 0o600)
            try:
                posix.write(fd, line.encode())
            finally:
                posix.close(fd)
            with StateStore(self.root).open(self.id) as locked:
                state = locked.read()
                if state.pid == self.init_pid:
                    state.log_error = message
                    locked.write(state)
        except (SimconError, OSError):
            pass  # deleted meanwhile, or the state's disk is the full one: the next report tries again
