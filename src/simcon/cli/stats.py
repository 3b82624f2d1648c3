"""`simcon stats`: live CPU %, memory, pids and block I/O of running containers, as `docker stats` shows them."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

HELP = "show the live resource usage of running containers (CPU %, memory, pids, block I/O)"
EXAMPLES = (
    'simcon stats web',
    'simcon stats --watch --interval 2s web db',
    'simcon stats --format json web',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("--watch", action="store_true", help="print again every interval until interrupted "
                                                             "or every container has stopped")
    parser.add_argument("--interval", default="1s", metavar="DURATION",
                        help="time between the two samples CPU %% is measured over, and between refreshes "
                             "(default 1s)")
    parser.add_argument("-f", "--format", default="table", choices=("table", "json"),
                        help="table, or json (one array of objects per refresh, one line each)")
    parser.add_argument("container_ids", nargs="*", metavar="ID",
                        help="containers to show (default: every running one under --root)")


def run(args: Namespace, store) -> int:  # noqa: ANN001
    import time

    from simcon.cli.events import parse_duration
    from simcon.errors import ContainerNotRunningError, UsageError
    from simcon.runtime.usage import running_ids, sample

    try:
        interval = parse_duration(args.interval)
    except ValueError as exc:
        raise UsageError(f"--interval: {exc}") from None
    if interval <= 0:
        raise UsageError(f"--interval must be positive (got {args.interval})")
    ids = list(args.container_ids) or running_ids(store)
    # One sample now, one an interval later: CPU % is the CPU time used in between.
    before = {cid: sample(store, cid) for cid in ids}
    while True:
        time.sleep(interval)
        after = {}
        for cid in before:
            try:
                after[cid] = sample(store, cid)
            except ContainerNotRunningError:
                if not args.watch:
                    raise
        if args.format == "json":
            import json

            print(json.dumps([now.to_json(before[cid]) for cid, now in after.items()], separators=(",", ":")),
                  flush=True)
        else:
            print(table([(now, before[cid]) for cid, now in after.items()]), flush=True)
        if not args.watch or not after:
            return 0
        before = after


def table(rows: list) -> str:
    """docker stats' columns: binary units for memory, decimal for block I/O."""
    lines = [("CONTAINER ID", "CPU %", "MEM USAGE / LIMIT", "MEM %", "BLOCK I/O", "PIDS")]
    for now, before in rows:
        lines.append((now.id, f"{now.cpu_percent(before):.2f}%",
                      f"{size(now.memory, 1024)} / {size(now.memory_limit, 1024)}", f"{now.memory_percent():.2f}%",
                      f"{size(now.read_bytes, 1000)} / {size(now.write_bytes, 1000)}", str(now.pids)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip() for line in lines)


def size(value: int, base: int) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB") if base == 1024 else ("B", "kB", "MB", "GB", "TB")
    number = float(value)
    for unit in units:
        if number < base or unit == units[-1]:
            return f"{number:.0f}{unit}" if unit == "B" else f"{number:.2f}{unit}"
        number /= base
    return f"{value}B"
