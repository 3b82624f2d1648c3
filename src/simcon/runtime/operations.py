"""The lifecycle operations after `create`: start, kill, delete, state, list.

Each takes the container's lock, derives its status from the live system, checks the transition against
``status.ALLOWED``, and acts. They import only what they need, since they are on every engine's hot path.
"""

from __future__ import annotations

import os
import time

from simcon import faults, interrupts
from simcon.errors import (
    ContainerNotFoundError,
    ContainerNotRunningError,
    InitError,
    InvalidStateError,
    SimconError,
    StateError,
)
from simcon.linux import procfs
from simcon.runtime import status as st
from simcon.runtime.state import ContainerState, StateStore, read_state, validate_id

START_POLL_MS = 100


def container_status(store: StateStore, container_id: str) -> tuple[ContainerState, str]:
    validate_id(container_id)
    state = store.read_unlocked(container_id)
    return state, st.derive_status(state, store.container_dir(container_id))


def list_containers(store: StateStore, broken: list[StateError] | None = None) -> list[tuple[ContainerState, str]]:
    """Every readable container; a corrupt state.json is not listed but appended to ``broken``."""
    result = []
    for container_id in store.ids():
        try:
            state = read_state(store.container_dir(container_id), container_id)
        except StateError as exc:
            if broken is not None:
                broken.append(exc)
            continue
        except SimconError:
            continue  # deleted meanwhile, or being created: not listed, as runc does
        result.append((state, st.derive_status(state, store.container_dir(container_id))))
    return result


def start_container(store: StateStore, container_id: str) -> ContainerState:
    validate_id(container_id)
    with store.open(container_id) as locked:
        state = locked.read()
        st.require("start", st.derive_status(state, locked.path), container_id)
        if state.process is None:
            raise SimconError(f"{os.path.join(state.bundle, 'config.json')} has no `process`: the container only "
                              "holds its namespaces, there is nothing to start", container_id=container_id)
        faults.point("start:locked")
        _release_init(locked.fifo_path, state)
        # The process runs from here on: start has succeeded. Nothing below may make it say otherwise: not a full
        # disk, not a Ctrl-C or SIGTERM (held, and dropped at the end: there is nothing left to interrupt).
        held = interrupts.block()
        faults.point("start:released")
        os.unlink(locked.fifo_path)
        state.status = st.RUNNING
        try:
            locked.write(state)
        except OSError as exc:
            # The status is derived from the live system (exec.fifo is gone), so nothing is lost but the hint.
            from simcon import log

            where = f" `{exc.filename}`" if exc.filename else ""
            log.warning(f"start `{container_id}`: the container runs, but its state could not be recorded: "
                        f"{exc.strerror or exc}{where}")
    if state.poststart_hooks:
        run_hooks_warning("poststart", state, st.RUNNING, state.poststart_hooks)
    faults.point("start:done")
    interrupts.drop_pending()
    interrupts.restore(held)
    return state


def _release_init(fifo: str, state: ContainerState) -> None:
    """Open exec.fifo for reading, which unblocks the init; its one byte says it is about to exec."""
    import select

    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            if poller.poll(START_POLL_MS):
                try:
                    if os.read(fd, 1):
                        return
                except BlockingIOError:
                    continue
                # The writer closed without a byte: the init died while opening the fifo.
                raise InitError("start", "container init exited before it could start the process")
            if not procfs.is_alive(state.pid, state.init_start_time):
                raise InitError("start", "container init is no longer running")
            if _runs_the_program(state.pid):
                return  # an earlier `start` released it and was killed before it could record that
    finally:
        os.close(fd)


def _runs_the_program(pid: int) -> bool:
    """Whether the init has exec'd the container's program: neither waiting for a fifo partner, nor SimCon's
    trampoline (memfd) or interpreter any more. Without this a `start` killed right after the release leaves a
    running container whose exec.fifo still says `created`, and every later `start` would wait for ever."""
    import sys

    try:
        with open(f"/proc/{pid}/wchan") as f:
            if f.read() == "wait_for_partner":
                return False
        if os.readlink(f"/proc/{pid}/exe").startswith("/memfd:simcon-exec"):
            return False
        exe, own = os.stat(f"/proc/{pid}/exe"), os.stat(sys.executable)
    except OSError:
        return False
    return (exe.st_dev, exe.st_ino) != (own.st_dev, own.st_ino)


def kill_container(store: StateStore, container_id: str, sig: int, *, all_processes: bool = False) -> None:
    validate_id(container_id)
    with store.open(container_id) as locked:
        state = locked.read()
        status = st.derive_status(state, locked.path)
        if status not in st.ALLOWED["kill"]:
            raise ContainerNotRunningError(container_id)
        if all_processes and state.cgroup is not None:
            _cgroup_of(state).signal_all(sig)
            return
        signal_init(state, sig)
        if status == st.PAUSED and state.cgroup is not None:
            from simcon.linux.pidfd import SIGKILL

            if sig == SIGKILL:
                # A task held by the v1 freezer dies of SIGKILL only once thawed (runc thaws here too).
                _cgroup_of(state).thaw()


