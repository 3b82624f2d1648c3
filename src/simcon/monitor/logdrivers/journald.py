"""The `journald` driver: systemd's native journal protocol on its socket, without libsystemd.

One datagram per line, each field `KEY=value\\n`, or `KEY\\n` + 64-bit little-endian length + value + `\\n` when
the value holds a newline or is binary. An entry too large for a datagram goes as a sealed memfd passed with
SCM_RIGHTS, as sd_journal_send does. Fields: MESSAGE, PRIORITY (6 stdout, 3 stderr), SYSLOG_IDENTIFIER,
CONTAINER_ID (12 characters), CONTAINER_ID_FULL, CONTAINER_NAME, and CONTAINER_PARTIAL_MESSAGE=true on a cut line.
A blocking socket: a journal that cannot keep up makes the container wait, it does not lose lines.
"""

from __future__ import annotations

import os
import socket
import struct

from simcon.monitor.logdrivers.base import LogContext, LogOptionError, check_options

DEFAULT_SOCKET = "/run/systemd/journal/socket"
OPTIONS = ("tag", "socket")
PRIORITY = {"stdout": b"6", "stderr": b"3"}


def _field(key: bytes, value: bytes) -> bytes:
    if b"\n" in value or b"\0" in value:  # the length form carries any byte
        return key + b"\n" + struct.pack("<Q", len(value)) + value + b"\n"
    return key + b"=" + value + b"\n"


class Journald:
    name = "journald"

    @classmethod
    def validate(cls, options: dict[str, str]) -> None:
        check_options(cls.name, options, OPTIONS)
        path = options.get("socket", DEFAULT_SOCKET)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            probe.connect(path)
        except OSError as exc:
            raise LogOptionError(cls.name, f"no journal is listening on {path} ({exc.strerror}); is "
                                           "systemd-journald running?") from None
        finally:
            probe.close()

    def __init__(self, options: dict[str, str], context: LogContext) -> None:
        check_options(self.name, options, OPTIONS)
        self.path = options.get("socket", DEFAULT_SOCKET)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        tag = options.get("tag", context.container_id).encode()
        cid = context.container_id.encode()
        self.common = (_field(b"SYSLOG_IDENTIFIER", tag) + _field(b"CONTAINER_ID", cid[:12])
                       + _field(b"CONTAINER_ID_FULL", cid) + _field(b"CONTAINER_NAME", context.name.encode()))
        self.sent = 0  # lines of the current write already sent: a retry after an error resumes after them

    def write(self, stream: str, data: bytes, time_ns: int) -> None:
        lines = data.split(b"\n")
        last = lines.pop()
        entries = [(line, False) for line in lines] + ([(last, True)] if last else [])
        head = self.common + b"PRIORITY=" + PRIORITY.get(stream, b"6") + b"\n"
        for line, partial in entries[self.sent:]:
            entry = head + _field(b"MESSAGE", line)
            if partial:
                entry += b"CONTAINER_PARTIAL_MESSAGE=true\n"
            self._send(entry)
            self.sent += 1
        self.sent = 0

    def _send(self, entry: bytes) -> None:
        try:
            self.sock.sendto(entry, self.path)
        except OSError as exc:
            if exc.errno != 90:  # EMSGSIZE: too large for a datagram, goes as a memfd below
                raise
            self._send_memfd(entry)

    def _send_memfd(self, entry: bytes) -> None:
        import fcntl

        fd = os.memfd_create("simcon-journal", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            view = memoryview(entry)
            while view:
                view = view[os.write(fd, view):]
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
                        | fcntl.F_SEAL_SEAL)
            self.sock.sendmsg([], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))], 0, self.path)
        finally:
            os.close(fd)

    def flush(self) -> None:
        pass

    def rotate(self) -> None:
        pass

    def close(self) -> None:
        self.sock.close()
