"""An example third-party log driver for SimCon (docs/logging.md, "Custom drivers").

Writes every line of the container's output, upper-cased and prefixed with its stream, to one file. Register it
in the package's pyproject.toml:

    [project.entry-points."simcon.log_drivers"]
    upper = "upper_driver:UpperFile"

and use it with `simcon run -d --log-driver upper --log-opt path=/var/log/web.log --bundle . web`.
"""

from __future__ import annotations

import os


class UpperFile:
    """The driver interface: factory(options, context); write, flush, rotate, close; optional validate."""

    @classmethod
    def validate(cls, options: dict[str, str]) -> None:
        """Called at `create`/`run`, before anything is made: bad options fail there, with one line."""
        from simcon.monitor.logdrivers import LogOptionError

        unknown = sorted(set(options) - {"path"})
        if unknown:
            raise LogOptionError("upper", f"unknown option `{unknown[0]}` (accepted: path)")

    def __init__(self, options: dict[str, str], context) -> None:  # noqa: ANN001 - a LogContext
        self.validate(options)
        self.fd = os.open(options.get("path") or context.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                          0o640)

    def write(self, stream: str, data: bytes, time_ns: int) -> None:
        # data: whole lines, maybe followed by one partial line. An OSError makes the monitor call write again
        # with the same arguments later; a single os.write of one buffer either happens or not.
        os.write(self.fd, stream.encode() + b": " + data.upper())

    def flush(self) -> None:
        pass

    def rotate(self) -> None:
        pass

    def close(self) -> None:
        os.close(self.fd)
