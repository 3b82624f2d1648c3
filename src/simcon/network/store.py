"""The networks SimCon knows: CNI configuration lists in a directory (default /etc/simcon/net.d/).

One file per network, ``NAME.conflist``. The default network ``simcon`` is written on first use: a bridge
``simcon0`` on 10.77.0.0/16 (neither podman's 10.88.0.0/16 nor docker's 172.17.0.0/16), gateway and masquerade,
then portmap, firewall and tuning. IPAM reservations (host-local) go under the data directory
(default /var/lib/simcon/cni/networks), not the shared /var/lib/cni, so SimCon's networks are its own.

The directories are settings (cni_config_dir, cni_data_dir, cni_plugin_dirs in simcon.toml or SIMCON_CNI_*): the
tests point them into their own temp dir.
"""

from __future__ import annotations

import ipaddress
import json
import os

from simcon.errors import NetworkError
from simcon.network.cni import DEFAULT_PLUGIN_DIRS, NetworkList

DEFAULT_CONFIG_DIR = "/etc/simcon/net.d"
DEFAULT_DATA_DIR = "/var/lib/simcon/cni"
DEFAULT_NETWORK = "simcon"
DEFAULT_BRIDGE = "simcon0"
DEFAULT_SUBNET = "10.77.0.0/16"
CNI_VERSION = "1.0.0"
SUFFIX = ".conflist"
# Subnets `network create` never picks by itself: podman's and docker's defaults and their next networks.
_AVOID = [ipaddress.ip_network(n) for n in ("10.88.0.0/16", "10.89.0.0/16", "172.16.0.0/12", "192.168.0.0/16")]

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


def validate_name(name: str) -> None:
    if not name or not _NAME_CHARS.issuperset(name) or name.startswith((".", "-")) or len(name) > 64:
        raise NetworkError(f"invalid network name {name!r}: use letters, digits and `_ . -` (at most 64)")
    if name in ("none", "host", "bridge"):
        raise NetworkError(f"invalid network name {name!r}: reserved for --network {name}")


class NetworkStore:
    """The network directory, the IPAM data directory and the plugin directories (settings cni_config_dir,
    cni_data_dir and cni_plugin_dirs: simcon.settings is the one place that reads them)."""

    def __init__(self, config_dir: str = DEFAULT_CONFIG_DIR, data_dir: str = DEFAULT_DATA_DIR,
                 plugin_dirs: list[str] | tuple[str, ...] = DEFAULT_PLUGIN_DIRS) -> None:
        self.config_dir = config_dir
        self.data_dir = data_dir
        self.plugin_dirs = list(plugin_dirs)

    def file_of(self, name: str) -> str:
        return os.path.join(self.config_dir, name + SUFFIX)

    def names(self) -> list[str]:
        try:
            entries = os.listdir(self.config_dir)
        except FileNotFoundError:
            return []
        return sorted(e[: -len(SUFFIX)] for e in entries if e.endswith(SUFFIX))

    def get(self, name: str) -> NetworkList:
        """The network's list; the default network is written first when it does not exist yet."""
        validate_name(name) if name != DEFAULT_NETWORK else None
        file = self.file_of(name)
        if not os.path.exists(file):
            if name != DEFAULT_NETWORK:
                known = ", ".join(self.names()) or "none"
                raise NetworkError(f"unknown network `{name}` (no {file}; known: {known})", network=name,
                                   hint="`simcon network create NAME` makes one")
            self.write_default()
        netlist = NetworkList.load(file)
        if netlist.name != name:
            raise NetworkError(f"{file}: name: {netlist.name!r} does not match the file name {name!r}",
                               network=name)
        return netlist

    def all(self) -> list[NetworkList]:
        return [NetworkList.load(self.file_of(n)) for n in self.names()]

    def write_default(self) -> None:
        self._write(DEFAULT_NETWORK, bridge_conflist(DEFAULT_NETWORK, DEFAULT_BRIDGE, DEFAULT_SUBNET, "",
                                                     self.ipam_dir(), masquerade=True), exclusive=True)

    def ipam_dir(self) -> str:
        return os.path.join(self.data_dir, "networks")

    def create(self, name: str, subnet: str = "", gateway: str = "", bridge: str = "", internal: bool = False,
               masquerade: bool = True) -> NetworkList:
        validate_name(name)
        if name == DEFAULT_NETWORK and not subnet:
            self.write_default()
            return self.get(name)
        if os.path.exists(self.file_of(name)):
            raise NetworkError(f"network `{name}` already exists ({self.file_of(name)})", network=name)
        others = self.subnets()
        if subnet:
            try:
                net = ipaddress.ip_network(subnet, strict=True)
            except ValueError as exc:
                raise NetworkError(f"network `{name}`: --subnet {subnet!r}: {exc}", network=name) from None
            for other, owner in others:
                if net.overlaps(other):
                    raise NetworkError(f"network `{name}`: subnet {net} overlaps {other} of {owner}",
                                       network=name)
        else:
            net = _free_subnet([n for n, _ in others])
        if gateway:
            try:
                gw = ipaddress.ip_address(gateway)
            except ValueError:
                raise NetworkError(f"network `{name}`: --gateway {gateway!r} is not an IP address",
                                   network=name) from None
            if gw not in net or gw in (net.network_address, net.broadcast_address):
                raise NetworkError(f"network `{name}`: gateway {gw} is not a host address of {net}",
                                   network=name)
        bridge = bridge or _free_bridge(self)
        if len(bridge) > 15 or not bridge.replace("-", "").replace("_", "").isalnum():
            raise NetworkError(f"network `{name}`: bridge name {bridge!r}: at most 15 letters and digits",
                               network=name)
        conf = bridge_conflist(name, bridge, str(net), gateway, self.ipam_dir(),
                               masquerade=masquerade and not internal, internal=internal)
        self._write(name, conf, exclusive=True)
        return self.get(name)

    def remove(self, name: str) -> None:
        validate_name(name) if name != DEFAULT_NETWORK else None
        try:
            os.unlink(self.file_of(name))
        except FileNotFoundError:
            raise NetworkError(f"unknown network `{name}` (no {self.file_of(name)})", network=name) from None

    def subnets(self) -> list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]]:
        """Every subnet in use: the networks' IPAM ranges and the routes of this network namespace."""
        used = []
        for name in self.names():
            try:
                netlist = NetworkList.load(self.file_of(name))
            except NetworkError:
                continue
            for subnet in network_subnets(netlist):
                used.append((subnet, f"network `{name}`"))
        used += [(net, f"route via {dev}") for net, dev in _routes()]
        return used

    def _write(self, name: str, conf: dict, exclusive: bool) -> None:
        os.makedirs(self.config_dir, mode=0o755, exist_ok=True)
        file = self.file_of(name)
        tmp = f"{file}.tmp-{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(conf, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        if exclusive:
            try:
                os.link(tmp, file)  # never replaces a network someone else wrote meanwhile
            except FileExistsError:
                pass
            finally:
                os.unlink(tmp)
        else:
            os.rename(tmp, file)


