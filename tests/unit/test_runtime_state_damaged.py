"""A state dir without state.json, or with a corrupt one (issue 10, item 15): no traceback from state, list, kill
or delete; `list` shows the rest and names the broken one; `delete --force` removes what it can find.

Runs the CLI in-process on a tmp --root; the containers are records only (no process), which is all these paths
read. tests/integration/test_state_damaged.py does the same with real containers and their cgroups."""

from __future__ import annotations

import json
import os

import pytest

from simcon.cli.main import EXIT_FAILURE, EXIT_OK, main
from simcon.runtime.state import STATE_FILE, ContainerState, StateStore, salvage_state

GOOD = {"ociVersion": "1.2.0", "id": "good", "pid": 0, "status": "stopped", "bundle": "/b", "rootfs": "/b/rootfs",
        "created": "2024-01-01T00:00:00.000000000Z", "owner": ""}


def _store(tmp_path, **states: bytes | None) -> str:
    """A root holding `good` plus one dir per keyword: its state.json bytes (None: no state.json at all)."""
    root = tmp_path / "root"
    store = StateStore(str(root))
    with store.create_dir("good") as locked:
        locked.write(ContainerState(**{k.lower() if k != "ociVersion" else "oci_version": v
                                       for k, v in GOOD.items()}))
    for name, data in states.items():
        store.create_dir(name).release()
        if data is not None:
            (root / name / STATE_FILE).write_bytes(data)
    return str(root)


def _state_bytes(**changes: object) -> bytes:
    data = {"oci_version": "1.2.0", "id": "bad", "pid": 0, "status": "stopped", "bundle": "/b"}
    data.update(changes)
    return json.dumps(data).encode()


CORRUPT = {
    "truncated": b'{"oci_version": "1.2.0", "id": "bad", "pid": 12',
    "empty": b"",
    "not-an-object": b"[1, 2]",
    "pid-is-a-string": _state_bytes(pid="12"),
    "pid-is-a-bool": _state_bytes(pid=True),
    "pid-negative": _state_bytes(pid=-5),
    "annotations-a-list": _state_bytes(annotations=["x"]),
    "cgroup-a-number": _state_bytes(cgroup=5),
    "hooks-not-objects": _state_bytes(poststop_hooks=["x"]),
    "status-a-number": _state_bytes(status=3),
    "deep": b'{"annotations": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "invalid-utf8": b'{"id": "\xff"}',
}


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("kind", CORRUPT)
def test_state_of_a_corrupt_container_is_one_line_with_the_path(tmp_path, capsys, kind: str) -> None:
    root = _store(tmp_path, bad=CORRUPT[kind])
    assert main(["--root", root, "state", "bad"]) == EXIT_FAILURE
    line = _one_line(capsys.readouterr().err)
    assert os.path.join(root, "bad", STATE_FILE) in line
    assert "corrupt" in line


@pytest.mark.parametrize("kind", CORRUPT)
def test_list_shows_the_rest_and_names_the_broken_one(tmp_path, capsys, kind: str) -> None:
    root = _store(tmp_path, bad=CORRUPT[kind])
    assert main(["--root", root, "list", "--format", "json"]) == EXIT_OK
    out, err = capsys.readouterr()
    assert [entry["id"] for entry in json.loads(out)] == ["good"]
    line = _one_line(err)
    assert "`bad`" in line and os.path.join(root, "bad", STATE_FILE) in line


@pytest.mark.parametrize("kind", CORRUPT)
@pytest.mark.parametrize("verb", [["kill", "bad", "KILL"], ["delete", "bad"], ["start", "bad"], ["pause", "bad"]],
                         ids=lambda v: v[0])
def test_other_verbs_on_a_corrupt_container_are_one_line(tmp_path, capsys, kind: str, verb: list[str]) -> None:
    root = _store(tmp_path, bad=CORRUPT[kind])
    assert main(["--root", root, *verb]) == EXIT_FAILURE
    line = _one_line(capsys.readouterr().err)
    assert os.path.join(root, "bad", STATE_FILE) in line
    assert os.path.isdir(os.path.join(root, "bad"))  # nothing removed without --force


@pytest.mark.parametrize("kind", CORRUPT)
def test_delete_force_removes_a_corrupt_container(tmp_path, capsys, kind: str) -> None:
    root = _store(tmp_path, bad=CORRUPT[kind])
    assert main(["--root", root, "delete", "--force", "bad"]) == EXIT_OK
    assert capsys.readouterr().err == ""
    assert sorted(os.listdir(root)) == ["good"]


