"""`simcon spec`: write a default config.json into the bundle directory."""

from __future__ import annotations

import os

from simcon.cli.args import ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "write a default config.json (like runc spec)"
EXAMPLES = (
    'simcon spec',
    'simcon spec --rootless --bundle ./mybundle',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-b", "--bundle", default=".", help="bundle directory to write config.json into")
    parser.add_argument("--rootless", action="store_true", help="a config for a rootless container")
    parser.add_argument("--seccomp", default=None, metavar="PROFILE",
                        help="seccomp profile file (OCI or Docker JSON) instead of SimCon's default; "
                             "'unconfined' for none")


def run(args: Namespace, store: StateStore) -> int:  # noqa: ARG001
    import json

    from simcon.errors import SimconError
    from simcon.runtime.state import write_atomically
    from simcon.spec.default import default_spec

    path = os.path.join(args.bundle, "config.json")
    if os.path.lexists(path):
        raise SimconError(f"{path} exists already; remove it first")
    if not os.path.isdir(args.bundle):
        raise SimconError(f"bundle directory {args.bundle} does not exist")
    data = json.dumps(default_spec(rootless=args.rootless, seccomp=args.seccomp), indent="\t") + "\n"
    write_atomically(path, data.encode(), 0o644, durable=True)
    return 0
