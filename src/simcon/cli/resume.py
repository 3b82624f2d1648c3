"""`simcon resume`: thaw a paused container."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

HELP = "resume all processes of a paused container"
EXAMPLES = (
    'simcon resume web',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("container_id", metavar="ID")


def run(args: Namespace, store) -> int:  # noqa: ANN001
    from simcon.api import Runtime

    Runtime(store=store).resume(args.container_id)
    return 0
