"""`simcon ps`: the processes of a container, from its cgroup (json: the pids; table: the host's `ps -ef`
lines of those pids, as runc prints them)."""

from __future__ import annotations

from simcon.cli.args import REMAINDER, ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "list the processes running in a container"
EXAMPLES = (
    'simcon ps web',
    'simcon ps --format json web',
)


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-f", "--format", default="table", choices=("table", "json"),
                        help="table (the host's ps output) or json (a list of pids)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the pids, one per line")
    parser.add_argument("container_id", metavar="ID")
    parser.add_argument("ps_args", nargs=REMAINDER, metavar="PS_ARGS", help="options for ps (default -ef)")


def run(args: Namespace, store: StateStore) -> int:
    from simcon.errors import UsageError
    from simcon.runtime.cgroup_ops import container_pids

    ps_args = [a for a in (args.ps_args or []) if a != "--"] if args.ps_args else []
    if args.quiet:
        if ps_args:
            raise UsageError("ps options cannot be used with --quiet")
        for pid in container_pids(store, args.container_id):
            print(pid)
        return 0
    if args.format == "json":
        if ps_args:
            raise UsageError("ps options cannot be used with --format json")
        import json

        print(json.dumps(container_pids(store, args.container_id)))
        return 0
    table = ps_table(container_pids(store, args.container_id), ps_args)
    if table:
        print(table)
    return 0


def ps_table(pids: list[int], ps_args: list[str]) -> str:
    """Run the host's ``ps`` (``-ef`` unless told otherwise) and keep the header and the container's lines."""
    import os
    import subprocess

    from simcon.errors import SimconError, UsageError

    argv = ["ps", *(ps_args or ["-ef"])]
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise SimconError(f"run `{' '.join(argv)}`: {os.strerror(exc.errno or 0).lower()}") from exc
    if proc.returncode != 0:
        raise SimconError(f"`{' '.join(argv)}` failed: {proc.stderr.strip() or f'exit {proc.returncode}'}")
    lines = proc.stdout.splitlines()
    if not lines:
        return ""
    header = lines[0].split()
    if "PID" not in header:
        raise UsageError(f"`{' '.join(argv)}` prints no PID column")
    column = header.index("PID")
    wanted = set(pids)
    out = [lines[0]]
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in wanted:
            out.append(line)
    return "\n".join(out)
