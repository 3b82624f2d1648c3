"""`simcon events`: resource usage statistics and OOM notifications as runc-compatible JSON lines."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "print container events: resource stats every interval, and OOM kills"
EXAMPLES = (
    'simcon events --stats web',
    'simcon events --interval 2s web',
)


def parse_duration(text: str) -> float:
    """Go-style durations as runc takes them: ``5s``, ``500ms``, ``1m``, ``1m30s``; a bare number is seconds."""
    units = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
    value = text.strip()
    try:
        return float(value)
    except ValueError:
        pass
    total, number, i = 0.0, "", 0
    if not value:
        raise ValueError("empty duration")
    while i < len(value):
        c = value[i]
        if c.isdigit() or c == ".":
            number += c
            i += 1
            continue
        unit = next((u for u in ("ns", "us", "µs", "ms", "h", "m", "s") if value.startswith(u, i)), None)
        if unit is None or not number:
            raise ValueError(f"invalid duration {text!r} (use 5s, 500ms, 1m)")
        total += float(number) * units[unit]
        number = ""
        i += len(unit)
    if number:
        raise ValueError(f"invalid duration {text!r}: missing unit (use 5s, 500ms, 1m)")
    return total


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("--interval", default="5s", metavar="DURATION", help="time between stats (default 5s)")
    parser.add_argument("--stats", action="store_true", help="print the stats once and exit")
    parser.add_argument("container_id", metavar="ID")


def run(args: Namespace, store: StateStore) -> int:
    from simcon.errors import UsageError
    from simcon.runtime.cgroup_ops import watch_events

    try:
        interval = parse_duration(args.interval)
    except ValueError as exc:
        raise UsageError(f"--interval: {exc}") from None
    watch_events(store, args.container_id, interval=interval, stats_only=args.stats, emit=print_event)
    return 0


def print_event(event: dict) -> None:
    """One event, one compact JSON line, flushed at once (a consumer reads them as they come)."""
    import json

    print(json.dumps(event, separators=(",", ":")), flush=True)
