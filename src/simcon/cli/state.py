"""`simcon state`: print a container's state as JSON (runtime-spec `state`)."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "print the state of a container as JSON"
EXAMPLES = (
    'simcon state web',
    'simcon state web | jq -r .status',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("container_id", metavar="ID")


def run(args: Namespace, store: StateStore) -> int:
    from simcon import fastjson
    from simcon.api import Runtime

    print(fastjson.dumps(Runtime(store=store).state(args.container_id).to_json(), indent=2))
    return 0
