"""seccomp: building a BPF filter with libseccomp (Debian's libseccomp2), and loading one with seccomp(2).

The parent compiles the filter (``Filter``: one libseccomp call per method, errors as ``OSError``) and exports the
BPF program as bytes; the container init only calls :func:`load` with them, so it needs neither libseccomp nor any
import after pivot_root. libseccomp is loaded on first use, never by the commands that do not build filters.
"""

from __future__ import annotations

import ctypes
import os

from simcon.linux import libc

SYS_SECCOMP = 317  # x86_64
SECCOMP_SET_MODE_FILTER = 1

# seccomp(2) filter flags
SECCOMP_FILTER_FLAG_TSYNC = 1 << 0
SECCOMP_FILTER_FLAG_LOG = 1 << 1
SECCOMP_FILTER_FLAG_SPEC_ALLOW = 1 << 2
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5

# Filter return values (<linux/seccomp.h>); ERRNO and TRACE carry 16 bits of data.
SCMP_ACT_KILL_PROCESS = 0x80000000
SCMP_ACT_KILL_THREAD = 0x00000000
SCMP_ACT_TRAP = 0x00030000
SCMP_ACT_ERRNO = 0x00050000
SCMP_ACT_TRACE = 0x7FF00000
SCMP_ACT_LOG = 0x7FFC0000
SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_ACT_NOTIFY = 0x7FC00000

# enum scmp_compare
SCMP_CMP_NE = 1
SCMP_CMP_LT = 2
SCMP_CMP_LE = 3
SCMP_CMP_EQ = 4
SCMP_CMP_GE = 5
SCMP_CMP_GT = 6
SCMP_CMP_MASKED_EQ = 7

# enum scmp_filter_attr
SCMP_FLTATR_CTL_NNP = 3

LIBRARY = "libseccomp.so.2"


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_lib = None


def library():  # noqa: ANN201 - the ctypes library
    """libseccomp, loaded once; ``OSError`` when it is not installed."""
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(LIBRARY, use_errno=True)
        lib.seccomp_init.argtypes = (ctypes.c_uint32,)
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_release.argtypes = (ctypes.c_void_p,)
        lib.seccomp_release.restype = None
        lib.seccomp_arch_resolve_name.argtypes = (ctypes.c_char_p,)
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_add.argtypes = (ctypes.c_void_p, ctypes.c_uint32)
        lib.seccomp_syscall_resolve_name.argtypes = (ctypes.c_char_p,)
        lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
        lib.seccomp_rule_add_array.argtypes = (ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(_ArgCmp))
        lib.seccomp_attr_set.argtypes = (ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32)
        lib.seccomp_export_bpf.argtypes = (ctypes.c_void_p, ctypes.c_int)
        _lib = lib
    return _lib


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint)]


def library_version() -> tuple[int, int, int]:
    """libseccomp's (major, minor, micro); ``OSError`` when it is not installed."""
    lib = library()
    lib.seccomp_version.restype = ctypes.POINTER(_Version)
    version = lib.seccomp_version().contents
    return version.major, version.minor, version.micro


def _check(ret: int, what: str) -> int:
    """libseccomp returns -errno."""
    if ret < 0:
        raise OSError(-ret, os.strerror(-ret), what)
    return ret


class Filter:
    """A libseccomp filter context; use as a context manager so it is released."""

    def __init__(self, default_action: int) -> None:
        self._lib = library()
        self._ctx = self._lib.seccomp_init(default_action)
        if not self._ctx:
            raise OSError(22, "libseccomp rejected the default action", hex(default_action))

    def __enter__(self) -> Filter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        if self._ctx:
            self._lib.seccomp_release(self._ctx)
            self._ctx = None

    def resolve_arch(self, name: str) -> int:
        """libseccomp's token for an architecture name (``x86_64``, ``aarch64``...); 0 when unknown."""
        return self._lib.seccomp_arch_resolve_name(name.encode())

    def add_arch(self, token: int) -> None:
        ret = self._lib.seccomp_arch_add(self._ctx, token)
        if ret != -17:  # EEXIST: the native architecture is always there
            _check(ret, "architecture")

    def set_attr(self, attr: int, value: int) -> None:
        _check(self._lib.seccomp_attr_set(self._ctx, attr, value), "attribute")

    def resolve_syscall(self, name: str) -> int | None:
        nr = self._lib.seccomp_syscall_resolve_name(name.encode())
        return None if nr == -1 else nr  # __NR_SCMP_ERROR

    def add_rule(self, action: int, syscall: int, conditions: list[tuple[int, int, int, int]]) -> None:
        """``conditions``: (argument index, SCMP_CMP_*, datum a, datum b), all of which must hold."""
        array = (_ArgCmp * max(len(conditions), 1))(*(_ArgCmp(*c) for c in conditions))
        _check(self._lib.seccomp_rule_add_array(self._ctx, action, syscall, len(conditions), array), "rule")

    def export_bpf(self) -> bytes:
        """The compiled program: an array of struct sock_filter (8 bytes each)."""
        fd = os.memfd_create("simcon-seccomp", os.MFD_CLOEXEC)
        try:
            _check(self._lib.seccomp_export_bpf(self._ctx, fd), "export")
            size = os.lseek(fd, 0, os.SEEK_CUR)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)


def load(program: bytes, flags: int) -> int:
    """Install ``program`` on the calling thread with seccomp(2); returns the listener fd, if one was asked for."""
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    return libc.check(libc.syscall(SYS_SECCOMP, ctypes.c_uint(SECCOMP_SET_MODE_FILTER), ctypes.c_uint(flags),
                                   ctypes.byref(prog)))
