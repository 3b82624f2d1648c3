"""A sealed in-memory executable through which the container init execs the container's program.

Until that execve the init is SimCon's interpreter, so /proc/self/exe is the host's python binary; a container
program started as ``#!/proc/self/exe`` (or anything that reopens that link) would run it, and as root could
later write to it (the CVE-2019-5736 class). Exec'ing through this trampoline first makes /proc/self/exe, for
the last moment before the real program, a sealed memfd that nobody can write.

The trampoline is 88 bytes of x86_64 machine code in a minimal static ELF: ``execve(argv[1], &argv[2], envp)``,
so the init calls it with ``[ARGV0, path, *args]``.
It refuses to run when ``argv[0]`` is a path (``#!/proc/self/exe`` would re-run it forever), and when execve
fails it prints one line and exits 127 for ENOENT, 126 otherwise (the shell's convention, as the init).
"""

from __future__ import annotations

import fcntl
import os
import struct

ARGV0 = "simcon-exec"  # what the init passes as argv[0]: not a path, see above

_MESSAGE = b"simcon: exec of the container process failed\n"

_CODE = bytes.fromhex(
    "488b442408"    # mov rax, [rsp+8]          argv[0]
    "80382f"        # cmp byte [rax], '/'
    "741e"          # je refuse                 (+30)
    "488b0c24"      # mov rcx, [rsp]            argc
    "488d54cc10"    # lea rdx, [rsp+rcx*8+16]   envp
    "488b7c2410"    # mov rdi, [rsp+16]         argv[1]: the path
    "488d742418"    # lea rsi, [rsp+24]         &argv[2]: the program's own argv
    "b83b000000"    # mov eax, 59               execve
    "0f05"          # syscall
    "89c3"          # mov ebx, eax              keep -errno
    "eb05"          # jmp report                (+5)
    # refuse:
    "bbffffffff"    # mov ebx, -1               (EPERM: exit 126)
    # report:
    "bf02000000"    # mov edi, 2                stderr
    "488d351f000000"  # lea rsi, [rip+31]       the message, right after the code
    f"ba{len(_MESSAGE):02x}000000"  # mov edx, len
    "b801000000"    # mov eax, 1                write
    "0f05"          # syscall
    "bf7e000000"    # mov edi, 126
    "83fbfe"        # cmp ebx, -2
    "7502"          # jne +2
    "ffc7"          # inc edi                   127
    "b8e7000000"    # mov eax, 231              exit_group
    "0f05"          # syscall
)

_BASE = 0x400000
_HEADERS = 64 + 56


def image() -> bytes:
    """The ELF file: header, one PT_LOAD program header, code, message."""
    body = _CODE + _MESSAGE
    size = _HEADERS + len(body)
    elf_header = struct.pack(
        "<4sBBBBB7sHHIQQQIHHHHHH",
        b"\x7fELF", 2, 1, 1, 0, 0, b"\0" * 7,  # 64-bit, little endian, version 1, System V ABI
        2, 0x3E, 1,                             # ET_EXEC, x86_64, version
        _BASE + _HEADERS, 64, 0,                # entry, program headers at 64, no section headers
        0, 64, 56, 1, 0, 0, 0,                  # flags, sizes, one program header
    )
    program_header = struct.pack(
        "<IIQQQQQQ",
        1, 5,                                   # PT_LOAD, PF_R | PF_X
        0, _BASE, _BASE, size, size, 0x1000,    # the whole file, mapped at _BASE
    )
    return elf_header + program_header + body


MFD_EXEC = 0x0010  # Linux 6.3+: say explicitly that this memfd is to be executed


def usable() -> bool:
    """Whether this host can run the trampoline: x86_64, and memfds not forbidden to execute
    (vm.memfd_noexec = 2)."""
    if os.uname().machine != "x86_64":
        return False
    try:
        with open("/proc/sys/vm/memfd_noexec", "rb") as f:
            return f.read().strip() != b"2"
    except OSError:
        return True  # a kernel older than 6.3 has no such setting


def sealed_fd() -> int:
    """A CLOEXEC memfd holding the trampoline, sealed against any write, resize or further sealing."""
    flags = os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING
    try:
        fd = os.memfd_create("simcon-exec", flags | MFD_EXEC)
    except OSError:  # EINVAL: a kernel before MFD_EXEC
        fd = os.memfd_create("simcon-exec", flags)
    try:
        data = image()
        os.write(fd, data)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS,
                    fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
    except BaseException:
        os.close(fd)
        raise
    return fd
