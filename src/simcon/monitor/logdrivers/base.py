"""What every log driver shares: the driver interface, the option errors, RFC 3339 timestamps, size parsing.

The interface (also the one third-party drivers implement, see docs/logging.md):

    driver = factory(options: dict[str, str], context: LogContext)    # options already checked by the factory
    driver.write(stream: str, data: bytes, time_ns: int)   # "stdout" or "stderr"; data: whole lines (each ending
                                                           # in b"\\n"), possibly followed by one partial line
    driver.flush()                                         # push buffered records out (idle, before exit)
    driver.rotate()                                        # start a new file, when that means anything
    driver.close()

``write`` may raise ``OSError``: the capture loop then stops reading the container's pipes (so the container
blocks instead of losing output), records the error in the container's state and calls ``write`` again later
with the same arguments. A driver that fails part-way must therefore remember what it has already written
(``FileTarget`` does) so the retry neither loses nor duplicates a line.

This module runs inside the monitor's bare interpreter (``python -I -S``): stdlib built-ins only.
"""

from __future__ import annotations

import time

from simcon.errors import SimconError


class LogOptionError(SimconError):
    """A --log-driver / --log-opt value (or its annotation) that is wrong; names the option and the value."""

    def __init__(self, driver: str, message: str) -> None:
        super().__init__(f"log driver `{driver}`: {message}")
        self.driver = driver


class LogContext:
    """What a driver knows about the container it logs for."""

    __slots__ = ("container_id", "name", "path")

    def __init__(self, container_id: str, name: str = "", path: str = "") -> None:
        self.container_id = container_id
        self.name = name or container_id
        # The default log file (file drivers): <root>/@logs/<id>/container.log unless `path=` is given.
        self.path = path


def check_options(driver: str, options: dict[str, str], known: tuple[str, ...]) -> None:
    unknown = sorted(set(options) - set(known))
    if unknown:
        accepted = ", ".join(known) if known else "none"
        raise LogOptionError(driver, f"unknown option `{unknown[0]}` (accepted: {accepted})")


_UNITS = {"": 1, "b": 1, "k": 1 << 10, "kb": 1 << 10, "m": 1 << 20, "mb": 1 << 20, "g": 1 << 30, "gb": 1 << 30}


def parse_size(driver: str, option: str, text: str) -> int:
    """`20m`, `512k`, `1g`, `4096` -> bytes; 0 or -1 mean no limit."""
    value = text.strip().lower()
    digits = value.rstrip("bkmg")
    unit = value[len(digits):]
    try:
        number = int(digits)
    except ValueError:
        number = None
    if number is None or unit not in _UNITS or number < -1:
        raise LogOptionError(driver, f"{option}={text!r}: expected a size like 20m, 512k or 1g (-1: no limit)")
    return max(number, 0) * _UNITS[unit]


def parse_count(driver: str, option: str, text: str, minimum: int = 1) -> int:
    try:
        number = int(text)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise LogOptionError(driver, f"{option}={text!r}: expected a whole number >= {minimum}")
    return number


def parse_bool(driver: str, option: str, text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise LogOptionError(driver, f"{option}={text!r}: expected true or false")


class Timestamps:
    """RFC 3339 with nanoseconds in UTC (`2026-12-02T10:00:00.123456789Z`), the seconds part cached: the
    capture loop stamps every chunk, and strftime per chunk would be a visible share of the monitor's time."""

    __slots__ = ("_second", "_prefix")

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def format(self, time_ns: int) -> str:
        second, frac = divmod(time_ns, 1_000_000_000)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{frac:09d}Z"


def parse_timestamp(text: str) -> int:
    """RFC 3339 (`2026-12-02T10:00:00.123Z`, `...+02:00`, fraction optional) -> ns since the epoch; ValueError."""
    import calendar

    text = text.strip()
    if len(text) < 20 or text[10] not in "Tt ":
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    base = time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S" if text[10] in "Tt" else "%Y-%m-%d %H:%M:%S")
    rest = text[19:]
    frac_ns = 0
    if rest.startswith("."):
        end = 1
        while end < len(rest) and rest[end].isdigit():
            end += 1
        digits = rest[1:end]
        if not digits:
            raise ValueError(f"not an RFC 3339 time: {text!r}")
        frac_ns = int(digits[:9].ljust(9, "0"))
        rest = rest[end:]
    if rest in ("Z", "z"):
        offset = 0
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":" and rest[1:3].isdigit() and rest[4:].isdigit():
        offset = (int(rest[1:3]) * 3600 + int(rest[4:]) * 60) * (1 if rest[0] == "+" else -1)
    else:
        raise ValueError(f"not an RFC 3339 time (zone?): {text!r}")
    return (calendar.timegm(base) - offset) * 1_000_000_000 + frac_ns
