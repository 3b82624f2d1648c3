"""openat2(2): opening a path with the kernel enforcing how it may be resolved (Linux 5.6+)."""

from __future__ import annotations

import ctypes
import os

from simcon.linux import libc

SYS_OPENAT2 = 437  # x86_64 and every architecture using the generic syscall table

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10


class OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dir_fd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
    """A new fd for ``path`` relative to ``dir_fd``; ``OSError`` naming ``path`` on failure.

    ENOSYS means the kernel has no openat2 (older than 5.6, or a seccomp filter refusing it).
    """
    how = OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    return libc.check(
        libc.syscall(SYS_OPENAT2, ctypes.c_int(dir_fd), libc.encode(path), ctypes.byref(how),
                     ctypes.c_size_t(ctypes.sizeof(how))),
        path,
    )


_available: bool | None = None


def available() -> bool:
    """Whether this kernel has a working openat2 (probed once)."""
    global _available
    if _available is None:
        try:
            os.close(openat2(-100, "/", os.O_PATH, RESOLVE_IN_ROOT))  # -100: AT_FDCWD
            _available = True
        except OSError:
            _available = False
    return _available
