"""A container's network, from the user's request to CNI ADD and back to DEL.

    request_from()  CLI options and run.oci.simcon.* annotations -> NetworkRequest (bad input fails here)
    prepare()       before anything exists: load the network, check plugins, address and ports; say which network
                    namespace the container joins and which files it mounts (the plan builder, the one
                    reader of the config, applies that: runtime/plan/container.py)
    attach()        after the container's state directory exists, before its processes: pin a new netns,
                    record the attachment in the state (so a crash can always be undone), ADD, record the result,
                    write resolv.conf / hosts / hostname
    detach()        on delete or on a failed create: DEL with the recorded config, result and netns (also when
                    the namespace is already gone), then unpin it

The network section of the container's state (a plain dict, so `state` needs no import of this module):

    {"mode": "bridge"|"none", "network": NAME, "config": <the conflist used>, "pluginDirs": [...],
     "attachment": {containerId, netns, ifname, args, capabilityArgs}, "netns": PATH,
     "result": <the CNI ADD result, or null while ADD runs>, "ports": [<portMappings>]}
"""

from __future__ import annotations

import ipaddress
import os

from simcon.errors import NetworkError, UsageError
from simcon.network import files as netfiles
from simcon.network.ports import PortMapping, check_unique, parse_publish

ANNOTATION_PREFIX = "run.oci.simcon."
# annotation -> the CLI option it stands for; list values are comma-separated
ANNOTATIONS = {
    "network": "--network", "publish": "--publish", "dns": "--dns", "dns-search": "--dns-search",
    "dns-option": "--dns-option", "add-host": "--add-host", "mac-address": "--mac-address", "ip": "--ip",
}
NETNS_FILE = "netns"
IFNAME = "eth0"
LOOPBACK = {"cniVersion": "1.0.0", "name": "loopback", "plugins": [{"type": "loopback"}]}
GENERATED = (("resolv.conf", "/etc/resolv.conf"), ("hosts", "/etc/hosts"), ("hostname", "/etc/hostname"))


class NetworkRequest:
    """What the user asked for. ``mode``: None (the config decides, as runc), none, host, ns, or a network."""

    __slots__ = ("mode", "network", "ns_path", "ports", "dns", "add_hosts", "mac", "ip")

    def __init__(self) -> None:
        self.mode: str | None = None
        self.network = ""
        self.ns_path = ""
        self.ports: list[PortMapping] = []
        self.dns = netfiles.DnsOptions()
        self.add_hosts: list[tuple[str, str]] = []
        self.mac = ""
        self.ip = ""

    @property
    def uses_cni(self) -> bool:
        return self.mode == "network"

    @property
    def wants_files(self) -> bool:
        return bool(self.dns.servers or self.dns.search or self.dns.options or self.add_hosts)


def request_from(options: dict, annotations: dict | None) -> NetworkRequest:
    """``options``: option name (as in ANNOTATIONS) -> value (str, or list for repeatable ones); the CLI wins
    over the annotation of the same name."""
    merged: dict[str, tuple[object, str]] = {}
    for key, flag in ANNOTATIONS.items():
        value = (annotations or {}).get(ANNOTATION_PREFIX + key)
        if value is not None:
            where = f'annotation "{ANNOTATION_PREFIX}{key}"'
            merged[key] = ([v.strip() for v in value.split(",") if v.strip()] if key not in
                           ("network", "mac-address", "ip") else value.strip(), where)
        given = options.get(key)
        if given not in (None, [], ""):
            merged[key] = (given, flag)
    req = NetworkRequest()
    if "network" in merged:
        value, where = merged["network"]
        _set_mode(req, str(value), where)
    for text in _values(merged, "publish"):
        req.ports += parse_publish(text, merged["publish"][1])
    check_unique(req.ports)
    for text in _values(merged, "dns"):
        try:
            req.dns.servers.append(str(ipaddress.ip_address(text)))
        except ValueError:
            raise UsageError(f"{merged['dns'][1]} {text!r}: not an IP address") from None
    req.dns.search = _values(merged, "dns-search")
    req.dns.options = _values(merged, "dns-option")
    req.add_hosts = [netfiles.parse_add_host(t, merged["add-host"][1]) for t in _values(merged, "add-host")]
    if "mac-address" in merged:
        req.mac = _mac(str(merged["mac-address"][0]), merged["mac-address"][1])
    if "ip" in merged:
        text, where = merged["ip"]
        try:
            req.ip = str(ipaddress.ip_address(str(text)))
        except ValueError:
            raise UsageError(f"{where} {text!r}: not an IP address") from None
    if (req.ports or req.mac or req.ip) and not req.uses_cni:
        what = "--publish" if req.ports else "--mac-address" if req.mac else "--ip"
        raise UsageError(f"{what} needs a CNI network (--network bridge or NAME), not "
                         f"{req.mode or 'the config default'}")
    if req.mode == "host" and req.wants_files:
        raise UsageError("--dns/--dns-search/--dns-option/--add-host: host networking uses the host's files")
    return req


