"""The `syslog` driver: RFC 5424 messages, one per line, to /dev/log, udp:// or tcp:// (octet counting).

    <30>1 2026-12-02T10:00:00.123456Z host web - - - hello

PRI is facility * 8 + severity (info for stdout, err for stderr); APP-NAME is the tag (default: the container
id, at most 48 characters). Over TCP each message is framed as `LENGTH SP MESSAGE` (RFC 6587 octet counting),
so a message may hold any byte. A connection that breaks is made again on the next write; until then the write
fails and the monitor retries it (the container waits).
"""

from __future__ import annotations

import os
import socket
import time

from simcon.monitor.logdrivers.base import LogContext, LogOptionError, check_options

OPTIONS = ("address", "facility", "tag")
DEFAULT_ADDRESS = "unix:///dev/log"
FACILITIES = {name: number for number, name in enumerate(
    ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp"))}
FACILITIES.update({f"local{n}": 16 + n for n in range(8)})
SEVERITY = {"stdout": 6, "stderr": 3}


def parse_address(text: str) -> tuple[str, object]:
    """`unix:///dev/log` | `udp://host:port` | `tcp://host:port` -> (kind, address); LogOptionError."""
    kind, sep, rest = text.partition("://")
    if sep and kind == "unix" and rest.startswith("/"):
        return kind, rest
    if sep and kind in ("udp", "tcp"):
        host, colon, port = rest.rpartition(":")
        host = host.strip("[]")
        if colon and host and port.isdigit() and 0 < int(port) < 65536:
            return kind, (host, int(port))
    raise LogOptionError("syslog", f"address={text!r}: expected unix:///PATH, udp://HOST:PORT or tcp://HOST:PORT")


def _connect(kind: str, address) -> socket.socket:  # noqa: ANN001
    if kind == "unix":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    else:
        infos = socket.getaddrinfo(address[0], address[1], type=socket.SOCK_STREAM if kind == "tcp"
                                   else socket.SOCK_DGRAM)
        family, kind_, proto, _name, address = infos[0]
        sock = socket.socket(family, kind_ | socket.SOCK_CLOEXEC, proto)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


class Syslog:
    name = "syslog"

    @classmethod
    def validate(cls, options: dict[str, str]) -> None:
        check_options(cls.name, options, OPTIONS)
        facility = options.get("facility", "daemon")
        if facility not in FACILITIES:
            raise LogOptionError(cls.name, f"facility={facility!r}: expected one of {', '.join(FACILITIES)}")
        text = options.get("address", DEFAULT_ADDRESS)
        kind, address = parse_address(text)
        try:
            _connect(kind, address).close()
        except OSError as exc:
            raise LogOptionError(cls.name, f"address={text}: cannot reach it ({exc.strerror or exc})") from None

    def __init__(self, options: dict[str, str], context: LogContext) -> None:
        check_options(self.name, options, OPTIONS)
        if options.get("facility", "daemon") not in FACILITIES:
            raise LogOptionError(self.name, f"facility={options['facility']!r}: unknown")
        self.kind, self.address = parse_address(options.get("address", DEFAULT_ADDRESS))
        self.facility = FACILITIES[options.get("facility", "daemon")]
        tag = options.get("tag", context.container_id)[:48] or "-"
        host = (os.uname().nodename or "-")[:255]
        self.header = f" {host} {tag} - - - ".encode()
        self.sock: socket.socket | None = None
        self.sent = 0  # lines of the current write already sent (a retry resumes after them)

    def write(self, stream: str, data: bytes, time_ns: int) -> None:
        lines = data.split(b"\n")
        last = lines.pop()
        if last:
            lines.append(last)
        pri = f"<{self.facility * 8 + SEVERITY.get(stream, 6)}>1 ".encode()
        seconds, ns = divmod(time_ns, 1_000_000_000)
        stamp = (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ns // 1000:06d}Z").encode()
        for line in lines[self.sent:]:
            self._send(pri + stamp + self.header + line)
            self.sent += 1
        self.sent = 0

    def _send(self, message: bytes) -> None:
        if self.sock is None:
            self.sock = _connect(self.kind, self.address)
        try:
            if self.kind == "tcp":
                self.sock.sendall(str(len(message)).encode() + b" " + message)
            else:
                self.sock.send(message)
        except OSError:
            self.sock.close()
            self.sock = None  # made again at the next try
            raise

    def flush(self) -> None:
        pass

    def rotate(self) -> None:
        pass

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
