"""simcon.runtime.state: container ids, atomic writes, the state store and its per-container flock."""

from __future__ import annotations

import json
import os
import re

import pytest

from simcon.errors import ContainerExistsError, ContainerNotFoundError, InvalidIdError, StateError
from simcon.runtime import state as state_mod
from simcon.runtime.state import (
    EXEC_FIFO,
    MAX_ID_LENGTH,
    STATE_FILE,
    ContainerState,
    LockedContainer,
    StateStore,
    utc_timestamp,
    validate_id,
    write_atomically,
)

# --- validate_id -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("container_id", [
    "web", "Web1", "a", "0", "a_b", "a+b", "a-b", "a.b", "x..y", "abc-123_DEF.g+h", ".hidden", "a" * MAX_ID_LENGTH,
])
def test_validate_id_accepts(container_id: str) -> None:
    validate_id(container_id)


@pytest.mark.parametrize("container_id", [
    "", ".", "..", "a/b", "/abs", "../x", "x/..", "-x", "--force", "a" * (MAX_ID_LENGTH + 1),
    "a b", "tab\there", "new\nline", "trailing\n", "nul\x00", "caf\u00e9", "a:b", "a*", "$(id)", "~root",
])
def test_validate_id_rejects(container_id: str) -> None:
    with pytest.raises(InvalidIdError) as info:
        validate_id(container_id)
    assert info.value.reason
    assert "invalid container id" in str(info.value)


def test_invalid_id_message_names_the_id_and_the_rule() -> None:
    with pytest.raises(InvalidIdError) as info:
        validate_id("../x")
    assert "'../x'" in str(info.value)
    assert "letters" in str(info.value)


def test_too_long_id_says_so() -> None:
    with pytest.raises(InvalidIdError) as info:
        validate_id("a" * (MAX_ID_LENGTH + 1))
    assert str(MAX_ID_LENGTH) in info.value.reason


def test_dash_id_says_so() -> None:
    with pytest.raises(InvalidIdError) as info:
        validate_id("-x")
    assert "`-`" in info.value.reason


# --- utc_timestamp ---------------------------------------------------------------------------------------------

RFC3339_NANO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z")


def test_utc_timestamp_now_is_rfc3339_with_nanoseconds() -> None:
    assert RFC3339_NANO.fullmatch(utc_timestamp())


def test_utc_timestamp_of_known_instants() -> None:
    assert utc_timestamp(0) == "1970-01-01T00:00:00.000000000Z"
    assert utc_timestamp(1.5) == "1970-01-01T00:00:01.500000000Z"
    assert utc_timestamp(1_700_000_000) == "2023-11-14T22:13:20.000000000Z"


def test_utc_timestamp_is_utc_whatever_the_local_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        assert utc_timestamp(0) == "1970-01-01T00:00:00.000000000Z"
    finally:
        monkeypatch.undo()
        time.tzset()


# --- write_atomically ------------------------------------------------------------------------------------------


def test_write_atomically_creates_with_mode_and_leaves_no_temp(tmp_path) -> None:
    target = tmp_path / "state.json"
    write_atomically(str(target), b"first", 0o640)
    assert target.read_bytes() == b"first"
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["state.json"]


def test_write_atomically_replaces_content(tmp_path) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old content that is longer than the new one")
    inode_before = target.stat().st_ino
    write_atomically(str(target), b"new")
    assert target.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["state.json"]
    # Replaced by rename, not rewritten in place: a reader holding the old file never sees half of either.
    assert target.stat().st_ino != inode_before


@pytest.mark.parametrize("failing", ["write", "fsync"])
def test_write_atomically_failure_keeps_old_content_and_removes_temp(tmp_path, monkeypatch, failing: str) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")

    def fail(*_args: object) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(state_mod.os, failing, fail)
    with pytest.raises(OSError):
        write_atomically(str(target), b"new", durable=True)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["state.json"]


def test_only_durable_writes_sync(tmp_path, monkeypatch) -> None:
    """state.json is not fsynced (a power loss ends its processes anyway); a durable write (a config.json) is."""
    synced: list[int] = []
    monkeypatch.setattr(state_mod.os, "fsync", synced.append)
    write_atomically(str(tmp_path / "state.json"), b"{}")
    assert synced == []
    write_atomically(str(tmp_path / "config.json"), b"{}", durable=True)
    assert len(synced) == 1 and (tmp_path / "config.json").read_bytes() == b"{}"


# --- ContainerState --------------------------------------------------------------------------------------------