def test_a_dir_without_state_json_is_not_listed_and_delete_force_removes_it(tmp_path, capsys) -> None:
    root = _store(tmp_path, half=None)
    assert main(["--root", root, "list", "-q"]) == EXIT_OK
    assert capsys.readouterr().out.split() == ["good"]
    assert main(["--root", root, "state", "half"]) == EXIT_FAILURE
    assert "container does not exist" in capsys.readouterr().err
    assert main(["--root", root, "delete", "--force", "half"]) == EXIT_OK
    assert capsys.readouterr().err == ""
    assert sorted(os.listdir(root)) == ["good"]
    # the id is free again
    StateStore(root).create_dir("half").release()


def test_a_pid_without_its_start_time_is_never_taken_for_the_init(tmp_path, capsys) -> None:
    # pid 1 is alive (the host's init): without a start time to compare, it must not pass for the container's.
    root = _store(tmp_path, bad=_state_bytes(pid=1, status="running", creator_pid=1))
    assert main(["--root", root, "state", "bad"]) == EXIT_OK
    view = json.loads(capsys.readouterr().out)
    assert (view["status"], view["pid"]) == ("stopped", 0)
    assert main(["--root", root, "kill", "bad", "0"]) == EXIT_FAILURE
    assert "container not running" in capsys.readouterr().err


def test_every_state_field_has_a_type_check() -> None:
    from simcon.runtime.state import _FIELD_CHECKS

    assert set(_FIELD_CHECKS) == set(ContainerState.__slots__)


# --- salvage: what delete --force can still use ----------------------------------------------------------------


def test_salvage_keeps_the_fields_of_the_right_type(tmp_path) -> None:
    path = tmp_path / STATE_FILE
    path.write_bytes(_state_bytes(pid="12", cgroup={"version": 1}, annotations=["x"], init_start_time=5))
    state = salvage_state(str(path), "bad")
    assert state.id == "bad" and state.cgroup == {"version": 1}
    assert state.annotations == {} and state.pid == 0


def test_salvage_reads_complete_top_level_fields_of_a_truncated_file(tmp_path) -> None:
    full = ContainerState(id="bad", pid=77, init_start_time=1234, cgroup={"version": 1, "cgroups": []},
                          annotations={"cgroup": "decoy", "pid": "decoy"}).to_json()
    text = json.dumps(full).encode()
    path = tmp_path / STATE_FILE
    path.write_bytes(text[: text.index(b'"own_pid_namespace"') + 5])
    state = salvage_state(str(path), "bad")
    assert (state.pid, state.init_start_time) == (77, 1234)
    assert state.cgroup == {"version": 1, "cgroups": []}


def test_salvage_never_trusts_a_pid_without_its_start_time(tmp_path) -> None:
    # Without the start time a recycled pid could be taken for the init and killed.
    path = tmp_path / STATE_FILE
    path.write_bytes(_state_bytes(pid=os.getpid(), init_start_time="x"))
    assert salvage_state(str(path), "bad").pid == 0


def test_salvage_of_garbage_is_an_empty_record(tmp_path) -> None:
    path = tmp_path / STATE_FILE
    path.write_bytes(b"\x00\xff garbage")
    state = salvage_state(str(path), "bad")
    assert (state.id, state.pid, state.cgroup) == ("bad", 0, None)


@pytest.mark.parametrize("text", ['{"a": 1', '{"a": "x', '[1,', '{"a" 1}', '{"a": {"b": 1'])
def test_fastjson_reports_malformed_objects_as_value_errors(text: str) -> None:
    from simcon import fastjson

    with pytest.raises(ValueError):
        fastjson.loads(text)


def test_a_fifo_in_place_of_state_json_does_not_hang(tmp_path, capsys) -> None:
    root = _store(tmp_path, bad=None)
    os.mkfifo(os.path.join(root, "bad", STATE_FILE))
    assert main(["--root", root, "state", "bad"]) == EXIT_FAILURE
    assert "not a regular file" in _one_line(capsys.readouterr().err)
    assert main(["--root", root, "list", "-q"]) == EXIT_OK
    assert capsys.readouterr().out.split() == ["good"]
    assert main(["--root", root, "delete", "--force", "bad"]) == EXIT_OK
    assert sorted(os.listdir(root)) == ["good"]
