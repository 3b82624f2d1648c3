#!/usr/bin/env python3
"""Build an OCI bundle whose rootfs is the distribution's static busybox.

Used by `make demo`, the integration tests and the benchmarks, so that all of them run the same payload.
The config is written here (not by `simcon spec`) so the same bundle can be handed to runc or crun as well.

    tools/mkbundle.py DEST [--cgroups-path /simcon-test/ID] [-- ARGS...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
ROOTFS_DIRS = ("bin", "dev", "etc", "proc", "sys", "tmp", "root", "run", "var/tmp", "home")


def find_busybox() -> str:
    for candidate in BUSYBOX_CANDIDATES:
        if os.path.isfile(candidate):
            return candidate
    raise SystemExit("mkbundle: busybox not found; install it with `apt-get install busybox-static`")


def busybox_applets(busybox: str) -> list[str]:
    out = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout
    return [name for name in out.split() if name and "/" not in name]


def make_rootfs(rootfs: Path) -> None:
    busybox = find_busybox()
    for d in ROOTFS_DIRS:
        (rootfs / d).mkdir(parents=True, exist_ok=True)
    os.chmod(rootfs / "tmp", 0o1777)
    shutil.copy2(busybox, rootfs / "bin" / "busybox")
    for applet in busybox_applets(busybox):
        link = rootfs / "bin" / applet
        if not link.exists() and not link.is_symlink():
            link.symlink_to("busybox")
    (rootfs / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        "user:x:1000:1000:user:/home:/bin/sh\n"
    )
    (rootfs / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n")
    (rootfs / "etc" / "hostname").write_text("simcon\n")


def default_config(args: list[str], cgroups_path: str | None, hostname: str = "simcon") -> dict:
    """A config close to `runc spec`, non-interactive (terminal false)."""
    config: dict = {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": False},
        "hostname": hostname,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
        ],
        "linux": {
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount", "cgroup")],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }
    if cgroups_path:
        config["linux"]["cgroupsPath"] = cgroups_path
    return config


def make_bundle(dest: Path, args: list[str], cgroups_path: str | None = None) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    make_rootfs(dest / "rootfs")
    (dest / "config.json").write_text(json.dumps(default_config(args, cgroups_path), indent=2) + "\n")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--cgroups-path", default=None)
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` is the container's process.args, untouched by option parsing.
    args = argv[argv.index("--") + 1 :] if "--" in argv else []
    ns = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    make_bundle(ns.dest, args or ["sh"], ns.cgroups_path)
    print(ns.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
