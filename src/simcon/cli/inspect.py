"""`simcon inspect`: `state` with SimCon's own details (cgroup, hooks, the process it was created with, ...)."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "print a container's state with SimCon's details (cgroup, recorded process, exit status) as JSON"
EXAMPLES = (
    "simcon inspect web",
    "simcon inspect web | jq .details.cgroup",
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("container_id", metavar="ID")


def run(args: Namespace, store: StateStore) -> int:
    from simcon import fastjson
    from simcon.runtime.operations import container_status

    state, status = container_status(store, args.container_id)
    view = state.oci_view(status)
    view["details"] = {k: v for k, v in state.to_json().items()
                       if k not in ("oci_version", "id", "pid", "status", "bundle", "rootfs", "created", "owner",
                                    "annotations")}
    view["stateDir"] = store.container_dir(state.id)
    print(fastjson.dumps(view, indent=2))
    return 0
