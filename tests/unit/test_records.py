"""simcon.records: the typed records of the config models and the plans (what SimCon used msgspec for)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from simcon.records import DecodeError, Int, Record, convert, field, replace, to_builtins

U8 = Int(0, 255)


class Inner(Record, camel=True):
    host_id: U8 = field(name="hostID")
    size: int = 1


class Outer(Record, camel=True):
    name: str
    tags: list[str] = []
    inner: Inner | None = None
    items: list[Inner] = []
    labels: dict[str, str] = {}
    made: Inner = field(default_factory=lambda: Inner(3))
    flag: bool = False


class Plan(Record, frozen=True):
    path: str
    args: tuple[str, ...] = ()
    timeout: int | None = None


def test_construction_by_position_and_name_with_defaults() -> None:
    plan = Plan("/bin/true", timeout=5)
    assert (plan.path, plan.args, plan.timeout) == ("/bin/true", (), 5)
    assert Plan("/x") == Plan(path="/x") and Plan("/x") != Plan("/y")
    assert repr(Plan("/x", timeout=1)) == "Plan(path='/x', timeout=1)"
    with pytest.raises(TypeError, match="missing required argument 'path'"):
        Plan()
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        Plan("/x", nope=1)


def test_empty_list_and_dict_defaults_are_not_shared() -> None:
    a, b = Outer("a"), Outer("b")
    a.tags.append("x")
    a.labels["k"] = "v"
    assert b.tags == [] and b.labels == {} and a.made == Inner(3) and a.made is not b.made


def test_frozen_records_refuse_assignment_and_hash() -> None:
    plan = Plan("/x")
    with pytest.raises(AttributeError, match="frozen"):
        plan.path = "/y"  # type: ignore[misc]
    assert hash(plan) == hash(Plan("/x"))
    assert replace(plan, timeout=3) == Plan("/x", timeout=3) and plan.timeout is None
    with pytest.raises(TypeError):
        replace(plan, nope=1)
    with pytest.raises(TypeError):
        hash(Outer("a"))  # models are mutable, so unhashable


def test_to_builtins_uses_json_names_and_leaves_out_defaults() -> None:
    outer = Outer("a", inner=Inner(7), items=[Inner(1, 2)], made=Inner(3))
    assert to_builtins(outer) == {"name": "a", "inner": {"hostID": 7}, "items": [{"hostID": 1, "size": 2}],
                                  "made": {"hostID": 3}}
    assert to_builtins(Plan("/x", ("a",))) == {"path": "/x", "args": ["a"], "timeout": None}


def test_convert_round_trips_to_builtins() -> None:
    data = {"name": "a", "tags": ["t"], "inner": {"hostID": 7}, "items": [{"hostID": 1, "size": 2}],
            "labels": {"k": "v"}, "made": {"hostID": 3}, "flag": True, "unknown": {"ignored": [1]}}
    outer = convert(data, Outer)
    assert outer == Outer("a", ["t"], Inner(7), [Inner(1, 2)], {"k": "v"}, Inner(3), True)
    del data["unknown"]
    assert to_builtins(outer) == data


@pytest.mark.parametrize(("data", "path", "problem"), [
    ([], "", "expected an object, got an array"),
    ({}, "name", "required field is missing"),
    ({"name": 1}, "name", "expected a string, got an integer"),
    ({"name": None}, "name", "expected a string, got null"),
    ({"name": "a", "tags": "x"}, "tags", "expected an array, got a string"),
    ({"name": "a", "tags": ["x", 1.5]}, "tags[1]", "expected a string, got a decimal number"),
    ({"name": "a", "flag": 1}, "flag", "expected a boolean, got an integer"),
    ({"name": "a", "inner": {"hostID": True}}, "inner.hostID", "expected an integer, got a boolean"),
    ({"name": "a", "inner": {"hostID": -1}}, "inner.hostID", "expected an integer >= 0, got -1"),
    ({"name": "a", "items": [{"hostID": 256}]}, "items[0].hostID", "expected an integer <= 255, got 256"),
    ({"name": "a", "items": [{"size": 1}]}, "items[0].hostID", "required field is missing"),
    ({"name": "a", "inner": "x"}, "inner", "expected an object, got a string"),
    ({"name": "a", "labels": {"a.b": "ok", "c.d": []}}, 'labels["c.d"]', "expected a string, got an array"),
    # In document order: the first wrong value, before a required field found missing at the end of its object.
    ({"tags": [1], "name": 2}, "tags[0]", "expected a string, got an integer"),
])
def test_convert_errors_name_the_json_path(data: object, path: str, problem: str) -> None:
    with pytest.raises(DecodeError) as info:
        convert(data, Outer)
    assert (info.value.path, info.value.problem) == (path, problem)


def test_huge_numbers_are_shortened_in_errors() -> None:
    with pytest.raises(DecodeError) as info:
        convert({"hostID": 10**3000}, Inner)
    assert len(info.value.problem) < 200


def test_importing_the_models_imports_neither_msgspec_nor_typing() -> None:
    code = ("import sys, simcon.spec.load, simcon.init.plan, simcon.runtime.plan\n"
            "print(sorted(m for m in ('msgspec', 'typing') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
