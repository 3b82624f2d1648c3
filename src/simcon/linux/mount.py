"""mount(2), umount2(2), pivot_root(2) and the MS_* flags; one kernel call per function."""

from __future__ import annotations

import ctypes

from simcon.linux import libc

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_SYNCHRONOUS = 0x10
MS_REMOUNT = 0x20
MS_MANDLOCK = 0x40
MS_DIRSYNC = 0x80
MS_NOSYMFOLLOW = 0x100
MS_NOATIME = 0x400
MS_NODIRATIME = 0x800
MS_BIND = 0x1000
MS_MOVE = 0x2000
MS_REC = 0x4000
MS_SILENT = 0x8000
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

MNT_DETACH = 0x2

_mount = libc.fn("mount")
_mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
_umount2 = libc.fn("umount2")
_umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    libc.check(
        _mount(libc.encode(source), libc.encode(target), libc.encode(fstype), flags, libc.encode(data or None)),
        target,
    )


def umount2(target: str, flags: int = 0) -> None:
    libc.check(_umount2(libc.encode(target), flags), target)


def pivot_root(new_root: str, put_old: str) -> None:
    libc.check(libc.syscall(libc.SYS_PIVOT_ROOT, libc.encode(new_root), libc.encode(put_old)), new_root, put_old)
