"""A sealed in-memory executable through which the container init execs the container's program.

Until that execve the init is SimCon's interpreter, so /proc/self/exe is the host's python binary; a container
program started as ``#!/proc/self/exe`` (or anything that reopens that link) would run it, and as root could
later write to it (the CVE-2019-5736 class). Exec'ing through this trampoline first makes /proc/self/exe, for
the last moment before the real program, a sealed memfd that nobody can write.

The trampoline is about 240 bytes of x86_64 machine code in a minimal static ELF, with two modes:

- ``[ARGV0, path, *args]``: ``execve(path, args, envp)``.
- ``[WAIT_ARGV0, fifo, fd, path, *args]``: the exec fifo wait of a created container (``wait_argv``). It makes
  itself non-dumpable, opens ``fifo`` for writing (``/proc/self/fd/N`` of an O_PATH fd of ``exec.fifo``), which
  blocks until `simcon start` opens the other end, writes one byte, closes ``fd`` (that O_PATH fd, given in
  decimal), then execs as above. All of SimCon's Python setup is finished before the wait, so a created
  container holds a few pages instead of an interpreter, and the program runs the instant `start` reads the
  fifo: `start` never returns while PID 1 is still SimCon's init, which ignores the signals it has no handler
  for (as PID 1 of a pid namespace), so a signal right after `start` reaches the program.

It refuses to run when ``argv[0]`` is a path (``#!/proc/self/exe`` would re-run it forever). When execve
fails it prints one line and exits 127 for ENOENT, 126 otherwise (the shell's convention, as the init); when the
fifo cannot be opened or written it says so and exits the same way. The code was assembled with GNU as from the
instructions in the comments; the syscalls it makes are prctl, openat, write, close, execve, exit_group.
"""

from __future__ import annotations

import fcntl
import os
import struct

ARGV0 = "simcon-exec"  # what the init passes as argv[0]: not a path, see above

WAIT_ARGV0 = "simcon-wait"  # argv[0][7] == "w" selects the wait mode

_MESSAGE = b"simcon: exec of the container process failed\n"  # 45 bytes, right after the code
_WAIT_MESSAGE = b"simcon: waiting for start at exec.fifo failed\n"  # 46 bytes, after _MESSAGE
_BYTE = b"0"  # what the wait writes into the fifo, after _WAIT_MESSAGE

_CODE = bytes.fromhex(
    "488b442408"            # mov rax, [rsp+8]          argv[0]
    "80382f"                # cmp byte [rax], '/'
    "0f84b0000000"          # je refuse
    "488b0c24"              # mov rcx, [rsp]            argc
    "488d54cc10"            # lea rdx, [rsp+rcx*8+16]   envp
    "488d742410"            # lea rsi, [rsp+16]         &argv[1]
    "80780777"              # cmp byte [rax+7], 'w'     "simcon-wait"?
    "756e"                  # jne do_exec
    "4989d4"                # mov r12, rdx              keep envp and &argv[1] across the syscalls
    "4989f5"                # mov r13, rsi
    "b89d000000"            # mov eax, 157              prctl(PR_SET_DUMPABLE, 0): /proc/1/fd stays closed
    "bf04000000"            # mov edi, 4                (a filter refusing prctl only costs this defence)
    "31f6"                  # xor esi, esi
    "0f05"                  # syscall
    "b801010000"            # mov eax, 257              openat(AT_FDCWD, argv[1], O_WRONLY|O_CLOEXEC)
    "bf9cffffff"            # mov edi, -100             blocks until `start` opens the fifo for reading
    "498b7500"              # mov rsi, [r13]
    "ba01000800"            # mov edx, 0x80001
    "0f05"                  # syscall
    "85c0"                  # test eax, eax
    "785f"                  # js wait_failed
    "89c7"                  # mov edi, eax              write(fifo, "0", 1)
    "488d35f1000000"        # lea rsi, [rip+_BYTE]
    "ba01000000"            # mov edx, 1
    "b801000000"            # mov eax, 1
    "0f05"                  # syscall
    "85c0"                  # test eax, eax
    "7846"                  # js wait_failed
    "498b7508"              # mov rsi, [r13+8]          argv[2]: the O_PATH fd, in decimal
    "31ff"                  # xor edi, edi
    # parse:
    "0fb60e"                # movzx ecx, byte [rsi]
    "85c9"                  # test ecx, ecx
    "740d"                  # jz parsed
    "83e930"                # sub ecx, '0'
    "6bff0a"                # imul edi, edi, 10
    "01cf"                  # add edi, ecx
    "48ffc6"                # inc rsi
    "ebec"                  # jmp parse
    # parsed:
    "b803000000"            # mov eax, 3                close(fd); the fifo's own fd is CLOEXEC
    "0f05"                  # syscall
    "498d7510"              # lea rsi, [r13+16]         &argv[3]
    "4c89e2"                # mov rdx, r12              envp
    # do_exec:                                        rsi = &argv[k]: the path, then the program's argv
    "488b3e"                # mov rdi, [rsi]
    "4883c608"              # add rsi, 8
    "b83b000000"            # mov eax, 59               execve
    "0f05"                  # syscall
    "89c3"                  # mov ebx, eax              keep -errno
    "488d3547000000"        # lea rsi, [rip+_MESSAGE]
    "ba2d000000"            # mov edx, 45
    "eb21"                  # jmp report
    # wait_failed:
    "89c3"                  # mov ebx, eax
    "488d3564000000"        # lea rsi, [rip+_WAIT_MESSAGE]
    "ba2e000000"            # mov edx, 46
    "eb11"                  # jmp report
    # refuse:
    "bbffffffff"            # mov ebx, -1               (EPERM: exit 126)
    "488d3524000000"        # lea rsi, [rip+_MESSAGE]
    "ba2d000000"            # mov edx, 45
    # report:
    "bf02000000"            # mov edi, 2                write(stderr, message)
    "b801000000"            # mov eax, 1
    "0f05"                  # syscall
    "bf7e000000"            # mov edi, 126
    "83fbfe"                # cmp ebx, -2               ENOENT: 127
    "7502"                  # jne exit
    "ffc7"                  # inc edi
    # exit:
    "b8e7000000"            # mov eax, 231              exit_group
    "0f05"                  # syscall
)

_BASE = 0x400000
_HEADERS = 64 + 56


def image() -> bytes:
    """The ELF file: header, one PT_LOAD program header, code, message."""
    body = _CODE + _MESSAGE + _WAIT_MESSAGE + _BYTE
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


def wait_argv(fifo_path_fd: int, executable: str, args: list[str]) -> list[str]:
    """The trampoline's argv for the exec fifo wait: ``fifo_path_fd`` is an O_PATH fd of exec.fifo, inheritable
    (the trampoline closes it), reopened through the container's /proc."""
    return [WAIT_ARGV0, f"/proc/self/fd/{fifo_path_fd}", str(fifo_path_fd), executable, *args]


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
