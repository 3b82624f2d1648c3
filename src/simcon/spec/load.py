"""Read config.json (or an exec process.json) into typed models, with errors that name the file and JSON path.

Every bad input becomes one :class:`~simcon.errors.ConfigError` rendering a single line::

    /b/config.json: process.args[0]: expected a string, got an integer
    /b/config.json: invalid JSON at line 3 column 5: trailing comma in array
    /b/config.json: no such file (is --bundle right?)

Decoding (msgspec) checks JSON types, required fields and integer ranges; then the checks in
:mod:`simcon.spec.validate` run and the first error is raised. Warnings are returned by the ``*_with_warnings``
variants for the caller to print.

Hostile input is refused here, once for every JSON input (config.json, process.json, seccomp profiles), before
any field is looked at: a file that is not a regular file (a FIFO would block, a device never ends), a NUL byte
in any string or key (the kernel would silently cut the string there: ``"/etc\\u0000/../x"`` mounts on ``/etc``),
and nesting deeper than the decoder's recursion limit. Values quoted in errors are shortened.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from typing import TypeVar

from simcon import interrupts
from simcon.errors import ConfigError, shorten

with interrupts.deferred():  # msgspec and the models are made with Ctrl-C held (see simcon.spec.model)
    import msgspec

    from simcon.spec.model import Process, Resources, Seccomp, Spec
from simcon.spec.validate import Problem, validate, validate_process

__all__ = ["decode_config", "decode_process", "decode_seccomp", "load_config", "load_config_with_warnings",
           "read_json_file", "refuse_nul"]

# Built on first use: preparing a typed decoder walks every model (a few ms), which commands that never read a
# config should not pay for.
_decoders: dict[type, msgspec.json.Decoder] = {}
_T = TypeVar("_T")


def _decode(data: bytes, model: type[_T], file: str) -> _T:
    # Ctrl-C raised inside msgspec while it builds its decoder crashed SimCon (SIGSEGV): signals wait until after.
    with interrupts.deferred():
        decoder = _decoders.get(model)
        if decoder is None:
            decoder = _decoders[model] = msgspec.json.Decoder(model)
    refuse_nul(data, file)  # one bytes search on the common path (no NUL escape: nothing to walk)
    try:
        with interrupts.deferred():
            result: _T = decoder.decode(data)
        return result
    except msgspec.DecodeError as exc:  # ValidationError is a subclass
        raise _translate(exc, data, file) from exc
    except RecursionError:
        raise _too_deep(data, file) from None


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


def decode_resources(data: bytes, file: str) -> Resources:
    """Decode a standalone LinuxResources object (`update --resources`); JSON paths start at its top level."""
    return _decode(data, Resources, file)


def decode_seccomp(data: bytes, file: str) -> Seccomp:
    """Decode a standalone ``linux.seccomp`` object (a profile file); JSON paths start at its top level."""
    return _decode(data, Seccomp, file)


_FILE_KINDS = {stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
               stat.S_IFSOCK: "a socket"}


def read_json_file(file: str) -> bytes:
    """Read a JSON input file; failures become a ConfigError naming it.

    Opened non-blocking and checked with fstat before reading: a FIFO would block the open or the read forever,
    and a device such as /dev/zero never ends."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY)
        try:
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode):
                raise ConfigError(file, "", "is a directory, not a file")
            if not stat.S_ISREG(mode):
                kind = _FILE_KINDS.get(stat.S_IFMT(mode), "not a file")
                raise ConfigError(file, "", f"not a regular file ({kind})")
            with open(fd, "rb", closefd=False) as f:
                return f.read()
        finally:
            os.close(fd)
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

    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError:
        raw = None
    except RecursionError:  # a wrong type deep inside: the nesting is the thing to report
        return _too_deep(data, file)
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

    path, leaf, found = _resolve(raw, segments, leaf_ok)
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
            problem += f", got {shorten(msgspec.json.encode(leaf).decode())}"
        return ConfigError(file, path, problem)
    return ConfigError(file, path, shorten(message[:1].lower() + message[1:], 200))


_Segment = tuple[str | None, str | None, str | None]  # (field, index, "[...]")


def _resolve(raw: object, segments: list[_Segment], leaf_ok: Callable[[object], bool]) -> tuple[str, object, bool]:
    """Turn msgspec's path into ours, filling in the map keys msgspec shows as ``[...]``, from ``raw`` (the
    document decoded without a model; None if it could not be).

    Returns (path, value at path, whether the value was found in the raw JSON).
    """
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
                return [_key(name), *walked[0]], walked[1]
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


# --- hostile input: NUL bytes, deep nesting ------------------------------------------------------------------


def _key(name: str) -> str:
    """A map key in a JSON path: ``["org.example"]``."""
    return f"[{shorten(msgspec.json.encode(name).decode())}]"


def refuse_nul(data: bytes, file: str) -> None:
    """Raise a ConfigError at the first string or key (document order) that holds a NUL byte (also for JSON
    files decoded elsewhere, such as seccomp profiles)."""
    # JSON can only carry a NUL inside a string as the escape \u0000 (a raw control byte is a syntax error), so
    # this one search keeps the walk off the common path.
    if b"\\u0000" not in data:
        return
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError:
        return  # not JSON: the typed decode reports where
    except RecursionError:
        raise _too_deep(data, file) from None
    # Iterative, not recursive: the document may be nested as deep as the decoder allows.
    stack: list[tuple[str, object]] = [("", raw)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if "\0" in value:
                raise ConfigError(file, path, "contains a NUL byte (\\u0000), which would cut the string short")
        elif isinstance(value, dict):
            for name in value:
                if "\0" in name:
                    raise ConfigError(file, path, f"key {shorten(msgspec.json.encode(name).decode())} contains a "
                                                  "NUL byte (\\u0000)")
            stack.extend((_child_path(path, name), item) for name, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))


def _child_path(path: str, name: str) -> str:
    """``linux`` + ``sysctl`` -> ``linux.sysctl``; keys that are not plain names in brackets."""
    if name and all(ch.isalnum() or ch == "_" for ch in name):
        return f"{path}.{name}" if path else name
    return f"{path}{_key(name)}"


def _too_deep(data: bytes, file: str) -> ConfigError:
    """The error for a document nested deeper than the decoder's recursion limit, at the first place it gets
    that deep (counting brackets outside strings)."""
    depth = deepest = where = 0
    in_string = escaped = False
    for position, byte in enumerate(data):
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest, where = depth, position
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    line = data.count(b"\n", 0, where) + 1
    column = where - (data.rfind(b"\n", 0, where) + 1) + 1
    return ConfigError(file, "", f"invalid JSON at line {line} column {column}: nested too deeply "
                                 f"({deepest} levels of arrays and objects)")
