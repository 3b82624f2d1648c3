"""`simcon logs`: print a container's captured output (file drivers), and follow it."""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

HELP = "print the logs of a container (k8s-file and json-file drivers)"
EXAMPLES = (
    'simcon logs web',
    'simcon logs --follow --tail 10 web',
    'simcon logs --since 10m --timestamps --stream stderr web',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-f", "--follow", action="store_true",
                        help="keep printing new output (across rotations) until the container has exited")
    parser.add_argument("-n", "--tail", type=int, default=None, metavar="N", help="only the last N lines")
    parser.add_argument("--since", default=None, metavar="TIME",
                        help="lines from TIME on: RFC 3339 (2026-12-02T10:00:00Z) or a duration back (10m, 1h30m)")
    parser.add_argument("--until", default=None, metavar="TIME", help="lines up to TIME (as --since)")
    parser.add_argument("-t", "--timestamps", action="store_true", help="put each line's time before it")
    parser.add_argument("--stream", default="all", choices=("all", "stdout", "stderr"),
                        help="only this stream (default: both; stdout lines go to stdout, stderr lines to stderr)")
    parser.add_argument("container_id", metavar="ID")


def run(args: Namespace, store) -> int:  # noqa: ANN001
    import sys
    import time

    from simcon import log
    from simcon.errors import UsageError
    from simcon.runtime.logs import LogQuery, logs_of, parse_time, read_logs

    if args.tail is not None and args.tail < 0:
        raise UsageError(f"--tail must not be negative (got {args.tail})")
    now = time.time_ns()
    try:
        since = parse_time(args.since, now) if args.since else None
        until = parse_time(args.until, now) if args.until else None
    except ValueError as exc:
        raise UsageError(f"--since/--until {exc}") from None
    streams = ("stdout", "stderr") if args.stream == "all" else (args.stream,)
    query = LogQuery(tail=args.tail, since=since, until=until, timestamps=args.timestamps, streams=streams)
    settings, more_may_come = logs_of(store, args.container_id)
    outputs = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}

    def out(stream: str, data: bytes) -> None:
        outputs.get(stream, sys.stdout.buffer).write(data)

    def flush() -> None:
        sys.stdout.buffer.flush()
        sys.stderr.buffer.flush()

    try:
        read_logs(settings, query, out, follow_while=more_may_come if args.follow else None,
                  warn=lambda message: log.warning(f"logs `{args.container_id}`: {message}"), flush=flush)
        flush()
    except BrokenPipeError:
        # `simcon logs ID | head`: the reader has what it wanted; exit quietly, as cat does.
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return 0
