"""runtime.exec: how the flags amend the container's process, without running anything."""

from __future__ import annotations

import pytest

from simcon.errors import UsageError
from simcon.runtime.exec import ExecOptions, _parse_cgroup_option
from simcon.runtime.plan.exec_plan import _amend, _parse_user
from simcon.spec.model import Capabilities, Process, User


def base() -> Process:
    return Process(args=["sleep", "1"], env=["PATH=/bin", "A=1"], cwd="/srv",
                   user=User(uid=5, gid=6, additional_gids=[7]),
                   capabilities=Capabilities(bounding=["CAP_CHOWN"], effective=["CAP_CHOWN"],
                                             permitted=["CAP_CHOWN"]))


def test_args_replace_env_appends_cwd_overrides() -> None:
    process = _amend(base(), ExecOptions(args=["sh"], env=["A=2", "B=3"], cwd="/tmp"))
    assert process.args == ["sh"]
    assert process.env == ["PATH=/bin", "A=1", "A=2", "B=3"]
    assert process.cwd == "/tmp"


def test_unset_flags_keep_the_container_process() -> None:
    process = _amend(base(), ExecOptions(args=["sh"]))
    assert (process.cwd, process.user.uid, process.user.gid, process.user.additional_gids) == ("/srv", 5, 6, [7])
    assert process.terminal is False
    assert process.no_new_privileges is False


def test_user_and_additional_gids() -> None:
    process = _amend(base(), ExecOptions(args=["sh"], user="1000:1001", additional_gids=[10]))
    assert (process.user.uid, process.user.gid, process.user.additional_gids) == (1000, 1001, [7, 10])


def test_caps_are_added_to_bounding_effective_permitted_once() -> None:
    process = _amend(base(), ExecOptions(args=["sh"], caps=["CAP_NET_ADMIN", "CAP_CHOWN"]))
    for field in ("bounding", "effective", "permitted"):
        assert getattr(process.capabilities, field) == ["CAP_CHOWN", "CAP_NET_ADMIN"]
    assert process.capabilities.ambient == []


def test_unknown_cap_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="CAP_BOGUS"):
        _amend(base(), ExecOptions(args=["sh"], caps=["CAP_BOGUS"]))


def test_tty_and_no_new_privs() -> None:
    process = _amend(base(), ExecOptions(args=["sh"], tty=True, no_new_privs=True))
    assert process.terminal is True
    assert process.no_new_privileges is True


@pytest.mark.parametrize(("text", "expected"), [("0", (0, 9)), ("1000", (1000, 9)), ("1000:0", (1000, 0)),
                                                ("7:8", (7, 8))])
def test_parse_user(text: str, expected: tuple[int, int]) -> None:
    assert _parse_user(text, 9) == expected


@pytest.mark.parametrize("text", ["root", "1000:", ":5", "-1", "1:2:3", "4294967296"])
def test_parse_user_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="UID"):
        _parse_user(text, 0)


def test_parse_cgroup_option() -> None:
    assert _parse_cgroup_option([]) == ("", {})
    assert _parse_cgroup_option(["/sub"]) == ("sub", {})
    assert _parse_cgroup_option(["memory,cpu:a/b", "pids:c"]) == ("", {"memory": "a/b", "cpu": "a/b", "pids": "c"})


def test_unknown_exec_option_is_a_bug() -> None:
    with pytest.raises(TypeError):
        ExecOptions(no_such_option=True)


def test_the_recorded_process_is_read_back_and_a_damaged_one_is_a_state_error() -> None:
    from types import SimpleNamespace

    from simcon.errors import StateError
    from simcon.records import to_builtins
    from simcon.runtime.plan.exec_plan import _container_process

    state = SimpleNamespace(id="c1", bundle="/nonexistent", process=to_builtins(base()))
    assert _container_process(state) == base()  # type: ignore[arg-type]
    state.process = {"args": [1]}
    with pytest.raises(StateError, match=r"^container `c1`: state.json: process.args\[0\]: expected a string, got an "
                                         r"integer$"):
        _container_process(state)  # type: ignore[arg-type]
