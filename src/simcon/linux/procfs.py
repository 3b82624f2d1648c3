"""Reading a process's identity from /proc without ctypes (used by the fast read-only commands)."""

from __future__ import annotations


def read_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, start time in clock ticks since boot) of ``pid``, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    rest = data[data.rindex(b")") + 2 :].split()
    return rest[0].decode(), int(rest[19])


def start_time(pid: int) -> int | None:
    stat = read_stat(pid)
    return None if stat is None else stat[1]


def is_alive(pid: int, expected_start_time: int | None) -> bool:
    """True when ``pid`` exists, is not a zombie, and (if given) started at ``expected_start_time``.

    Comparing the start time is what keeps a recycled pid from being mistaken for the container's init.
    """
    if pid <= 0:
        return False
    stat = read_stat(pid)
    if stat is None:
        return False
    state, started = stat
    if state in ("Z", "X"):
        return False
    return expected_start_time is None or started == expected_start_time
