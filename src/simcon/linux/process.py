"""Per-process kernel knobs: prctl(2), hostnames, and reading a process's identity from /proc."""

from __future__ import annotations

import ctypes
import os

from simcon.linux import libc

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_SET_NAME = 15
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36

SYS_KEYCTL = 250  # x86_64
KEYCTL_JOIN_SESSION_KEYRING = 1

_personality = libc.fn("personality")
_personality.argtypes = (ctypes.c_ulong,)
_prctl = libc.fn("prctl")
_prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
_sethostname = libc.fn("sethostname")
_sethostname.argtypes = (ctypes.c_char_p, ctypes.c_size_t)
_setdomainname = libc.fn("setdomainname")
_setdomainname.argtypes = (ctypes.c_char_p, ctypes.c_size_t)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return libc.check(_prctl(option, arg2, arg3, arg4, arg5))


def set_child_subreaper(on: bool = True) -> None:
    prctl(PR_SET_CHILD_SUBREAPER, int(on))


def set_pdeathsig(sig: int) -> None:
    prctl(PR_SET_PDEATHSIG, sig)


def set_dumpable(on: bool) -> None:
    prctl(PR_SET_DUMPABLE, int(on))


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def sethostname(name: str) -> None:
    raw = name.encode()
    libc.check(_sethostname(raw, len(raw)))


def setdomainname(name: str) -> None:
    raw = name.encode()
    libc.check(_setdomainname(raw, len(raw)))


def join_session_keyring(name: str) -> int:
    """Join a new session keyring called ``name``; returns its serial."""
    return libc.check(libc.syscall(SYS_KEYCTL, ctypes.c_int(KEYCTL_JOIN_SESSION_KEYRING), ctypes.c_char_p(name.encode())))


def set_personality(persona: int) -> None:
    libc.check(_personality(persona))
