"""`simcon list`: the containers under --root."""

from __future__ import annotations

import os

from simcon.cli.args import ArgumentParser, Namespace

HELP = "list containers"
EXAMPLES = (
    'simcon list',
    'simcon list --format json',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-f", "--format", default="table", choices=("table", "json"), help="output format")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the container ids")


def _owner(path: str) -> str:
    import pwd

    try:
        uid = os.stat(path).st_uid
        return pwd.getpwuid(uid).pw_name
    except (OSError, KeyError):
        return "#?"


def run(args: Namespace, store) -> int:  # noqa: ANN001
    from simcon import fastjson
    from simcon.runtime.operations import list_containers

    entries = list_containers(store)
    if args.quiet:
        for state, _status in entries:
            print(state.id)
        return 0
    rows = []
    for state, status in entries:
        view = state.oci_view(status)
        view["owner"] = _owner(store.container_dir(state.id))
        rows.append(view)
    if args.format == "json":
        print(fastjson.dumps(rows))
        return 0
    table = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    table += [(r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], r["owner"]) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("   ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return 0
