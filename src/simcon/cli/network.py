"""`simcon network ls|inspect|create|rm`: the CNI networks containers can join (docs/networking.md)."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

HELP = "list, inspect, create or remove CNI networks, or check a container's attachment"
ACTIONS = ("ls", "inspect", "create", "rm", "check")
EXAMPLES = (
    "simcon network ls",
    "simcon network create backend --subnet 10.90.0.0/24",
    "simcon network inspect simcon",
    "simcon network rm backend",
    "simcon network check web",
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("action", metavar="ACTION", choices=ACTIONS,
                        help="ls, inspect NAME..., create NAME, rm NAME..., check CONTAINER...")
    parser.add_argument("names", metavar="NAME", nargs="*")
    parser.add_argument("-q", "--quiet", action="store_true", help="ls: print only the names")
    parser.add_argument("--subnet", default="", metavar="CIDR",
                        help="create: the network's subnet (default: a free 10.X.0.0/16)")
    parser.add_argument("--gateway", default="", metavar="IP", help="create: the gateway (default: the first address)")
    parser.add_argument("--bridge", default="", metavar="NAME", help="create: the bridge device (default: simconN)")
    parser.add_argument("--internal", action="store_true", help="create: no gateway, no route out, no masquerade")
    parser.add_argument("--no-masquerade", action="store_true", help="create: no source NAT for outgoing traffic")


def run(args: Namespace, store) -> int:  # noqa: ANN001
    from simcon import fastjson
    from simcon.errors import UsageError
    from simcon.cli.create import NETWORK_SETTINGS
    from simcon.runtime import network

    settings = {key: args.settings.get(key) for key in NETWORK_SETTINGS}

    if args.action == "ls":
        if args.names:
            raise UsageError("network ls takes no names")
        rows = network.list_networks(settings)
        if args.quiet:
            for row in rows:
                print(row["name"])
            return 0
        print(f"{'NAME':<20} {'DRIVER':<10} {'BRIDGE':<16} SUBNETS")
        for row in rows:
            print(f"{row['name']:<20} {row['driver']:<10} {row['bridge']:<16} {','.join(row['subnets'])}")
        return 0
    if args.action == "check":
        if not args.names:
            raise UsageError("network check: a CONTAINER id is required")
        for container_id in args.names:
            network.check_network(store, container_id)  # NetworkError: one line naming the plugin, exit 1
            print(f"{container_id}: ok")
        return 0
    if not args.names:
        raise UsageError(f"network {args.action}: a network NAME is required")
    if args.action == "inspect":
        print(fastjson.dumps([network.inspect_network(settings, n) for n in args.names], indent=2))
    elif args.action == "create":
        if len(args.names) != 1:
            raise UsageError("network create: exactly one NAME")
        network.create_network(settings, args.names[0], subnet=args.subnet, gateway=args.gateway, bridge=args.bridge,
                               internal=args.internal, masquerade=not args.no_masquerade)
        print(args.names[0])
    else:
        for name in args.names:
            network.remove_network(settings, store, name)
            print(name)
    return 0