def full_state() -> ContainerState:
    return ContainerState(
        oci_version="1.2.0", id="web", pid=4242, status="running", bundle="/b", rootfs="/b/rootfs",
        created="2024-01-02T03:04:05.123456789Z", owner="", annotations={"k": "v"}, init_start_time=123456,
        creator_pid=4000, creator_start_time=120000, cgroup={"mode": "unified", "path": "/simcon/web"},
        own_pid_namespace=False, poststart_hooks=[{"path": "/bin/true", "args": [], "env": [], "timeout": None}],
        poststop_hooks=[], exit_status=None, finished=None,
    )


def test_container_state_json_round_trip() -> None:
    original = full_state()
    data = json.loads(json.dumps(original.to_json()))
    restored = ContainerState.from_json(data, "/r/web/state.json")
    assert restored.to_json() == original.to_json()


def test_container_state_to_json_has_every_field() -> None:
    assert list(full_state().to_json()) == list(ContainerState.__slots__)


def test_container_state_missing_fields_take_defaults() -> None:
    restored = ContainerState.from_json({"id": "web", "pid": 7, "init_start_time": 1}, "f")
    assert restored.id == "web" and restored.pid == 7
    assert restored.status == "creating"
    assert restored.annotations == {}
    assert restored.own_pid_namespace is True


def test_container_state_defaults_are_not_shared() -> None:
    a, b = ContainerState(), ContainerState()
    a.annotations["x"] = "1"
    a.poststart_hooks.append({})
    assert b.annotations == {} and b.poststart_hooks == []


def test_unknown_fields_are_a_state_error_naming_file_and_field() -> None:
    with pytest.raises(StateError) as info:
        ContainerState.from_json({"id": "web", "zzz_new": 1}, "/r/web/state.json")
    assert "/r/web/state.json" in str(info.value)
    assert "zzz_new" in str(info.value)


def test_non_object_state_is_a_state_error() -> None:
    with pytest.raises(StateError) as info:
        ContainerState.from_json([1, 2], "/r/web/state.json")  # type: ignore[arg-type]
    assert "/r/web/state.json" in str(info.value)


def test_oci_view_field_order() -> None:
    view = full_state().oci_view("running")
    assert list(view) == ["ociVersion", "id", "pid", "status", "bundle", "rootfs", "created", "owner",
                          "annotations"]
    assert view["pid"] == 4242
    assert view["status"] == "running"


@pytest.mark.parametrize("status", ["created", "running", "paused"])
def test_oci_view_keeps_pid_while_alive(status: str) -> None:
    assert full_state().oci_view(status)["pid"] == 4242


@pytest.mark.parametrize("status", ["stopped", "creating"])
def test_oci_view_pid_is_zero_without_a_live_init(status: str) -> None:
    assert full_state().oci_view(status)["pid"] == 0


def test_oci_view_without_annotations_omits_the_key() -> None:
    state = full_state()
    state.annotations = {}
    assert "annotations" not in state.oci_view("stopped")


# --- StateStore ------------------------------------------------------------------------------------------------


def test_create_dir_then_write_and_read(tmp_path) -> None:
    store = StateStore(str(tmp_path / "root"))
    with store.create_dir("web") as locked:
        assert locked.path == str(tmp_path / "root" / "web")
        assert locked.fifo_path == str(tmp_path / "root" / "web" / EXEC_FIFO)
        locked.write(full_state())
        assert locked.read().to_json() == full_state().to_json()
    assert store.read_unlocked("web").pid == 4242
    assert os.listdir(tmp_path / "root" / "web") == [STATE_FILE]


def test_create_dir_twice_is_container_exists(tmp_path) -> None:
    store = StateStore(str(tmp_path))
    store.create_dir("web").release()
    with pytest.raises(ContainerExistsError) as info:
        store.create_dir("web")
    assert info.value.container_id == "web"
    assert str(info.value) == "container with given ID already exists"


