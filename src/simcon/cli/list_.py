"""`simcon list`: the containers under --root."""

from __future__ import annotations

import os

from simcon.cli.args import ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import ContainerState
    from simcon.runtime.state import StateStore

HELP = "list containers"
EXAMPLES = (
    'simcon list',
    'simcon list --format json',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-f", "--format", default="table", choices=("table", "json"), help="output format")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the container ids")
    parser.add_argument("--filter", action="append", default=None, metavar="KEY=VALUE",
                        help="only containers that match: status=S, id=ID or name=ID (a prefix* pattern), "
                             "label=K[=V] or annotation=K[=V]; repeatable (same key: any, different keys: all)")


def _owner(path: str) -> str:
    import pwd

    try:
        uid = os.stat(path).st_uid
        return pwd.getpwuid(uid).pw_name
    except (OSError, KeyError):
        return "#?"


_FILTER_KEYS = ("status", "id", "name", "label", "annotation")


def parse_filters(items: list[str]) -> dict[str, list[str]]:
    from simcon.errors import UsageError

    wanted: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in _FILTER_KEYS:
            raise UsageError(f"--filter {item!r}: expected KEY=VALUE with KEY one of {', '.join(_FILTER_KEYS)}")
        wanted.setdefault("id" if key == "name" else "annotation" if key == "label" else key, []).append(value)
    return wanted


def matches(wanted: dict[str, list[str]], state: ContainerState, status: str) -> bool:
    """docker's rule: values of one key are alternatives, different keys must all match."""
    for key, values in wanted.items():
        if key == "status" and status not in values:
            return False
        if key == "id" and not any(_id_matches(state.id, v) for v in values):
            return False
        if key == "annotation" and not any(_annotation_matches(state.annotations or {}, v) for v in values):
            return False
    return True


def _id_matches(container_id: str, pattern: str) -> bool:
    return container_id.startswith(pattern[:-1]) if pattern.endswith("*") else container_id == pattern


def _annotation_matches(annotations: dict[str, str], wanted: str) -> bool:
    key, sep, value = wanted.partition("=")
    return key in annotations and (not sep or annotations[key] == value)


def run(args: Namespace, store: StateStore) -> int:
    from simcon import fastjson, log
    from simcon.runtime.operations import list_containers

    broken: list = []
    entries = list_containers(store, broken)
    for error in broken:  # on stderr, so the listing on stdout stays what engines parse
        log.notice(f"list: `{error.container_id}` not listed: {error}")
    if args.filter:
        wanted = parse_filters(args.filter)
        entries = [(state, status) for state, status in entries if matches(wanted, state, status)]
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
