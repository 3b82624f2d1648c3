"""`simcon state`: print a container's state as JSON (runtime-spec `state`)."""

from __future__ import annotations

import argparse
import json

HELP = "print the state of a container as JSON"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("container_id", metavar="ID")


def run(args: argparse.Namespace, store) -> int:  # noqa: ANN001
    from simcon.runtime.operations import container_status

    state, status = container_status(store, args.container_id)
    print(json.dumps(state.oci_view(status), indent=2))
    return 0
