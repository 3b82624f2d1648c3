"""`simcon gc`: remove every stopped container under --root (state, cgroups, and what `delete` removes).

After a crash or a reboot with a persistent --root, the stopped containers' records stay behind; `list` shows
them as `stopped`. `gc` deletes them as `delete` would, one by one, and reports what it did; a running or
created container is never touched. State that cannot be read is reported, and removed only with --force.
"""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "remove stopped containers' state, cgroups and leftovers (--dry-run: only list them)"
EXAMPLES = (
    "simcon gc --dry-run",
    "simcon --root /var/lib/simcon gc",
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-n", "--dry-run", action="store_true", help="list what would be removed; remove nothing")
    parser.add_argument("-f", "--force", action="store_true",
                        help="also remove containers whose state cannot be read (as delete --force)")


def run(args: Namespace, store: StateStore) -> int:
    from simcon import log
    from simcon.api import Runtime
    from simcon.errors import SimconError

    runtime = Runtime(store=store)
    listed = {c.id for c in runtime.list()}
    unreadable = [cid for cid in store.ids() if cid not in listed]
    failures = 0
    for container_id in runtime.gc(dry_run=True):
        if args.dry_run:
            print(f"would remove {container_id}")
            continue
        try:
            runtime.delete(container_id)
        except SimconError as exc:
            failures += 1
            log.error(f"gc `{container_id}`: {exc}")
            continue
        print(f"removed {container_id}")
    for container_id in unreadable:
        if args.dry_run or not args.force:
            print(f"{'would remove' if args.force else 'skipped'} {container_id}: its state cannot be read"
                  f"{'' if args.force else ' (use --force)'}")
            continue
        try:
            runtime.delete(container_id, force=True)
        except SimconError as exc:
            failures += 1
            log.error(f"gc `{container_id}`: {exc}")
            continue
        print(f"removed {container_id}")
    return 1 if failures else 0
