"""Log drivers: where the monitor writes what a container prints.

Built in: `k8s-file`, `json-file` (files with rotation, ``files``), `journald` (``journald``), `syslog`
(``syslog``), `none` (discard) and `passthrough` (no capture: the container writes straight to the caller's
stdio, as without a monitor). Third parties add drivers as Python entry points in the group ``simcon.log_drivers``:
the entry point names a factory ``factory(options, context) -> driver`` with the interface of ``base``.
docs/logging.md describes drivers, options, formats and the interface.
"""

from __future__ import annotations

from simcon.monitor.logdrivers.base import LogContext, LogOptionError

ENTRY_POINT_GROUP = "simcon.log_drivers"
PASSTHROUGH = "passthrough"
FILE_DRIVERS = ("k8s-file", "json-file")
BUILTIN = ("k8s-file", "json-file", "journald", "syslog", "none", PASSTHROUGH)


class NoneDriver:
    """Discards the output; the monitor still reaps the container and records how it ended."""

    name = "none"

    def __init__(self, options: dict[str, str], context: LogContext) -> None:
        self.validate(options)

    @classmethod
    def validate(cls, options: dict[str, str]) -> None:
        from simcon.monitor.logdrivers.base import check_options

        check_options(cls.name, options, ())

    def write(self, stream: str, data: bytes, time_ns: int) -> None:
        pass

    def flush(self) -> None:
        pass

    def rotate(self) -> None:
        pass

    def close(self) -> None:
        pass


def _builtin_factory(name: str):  # noqa: ANN202 - a driver class
    if name == "k8s-file":
        from simcon.monitor.logdrivers.files import K8sFile

        return K8sFile
    if name == "json-file":
        from simcon.monitor.logdrivers.files import JsonFile

        return JsonFile
    if name == "journald":
        from simcon.monitor.logdrivers.journald import Journald

        return Journald
    if name == "syslog":
        from simcon.monitor.logdrivers.syslog import Syslog

        return Syslog
    if name == "none":
        return NoneDriver
    return None


def plugin_entry(name: str) -> tuple[str, str] | None:
    """The entry point of a third-party driver: (``module:attr``, the directory to import it from), or None.

    Looked up where SimCon's command runs (site-packages on sys.path); the monitor, a bare `python -I -S`
    without site-packages, then imports it from that directory (``load_entry``)."""
    from importlib.metadata import entry_points  # only for a driver that is not built in: it costs ~20 ms

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            where = str(entry.dist.locate_file("")) if entry.dist is not None else ""
            return entry.value, where
    return None


def load_entry(value: str, where: str):  # noqa: ANN201
    import sys
    from importlib import import_module

    if where and where not in sys.path:
        sys.path.append(where)
    module, _, attr = value.partition(":")
    try:
        found = import_module(module.strip())
        for part in attr.strip().split(".") if attr.strip() else ():
            found = getattr(found, part)
    except Exception as exc:  # noqa: BLE001 - a broken plugin is the user's to fix: say which
        raise LogOptionError(value, f"cannot load the log driver entry point `{value}`: {exc}") from None
    return found


def _plugin_factory(name: str):  # noqa: ANN202
    entry = plugin_entry(name)
    return load_entry(*entry) if entry is not None else None


def factory(name: str):  # noqa: ANN201
    found = _builtin_factory(name) or _plugin_factory(name)
    if found is None:
        raise LogOptionError(name, f"no such log driver (built in: {', '.join(BUILTIN)}; others are added as "
                                   f"entry points in the group {ENTRY_POINT_GROUP})")
    return found


def validate(name: str, options: dict[str, str]) -> None:
    """Check a driver name and its options before the container is made (at `create`/`run`)."""
    if name == PASSTHROUGH:
        from simcon.monitor.logdrivers.base import check_options

        check_options(name, options, ())
        return
    if name in FILE_DRIVERS:
        from simcon.monitor.logdrivers.files import validate_file_options

        validate_file_options(name, options)
        return
    found = factory(name)
    check = getattr(found, "validate", None)
    if check is not None:
        check(options)


def open_driver(name: str, options: dict[str, str], context: LogContext,
                entry: tuple[str, str] | None = None):  # noqa: ANN201
    """The driver ``name``; ``entry`` (from ``plugin_entry`` at create) says where a third-party one lives."""
    found = _builtin_factory(name) if entry is None else load_entry(*entry)
    return (found or factory(name))(options, context)
