"""unshare(2) and setns(2), and the CLONE_* flag of each namespace type."""

from __future__ import annotations

import ctypes

from simcon.linux import libc

CLONE_NEWTIME = 0x00000080
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# OCI namespace type -> (clone flag, name of the link under /proc/PID/ns).
NAMESPACES: dict[str, tuple[int, str]] = {
    "user": (CLONE_NEWUSER, "user"),
    "mount": (CLONE_NEWNS, "mnt"),
    "pid": (CLONE_NEWPID, "pid"),
    "network": (CLONE_NEWNET, "net"),
    "uts": (CLONE_NEWUTS, "uts"),
    "ipc": (CLONE_NEWIPC, "ipc"),
    "cgroup": (CLONE_NEWCGROUP, "cgroup"),
    "time": (CLONE_NEWTIME, "time"),
}

_unshare = libc.fn("unshare")
_unshare.argtypes = (ctypes.c_int,)


def unshare(flags: int) -> None:
    libc.check(_unshare(flags))


def setns(fd: int, nstype: int, path: str | None = None) -> None:
    libc.check(libc.syscall(libc.SYS_SETNS, ctypes.c_int(fd), ctypes.c_int(nstype)), path)
