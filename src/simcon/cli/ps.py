"""`simcon ps`: the processes of a container, from its cgroup (json: the pids; table: the host's `ps -ef`
lines of those pids, as runc prints them)."""

from __future__ import annotations

from simcon.cli.args import REMAINDER, ArgumentParser, Namespace

HELP = "list the processes running in a container"


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-f", "--format", default="table", choices=("table", "json"),
                        help="table (the host's ps output) or json (a list of pids)")
    parser.add_argument("container_id", metavar="ID")
    parser.add_argument("ps_args", nargs=REMAINDER, metavar="PS_ARGS", help="options for ps (default -ef)")


def run(args: Namespace, store) -> int:  # noqa: ANN001
    from simcon.errors import UsageError
    from simcon.runtime.cgroup_ops import container_pids, ps_table

    ps_args = [a for a in (args.ps_args or []) if a != "--"] if args.ps_args else []
    if args.format == "json":
        if ps_args:
            raise UsageError("ps options cannot be used with --format json")
        import json

        print(json.dumps(container_pids(store, args.container_id)))
        return 0
    table = ps_table(container_pids(store, args.container_id), ps_args)
    if table:
        print(table)
    return 0
