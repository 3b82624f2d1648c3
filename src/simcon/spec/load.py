"""Read config.json (or an exec process.json) into typed models, with errors that name the file and JSON path.

Every bad input becomes one :class:`~simcon.errors.ConfigError` rendering a single line::

    /b/config.json: process.args[0]: expected a string, got an integer
    /b/config.json: invalid JSON at line 3 column 5: trailing comma in array
    /b/config.json: no such file (is --bundle right?)

Decoding (msgspec) checks JSON types, required fields and integer ranges; then the checks in
:mod:`simcon.spec.validate` run and the first error is raised. Warnings are returned by the ``*_with_warnings``
variants for the caller to print.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TypeVar

import msgspec

from simcon.errors import ConfigError
from simcon.spec.model import Process, Spec
from simcon.spec.validate import Problem, validate, validate_process

__all__ = ["decode_config", "decode_process", "decode_seccomp", "load_config", "load_config_with_warnings", "read_json_file"]

# Built on first use: preparing a typed decoder walks every model (a few ms), which commands that never read a
# config should not pay for.
_decoders: dict[type, msgspec.json.Decoder] = {}
_T = TypeVar("_T")


def _decode(data: bytes, model: type[_T], file: str) -> _T:
    decoder = _decoders.get(model)
    if decoder is None:
        decoder = _decoders[model] = msgspec.json.Decoder(model)
    try:
        result: _T = decoder.decode(data)
        return result
    except msgspec.DecodeError as exc:  # ValidationError is a subclass
        raise _translate(exc, data, file) from exc


def load_config(bundle: str) -> Spec:
    """Load and validate ``<bundle>/config.json``; raise ConfigError on the first problem."""
    return load_config_with_warnings(bundle)[0]


def load_config_with_warnings(bundle: str) -> tuple[Spec, list[Problem]]:
    """Like :func:`load_config`, also returning the warnings (e.g. an ociVersion newer than SimCon knows)."""
    file = os.path.join(bundle, "config.json")
    spec = decode_config(read_json_file(file), file)
    errors, warnings = validate(spec, bundle)
    if errors:
        raise ConfigError(file, errors[0].path, errors[0].message)
    return spec, warnings


def decode_config(data: bytes, file: str) -> Spec:
    """Decode config.json bytes without the value checks (``file`` only names it in errors)."""
    return _decode(data, Spec, file)


def decode_process(data: bytes, file: str) -> Process:
    """Decode and check a standalone process.json (``exec --process``); JSON paths start at its top level."""
    process = _decode(data, Process, file)
    errors, _warnings = validate_process(process)
    if errors:
        raise ConfigError(file, errors[0].path, errors[0].message)
    return process


def decode_seccomp(data: bytes, file: str):  # noqa: ANN201 - a model.Seccomp
    """Decode a standalone ``linux.seccomp`` object (a profile file); JSON paths start at its top level."""
    from simcon.spec.model import Seccomp

    return _decode(data, Seccomp, file)


def read_json_file(file: str) -> bytes:
    """Read a JSON input file; failures become a ConfigError naming it."""
    try:
        with open(file, "rb") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise ConfigError(file, "", "no such file (is --bundle right?)") from exc
    except IsADirectoryError as exc:
        raise ConfigError(file, "", "is a directory, not a file") from exc
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read: {os.strerror(exc.errno).lower() if exc.errno else exc}") from exc


# --- turning msgspec's messages into ours ----------------------------------------------------------------------

_TYPE_WORDS = {
    "str": "a string",
    "int": "an integer",
    "float": "a decimal number",
    "bool": "a boolean",
    "null": "null",
    "array": "an array",
    "object": "an object",
}

_AT = re.compile(r"(?P<message>.*) - at `\$(?P<path>.*)`", re.S)
_MISSING = re.compile(r"Object missing required field `(?P<field>[^`]*)`")
_EXPECTED = re.compile(r"Expected `(?P<expected>[^`]*)`(?P<constraint>[^,]*?)(?:, got `(?P<got>[^`]*)`)?")
_SEGMENT = re.compile(r"\.(?P<field>[^.\[]+)|\[(?P<index>\d+)\]|(?P<key>\[\.\.\.\])")
_MALFORMED = re.compile(r"JSON is malformed: (?P<detail>.*) \(byte (?P<byte>\d+)\)")


def _translate(exc: msgspec.DecodeError, data: bytes, file: str) -> ConfigError:
    text = str(exc)
    if not isinstance(exc, msgspec.ValidationError):
        return ConfigError(file, "", _syntax_problem(text, data))

    at = _AT.fullmatch(text)
    message, msgspec_path = (at["message"], at["path"]) if at else (text, "")
    segments = [(m["field"], m["index"], m["key"]) for m in _SEGMENT.finditer(msgspec_path)]

    missing = _MISSING.fullmatch(message)
    expected = _EXPECTED.fullmatch(message)
    if missing:
        def leaf_ok(value: object) -> bool:
            return isinstance(value, dict) and missing["field"] not in value
    elif expected and expected["got"]:
        def leaf_ok(value: object) -> bool:
            return _json_type(value) == expected["got"]
    else:
        def leaf_ok(value: object) -> bool:
            return True

    path, leaf, found = _resolve(data, segments, leaf_ok)
    if missing:
        field = missing["field"]
        return ConfigError(file, f"{path}.{field}" if path else field, "required field is missing")
    if expected:
        words = _type_words(expected["expected"])
        constraint = expected["constraint"].strip()
        problem = f"expected {words} {constraint}" if constraint else f"expected {words}"
        if expected["got"]:
            problem += f", got {_TYPE_WORDS.get(expected['got'], expected['got'])}"
        elif found:
            problem += f", got {msgspec.json.encode(leaf).decode()}"
        return ConfigError(file, path, problem)
    return ConfigError(file, path, message[:1].lower() + message[1:])


_Segment = tuple[str | None, str | None, str | None]  # (field, index, "[...]")


def _resolve(data: bytes, segments: list[_Segment], leaf_ok: Callable[[object], bool]) -> tuple[str, object, bool]:
    """Turn msgspec's path into ours, filling in the map keys msgspec shows as ``[...]``.

    Returns (path, value at path, whether the value was found in the raw JSON).
    """
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError:
        raw = None
    walked = _walk(raw, segments, leaf_ok)
    if walked is not None:
        parts, leaf = walked
        return "".join(parts).lstrip("."), leaf, True
    parts = [f".{f}" if f else f"[{i}]" if i else "[...]" for f, i, _k in segments]
    return "".join(parts).lstrip("."), None, False


def _walk(raw: object, segments: list[_Segment], leaf_ok: Callable[[object], bool]) -> tuple[list[str], object] | None:
    if not segments:
        return ([], raw) if leaf_ok(raw) else None
    field, index, key = segments[0]
    if key:
        if not isinstance(raw, dict):
            return None
        for name, value in raw.items():
            walked = _walk(value, segments[1:], leaf_ok)
            if walked is not None:
                return [f"[{msgspec.json.encode(name).decode()}]", *walked[0]], walked[1]
        return None
    if field is not None:
        if not isinstance(raw, dict) or field not in raw:
            return None
        value, part = raw[field], f".{field}"
    else:
        position = int(index)
        if not isinstance(raw, list) or position >= len(raw):
            return None
        value, part = raw[position], f"[{position}]"
    walked = _walk(value, segments[1:], leaf_ok)
    return None if walked is None else ([part, *walked[0]], walked[1])


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_words(expected: str) -> str:
    names = [name for name in expected.split(" | ") if name != "null"] or ["null"]
    return " or ".join(_TYPE_WORDS.get(name, name) for name in names)


def _syntax_problem(text: str, data: bytes) -> str:
    if not data.strip():
        return "invalid JSON: the file is empty"
    malformed = _MALFORMED.fullmatch(text)
    if malformed:
        detail, position = malformed["detail"], int(malformed["byte"])
    elif text == "Input data was truncated":
        detail, position = "unexpected end of file", len(data.rstrip())
    else:
        return f"invalid JSON: {text[:1].lower() + text[1:]}"
    line_start = data.rfind(b"\n", 0, position) + 1
    line = data.count(b"\n", 0, position) + 1
    column = len(data[line_start:position].decode("utf-8", "replace")) + 1
    return f"invalid JSON at line {line} column {column}: {detail}"