def _values(merged: dict, key: str) -> list[str]:
    if key not in merged:
        return []
    value = merged[key][0]
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _set_mode(req: NetworkRequest, value: str, where: str) -> None:
    from simcon.network.store import DEFAULT_NETWORK, validate_name

    if value in ("none", "host"):
        req.mode = value
    elif value.startswith("ns:"):
        req.mode, req.ns_path = "ns", value[3:]
        if not os.path.isabs(req.ns_path):
            raise UsageError(f"{where} {value!r}: ns:PATH needs an absolute path")
    elif value in ("bridge", DEFAULT_NETWORK):
        req.mode, req.network = "network", DEFAULT_NETWORK
    else:
        try:
            validate_name(value)
        except NetworkError as exc:
            raise UsageError(f"{where}: {exc} (expected none, host, bridge, ns:PATH or a network name)") from None
        req.mode, req.network = "network", value


def _mac(text: str, where: str) -> str:
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
        raise UsageError(f"{where} {text!r}: expected a MAC address like 02:42:ac:11:00:02")
    if int(parts[0], 16) & 1:
        raise UsageError(f"{where} {text!r}: a multicast address cannot be a container's MAC")
    return text.lower()


class ConfigFacts:
    """What networking needs to know of the container's config, read by the plan builder (runtime/plan)."""

    __slots__ = ("netns", "hostname", "mounted")

    def __init__(self, netns: str | None, hostname: str, mounted: frozenset[str]) -> None:
        self.netns = netns  # the config's network namespace: None (none listed, the host's), "" (a new one), a path
        self.hostname = hostname  # the config's hostname ("" when it sets none)
        self.mounted = mounted  # the mount destinations the config lists, normalised


HOST = "host"  # Prepared.namespace: leave the host's network namespace (drop the config's entry)
READ_ONLY_BIND = ("bind", "ro", "nosuid", "nodev", "noexec")


class Prepared:
    """A checked request, ready to attach: the network's list and the CNI client, or nothing to do; and what the
    plan builder changes in the container's view: ``namespace`` (None: as the config says; ``HOST``; or the path
    of the network namespace to join) and ``mounts`` ((destination, source) read-only binds to add)."""

    __slots__ = ("request", "netlist", "client", "container_id", "hostname", "pinned", "files", "host_resolv_conf",
                 "namespace", "mounts")

    def __init__(self, request: NetworkRequest, container_id: str) -> None:
        self.request = request
        self.netlist = None
        self.client = None
        self.container_id = container_id
        self.hostname = ""
        self.pinned = False  # whether SimCon makes (and later removes) the container's network namespace
        self.files: list[tuple[str, str]] = []  # (file in the state dir, destination) to write and bind-mount
        self.host_resolv_conf = netfiles.HOST_RESOLV_CONF
        self.namespace: str | None = None
        self.mounts: list[tuple[str, str]] = []


