"""`simcon kill`: send a signal to a container's init (or, with --all, to all its processes)."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "send a signal (default SIGTERM) to the container's init process"
EXAMPLES = (
    'simcon kill web',
    'simcon kill --all web KILL',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-a", "--all", action="store_true", help="signal every process in the container")
    parser.add_argument("container_id", metavar="ID")
    parser.add_argument("signal", nargs="?", default="SIGTERM", metavar="SIGNAL",
                        help="name (KILL, SIGKILL) or number (default SIGTERM)")


def run(args: Namespace, store: StateStore) -> int:
    from simcon.api import Runtime

    Runtime(store=store).kill(args.container_id, args.signal, all=args.all)
    return 0