def signal_init(state: ContainerState, sig: int) -> None:
    """Signal the init through a pidfd opened and then checked, so a recycled pid is never hit."""
    from simcon.linux import pidfd as pidfds

    pidfd = pidfds.open_pidfd(state.pid)
    if pidfd is None:
        raise ContainerNotRunningError(state.id)
    try:
        if not procfs.is_alive(state.pid, state.init_start_time) or not pidfds.send_signal(pidfd, sig):
            raise ContainerNotRunningError(state.id)
    finally:
        os.close(pidfd)


def delete_container(store: StateStore, container_id: str, *, force: bool = False, keep_logs: bool = False) -> None:
    validate_id(container_id)
    with store.open(container_id, without_state=force) as locked:
        try:
            state = locked.read()
        except (StateError, ContainerNotFoundError):
            if not force:
                raise
            from simcon.runtime.salvage import delete_damaged

            delete_damaged(locked)  # state.json missing or corrupt: remove what it still records, and the dir
            return
        status = st.derive_status(state, locked.path)
        if status not in st.ALLOWED["delete --force" if force else "delete"]:
            raise InvalidStateError(container_id, "delete", status, "stop it first or use --force")
        faults.point("delete:locked")
        stop_processes(state, force=force or status == st.CREATED or not state.own_pid_namespace)
        faults.point("delete:stopped")
        if state.cgroup is not None:
            _cgroup_of(state).destroy()
        faults.point("delete:cgroups-removed")
        if state.network:
            from simcon.runtime.network import detach_network

            # CNI DEL before the state goes: a DEL that fails keeps the record, so `delete` can be retried.
            detach_network(state)
        if state.poststop_hooks and state.pid:
            run_hooks_warning("poststop", state, st.STOPPED, state.poststop_hooks)
        faults.point("delete:hooks-done")
        locked.remove()
        if state.log is not None and not keep_logs:
            from simcon.runtime.log_files import remove_logs

            remove_logs(store.root, container_id, state.log)


def stop_processes(state: ContainerState, *, force: bool) -> None:
    """Kill the init (and, with ``force``, everything in the cgroup) and wait for it to be gone."""
    from simcon.linux.pidfd import SIGKILL, kill_and_wait

    cgroups = _cgroup_of(state) if state.cgroup is not None else None
    if cgroups is not None and force:
        if state.status == st.PAUSED:
            cgroups.thaw()
        cgroups.signal_all(SIGKILL)
    if state.pid and procfs.is_alive(state.pid, state.init_start_time):
        kill_and_wait(state.pid, state.init_start_time)
    if cgroups is not None and force:
        _wait_until_empty(cgroups)


def _wait_until_empty(cgroups, timeout: float = 10.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while cgroups.pids() and time.monotonic() < deadline:
        time.sleep(0.01)


def _cgroup_of(state: ContainerState):  # noqa: ANN202
    from simcon.cgroups import manager_from_state

    return manager_from_state(state.cgroup)


def run_hooks_warning(kind: str, state: ContainerState, status: str, hooks: list[dict]) -> None:
    """poststart and poststop hooks cannot fail the operation: a failure is a warning (runtime-spec)."""
    import json

    from simcon.init.hooks import run_hooks
    from simcon.init.plan import HookPlan

    try:
        run_hooks(kind, [HookPlan.from_json(h) for h in hooks], json.dumps(state.hook_view(status)).encode())
    except SimconError as exc:
        from simcon import log

        log.warning(f"{kind} hooks of `{state.id}`: {exc}")


def parse_signal(value: str) -> int:
    """`KILL`, `SIGKILL`, `kill` or `9` -> 9. Raises ValueError naming the value."""
    # The C module's constants: `signal` builds enum classes on import (~3 ms of every `kill`).
    import _signal as signal

    text = value.strip()
    if text.isdigit():
        number = int(text)
        if not 0 <= number <= signal.SIGRTMAX:
            raise ValueError(f"signal {value!r} out of range")
        return number
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        if "_" in name:  # SIG_DFL, SIG_IGN, SIG_BLOCK...: constants, not signals
            raise KeyError(name)
        return int(getattr(signal, name))
    except (KeyError, AttributeError):
        if name.startswith("SIGRTMIN+") or name.startswith("SIGRTMAX-"):
            base, _, offset = name.partition("+") if "+" in name else name.partition("-")
            if offset.isdigit():
                n = signal.SIGRTMIN + int(offset) if "+" in name else signal.SIGRTMAX - int(offset)
                if signal.SIGRTMIN <= n <= signal.SIGRTMAX:
                    return n
        raise ValueError(f"unknown signal {value!r}") from None

