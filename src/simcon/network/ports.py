"""Published ports: `-p [HOST_IP:]HOST_PORT:CTR_PORT[/tcp|udp]`, ranges allowed, into CNI `portMappings`."""

from __future__ import annotations

import errno
import ipaddress
import socket

from simcon.errors import NetworkError, UsageError

PROTOCOLS = ("tcp", "udp")
FORMAT = "[HOST_IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp], ports or equal ranges (8000-8001:80-81)"


class PortMapping:
    __slots__ = ("host_ip", "host_port", "container_port", "protocol")

    def __init__(self, host_ip: str, host_port: int, container_port: int, protocol: str) -> None:
        self.host_ip = host_ip  # "" for every address
        self.host_port = host_port
        self.container_port = container_port
        self.protocol = protocol

    def to_cni(self) -> dict:
        """One entry of the portMappings capability argument."""
        entry = {"hostPort": self.host_port, "containerPort": self.container_port, "protocol": self.protocol}
        if self.host_ip:
            entry["hostIP"] = self.host_ip
        return entry

    @classmethod
    def from_cni(cls, entry: dict) -> PortMapping:
        return cls(entry.get("hostIP", ""), int(entry["hostPort"]), int(entry["containerPort"]),
                   entry.get("protocol", "tcp"))

    def __str__(self) -> str:
        host = self.host_ip or "0.0.0.0"
        if ":" in host:
            host = f"[{host}]"
        return f"{self.container_port}/{self.protocol} -> {host}:{self.host_port}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PortMapping) and self.to_cni() == other.to_cni()


def parse_publish(text: str, where: str = "--publish") -> list[PortMapping]:
    """One -p value -> its mappings (a range gives one per port). Raises UsageError naming the value."""
    def bad(why: str) -> UsageError:
        return UsageError(f"{where} {text!r}: {why} (expected {FORMAT})")

    spec, _, protocol = text.partition("/")
    protocol = protocol or "tcp"
    if protocol not in PROTOCOLS:
        raise bad(f"unknown protocol {protocol!r}")
    host_ip = ""
    if spec.startswith("["):  # [IPv6]:HOST:CTR
        close = spec.find("]")
        if close < 0 or spec[close + 1:close + 2] != ":":
            raise bad("unclosed [IPv6 address]")
        host_ip, spec = spec[1:close], spec[close + 2:]
        parts = spec.split(":")
    else:
        parts = spec.split(":")
        if len(parts) == 3:
            host_ip, parts = parts[0], parts[1:]
    if len(parts) != 2:
        raise bad("a host port and a container port are required")
    if host_ip:
        try:
            host_ip = str(ipaddress.ip_address(host_ip))
        except ValueError:
            raise bad(f"{host_ip!r} is not an IP address") from None
    host = _port_range(parts[0], bad)
    container = _port_range(parts[1], bad)
    if len(host) != len(container):
        raise bad("host and container ranges differ in length")
    return [PortMapping(host_ip, h, c, protocol) for h, c in zip(host, container)]


def _port_range(text: str, bad) -> range:  # noqa: ANN001
    low, dash, high = text.partition("-")
    try:
        first = int(low)
        last = int(high) if dash else first
    except ValueError:
        raise bad(f"{text!r} is not a port or a range of ports") from None
    if not 1 <= first <= last <= 65535:
        raise bad(f"{text!r}: ports go from 1 to 65535, low to high")
    return range(first, last + 1)


def check_unique(mappings: list[PortMapping], where: str = "--publish") -> None:
    seen: set[tuple[str, int, str]] = set()
    for m in mappings:
        key = (m.host_ip, m.host_port, m.protocol)
        if key in seen:
            raise UsageError(f"{where}: host port {m.host_port}/{m.protocol} is published twice")
        seen.add(key)


def check_free(mappings: list[PortMapping], taken: dict[tuple[int, str], str]) -> None:
    """Refuse a host port that another container publishes (``taken``: (port, proto) -> container id) or that a
    process of this network namespace has bound: DNAT would silently steal or lose its traffic."""
    for m in mappings:
        owner = taken.get((m.host_port, m.protocol))
        if owner is not None:
            raise NetworkError(f"port {m.host_port}/{m.protocol} is already published by container `{owner}`")
        family = socket.AF_INET6 if ":" in m.host_ip else socket.AF_INET
        kind = socket.SOCK_STREAM if m.protocol == "tcp" else socket.SOCK_DGRAM
        with socket.socket(family, kind) as probe:
            try:
                probe.bind((m.host_ip or ("::" if family == socket.AF_INET6 else "0.0.0.0"), m.host_port))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    raise NetworkError(f"port {m.host_port}/{m.protocol} is already in use on this host",
                                       hint="pick another host port") from None
                if exc.errno == errno.EADDRNOTAVAIL:
                    raise NetworkError(f"--publish host address {m.host_ip} is not an address of this host") \
                        from None
                raise
