"""`run`: create + start, and in the foreground wait for the container and exit with its status.

Detached (`-d`), the waiting is left to a per-container monitor (``simcon.monitor``).

In the foreground SimCon makes itself a child subreaper before creating, so the init (whose first parent, the
intermediate process, exits at once) is re-parented to SimCon, which can then wait for it and forward signals.
"""

from __future__ import annotations

from simcon.linux import process as proc
from simcon.monitor.waiter import exit_code, wait_for
from simcon.runtime.create import CreateOptions, create_container
from simcon.runtime.forwarding import forwarding_to
from simcon.runtime.operations import delete_container, start_container
from simcon.runtime.state import StateStore


def run_container(store: StateStore, container_id: str, options: CreateOptions, *, detach: bool,
                  keep: bool = False, logs=None) -> int:  # noqa: ANN001 - a container_logs.LogSettings
    if detach or (logs is not None and logs.captured):
        # A monitor stays the init's parent, reaps it, records how it ended (simcon.monitor) and captures the
        # output into the log driver (runtime.container_logs).
        from simcon.runtime.container_logs import LogSettings, default_log_path, spawn_monitored

        if logs is None:
            logs = LogSettings("passthrough", {}, default_log_path(store.root, container_id))
        spawn_monitored(store, container_id, options, logs, start=True)
        if detach:
            return 0
        from simcon.runtime.container_logs import wait_for_exit

        return wait_for_exit(store, container_id, keep=keep)

    proc.set_child_subreaper(True)
    options.relay_terminal = True
    created = create_container(store, container_id, options)
    init_pid = created.state.pid
    relay = None
    if created.console_master is not None:
        from simcon.runtime.console import Relay

        relay = Relay(created.console_master)

    with forwarding_to(init_pid):
        try:
            try:
                start_container(store, container_id)
            except BaseException:
                delete_container(store, container_id, force=True)
                raise
            if relay is not None:
                relay.start()
            # Orphans of the container land here too: the one wait loop reaps them until the init is among them.
            status = wait_for(init_pid)
        finally:
            if relay is not None:
                relay.finish()
    code = exit_code(status)
    if keep:
        from simcon.runtime.exit_record import record_exit

        record_exit(store.root, container_id, init_pid, created.state.init_start_time, code)
    else:
        delete_container(store, container_id, force=True)
    return code