def prepare(request: NetworkRequest, config: ConfigFacts, container_id: str, state_dir: str, taken_ports: dict,
            config_file: str, store, host_resolv_conf: str = netfiles.HOST_RESOLV_CONF) -> Prepared:  # noqa: ANN001
    """Everything that can fail on bad input, before anything is made. ``store``: the network.store.NetworkStore
    of the settings' directories. Reads nothing of the config but ``config``; the result says what to change."""
    prepared = Prepared(request, container_id)
    if request.mode is None:
        return prepared  # as runc: the config decides, an engine's netns path is joined as it is
    if os.geteuid() != 0 and request.mode not in ("host", "ns"):
        from simcon.errors import UnsupportedError

        raise UnsupportedError(f"--network {request.network or request.mode}: CNI networking needs root "
                               "(a rootless container can use --network host, ns:PATH, or the config's namespace)")
    if config.netns:
        raise UsageError(f"--network {request.mode}: {config_file} already joins the network namespace "
                         f"{config.netns} (linux.namespaces)")
    if request.mode == "host":
        prepared.namespace = HOST
        # The host's resolv.conf and hosts, read-only (unless the config mounts them).
        for destination, host_file in (("/etc/resolv.conf", host_resolv_conf), ("/etc/hosts", "/etc/hosts")):
            source = os.path.realpath(host_file)
            if os.path.isfile(source) and destination not in config.mounted:
                prepared.mounts.append((destination, source))
        return prepared
    if request.mode == "ns":
        if not os.path.exists(request.ns_path):
            raise UsageError(f"--network ns:{request.ns_path}: no such file")
        prepared.namespace = request.ns_path
        return prepared
    prepared.pinned = True
    prepared.namespace = os.path.join(state_dir, NETNS_FILE)
    prepared.hostname = config.hostname or container_id[:63]
    from simcon.network.cni import Client

    prepared.host_resolv_conf = host_resolv_conf
    prepared.client = Client(store.plugin_dirs)
    prepared.client.find_plugin("loopback")
    if request.uses_cni:
        netlist = store.get(request.network)
        prepared.client.check_plugins(netlist)
        if request.ip:
            _check_ip(request, netlist)
        if request.ports:
            from simcon.network.ports import check_free

            check_free(request.ports, taken_ports)
        prepared.netlist = netlist
    for name, destination in GENERATED:
        if destination not in config.mounted:
            source = os.path.join(state_dir, name)
            prepared.files.append((source, destination))
            prepared.mounts.append((destination, source))
    return prepared


def _check_ip(request: NetworkRequest, netlist) -> None:  # noqa: ANN001
    from simcon.network.store import network_subnets

    address = ipaddress.ip_address(request.ip)
    subnets = network_subnets(netlist)
    if not any(address in net for net in subnets):
        raise NetworkError(f"--ip {address}: not in the subnet of network `{netlist.name}` "
                           f"({', '.join(map(str, subnets)) or 'no subnet'})", network=netlist.name)


def _static_ip(request: NetworkRequest, netlist) -> str:  # noqa: ANN001
    from simcon.network.store import network_subnets

    address = ipaddress.ip_address(request.ip)
    net = next(n for n in network_subnets(netlist) if address in n)
    return f"{address}/{net.prefixlen}"


def attach(prepared: Prepared, state_dir: str, save) -> dict | None:  # noqa: ANN001
    """Make the namespace and ADD the networks. ``save(section)`` writes the state atomically; it is called
    before the namespace exists and before ADD, so a crash at any point leaves enough for ``detach``.
    A failure undoes everything made here and raises."""
    if not prepared.pinned:
        return None
    from simcon.network.cni import Attachment, NetworkList
    from simcon.network.netns import create_pinned

    request = prepared.request
    netns = os.path.join(state_dir, NETNS_FILE)
    capability_args: dict = {}
    if request.ports:
        capability_args["portMappings"] = [p.to_cni() for p in request.ports]
    if request.ip and prepared.netlist is not None:
        capability_args["ips"] = [_static_ip(request, prepared.netlist)]
    if request.mac:
        capability_args["mac"] = request.mac
    if request.dns.servers or request.dns.search or request.dns.options:
        capability_args["dns"] = {"servers": request.dns.servers, "searches": request.dns.search,
                                  "options": request.dns.options}
    attachment = Attachment(prepared.container_id, netns, IFNAME, capability_args=capability_args)
    section = {
        "mode": "network" if prepared.netlist is not None else "none",
        "network": prepared.netlist.name if prepared.netlist is not None else "",
        "config": prepared.netlist.raw if prepared.netlist is not None else None,
        "pluginDirs": prepared.client.plugin_dirs,
        "attachment": attachment.to_json(),
        "netns": netns,
        "result": None,
        "ports": capability_args.get("portMappings", []),
    }
    save(section)
    try:
        create_pinned(netns)
        loopback = Attachment(prepared.container_id, netns, "lo")
        prepared.client.add(NetworkList(LOOPBACK), loopback)
        if prepared.netlist is not None:
            def record(partial: dict) -> None:
                # After every plugin: if SimCon dies before the list is done, DEL still gets the addresses
                # (the firewall plugin finds its rules by them).
                section["result"] = partial
                save(section)

            prepared.client.add(prepared.netlist, attachment, progress=record)
        _write_files(prepared, state_dir, section["result"])
    except BaseException as exc:
        if section["result"] is None:
            section["result"] = getattr(exc, "partial_result", None)
        problems = detach(section, raise_errors=False)
        try:
            save(None)  # undone as far as it goes: the caller's own undo must not DEL (and report) it again
        except OSError:
            pass
        if problems and isinstance(exc, NetworkError):
            exc.message += " (cleanup also failed: " + "; ".join(problems) + ")"
            exc.args = (exc.message,)
        raise
    return section


