"""The C library handle, loaded once on first use.

Python 3.11's ``os`` has no mount, unshare, setns or pivot_root, so these go through ctypes. ctypes is imported
only by the commands that create containers, never by ``state``/``kill``/``list``.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

SYS_PIVOT_ROOT = 155  # x86_64
SYS_SETNS = 308
SYS_CLOSE_RANGE = 436

_syscall = _libc.syscall
_syscall.restype = ctypes.c_long


def fn(name: str):  # noqa: ANN201 - a ctypes function pointer
    return getattr(_libc, name)


def check(ret: int, path: str | None = None, path2: str | None = None) -> int:
    """Raise ``OSError(errno, strerror, path)`` for a -1 return, as ``os`` functions do."""
    if ret == -1:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path, None, path2)
    return ret


def syscall(number: int, *args: object) -> int:
    return _syscall(number, *args)


def encode(value: str | None) -> bytes | None:
    return None if value is None else os.fsencode(value)
