"""`simcon delete`: remove a stopped (or created) container and everything it holds."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "delete a container: its processes (with --force), cgroups and state"
EXAMPLES = (
    'simcon delete web',
    'simcon delete --force web',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-f", "--force", action="store_true", help="kill the container first if it is running")
    parser.add_argument("--keep-logs", action="store_true",
                        help="keep the container's log files (`simcon logs ID` still reads the default ones)")
    parser.add_argument("container_id", metavar="ID")


def run(args: Namespace, store: StateStore) -> int:
    from simcon.errors import ContainerNotFoundError
    from simcon.api import Runtime

    try:
        Runtime(store=store).delete(args.container_id, force=args.force, keep_logs=args.keep_logs)
    except ContainerNotFoundError:
        # `delete --force` of a missing container succeeds quietly, as in runc (engines clean up blindly).
        if not args.force:
            raise
    return 0
