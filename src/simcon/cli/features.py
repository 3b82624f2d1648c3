"""`simcon features`: what this runtime supports, as the OCI features JSON."""

from __future__ import annotations


from simcon.cli.args import ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "print the features this runtime supports (OCI features JSON)"
EXAMPLES = (
    'simcon features | jq .linux.cgroup',
)


def configure(parser: ArgumentParser) -> None:
    pass


def run(args: Namespace, store: StateStore) -> int:  # noqa: ARG001
    import json

    from simcon.runtime.mountopts import idmap_supported
    from simcon.spec.features import features_document

    print(json.dumps(features_document(idmap=idmap_supported()), indent=2))
    return 0
