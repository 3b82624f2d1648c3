"""mount(2), umount2(2), pivot_root(2), the new mount API calls SimCon uses (open_tree, move_mount,
mount_setattr) and their flags; one kernel call per function."""

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

# The new mount API (Linux 5.2+; mount_setattr 5.12+). Syscall numbers of the generic table (x86_64 too).
SYS_OPEN_TREE = 428
SYS_MOVE_MOUNT = 429
SYS_MOUNT_SETATTR = 442

AT_FDCWD = -100
AT_SYMLINK_NOFOLLOW = 0x100
AT_NO_AUTOMOUNT = 0x800
AT_EMPTY_PATH = 0x1000
AT_RECURSIVE = 0x8000

OPEN_TREE_CLONE = 1
OPEN_TREE_CLOEXEC = 0o2000000

MOVE_MOUNT_F_EMPTY_PATH = 0x04
MOVE_MOUNT_T_EMPTY_PATH = 0x40

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
MOUNT_ATTR__ATIME = 0x70  # the atime setting is a 3-bit value, not independent flags
MOUNT_ATTR_RELATIME = 0x0
MOUNT_ATTR_NOATIME = 0x10
MOUNT_ATTR_STRICTATIME = 0x20
MOUNT_ATTR_NODIRATIME = 0x80
MOUNT_ATTR_IDMAP = 0x100000
MOUNT_ATTR_NOSYMFOLLOW = 0x200000


class MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]

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


def open_tree(dir_fd: int, path: str, flags: int) -> int:
    """An fd for the mount at ``path`` (with OPEN_TREE_CLONE: a detached copy of it)."""
    return libc.check(libc.syscall(SYS_OPEN_TREE, ctypes.c_int(dir_fd), libc.encode(path), ctypes.c_uint(flags)),
                      path)


def move_mount(from_fd: int, from_path: str, to_fd: int, to_path: str, flags: int) -> None:
    libc.check(libc.syscall(SYS_MOVE_MOUNT, ctypes.c_int(from_fd), libc.encode(from_path), ctypes.c_int(to_fd),
                            libc.encode(to_path), ctypes.c_uint(flags)), to_path or None)


def mount_setattr(dir_fd: int, path: str, flags: int, attr_set: int, attr_clr: int = 0, propagation: int = 0,
                  userns_fd: int = 0, what: str | None = None) -> None:
    """Change the attributes of the mount at ``path`` (with AT_RECURSIVE: of every mount below it too)."""
    attr = MountAttr(attr_set, attr_clr, propagation, userns_fd)
    libc.check(libc.syscall(SYS_MOUNT_SETATTR, ctypes.c_int(dir_fd), libc.encode(path), ctypes.c_uint(flags),
                            ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr))), what or path or None)
