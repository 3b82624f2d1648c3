"""A thin client of systemd's manager over D-Bus (``org.freedesktop.systemd1``), on jeepney.

jeepney is pure Python and small, but still 15-30 ms to import (it pulls ``re``, ``enum``, ``socket``): only the
systemd cgroup driver imports this module, and only for the calls that need the manager (create, update, delete);
``state``, ``kill``, ``ps``, ``pause`` and ``events`` work on cgroupfs and never load it.

Starting or stopping a unit queues a job; the call returns when systemd reports the job gone (the ``JobRemoved``
signal, which systemd sends once a client has called ``Subscribe``), so the unit's cgroup exists (or is gone) when
a method returns. The match rule is added before the call: a job can finish before the call's reply arrives.

Every failure is a ``SystemdError`` naming the unit and what systemd said.
"""

from __future__ import annotations

import os
import time

from simcon.errors import CgroupError

SYSTEMD = "org.freedesktop.systemd1"
MANAGER_PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
PROPERTIES = "org.freedesktop.DBus.Properties"
SYSTEM_BUS_SOCKET = "/run/dbus/system_bus_socket"
JOB_TIMEOUT = 30.0
CALL_TIMEOUT = 10.0
CGROUPFS_HINT = "use the cgroupfs driver instead: leave out --systemd-cgroup and give a cgroupfs cgroupsPath"


class SystemdError(CgroupError):
    """systemd refused or failed what SimCon asked for (``dbus_name`` is the D-Bus error, if any)."""

    def __init__(self, message: str, *, dbus_name: str = "", hint: str | None = None) -> None:
        super().__init__(message)
        self.message = f"systemd: {message}"
        self.args = (self.message,)
        self.dbus_name = dbus_name
        self.hint = hint

    def __str__(self) -> str:
        return self.message


def user_bus_address() -> str:
    """The user's session bus, where the user's systemd manager listens (rootless containers)."""
    address = os.environ.get("DBUS_SESSION_BUS_ADDRESS", "")
    if address:
        return address
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.geteuid()}"
    return f"unix:path={runtime_dir}/bus"


def system_bus_address() -> str:
    return os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or f"unix:path={SYSTEM_BUS_SOCKET}"


def systemd_booted() -> bool:
    """sd_booted(3): whether systemd is this system's init (it creates /run/systemd/system/ at boot)."""
    return os.path.isdir("/run/systemd/system")


