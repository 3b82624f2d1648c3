"""`simcon features`: what this runtime supports, as the OCI features JSON."""

from __future__ import annotations

import argparse
import json

HELP = "print the features this runtime supports (OCI features JSON)"


def configure(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace, store) -> int:  # noqa: ANN001, ARG001
    from simcon.spec.features import features_document

    print(json.dumps(features_document(), indent=2))
    return 0
