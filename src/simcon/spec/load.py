"""Read config.json (or an exec process.json) into typed models, with errors that name the file and JSON path.

Every bad input becomes one :class:`~simcon.errors.ConfigError` rendering a single line::

    /b/config.json: process.args[0]: expected a string, got an integer
    /b/config.json: invalid JSON at line 3 column 5: trailing comma in array
    /b/config.json: no such file (is --bundle right?)

Parsing is CPython's C JSON scanner (``fastjson.parse``; on failure :mod:`simcon.spec.syntax` finds where); then
:func:`simcon.records.convert` checks JSON types, required fields and integer ranges into the models of
:mod:`simcon.spec.model` (no msgspec: its import cost ~25 ms of every `create`, issue 11); then the checks in
:mod:`simcon.spec.validate` run and the first error is raised. Warnings are returned by the ``*_with_warnings``
variants for the caller to print.

Hostile input is refused here, once for every JSON input (config.json, process.json, seccomp profiles), before
any field is looked at: a file that is not a regular file (a FIFO would block, a device never ends), a NUL byte
in any string or key (the kernel would silently cut the string there: ``"/etc\\u0000/../x"`` mounts on ``/etc``),
half of a UTF-16 surrogate pair (``"\\ud800"``: not text, no file name or argument can hold it), and nesting
deeper than the scanner's recursion limit. Values quoted in errors are shortened.
"""

from __future__ import annotations

import os
import stat

from simcon import fastjson
from simcon.errors import ConfigError, shorten
from simcon.records import DecodeError, convert
from simcon.spec.model import Process, Resources, Seccomp, Spec
from simcon.spec.validate import Problem, validate, validate_process

__all__ = ["decode_config", "decode_process", "decode_seccomp", "load_config", "load_config_with_warnings",
           "parse_json_file", "read_json_file"]

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.records import Record


def parse_json_file(file: str) -> object:
    """A JSON input file that has no typed model (a Docker seccomp profile), as dicts and lists, refused as
    config.json would be: not a regular file, not JSON (line and column), a NUL or lone surrogate, too deep."""
    data = read_json_file(file)
    return _parse_checked(data, file)


def _parse_checked(data: bytes, file: str) -> object:
    raw = _parse(data, file)
    if _may_hold_nul_or_surrogate(data):
        _refuse_nul_in(raw, file)
    return raw


def _decode(data: bytes, model: type[Record], file: str) -> Record:
    raw = _parse_checked(data, file)
    try:
        return convert(raw, model)
    except DecodeError as exc:
        raise ConfigError(file, exc.path, exc.problem) from None


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
    return _decode(data, Spec, file)  # type: ignore[return-value]


def decode_process(data: bytes, file: str) -> Process:
    """Decode and check a standalone process.json (``exec --process``); JSON paths start at its top level."""
    process: Process = _decode(data, Process, file)  # type: ignore[assignment]
    errors, _warnings = validate_process(process)
    if errors:
        raise ConfigError(file, errors[0].path, errors[0].message)
    return process


def decode_resources(data: bytes, file: str) -> Resources:
    """Decode a standalone LinuxResources object (`update --resources`); JSON paths start at its top level."""
    return _decode(data, Resources, file)  # type: ignore[return-value]


def decode_seccomp(data: bytes, file: str) -> Seccomp:
    """Decode a standalone ``linux.seccomp`` object (a profile file); JSON paths start at its top level."""
    return _decode(data, Seccomp, file)  # type: ignore[return-value]


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


# --- parsing, and where a document is not JSON -------------------------------------------------------------------


def _parse(data: bytes, file: str) -> object:
    """The document as dicts, lists and scalars (CPython's C scanner); a ConfigError naming line and column
    where it is not JSON."""
    try:
        return fastjson.parse(data)
    except RecursionError:
        raise _too_deep(data, file) from None
    except ValueError:
        raise ConfigError(file, "", _syntax_problem(data)) from None


def _syntax_problem(data: bytes) -> str:
    if not data.strip():
        return "invalid JSON: the file is empty"
    from simcon.spec import syntax

    try:
        text = data.decode("utf-8")
        bad_utf8 = None
    except UnicodeDecodeError as exc:  # a JSON syntax error before the bad byte is still what to report first
        text = data.decode("utf-8", "replace")
        bad_utf8 = len(data[:exc.start].decode("utf-8", "replace"))
    found = syntax.first_problem(text)
    if bad_utf8 is not None and (found is None or found[1] > bad_utf8):
        found = "invalid UTF-8 encoded string", bad_utf8
    if found is None:  # the scanner refused what the grammar allows
        return "invalid JSON"
    detail, position = found
    line_start = text.rfind("\n", 0, position) + 1
    line = text.count("\n", 0, position) + 1
    return f"invalid JSON at line {line} column {position - line_start + 1}: {detail}"


# --- hostile input: NUL bytes, lone surrogates, deep nesting -----------------------------------------------------


def _key(name: str) -> str:
    """A map key in a JSON path: ``["org.example"]``."""
    return f"[{shorten(fastjson.quote(name))}]"


def _may_hold_nul_or_surrogate(data: bytes) -> bool:
    """JSON can only carry a NUL, or half of a UTF-16 surrogate pair, inside a string as an escape (a raw control
    byte is a syntax error, and the bytes are UTF-8): these searches keep the walk off the common path."""
    return b"\\u0000" in data or b"\\ud" in data or b"\\uD" in data


def _refuse_nul_in(raw: object, file: str) -> None:
    # Iterative, not recursive: the document may be nested as deep as the scanner allows.
    stack: list[tuple[str, object]] = [("", raw)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            _refuse_in_text(value, file, path, "")
        elif isinstance(value, dict):
            for name in value:
                _refuse_in_text(name, file, path, f"key {shorten(fastjson.quote(name))} ")
            stack.extend((_child_path(path, name), item) for name, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in reversed(list(enumerate(value))))


def _refuse_in_text(text: str, file: str, path: str, what: str) -> None:
    if "\0" in text:
        if what:
            raise ConfigError(file, path, f"{what}contains a NUL byte (\\u0000)")
        raise ConfigError(file, path, "contains a NUL byte (\\u0000), which would cut the string short")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:  # a surrogate the \\uXXXX escapes did not pair: not text
            half = f"\\u{ord(text[exc.start]):04x}"
            raise ConfigError(file, path, f"{what}contains half of a UTF-16 surrogate pair ({half}), which is not "
                                          "text") from None


def _child_path(path: str, name: str) -> str:
    """``linux`` + ``sysctl`` -> ``linux.sysctl``; keys that are not plain names in brackets."""
    if name and all(ch.isalnum() or ch == "_" for ch in name):
        return f"{path}.{name}" if path else name
    return f"{path}{_key(name)}"


def _too_deep(data: bytes, file: str) -> ConfigError:
    """The error for a document nested deeper than the scanner's recursion limit, at the first place it gets
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
