#!/usr/bin/env python3
"""Run a container from Python with SimCon's library: the same calls `simcon create/start/exec/delete` make.

    sudo .venv/bin/python docs/examples/run_container.py BUNDLE

BUNDLE is a directory with rootfs/ and a config.json whose process runs for a while (`simcon spec`, then set
process.terminal to false and process.args to ["sleep", "300"]; docs/tutorial.md shows how).
"""

from __future__ import annotations

import sys
import tempfile

import simcon
from simcon.errors import SimconError


def main(bundle: str) -> int:
    with tempfile.TemporaryDirectory(prefix="simcon-example-") as root:
        runtime = simcon.Runtime(root=root)
        try:
            container = runtime.create("example", bundle=bundle)
            print(f"created {container.id}: pid {container.pid}, {container.status}")
            runtime.start("example")
            status = runtime.exec("example", ["sh", "-c", "echo hello from inside; exit 5"])
            print(f"exec exited with {status}; the container is {runtime.state('example').status}")
        except SimconError as exc:
            print(f"simcon: {exc}", file=sys.stderr)  # the same one line the CLI prints
            return 1
        finally:
            try:
                runtime.delete("example", force=True)
            except SimconError:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
