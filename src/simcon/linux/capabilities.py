"""Capability sets: capget(2)/capset(2) and the prctl(2) calls for the bounding and ambient sets.

Sets are plain integers, one bit per capability number (bit 21 is CAP_SYS_ADMIN). One kernel call per function.
"""

from __future__ import annotations

import ctypes

from simcon.linux import libc

SYS_CAPGET = 125  # x86_64
SYS_CAPSET = 126

_LINUX_CAPABILITY_VERSION_3 = 0x20080522

PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_KEEPCAPS = 8
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


_prctl = libc.fn("prctl")
_prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)


def last_cap(path: str = "/proc/sys/kernel/cap_last_cap") -> int:
    """The highest capability number the running kernel knows."""
    with open(path, "rb") as f:
        return int(f.read())


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of ``pid`` (0: the caller)."""
    header = _Header(_LINUX_CAPABILITY_VERSION_3, pid)
    data = (_Data * 2)()
    libc.check(libc.syscall(SYS_CAPGET, ctypes.byref(header), data))
    low, high = data[0], data[1]
    return (low.effective | high.effective << 32, low.permitted | high.permitted << 32,
            low.inheritable | high.inheritable << 32)


def capset(effective: int, permitted: int, inheritable: int) -> None:
    header = _Header(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_Data * 2)()
    for i in (0, 1):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFF_FFFF
        data[i].permitted = (permitted >> shift) & 0xFFFF_FFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFF_FFFF
    libc.check(libc.syscall(SYS_CAPSET, ctypes.byref(header), data))


def bounding_drop(cap: int) -> None:
    libc.check(_prctl(PR_CAPBSET_DROP, cap, 0, 0, 0))


def bounding_has(cap: int) -> bool:
    return libc.check(_prctl(PR_CAPBSET_READ, cap, 0, 0, 0)) == 1


def set_keepcaps(on: bool) -> None:
    libc.check(_prctl(PR_SET_KEEPCAPS, int(on), 0, 0, 0))


def ambient_clear_all() -> None:
    libc.check(_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0))


def ambient_raise(cap: int) -> None:
    libc.check(_prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0))
