#!/usr/bin/env python3
"""Bundles that share one rootfs and differ only in their cgroup, for containers that live side by side.

    clone_bundles.py TEMPLATE DESTDIR CGROUP_PARENT NAME...

Writes DESTDIR/NAME/config.json: TEMPLATE's config with root.path pointing at TEMPLATE's rootfs (absolute) and
linux.cgroupsPath CGROUP_PARENT/NAME, so that no two live containers share a cgroup (runc refuses a cgroup with
processes in it on some setups, and their stats would mix) and no rootfs is copied. Stdlib only.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    if len(argv) < 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    template, dest, parent, *names = argv
    with open(os.path.join(template, "config.json")) as f:
        config = json.load(f)
    config["root"]["path"] = os.path.abspath(os.path.join(template, config["root"]["path"]))
    for name in names:
        config["linux"]["cgroupsPath"] = f"{parent}/{name}"
        os.makedirs(os.path.join(dest, name), exist_ok=True)
        with open(os.path.join(dest, name, "config.json"), "w") as f:
            json.dump(config, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
