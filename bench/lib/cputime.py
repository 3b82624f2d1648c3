#!/usr/bin/env python3
"""CPU time of N create + start + delete cycles under one runtime, everything the runtime runs included.

    cputime.py RUNTIME ROOT BUNDLE N       prints: user seconds<TAB>system seconds<TAB>wall seconds

This process becomes a child subreaper, so the processes a runtime leaves behind (runc's and SimCon's container
inits, a monitor) are reparented to it and reaped here; getrusage(RUSAGE_CHILDREN) then counts the CPU of every
process each runtime started, not just of the CLI calls. The payload is /bin/true, so what is counted is the
runtime's work. Stdlib only.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str]) -> int:
    if len(argv) != 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    runtime, root, bundle, cycles = argv[0], argv[1], argv[2], int(argv[3])
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    base = f"cpu{os.getpid()}"
    start = time.monotonic()
    for i in range(cycles):
        cid = f"{base}-{i}"
        for verb in (["create", "--bundle", bundle, cid], ["start", cid], ["delete", "--force", cid]):
            subprocess.run([runtime, "--root", root, *verb], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           check=True)
        reap()
    # The last inits may still be exiting: wait for every descendant before reading the usage.
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break
    wall = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{usage.ru_utime:.3f}\t{usage.ru_stime:.3f}\t{wall:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
