"""The file drivers: `k8s-file` (the CRI log format kubelet and podman read) and `json-file` (docker's).

k8s-file, one record a line, `P` for a partial line (its rest follows in the next record), `F` for a full one:

    2026-12-02T10:00:00.123456789Z stdout F hello
    2026-12-02T10:00:00.123456789Z stderr P first 16 KiB of a long line
    2026-12-02T10:00:00.223456789Z stderr F ...and its end

json-file, one JSON object a line; `log` ends in "\\n" unless the line was cut (its rest follows):

    {"log":"hello\\n","stream":"stdout","time":"2026-12-02T10:00:00.123456789Z"}

Bytes that are not UTF-8 are written as `\\udcXX` escapes (Python's surrogateescape), so `simcon logs` gives
back exactly the bytes the container wrote; docker's own reader shows U+FFFD for them.
Both write through ``rotation.FileTarget`` (max-size, max-file, compress).
"""

from __future__ import annotations

from simcon.monitor.logdrivers.base import (LogContext, LogOptionError, Timestamps, check_options, parse_bool,
                                            parse_count, parse_size)
from simcon.monitor.logdrivers.rotation import FileTarget

# Rotation is on unless turned off: logs must never fill a disk by default (docker's `local` driver: 20 MB x 5).
DEFAULT_MAX_SIZE = "20m"
DEFAULT_MAX_FILE = "5"
DEFAULT_COMPRESS = "true"
FILE_OPTIONS = ("path", "max-size", "max-file", "compress", "mode")


def _target(driver: str, options: dict[str, str], context: LogContext) -> FileTarget:
    check_options(driver, options, FILE_OPTIONS)
    path = options.get("path") or context.path
    if not path or not path.startswith("/"):
        raise LogOptionError(driver, f"path={path!r}: expected an absolute file path")
    max_size = parse_size(driver, "max-size", options.get("max-size", DEFAULT_MAX_SIZE))
    max_files = parse_count(driver, "max-file", options.get("max-file", DEFAULT_MAX_FILE))
    compress = parse_bool(driver, "compress", options.get("compress", DEFAULT_COMPRESS))
    mode_text = options.get("mode", "0640")
    try:
        mode = int(mode_text, 8)
        if not 0 <= mode <= 0o777:
            raise ValueError
    except ValueError:
        raise LogOptionError(driver, f"mode={mode_text!r}: expected an octal file mode like 0640") from None
    return FileTarget(path, max_size, max_files, compress, mode)


def validate_file_options(driver: str, options: dict[str, str]) -> None:
    """Check the options before the container exists (the path's directory is made by the monitor)."""
    check_options(driver, options, FILE_OPTIONS)
    path = options.get("path")
    if path is not None and not path.startswith("/"):
        raise LogOptionError(driver, f"path={path!r}: expected an absolute file path")
    parse_size(driver, "max-size", options.get("max-size", DEFAULT_MAX_SIZE))
    parse_count(driver, "max-file", options.get("max-file", DEFAULT_MAX_FILE))
    parse_bool(driver, "compress", options.get("compress", DEFAULT_COMPRESS))


class _FileDriver:
    """What both file drivers do with their rotating file besides writing records to it."""

    target: FileTarget

    def flush(self) -> None:
        if self.target.pending:
            self.target.retry()

    def rotate(self) -> None:
        self.target.rotate()

    def close(self) -> None:
        self.target.close()


class K8sFile(_FileDriver):
    name = "k8s-file"

    def __init__(self, options: dict[str, str], context: LogContext) -> None:
        self.target = _target(self.name, options, context)
        self.clock = Timestamps()

    def write(self, stream: str, data: bytes, time_ns: int) -> None:
        if self.target.pending:  # the retry of a failed write: those records are formatted already
            self.target.retry()
            return
        stamp = self.clock.format(time_ns).encode()
        full = stamp + (b" stdout F " if stream == "stdout" else b" stderr F ")
        if data.endswith(b"\n"):
            records = full + data[:-1].replace(b"\n", b"\n" + full) + b"\n"
        else:
            cut = data.rfind(b"\n") + 1
            partial = stamp + (b" stdout P " if stream == "stdout" else b" stderr P ") + data[cut:] + b"\n"
            records = (full + data[:cut - 1].replace(b"\n", b"\n" + full) + b"\n" if cut else b"") + partial
        self.target.write(records)


# Bytes a JSON string cannot hold as they are: control characters other than the newline (which ends a record
# here), the quote and the backslash.
_JSON_SPECIAL = bytes(b for b in range(0x20) if b != 0x0A) + b'"\\'


class JsonFile(_FileDriver):
    name = "json-file"

    def __init__(self, options: dict[str, str], context: LogContext) -> None:
        from _json import encode_basestring_ascii

        self.quote = encode_basestring_ascii
        self.target = _target(self.name, options, context)
        self.clock = Timestamps()

    def write(self, stream: str, data: bytes, time_ns: int) -> None:
        if self.target.pending:
            self.target.retry()
            return
        tail = f',"stream":"{stream}","time":"{self.clock.format(time_ns)}"}}\n'
        if data.isascii() and len(data.translate(None, _JSON_SPECIAL)) == len(data):
            # Nothing to escape (the common case): the records are built by bytes operations in C, not per line.
            end = tail.encode()
            full = b'\\n"' + end + b'{"log":"'
            if data.endswith(b"\n"):
                records = b'{"log":"' + data[:-1].replace(b"\n", full) + b'\\n"' + end
            else:
                records = b'{"log":"' + data.replace(b"\n", full) + b'"' + end
            self.target.write(records)
            return
        quote = self.quote
        text = data.decode("utf-8", "surrogateescape")
        lines = text.split("\n")
        last = lines.pop()  # "" when data ends in a newline, else the partial line
        records = [f'{{"log":{quote(line + chr(10))}{tail}' for line in lines]
        if last:
            records.append(f'{{"log":{quote(last)}{tail}')
        self.target.write("".join(records).encode())



def parse_k8s_record(line: bytes) -> tuple[str, str, bytes, bool]:
    """One k8s-file record (without its newline) -> (time, stream, content, full); ValueError if malformed."""
    parts = line.split(b" ", 3)
    if len(parts) < 3 or parts[2] not in (b"F", b"P"):
        raise ValueError("not a k8s-file record")
    content = parts[3] if len(parts) == 4 else b""
    return parts[0].decode(), parts[1].decode(), content + b"\n" if parts[2] == b"F" else content, parts[2] == b"F"


def parse_json_record(line: bytes) -> tuple[str, str, bytes, bool]:
    """One json-file record -> (time, stream, content, full); ValueError if malformed."""
    from simcon import fastjson

    record = fastjson.loads(line)
    if not isinstance(record, dict) or not isinstance(record.get("log"), str):
        raise ValueError("not a json-file record")
    text = record["log"]
    return str(record.get("time", "")), str(record.get("stream", "stdout")), \
        text.encode("utf-8", "surrogateescape"), text.endswith("\n")


PARSERS = {"k8s-file": parse_k8s_record, "json-file": parse_json_record}