class SystemdManager:
    """One connection to a systemd manager (the system's, or with ``user=True`` the calling user's)."""

    def __init__(self, *, user: bool = False) -> None:
        self.user = user
        self.address = user_bus_address() if user else system_bus_address()
        which = "the user's systemd manager" if user else "systemd"
        if not user and not systemd_booted():
            raise SystemdError(
                "systemd is not running as this system's init (no /run/systemd/system), so --systemd-cgroup "
                "cannot be used", hint=CGROUPFS_HINT)
        from jeepney.io.blocking import open_dbus_connection

        try:
            # A generous timeout: the bus may be socket-activated on first use, slow on a loaded host.
            self.conn = open_dbus_connection(self.address, auth_timeout=CALL_TIMEOUT)
        except (OSError, RuntimeError, ValueError) as exc:
            text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SystemdError(f"cannot reach {which} over D-Bus at {self.address}: {text.lower()}",
                               hint=CGROUPFS_HINT) from exc
        self._subscribed = False

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> SystemdManager:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- calls ----------------------------------------------------------------------------------------------------

    def _call(self, path: str, interface: str, method: str, signature: str, args: tuple, what: str):  # noqa: ANN202
        from jeepney import DBusAddress, MessageType, new_method_call
        from jeepney.low_level import HeaderFields

        address = DBusAddress(path, bus_name=SYSTEMD, interface=interface)
        message = new_method_call(address, method, signature, args) if signature else new_method_call(address, method)
        try:
            reply = self.conn.send_and_get_reply(message, timeout=CALL_TIMEOUT)
        except TimeoutError as exc:
            raise SystemdError(f"{what}: no answer from systemd within {CALL_TIMEOUT:g}s") from exc
        except OSError as exc:
            raise SystemdError(f"{what}: D-Bus connection: {(exc.strerror or str(exc)).lower()}") from exc
        if reply.header.message_type == MessageType.error:
            name = reply.header.fields.get(HeaderFields.error_name, "")
            detail = reply.body[0] if reply.body and isinstance(reply.body[0], str) else name
            raise SystemdError(f"{what}: {detail}", dbus_name=name)
        return reply.body

    def _manager_call(self, method: str, signature: str, args: tuple, what: str):  # noqa: ANN202
        return self._call(MANAGER_PATH, MANAGER, method, signature, args, what)

    def _subscribe(self) -> None:
        """Ask for the JobRemoved signal: a match rule on the bus, and ``Subscribe`` (without which systemd may
        send no signals at all)."""
        if self._subscribed:
            return
        from jeepney import MatchRule, message_bus

        rule = MatchRule(type="signal", sender=SYSTEMD, interface=MANAGER, member="JobRemoved", path=MANAGER_PATH)
        reply = self.conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=CALL_TIMEOUT)
        if reply.header.message_type.name == "error":
            raise SystemdError(f"subscribe to job signals: {reply.body[0] if reply.body else 'refused'}")
        self._manager_call("Subscribe", "", (), "subscribe to job signals")
        self._subscribed = True

    def _run_job(self, method: str, signature: str, args: tuple, unit: str, what: str) -> str:
        """Call ``method`` (which queues a job) and wait for the job's end; returns its result (``done``...)."""
        from jeepney import MatchRule

        self._subscribe()
        # Signals carry systemd's unique bus name, not org.freedesktop.systemd1: match locally without the sender.
        local = MatchRule(type="signal", interface=MANAGER, member="JobRemoved", path=MANAGER_PATH)
        with self.conn.filter(local, bufsize=64) as queue:
            (job,) = self._manager_call(method, signature, args, what)
            deadline = time.monotonic() + JOB_TIMEOUT
            # Signals that came in before the call's reply are in the queue already.
            pending = list(queue)
            queue.clear()
            while True:
                for signal in pending:
                    _id, job_path, _unit, result = signal.body
                    if job_path == job:
                        return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SystemdError(f"{what}: job {job} did not finish within {JOB_TIMEOUT:g}s")
                try:
                    pending = [self.conn.recv_until_filtered(queue, timeout=remaining)]
                except TimeoutError:
                    pending = []
                except OSError as exc:
                    raise SystemdError(f"{what}: D-Bus connection: {(exc.strerror or str(exc)).lower()}") from exc

    def start_transient_unit(self, unit: str, properties: list[tuple[str, tuple[str, object]]]) -> None:
        """StartTransientUnit(``unit``, "replace", properties) and wait for the job: the unit runs on return."""
        what = f"start transient unit `{unit}`"
        result = self._run_job("StartTransientUnit", "ssa(sv)a(sa(sv))", (unit, "replace", properties, []),
                               unit, what)
        if result != "done":
            raise SystemdError(f"{what}: the job ended with result `{result}` (see `journalctl -u {unit}`)")

    def stop_unit(self, unit: str) -> bool:
        """StopUnit and wait for the job; False if systemd has no such unit (already gone)."""
        what = f"stop unit `{unit}`"
        try:
            result = self._run_job("StopUnit", "ss", (unit, "replace"), unit, what)
        except SystemdError as exc:
            if exc.dbus_name == "org.freedesktop.systemd1.NoSuchUnit":
                return False
            raise
        if result not in ("done", "canceled"):
            raise SystemdError(f"{what}: the job ended with result `{result}` (see `journalctl -u {unit}`)")
        return True

    def reset_failed_unit(self, unit: str) -> None:
        """Forget a failed unit so that its name can be used again; a unit that is not loaded is fine."""
        try:
            self._manager_call("ResetFailedUnit", "s", (unit,), f"reset failed unit `{unit}`")
        except SystemdError as exc:
            if exc.dbus_name not in ("org.freedesktop.systemd1.NoSuchUnit", "org.freedesktop.DBus.Error.InvalidArgs"):
                raise

    def set_unit_properties(self, unit: str, properties: list[tuple[str, tuple[str, object]]]) -> None:
        """SetUnitProperties(runtime=true): change a running unit (``update``); nothing survives a reboot."""
        if properties:
            self._manager_call("SetUnitProperties", "sba(sv)", (unit, True, properties),
                               f"set properties of unit `{unit}`")

    def unit_path(self, unit: str) -> str | None:
        """The unit's object path, or None when systemd has no such unit loaded."""
        try:
            (path,) = self._manager_call("GetUnit", "s", (unit,), f"get unit `{unit}`")
        except SystemdError as exc:
            if exc.dbus_name == "org.freedesktop.systemd1.NoSuchUnit":
                return None
            raise
        return path

    def get_property(self, path: str, interface: str, name: str):  # noqa: ANN201
        (variant,) = self._call(path, PROPERTIES, "Get", "ss", (interface, name), f"read property {name}")
        return variant[1]

    def manager_property(self, name: str):  # noqa: ANN201
        return self.get_property(MANAGER_PATH, MANAGER, name)

    def version(self) -> int:
        """systemd's version number (``252`` from ``252.38-1~deb12u1``); 0 if it cannot be read."""
        text = str(self.manager_property("Version"))
        digits = ""
        for ch in text.lstrip("v"):
            if not ch.isdigit():
                break
            digits += ch
        return int(digits) if digits else 0