def _write_files(prepared: Prepared, state_dir: str, result: dict | None) -> None:
    """resolv.conf, hosts and hostname in the state directory, bind-mounted read-only by the container."""
    from simcon.network.result import result_ips

    try:
        with open(prepared.host_resolv_conf) as f:
            host_resolv = f.read()
    except OSError:
        host_resolv = ""
    addresses = [ip["address"].split("/")[0] for ip in result_ips(result)]
    texts = {
        "/etc/resolv.conf": netfiles.resolv_conf(host_resolv, prepared.request.dns, (result or {}).get("dns")),
        "/etc/hosts": netfiles.hosts(prepared.hostname, addresses, prepared.request.add_hosts),
        "/etc/hostname": prepared.hostname + "\n",
    }
    for source, destination in prepared.files:
        netfiles.write_file(source, texts[destination])


def detach(section: dict | None, *, raise_errors: bool = True) -> list[str]:
    """DEL with the config, attachment and result recorded at create, then remove the pinned namespace.

    Runs every step even when one fails; returns the problems (or raises them as one NetworkError)."""
    if not section:
        return []
    from simcon.network.cni import Attachment, Client, NetworkList
    from simcon.network.netns import is_pinned, remove_pinned

    problems: list[str] = []
    netns = section.get("netns") or ""
    attachment = Attachment.from_json(section["attachment"])
    gone = not is_pinned(netns)
    if gone:
        attachment.netns = ""  # gone (a crash, a reboot): DEL still releases addresses and rules
    if section.get("config"):
        client = Client(section.get("pluginDirs") or ())
        try:
            netlist = NetworkList(section["config"])
            problems += [str(e) for e in client.delete(netlist, attachment, section.get("result"))]
        except NetworkError as exc:
            problems.append(str(exc))
        if gone and section.get("result"):
            from simcon.network.leftovers import remove_tagged_nat_rules

            problems += remove_tagged_nat_rules(attachment.container_id)
    try:
        remove_pinned(netns)
    except OSError as exc:
        problems.append(f"remove the network namespace {netns}: {exc.strerror}")
    if problems and raise_errors:
        raise NetworkError("; ".join(problems), network=section.get("network", ""))
    return problems


def check(section: dict | None, container_id: str) -> None:
    """CHECK with the config, attachment and result recorded at create: each plugin verifies that what it set up
    is still there (CNI spec). NetworkError names the network and the plugin that found a problem."""
    if not section or not section.get("config"):
        raise NetworkError("not attached to a CNI network (created with --network none, host or ns:PATH)",
                           container_id=container_id)
    from simcon.network.cni import Attachment, Client, NetworkList
    from simcon.network.netns import is_pinned

    attachment = Attachment.from_json(section["attachment"])
    if not is_pinned(attachment.netns):
        raise NetworkError(f"its network namespace {attachment.netns} is gone (the container stopped?)",
                           network=section.get("network", ""), container_id=container_id)
    netlist = NetworkList(section["config"])
    try:
        Client(section.get("pluginDirs") or ()).check(netlist, attachment, section.get("result") or {})
    except NetworkError as exc:
        exc.container_id = container_id  # the plugin's words, and whose attachment it was
        raise
