#!/usr/bin/env python3
"""Build an OCI bundle whose rootfs is the distribution's static busybox.

Used by `make demo`, the integration tests and the benchmarks, so that all of them run the same payload.
The config is written here (not by `simcon spec`) so the same bundle can be handed to runc or crun as well.

    tools/mkbundle.py DEST [--cgroups-path /simcon-test/ID] [--podman] [-- ARGS...]

``--podman`` writes the config podman 4 sends for `podman run` (its default seccomp profile from Debian's
golang-github-containers-common, resolved as podman resolves it, its capabilities, masked and read-only paths,
rlimits, and noNewPrivileges false): what the benchmarks call the realistic bundle.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


PODMAN_SECCOMP = "/usr/share/containers/seccomp.json"  # Debian's golang-github-containers-common
PODMAN_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_NET_BIND_SERVICE",
               "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID", "CAP_SYS_CHROOT"]
PODMAN_MASKED = ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                 "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux",
                 "/sys/dev/block"]
PODMAN_READONLY = ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def podman_config(args: list[str], cgroups_path: str | None, hostname: str = "simcon") -> dict:
    """``default_config`` as podman 4 (rootful) would send it: see the module docstring."""
    # The Docker-format profile is turned into an OCI one for this host as podman does it (arch, kernel and
    # capability conditions); SimCon's own converter does that, so this needs the venv's python.
    from simcon.spec.seccomp import profile_from_file

    config = default_config(args, cgroups_path, hostname)
    process = config["process"]
    process["noNewPrivileges"] = False
    process["capabilities"] = {key: list(PODMAN_CAPS) for key in ("bounding", "effective", "permitted")}
    # podman's values, capped at this process's own hard limits: without CAP_SYS_RESOURCE (as on the project's
    # machines) no runtime can raise them, and podman itself falls back to the current limits where it cannot.
    nofile = min(1048576, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    nproc = min(4194304, resource.getrlimit(resource.RLIMIT_NPROC)[1])
    process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": nofile, "hard": nofile},
                          {"type": "RLIMIT_NPROC", "soft": nproc, "hard": nproc}]
    process["oomScoreAdj"] = 0
    config["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                             "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", "ro"]})
    linux = config["linux"]
    linux["maskedPaths"] = list(PODMAN_MASKED)
    linux["readonlyPaths"] = list(PODMAN_READONLY)
    linux["seccomp"] = profile_from_file(PODMAN_SECCOMP, PODMAN_CAPS)
    return config


def make_bundle(dest: Path, args: list[str], cgroups_path: str | None = None, *, podman: bool = False) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    make_rootfs(dest / "rootfs")
    config = (podman_config if podman else default_config)(args, cgroups_path)
    (dest / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--cgroups-path", default=None)
    parser.add_argument("--podman", action="store_true", help="the config podman sends (seccomp, caps, ...)")
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` is the container's process.args, untouched by option parsing.
    args = argv[argv.index("--") + 1 :] if "--" in argv else []
    ns = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    make_bundle(ns.dest, args or ["sh"], ns.cgroups_path, podman=ns.podman)
    print(ns.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
