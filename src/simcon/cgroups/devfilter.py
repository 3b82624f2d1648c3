"""The cgroup v2 device filter: a device rule list compiled to an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE).

The kernel runs the program on every open and mknod of a device node by a task in the cgroup, with a
``struct bpf_cgroup_dev_ctx``: ``access_type`` (the device type in the low 16 bits: 1 block, 2 char; the access
in the high 16: 1 mknod, 2 read, 4 write), ``major``, ``minor``. The program returns 1 to allow, 0 to deny.

Its input is what ``controllers.devices.emulate`` computed from the rules: a default and the exceptions to it,
so the program decides exactly as the v1 kernel would with the same writes (``devices.permits``):

    r2 = type, r3 = access, r4 = major, r5 = minor
    for each exception:                  (a block per exception; a failed test jumps to the next block)
        type matches?  numbers match (or are wildcards)?
        deny-all:  every requested access bit granted by the exception?  -> return 1
        allow-all: any requested access bit in the exception?            -> return 0
    return the default

Comparisons use the 32-bit jumps (BPF_JMP32, Linux 5.1+): the kernel's numbers are u32 and an immediate is 32
bits. The encoding is include/uapi/linux/bpf.h's ``struct bpf_insn``: code, dst/src registers, offset, immediate.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (~5 ms of every create)

ANY = -1  # a major or minor that matches every number (``*``)

if TYPE_CHECKING:  # only for the annotations: a Protocol class costs import time on every create
    from typing import Protocol

    class ExceptionRule(Protocol):
        """What the compiler needs of an exception (``controllers.devices.Rule`` has it)."""

        kind: str
        major: int
        minor: int
        access: str

# Opcodes (class | operation | source).
_LDX_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
_MOV_K = 0xB7  # BPF_ALU64 | BPF_MOV | BPF_K
_MOV_X = 0xBF  # BPF_ALU64 | BPF_MOV | BPF_X
_AND_K = 0x57  # BPF_ALU64 | BPF_AND | BPF_K
_RSH_K = 0x77  # BPF_ALU64 | BPF_RSH | BPF_K
_JEQ32_K = 0x16  # BPF_JMP32 | BPF_JEQ | BPF_K
_JNE32_K = 0x56  # BPF_JMP32 | BPF_JNE | BPF_K
_EXIT = 0x95  # BPF_JMP | BPF_EXIT

DEV_BLOCK, DEV_CHAR = 1, 2
ACC_MKNOD, ACC_READ, ACC_WRITE = 1, 2, 4
_TYPE = {"b": DEV_BLOCK, "c": DEV_CHAR}
_ACCESS = {"m": ACC_MKNOD, "r": ACC_READ, "w": ACC_WRITE}
_ALL_ACCESS = ACC_MKNOD | ACC_READ | ACC_WRITE

# Registers.
R0, R1, R2, R3, R4, R5 = range(6)


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    import struct  # here: only v2 hosts compile programs

    if imm > 0x7FFFFFFF:  # a u32 number as the signed 32-bit immediate with the same bits
        imm -= 1 << 32
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def access_bits(access: str) -> int:
    bits = 0
    for letter in access:
        bits |= _ACCESS[letter]
    return bits


def _block(ex: ExceptionRule, default_allow: bool) -> list[tuple]:
    """The tests and the verdict for one exception; a jump's offset -1 means "to the next block"."""
    tests: list[tuple] = []
    bits = access_bits(ex.access)
    if default_allow:
        # A deny exception: it applies when the request shares an access bit with it.
        if bits != _ALL_ACCESS:
            tests += [(_MOV_X, R1, R3, 0, 0), (_AND_K, R1, 0, 0, bits), (_JEQ32_K, R1, 0, -1, 0)]
    elif bits != _ALL_ACCESS:
        # An allow exception: it applies when it grants every bit asked for.
        tests += [(_MOV_X, R1, R3, 0, 0), (_AND_K, R1, 0, 0, _ALL_ACCESS & ~bits), (_JNE32_K, R1, 0, -1, 0)]
    tests.append((_JNE32_K, R2, 0, -1, _TYPE[ex.kind]))
    if ex.major != ANY:
        tests.append((_JNE32_K, R4, 0, -1, ex.major))
    if ex.minor != ANY:
        tests.append((_JNE32_K, R5, 0, -1, ex.minor))
    return [*tests, (_MOV_K, R0, 0, 0, 0 if default_allow else 1), (_EXIT, 0, 0, 0, 0)]


def program(default_allow: bool, exceptions: list[ExceptionRule]) -> bytes:
    """The instructions (8 bytes each) deciding as ``devices.permits(default_allow, exceptions, ...)``."""
    out = [
        _insn(_LDX_W, R2, R1, 0),  # access_type
        _insn(_LDX_W, R4, R1, 4),  # major
        _insn(_LDX_W, R5, R1, 8),  # minor
        _insn(_MOV_X, R3, R2),
        _insn(_RSH_K, R3, 0, 0, 16),  # access
        _insn(_AND_K, R2, 0, 0, 0xFFFF),  # type
    ]
    for ex in exceptions:
        if ex.kind not in _TYPE:
            raise ValueError(f"exception of type {ex.kind!r}: only b and c rules remain after emulation")
        block = _block(ex, default_allow)
        for i, (code, dst, src, off, imm) in enumerate(block):
            out.append(_insn(code, dst, src, len(block) - i - 1 if off == -1 else off, imm))
    out += [_insn(_MOV_K, R0, 0, 0, 1 if default_allow else 0), _insn(_EXIT)]
    return b"".join(out)
