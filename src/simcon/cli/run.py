"""`simcon run`: create and start a container; in the foreground, exit with its status."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace
from simcon.cli.create import add_create_arguments, log_settings, options_from

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "create and start a container, and wait for it unless --detach"
EXAMPLES = (
    'simcon run --bundle ./mybundle web',
    'simcon run -d --bundle . web && simcon exec web ps',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-d", "--detach", action="store_true", help="return once the container has started")
    parser.add_argument("--keep", action="store_true", help="do not delete the container after it exits")
    add_create_arguments(parser)


def run(args: Namespace, store: StateStore) -> int:
    from simcon.runtime.run import run_container

    options = options_from(args)
    logs = log_settings(args, store, detached=args.detach)
    return run_container(store, args.container_id, options, detach=args.detach, keep=args.keep, logs=logs)
