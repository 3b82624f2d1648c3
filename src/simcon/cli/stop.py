"""`simcon stop`: SIGTERM the container, then SIGKILL everything in it if it has not exited after --time."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "stop a container: SIGTERM, then SIGKILL after --time seconds"
EXAMPLES = (
    'simcon stop web',
    'simcon stop --time 5 web',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-t", "--time", type=int, default=10, metavar="N",
                        help="seconds to wait after SIGTERM before SIGKILL (default 10)")
    parser.add_argument("-s", "--signal", default="SIGTERM", metavar="SIGNAL",
                        help="the first signal (default SIGTERM)")
    parser.add_argument("container_id", metavar="ID")


def run(args: Namespace, store: StateStore) -> int:
    from simcon.api import Runtime
    from simcon.errors import UsageError

    if args.time < 0:
        raise UsageError(f"--time must not be negative (got {args.time})")
    Runtime(store=store).stop(args.container_id, args.time, args.signal)
    return 0
