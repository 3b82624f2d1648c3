"""`simcon pause`: freeze every process of a running container."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "suspend all processes of a container (cgroup freezer)"
EXAMPLES = (
    'simcon pause web',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("container_id", metavar="ID")


def run(args: Namespace, store: StateStore) -> int:
    from simcon.api import Runtime

    Runtime(store=store).pause(args.container_id)
    return 0
