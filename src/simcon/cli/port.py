"""`simcon port ID`: the ports a container publishes on the host."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

HELP = "list the ports a container publishes (CONTAINER_PORT/PROTO -> HOST_IP:HOST_PORT)"
EXAMPLES = ("simcon run -d --network bridge -p 8080:80 --bundle . web && simcon port web",)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("container_id", metavar="ID")


def run(args: Namespace, store) -> int:  # noqa: ANN001
    from simcon.runtime.network import container_ports

    for entry in container_ports(store, args.container_id):
        host = entry.get("hostIP") or "0.0.0.0"
        if ":" in host:
            host = f"[{host}]"
        print(f"{entry['containerPort']}/{entry.get('protocol', 'tcp')} -> {host}:{entry['hostPort']}")
    return 0