def bridge_conflist(name: str, bridge: str, subnet: str, gateway: str, ipam_dir: str, *, masquerade: bool,
                    internal: bool = False) -> dict:
    """A bridge network as podman writes one: bridge + host-local IPAM, portmap, firewall, tuning."""
    range_ = {"subnet": subnet}
    if gateway:
        range_["gateway"] = gateway
    plugins: list[dict] = [
        {
            "type": "bridge",
            "bridge": bridge,
            "isGateway": not internal,
            "ipMasq": masquerade,
            "hairpinMode": True,
            "ipam": {
                "type": "host-local",
                "ranges": [[range_]],
                "routes": [] if internal else [{"dst": "0.0.0.0/0"}],
                "dataDir": ipam_dir,
            },
            "capabilities": {"ips": True, "mac": True},
        },
        {"type": "portmap", "capabilities": {"portMappings": True}},
        {"type": "firewall", "backend": "iptables"},
        {"type": "tuning"},
    ]
    return {"cniVersion": CNI_VERSION, "name": name, "plugins": plugins}


def network_subnets(netlist: NetworkList) -> list:
    nets = []
    for plugin in netlist.plugins:
        ipam = plugin.get("ipam") or {}
        ranges = ipam.get("ranges") or ([[{"subnet": ipam["subnet"]}]] if ipam.get("subnet") else [])
        for rangeset in ranges:
            for r in rangeset if isinstance(rangeset, list) else []:
                try:
                    nets.append(ipaddress.ip_network(r.get("subnet", ""), strict=False))
                except (ValueError, AttributeError):
                    pass
    return nets


def _routes() -> list:
    """IPv4 routes of this network namespace (not the default route): a new subnet must not shadow them."""
    found = []
    try:
        with open("/proc/net/route") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        dest, mask = int(fields[1], 16), int(fields[7], 16)
        if mask == 0:
            continue
        to_ip = lambda v: ipaddress.IPv4Address(int.from_bytes(v.to_bytes(4, "little"), "big"))  # noqa: E731
        try:
            found.append((ipaddress.ip_network(f"{to_ip(dest)}/{to_ip(mask)}", strict=False), fields[0]))
        except ValueError:
            pass
    return found


def _free_subnet(used: list) -> ipaddress.IPv4Network:
    for second in range(78, 255):
        candidate = ipaddress.ip_network(f"10.{second}.0.0/16")
        if not any(candidate.overlaps(n) for n in used + _AVOID):
            return candidate
    raise NetworkError("no free 10.X.0.0/16 subnet left: pass --subnet")


def _free_bridge(store: NetworkStore) -> str:
    taken = set()
    for netlist in store.all():
        for plugin in netlist.plugins:
            if plugin.get("bridge"):
                taken.add(plugin["bridge"])
    n = 1
    while f"simcon{n}" in taken:
        n += 1
    return f"simcon{n}"
