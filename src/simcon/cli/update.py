"""`simcon update`: change the cgroup resources of a running container, as runc's `update`.

Engines call ``update --resources=- ID`` with a JSON LinuxResources object on stdin (containerd, podman); people
use the flags. The two are not mixed: runc silently drops the flags when --resources is given, SimCon says so.
"""

from __future__ import annotations

from simcon.cli.args import ArgumentParser, Namespace

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from simcon.runtime.state import StateStore

HELP = "update the resource limits of a container (--resources FILE|- or flags)"
EXAMPLES = (
    'simcon update --memory 256M web',
    'simcon update --resources limits.json web',
)

# flag dest -> (resource section, field) in the LinuxResources JSON
_FLAGS = (
    ("blkio_weight", "--blkio-weight", "blockIO", "weight", int, "block IO weight, 10-1000"),
    ("cpu_period", "--cpu-period", "cpu", "period", int, "CPU CFS period in microseconds"),
    ("cpu_quota", "--cpu-quota", "cpu", "quota", int, "CPU CFS quota in microseconds per period (-1: none)"),
    ("cpu_share", "--cpu-share", "cpu", "shares", int, "CPU shares (relative weight)"),
    ("cpu_burst", "--cpu-burst", "cpu", "burst", int, "CPU CFS burst in microseconds"),
    ("cpu_idle", "--cpu-idle", "cpu", "idle", int, "1: SCHED_IDLE for the cgroup"),
    ("cpu_rt_period", "--cpu-rt-period", "cpu", "realtimePeriod", int, "realtime period in microseconds"),
    ("cpu_rt_runtime", "--cpu-rt-runtime", "cpu", "realtimeRuntime", int, "realtime runtime in microseconds"),
    ("cpuset_cpus", "--cpuset-cpus", "cpu", "cpus", str, "CPUs to use (0-3, 0,1)"),
    ("cpuset_mems", "--cpuset-mems", "cpu", "mems", str, "memory nodes to use (0-3, 0,1)"),
    ("memory", "--memory", "memory", "limit", "size", "memory limit (bytes, or 512m, 1g; -1: none)"),
    ("memory_reservation", "--memory-reservation", "memory", "reservation", "size", "memory soft limit"),
    ("memory_swap", "--memory-swap", "memory", "swap", "size", "memory plus swap limit (-1: none)"),
    ("kernel_memory", "--kernel-memory", "memory", "kernel", "size", "kernel memory limit (ignored by Linux)"),
    ("kernel_memory_tcp", "--kernel-memory-tcp", "memory", "kernelTCP", "size", "kernel TCP buffer limit"),
    ("pids_limit", "--pids-limit", "pids", "limit", int, "maximum number of processes (0 or -1: none)"),
)

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(text: str) -> int:
    """``512m``, ``1G``, ``1gb``, ``1024``, ``-1`` -> bytes (binary units, as runc's RAMInBytes)."""
    value = text.strip().lower()
    if value == "-1":
        return -1
    for suffix in ("ib", "b"):
        if value.endswith(suffix) and value[:-len(suffix)][-1:].isalpha():
            value = value[:-len(suffix)]
            break
    if value.endswith("b"):
        value = value[:-1]
    unit = value[-1:] if value[-1:].isalpha() else ""
    number = value[:-1] if unit else value
    if unit not in _UNITS or not number:
        raise ValueError(f"invalid size {text!r} (use bytes or a number with k, m, g, t)")
    try:
        amount = float(number)
    except ValueError:
        raise ValueError(f"invalid size {text!r} (use bytes or a number with k, m, g, t)") from None
    if amount < 0:
        raise ValueError(f"invalid size {text!r}: must not be negative (only -1 means no limit)")
    return int(amount * _UNITS[unit])


def configure(parser: ArgumentParser) -> None:
    parser.add_argument("-r", "--resources", default=None, metavar="FILE",
                        help="JSON LinuxResources to apply, from FILE or - for stdin")
    for dest, flag, _section, _field, _kind, text in _FLAGS:
        names = (flag, "--cpu-shares") if flag == "--cpu-share" else (flag,)
        parser.add_argument(*names, dest=dest, default=None, metavar="VALUE", help=text)
    parser.add_argument("container_id", metavar="ID")


def resources_from_flags(args: Namespace) -> dict:
    from simcon.errors import UsageError

    doc: dict = {}
    for dest, flag, section, field, kind, _text in _FLAGS:
        raw = getattr(args, dest, None)
        if raw is None:
            continue
        try:
            value = parse_size(raw) if kind == "size" else kind(raw)
        except ValueError as exc:
            message = str(exc) if kind == "size" else f"invalid value {raw!r}"
            raise UsageError(f"{flag}: {message}") from None
        doc.setdefault(section, {})[field] = value
    return doc


def run(args: Namespace, store: StateStore) -> int:
    import json
    import sys

    from simcon.errors import UsageError
    from simcon.runtime.cgroup_ops import update_container
    from simcon.runtime.plan.cgroup import update_resources

    flags = resources_from_flags(args)
    if args.resources is not None:
        if flags:
            raise UsageError("--resources and the resource flags cannot be combined")
        if args.resources == "-":
            data, source = sys.stdin.buffer.read(), "<stdin>"
        else:
            source = args.resources
            try:
                with open(source, "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise UsageError(f"--resources {source}: {(exc.strerror or str(exc)).lower()}") from exc
    else:
        if not flags:
            raise UsageError("nothing to update: give --resources FILE|- or a resource flag")
        data, source = json.dumps(flags).encode(), "the command line"
    update_container(store, args.container_id, update_resources(data, source))
    return 0
