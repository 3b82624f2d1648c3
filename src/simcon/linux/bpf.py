"""bpf(2): loading, attaching, querying and detaching eBPF programs (what the cgroup v2 device filter needs).

A thin wrapper through ctypes (``linux.libc``), one kernel call per function, ``OSError`` on failure. No library:
bcc (Debian's python3-bpfcc) and pythonbpf compile C or Python with LLVM at run time and pull in megabytes,
pylibbpf (0.0.x) binds libbpf's ELF-object loader and is young, bpf-asm only assembles; none is a well-kept way to
load a prebuilt instruction list. The handful of fixed-layout ``union bpf_attr`` structs here costs nothing on
start-up (ctypes is already loaded by every command that creates containers).

Layouts: include/uapi/linux/bpf.h. Each attr is passed with its own size; the kernel zero-fills the rest.
"""

from __future__ import annotations

import ctypes
import os

from simcon.linux import libc

# bpf's syscall number differs between architectures (it predates the generic table).
SYS_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280}.get(os.uname().machine, 321)

# Commands.
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_NEXT_ID = 11
BPF_PROG_GET_FD_BY_ID = 13
BPF_OBJ_GET_INFO_BY_FD = 15
BPF_PROG_QUERY = 16

BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6  # attach type

# Attach flags.
BPF_F_ALLOW_OVERRIDE = 1 << 0
BPF_F_ALLOW_MULTI = 1 << 1
BPF_F_REPLACE = 1 << 2  # Linux 5.6+

_LOG_SIZE = 1 << 16


class _ProgLoad(ctypes.Structure):
    _fields_ = [("prog_type", ctypes.c_uint32), ("insn_cnt", ctypes.c_uint32), ("insns", ctypes.c_uint64),
                ("license", ctypes.c_uint64), ("log_level", ctypes.c_uint32), ("log_size", ctypes.c_uint32),
                ("log_buf", ctypes.c_uint64), ("kern_version", ctypes.c_uint32), ("prog_flags", ctypes.c_uint32),
                ("prog_name", ctypes.c_char * 16)]


class _Attach(ctypes.Structure):
    _fields_ = [("target_fd", ctypes.c_uint32), ("attach_bpf_fd", ctypes.c_uint32),
                ("attach_type", ctypes.c_uint32), ("attach_flags", ctypes.c_uint32),
                ("replace_bpf_fd", ctypes.c_uint32)]


class _Query(ctypes.Structure):
    _fields_ = [("target_fd", ctypes.c_uint32), ("attach_type", ctypes.c_uint32), ("query_flags", ctypes.c_uint32),
                ("attach_flags", ctypes.c_uint32), ("prog_ids", ctypes.c_uint64), ("prog_cnt", ctypes.c_uint32)]


class _GetId(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint32), ("next_id", ctypes.c_uint32), ("open_flags", ctypes.c_uint32)]


class _InfoByFd(ctypes.Structure):
    _fields_ = [("bpf_fd", ctypes.c_uint32), ("info_len", ctypes.c_uint32), ("info", ctypes.c_uint64)]


class ProgInfo(ctypes.Structure):
    """The start of ``struct bpf_prog_info``: enough for the type, the id and the name."""

    _fields_ = [("type", ctypes.c_uint32), ("id", ctypes.c_uint32), ("tag", ctypes.c_uint8 * 8),
                ("jited_prog_len", ctypes.c_uint32), ("xlated_prog_len", ctypes.c_uint32),
                ("jited_prog_insns", ctypes.c_uint64), ("xlated_prog_insns", ctypes.c_uint64),
                ("load_time", ctypes.c_uint64), ("created_by_uid", ctypes.c_uint32), ("nr_map_ids", ctypes.c_uint32),
                ("map_ids", ctypes.c_uint64), ("name", ctypes.c_char * 16)]


def _bpf(cmd: int, attr: ctypes.Structure, what: str | None = None) -> int:
    return libc.check(libc.syscall(SYS_BPF, ctypes.c_int(cmd), ctypes.byref(attr),
                                   ctypes.c_uint(ctypes.sizeof(attr))), what)


def prog_load(prog_type: int, insns: bytes, name: str, license_: str = "Apache-2.0") -> int:
    """Load the program ``insns`` (struct bpf_insn, 8 bytes each); a new CLOEXEC fd for it.

    On a verifier refusal the kernel's log is retrieved (a second load with logging) and put in the message.
    """
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(license_.encode())
    attr = _ProgLoad(prog_type=prog_type, insn_cnt=len(insns) // 8, insns=ctypes.addressof(code),
                     license=ctypes.addressof(lic), prog_name=name.encode()[:15])
    try:
        return _bpf(BPF_PROG_LOAD, attr, name)
    except OSError as exc:
        if exc.errno not in (13, 22):  # EACCES, EINVAL: the verifier's refusals; a log says why
            raise
        log = ctypes.create_string_buffer(_LOG_SIZE)
        attr.log_level, attr.log_size, attr.log_buf = 1, _LOG_SIZE, ctypes.addressof(log)
        try:
            return _bpf(BPF_PROG_LOAD, attr, name)
        except OSError as again:
            text = log.value.decode(errors="replace").strip().splitlines()
            raise OSError(again.errno, f"{os.strerror(again.errno)} ({' / '.join(text[-3:])})", name) from again


def prog_attach(target_fd: int, prog_fd: int, attach_type: int, flags: int, replace_fd: int = 0) -> None:
    _bpf(BPF_PROG_ATTACH, _Attach(target_fd, prog_fd, attach_type, flags, replace_fd))


def prog_detach(target_fd: int, prog_fd: int, attach_type: int) -> None:
    _bpf(BPF_PROG_DETACH, _Attach(target_fd, prog_fd, attach_type, 0, 0))


def prog_query(target_fd: int, attach_type: int, capacity: int = 64) -> list[int]:
    """The ids of the programs attached to ``target_fd`` itself (not inherited from its parents)."""
    ids = (ctypes.c_uint32 * capacity)()
    attr = _Query(target_fd=target_fd, attach_type=attach_type, prog_ids=ctypes.addressof(ids), prog_cnt=capacity)
    _bpf(BPF_PROG_QUERY, attr)
    return list(ids[: min(attr.prog_cnt, capacity)])


def prog_fd_by_id(prog_id: int) -> int:
    return _bpf(BPF_PROG_GET_FD_BY_ID, _GetId(prog_id, 0, 0))


def prog_next_id(start_id: int) -> int | None:
    """The id of the next loaded program after ``start_id`` (0 for the first), None after the last."""
    attr = _GetId(start_id, 0, 0)
    try:
        _bpf(BPF_PROG_GET_NEXT_ID, attr)
    except FileNotFoundError:
        return None
    return attr.next_id


def prog_info(prog_fd: int) -> ProgInfo:
    info = ProgInfo()
    _bpf(BPF_OBJ_GET_INFO_BY_FD, _InfoByFd(prog_fd, ctypes.sizeof(info), ctypes.addressof(info)))
    return info
