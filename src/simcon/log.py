"""Where SimCon's messages go: stderr, and the `--log` file in runc's text or JSON format.

`create`'s and `run`'s stdio is the container's stdio (engines capture it as the container's log), so only the
error a command exits with goes to stderr unconditionally. Warnings and debug lines go to the `--log` file, and to
stderr only with `--debug`.

Engines read the log file: containerd's shim takes the last `"level":"error"` line of `<bundle>/log.json` as the
reason a command failed, so JSON lines must look exactly like runc's (logrus): level, msg, time.
"""

from __future__ import annotations

import os
import sys
import time

from simcon import fastjson

_log_file: str | None = None
_log_format = "text"
_debug = False
# The least severe level written (the `log_level` setting); debug messages need --debug as well.
_LEVELS = {"debug": 0, "info": 1, "warning": 2, "error": 3}
_min_level = _LEVELS["warning"]


def configure(log_file: str | None, log_format: str, debug: bool, level: str = "warning") -> None:
    global _log_file, _log_format, _debug, _min_level
    _log_file = log_file or None
    _log_format = log_format
    _debug = debug
    _min_level = 0 if debug else _LEVELS.get(level, _LEVELS["warning"])


def debug_enabled() -> bool:
    return _debug


def _timestamp() -> str:
    ns = time.time_ns()
    whole, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{frac:09d}Z"


def _write_log(level: str, message: str) -> None:
    if _log_file is None:
        return
    if _log_format == "json":
        line = fastjson.dumps({"level": level, "msg": message, "time": _timestamp()})
    else:
        line = f"time={fastjson.dumps(_timestamp())} level={level} msg={fastjson.dumps(message)}"
    try:
        fd = os.open(_log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
    except OSError as exc:
        _stderr(f"simcon: cannot write log file {_log_file}: {exc.strerror}")


def _stderr(text: str) -> None:
    try:
        sys.stderr.write(text + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def error(message: str) -> None:
    """The one line a failed command leaves: on stderr, and in the log file when there is one."""
    _write_log("error", message)
    _stderr(f"simcon: {message}")


def warning(message: str) -> None:
    """Something skipped or ignored that does not fail the command: never on stderr unless --debug, since stderr
    may be the container's (see the module docstring)."""
    if _min_level > _LEVELS["warning"]:
        return
    _write_log("warning", message)
    if _debug:
        _stderr(f"simcon: warning: {message}")


def notice(message: str) -> None:
    """A warning for a command whose stderr is never a container's (`list`): logged, and always on stderr."""
    _write_log("warning", message)
    _stderr(f"simcon: warning: {message}")


def info(message: str) -> None:
    """Written to the log file only, at log_level info or debug: never to a container's stdio."""
    if _min_level <= _LEVELS["info"]:
        _write_log("info", message)


def debug(message: str) -> None:
    if _debug:
        _write_log("debug", message)
        _stderr(f"simcon: debug: {message}")
