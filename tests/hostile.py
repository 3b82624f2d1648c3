"""Hypothesis strategies for hostile JSON input: config.json and state.json mutated every way a user, a tool or a
full disk could (types, ranges, unicode, NUL bytes, deep nesting, huge values, unknown and missing fields).

Shared by tests/unit/test_fuzz_input.py (the loader and the state store, in-process) and
tests/integration/test_fuzz_create.py (a sample through the real CLI)."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import strategies as st

# Text that includes what breaks naive code: NUL, other control characters, surrogates-free unicode, quotes.
text = st.text(st.characters(codec="utf-8"), max_size=20) | st.sampled_from(
    ["", "\x00", "a\x00b", "/etc\x00/../../tmp/x", "\x00size=1k", "\n", '"', "\\", "é", "\u202e", "..", "/",
     "../../../../etc/passwd", " ", "=", "NOEQUALS", "CAP_KILL", "CAP_FLY", "SCMP_ACT_ALLOW", "1.2.0", "99.0.0"])

ints = st.integers(min_value=-(2**70), max_value=2**70) | st.sampled_from(
    [0, -1, 1, 2**31 - 1, 2**31, 2**32, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63)])

scalars = st.none() | st.booleans() | ints | st.floats(allow_nan=False, allow_infinity=False) | text

json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(text, inner, max_size=4), max_leaves=12)


class Deep:
    """A value nested ``depth`` levels deep, kept as a marker until :func:`encode` writes it out: hypothesis
    prints the values it draws, and a 1500-deep Python object would overflow its (recursive) printer."""

    def __init__(self, kind: str, depth: int, leaf: Any) -> None:
        self.kind, self.depth, self.leaf = kind, depth, leaf

    def __repr__(self) -> str:
        return f"Deep({self.kind!r}, {self.depth}, {self.leaf!r})"

    def to_json(self) -> str:
        if self.kind == "deep-list":
            return "[" * self.depth + json.dumps(self.leaf) + "]" * self.depth
        return '{"k":' * self.depth + json.dumps(self.leaf) + "}" * self.depth


@st.composite
def special_values(draw: st.DrawFn) -> Any:
    """Values that are rare under random generation: huge strings and lists, deep nesting."""
    kind = draw(st.sampled_from(["huge-string", "huge-list", "deep-list", "deep-object"]))
    if kind == "huge-string":
        return draw(st.sampled_from(["x", "\x00", "é"])) * draw(st.sampled_from([4096, 65536]))
    if kind == "huge-list":
        return [draw(scalars)] * draw(st.sampled_from([1000, 20000]))
    return Deep(kind, draw(st.sampled_from([64, 500, 1000, 1500])), draw(scalars))


any_value = json_values | special_values()


MAX_PATH_DEPTH = 12  # mutations go this deep at most (a document may already hold a 1500-deep value)


def paths(document: Any) -> list[tuple]:
    """The paths (tuples of keys and indexes) into ``document`` down to MAX_PATH_DEPTH, the root included."""
    found: list[tuple] = []
    stack: list[tuple[tuple, Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        found.append(path)
        if len(path) >= MAX_PATH_DEPTH:
            continue
        if isinstance(value, dict):
            stack.extend(((*path, key), item) for key, item in value.items())
        elif isinstance(value, list) and len(value) <= 64:
            stack.extend(((*path, index), item) for index, item in enumerate(value))
    return sorted(found, key=lambda p: [str(step) for step in p])


def _parent(document: Any, path: tuple) -> Any:
    for step in path[:-1]:
        document = document[step]
    return document


@st.composite
def mutated(draw: st.DrawFn, base: dict, max_mutations: int = 3, allowed: tuple[str, ...] | None = None) -> dict:
    """``base`` with one to a few mutations: a value replaced (any type), a field removed, an unknown field added.

    ``allowed``: only paths under these dotted top-level prefixes (e.g. ``process.env``) are touched."""
    document = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, max_mutations))):
        candidates = [p for p in paths(document) if p and _allowed(p, allowed)]
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = _parent(document, path)
        action = draw(st.sampled_from(["replace", "replace", "remove", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(any_value)
        elif action == "remove":
            del parent[path[-1]]
        else:
            target = parent[path[-1]]
            if isinstance(target, dict):
                target[draw(text)] = draw(any_value)
            elif isinstance(target, list):
                target.insert(draw(st.integers(0, len(target))), draw(any_value))
            else:
                parent[path[-1]] = draw(any_value)
    return document


def _allowed(path: tuple, allowed: tuple[str, ...] | None) -> bool:
    if allowed is None:
        return True
    dotted = ".".join(str(step) for step in path)
    return any(dotted == prefix or dotted.startswith(prefix + ".") for prefix in allowed)


def mutated_bytes(base: dict, **options: Any) -> st.SearchStrategy[bytes]:
    """:func:`mutated`, encoded: tests take bytes, which hypothesis can print even when 1500 levels deep."""
    return mutated(base, **options).map(encode)


@st.composite
def raw_documents(draw: st.DrawFn, base: dict) -> bytes:
    """Bytes that are not the JSON of a mutated document: cut short, with garbage, not UTF-8, or any JSON value."""
    good = json.dumps(base).encode()
    kind = draw(st.sampled_from(["truncated", "garbage", "any-json", "bad-utf8", "empty"]))
    if kind == "truncated":
        return good[: draw(st.integers(0, len(good) - 1))]
    if kind == "garbage":
        position = draw(st.integers(0, len(good)))
        return good[:position] + draw(st.binary(min_size=1, max_size=8)) + good[position:]
    if kind == "any-json":
        return encode(draw(any_value))
    if kind == "bad-utf8":
        return good.replace(b'"', b'"\xff', 1)
    return draw(st.sampled_from([b"", b" ", b"\n"]))


def encode(document: Any) -> bytes:
    """JSON bytes (non-ASCII kept as UTF-8), with each :class:`Deep` marker written out in place."""
    deep: dict[str, Deep] = {}

    def placeholder(value: object) -> str:
        if not isinstance(value, Deep):
            raise TypeError(f"cannot encode {type(value).__name__}")
        key = f"@@deep-{len(deep)}@@"
        deep[key] = value
        return key

    text = json.dumps(document, ensure_ascii=False, default=placeholder)
    for key, value in deep.items():
        text = text.replace(f'"{key}"', value.to_json(), 1)
    return text.encode()