def test_root_is_made_absolute(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = StateStore("rel")
    assert store.root == str(tmp_path / "rel")
    assert store.container_dir("x") == str(tmp_path / "rel" / "x")


def test_open_missing_container_is_not_found(tmp_path) -> None:
    store = StateStore(str(tmp_path))
    with pytest.raises(ContainerNotFoundError) as info:
        store.open("nope")
    assert info.value.container_id == "nope"
    assert str(info.value) == "container does not exist"


def test_open_missing_root_is_not_found(tmp_path) -> None:
    with pytest.raises(ContainerNotFoundError):
        StateStore(str(tmp_path / "no-root")).open("nope")


def test_read_unlocked_missing_is_not_found(tmp_path) -> None:
    with pytest.raises(ContainerNotFoundError):
        StateStore(str(tmp_path)).read_unlocked("nope")


def test_open_without_state_file_is_not_found_and_releases_the_lock(tmp_path) -> None:
    store = StateStore(str(tmp_path))
    store.create_dir("half").release()  # a create that has not written state.json yet
    with pytest.raises(ContainerNotFoundError):
        store.open("half")
    # The lock taken by the failed open was dropped: a non-blocking lock succeeds.
    LockedContainer("half", store.container_dir("half"), blocking=False).release()


def test_corrupt_state_is_a_state_error_naming_the_file(tmp_path) -> None:
    store = StateStore(str(tmp_path))
    with store.create_dir("web") as locked:
        locked.write(full_state())
    state_file = tmp_path / "web" / STATE_FILE
    state_file.write_bytes(b'{"id": "web", "pid": ')
    with pytest.raises(StateError) as info:
        store.read_unlocked("web")
    assert str(state_file) in str(info.value)
    assert "corrupt" in str(info.value)
    assert info.value.container_id == "web"


def test_state_with_invalid_utf8_is_a_state_error(tmp_path) -> None:
    store = StateStore(str(tmp_path))
    store.create_dir("web").release()
    (tmp_path / "web" / STATE_FILE).write_bytes(b"\xff\xfe{}")
    with pytest.raises(StateError) as info:
        store.read_unlocked("web")
    assert str(tmp_path / "web" / STATE_FILE) in str(info.value)


def test_state_with_unknown_field_on_disk_is_a_state_error(tmp_path) -> None:
    store = StateStore(str(tmp_path))
    store.create_dir("web").release()
    (tmp_path / "web" / STATE_FILE).write_text(json.dumps({"id": "web", "fromTheFuture": True}))
    with pytest.raises(StateError) as info:
        store.read_unlocked("web")
    assert "fromTheFuture" in str(info.value)
    assert str(tmp_path / "web" / STATE_FILE) in str(info.value)


def test_ids_lists_only_directories_with_state_sorted(tmp_path) -> None:
    store = StateStore(str(tmp_path))
    for name in ("zeta", "alpha", "mid"):
        with store.create_dir(name) as locked:
            locked.write(ContainerState(id=name))
    store.create_dir("no-state-yet").release()
    (tmp_path / "stray-file").write_text("x")
    assert store.ids() == ["alpha", "mid", "zeta"]


def test_ids_of_missing_root_is_empty(tmp_path) -> None:
    assert StateStore(str(tmp_path / "missing")).ids() == []


def test_remove_deletes_everything_and_unlocks(tmp_path) -> None:
    store = StateStore(str(tmp_path))
    locked = store.create_dir("web")
    locked.write(full_state())
    os.mkfifo(locked.fifo_path)
    locked.remove()
    assert not (tmp_path / "web").exists()
    assert store.ids() == []
    locked.remove()  # a second remove (already gone) is harmless
    # The id can be taken again.
    store.create_dir("web").release()


# --- the flock -------------------------------------------------------------------------------------------------


def test_second_lock_is_refused_while_the_first_is_held(tmp_path) -> None:
    store = StateStore(str(tmp_path))
    first = store.create_dir("web")
    first.write(full_state())
    try:
        with pytest.raises(BlockingIOError):
            LockedContainer("web", first.path, blocking=False)
        with pytest.raises(BlockingIOError):
            store.open("web", blocking=False)
    finally:
        first.release()
    # Released: the same non-blocking open now succeeds, and excludes in turn.
    with store.open("web", blocking=False) as second:
        assert second.read().id == "web"
        with pytest.raises(BlockingIOError):
            store.open("web", blocking=False)


def test_failed_lock_does_not_leak_its_fd(tmp_path) -> None:
    store = StateStore(str(tmp_path))
    first = store.create_dir("web")
    fds_before = set(os.listdir("/proc/self/fd"))
    for _ in range(5):
        with pytest.raises(BlockingIOError):
            LockedContainer("web", first.path, blocking=False)
    assert set(os.listdir("/proc/self/fd")) == fds_before
    first.release()


def test_lock_fd_is_close_on_exec(tmp_path) -> None:
    with StateStore(str(tmp_path)).create_dir("web") as locked:
        assert os.get_inheritable(locked.dir_fd) is False


def test_release_is_idempotent(tmp_path) -> None:
    locked = StateStore(str(tmp_path)).create_dir("web")
    locked.release()
    locked.release()
