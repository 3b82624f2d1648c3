"""simcon.fastjson writes and reads exactly what the json package does, without importing it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcon import fastjson

_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                                             max_size=4),
                       max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(_values)
def test_dumps_and_loads_agree_with_json(value: object) -> None:
    assert fastjson.dumps(value) == json.dumps(value, separators=(",", ":"))
    assert fastjson.dumps(value, indent=2) == json.dumps(value, indent=2)
    assert fastjson.loads(fastjson.dumps(value)) == json.loads(json.dumps(value))


@pytest.mark.parametrize(("value", "error"), [
    (float("nan"), ValueError), ({"a": float("inf")}, ValueError), ({"a": object()}, TypeError),
    ([b"bytes"], TypeError),
])
def test_what_json_cannot_hold_is_refused(value: object, error: type) -> None:
    with pytest.raises(error):
        fastjson.dumps(value)
