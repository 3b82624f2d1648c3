"""simcon.runtime.status: the status derived from the live system, and the table of allowed operations.

The "container init" here is the test process itself (alive, with a known start time), a reaped child (dead), or
an unreaped child (a zombie).
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from simcon.errors import InvalidStateError
from simcon.linux import procfs
from simcon.runtime import status as st
from simcon.runtime.state import EXEC_FIFO, ContainerState

MY_PID = os.getpid()
MY_START = procfs.start_time(MY_PID)

ALL_STATUSES = (st.CREATING, st.CREATED, st.RUNNING, st.PAUSED, st.STOPPED)


def init_state(pid: int = MY_PID, start: int | None = MY_START, status: str = st.RUNNING) -> ContainerState:
    return ContainerState(id="web", pid=pid, init_start_time=start, status=status)


def dead_pid() -> int:
    """The pid of a child that has exited and been reaped."""
    child = subprocess.Popen(["/bin/true"])
    child.wait()
    return child.pid


def test_own_start_time_is_known() -> None:
    assert isinstance(MY_START, int) and MY_START > 0


# --- derive_status ---------------------------------------------------------------------------------------------


def test_live_init_without_fifo_is_running(tmp_path) -> None:
    assert st.derive_status(init_state(status=st.CREATED), str(tmp_path)) == st.RUNNING
    assert st.derive_status(init_state(status=st.RUNNING), str(tmp_path)) == st.RUNNING


def test_live_init_with_fifo_is_created(tmp_path) -> None:
    os.mkfifo(tmp_path / EXEC_FIFO)
    assert st.derive_status(init_state(status=st.CREATED), str(tmp_path)) == st.CREATED
    # The stored status is only a hint: the fifo decides.
    assert st.derive_status(init_state(status=st.RUNNING), str(tmp_path)) == st.CREATED


def test_recycled_pid_is_stopped(tmp_path) -> None:
    """Same pid, different start time: another process got the pid after the init died."""
    os.mkfifo(tmp_path / EXEC_FIFO)
    assert st.derive_status(init_state(start=MY_START + 1), str(tmp_path)) == st.STOPPED
    assert st.derive_status(init_state(start=MY_START - 1), str(tmp_path / "nofifo")) == st.STOPPED


def test_dead_init_is_stopped(tmp_path) -> None:
    os.mkfifo(tmp_path / EXEC_FIFO)
    assert st.derive_status(init_state(pid=dead_pid(), start=None), str(tmp_path)) == st.STOPPED


def test_zombie_init_is_stopped(tmp_path) -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        deadline = time.monotonic() + 5
        while procfs.read_stat(pid)[0] != "Z":
            assert time.monotonic() < deadline, "child never became a zombie"
            time.sleep(0.001)
        assert st.derive_status(init_state(pid=pid, start=None), str(tmp_path)) == st.STOPPED
    finally:
        os.waitpid(pid, 0)


@pytest.mark.parametrize("pid", [0, -1])
def test_no_pid_is_stopped(tmp_path, pid: int) -> None:
    assert st.derive_status(init_state(pid=pid, start=None), str(tmp_path)) == st.STOPPED


def test_stored_stopped_with_live_matching_init_is_what_the_system_says(tmp_path) -> None:
    assert st.derive_status(init_state(status=st.STOPPED), str(tmp_path)) == st.RUNNING


def test_creating_with_live_creator_is_creating(tmp_path) -> None:
    state = ContainerState(id="web", status=st.CREATING, creator_pid=MY_PID, creator_start_time=MY_START)
    assert st.derive_status(state, str(tmp_path)) == st.CREATING


def test_creating_with_dead_creator_is_stopped(tmp_path) -> None:
    state = ContainerState(id="web", status=st.CREATING, creator_pid=dead_pid(), creator_start_time=None)
    assert st.derive_status(state, str(tmp_path)) == st.STOPPED


def test_creating_with_recycled_creator_pid_is_stopped(tmp_path) -> None:
    state = ContainerState(id="web", status=st.CREATING, creator_pid=MY_PID, creator_start_time=MY_START + 1)
    assert st.derive_status(state, str(tmp_path)) == st.STOPPED


def test_creating_ignores_the_init_pid(tmp_path) -> None:
    """While creating, only the creator counts (the init may be alive already)."""
    state = ContainerState(id="web", status=st.CREATING, pid=MY_PID, init_start_time=MY_START,
                           creator_pid=dead_pid(), creator_start_time=None)
    assert st.derive_status(state, str(tmp_path)) == st.STOPPED


def test_paused_needs_a_frozen_cgroup(tmp_path, monkeypatch) -> None:
    state = init_state(status=st.PAUSED)
    state.cgroup = {"fake": True}
    monkeypatch.setattr(st, "_is_frozen", lambda s: True)
    assert st.derive_status(state, str(tmp_path)) == st.PAUSED
    monkeypatch.setattr(st, "_is_frozen", lambda s: False)
    assert st.derive_status(state, str(tmp_path)) == st.RUNNING


def test_paused_without_cgroup_is_running(tmp_path) -> None:
    assert st.derive_status(init_state(status=st.PAUSED), str(tmp_path)) == st.RUNNING


def test_paused_but_dead_is_stopped(tmp_path, monkeypatch) -> None:
    state = init_state(pid=dead_pid(), start=None, status=st.PAUSED)
    state.cgroup = {"fake": True}
    monkeypatch.setattr(st, "_is_frozen", lambda s: True)
    assert st.derive_status(state, str(tmp_path)) == st.STOPPED


# --- require / ALLOWED -----------------------------------------------------------------------------------------

EXPECTED_ALLOWED = {
    "start": {st.CREATED},
    "kill": {st.CREATED, st.RUNNING, st.PAUSED},
    "delete": {st.CREATED, st.STOPPED},
    "delete --force": set(ALL_STATUSES),
    "pause": {st.RUNNING},
    "resume": {st.PAUSED},
    "exec": {st.CREATED, st.RUNNING, st.PAUSED},  # paused: only with --ignore-paused, which exec checks
    "update": {st.CREATED, st.RUNNING, st.PAUSED},
}


def test_allowed_table_matches_the_runtime_spec() -> None:
    assert {op: set(statuses) for op, statuses in st.ALLOWED.items()} == EXPECTED_ALLOWED


@pytest.mark.parametrize("operation", sorted(EXPECTED_ALLOWED))
@pytest.mark.parametrize("status", ALL_STATUSES)
def test_require(operation: str, status: str) -> None:
    if status in EXPECTED_ALLOWED[operation]:
        st.require(operation, status, "web")
        return
    with pytest.raises(InvalidStateError) as info:
        st.require(operation, status, "web")
    verb = operation.split()[0]
    assert info.value.operation == verb
    assert info.value.status == status
    assert info.value.container_id == "web"
    assert str(info.value) == f"cannot {verb} a container that is {status}"


def test_require_unknown_operation_is_a_programming_error() -> None:
    with pytest.raises(KeyError):
        st.require("teleport", st.RUNNING, "web")
