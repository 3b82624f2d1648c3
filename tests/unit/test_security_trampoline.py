"""simcon.linux.trampoline: the sealed exec trampoline, run for real (fork + execve of the memfd)."""

from __future__ import annotations

import os

import pytest

from simcon.linux import trampoline

pytestmark = pytest.mark.skipif(not trampoline.usable(), reason="the trampoline is x86_64 code, and needs an "
                                                                "executable memfd")



def spawn(argv: list[str]) -> tuple[int, str]:
    """fork, then execve(memfd, argv) in the child; (exit code, stdout and stderr)."""
    fd = trampoline.sealed_fd()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(w, 1)
        os.dup2(w, 2)
        try:
            os.execve(fd, argv, {"MARK": "m"})
        finally:
            os._exit(99)
    os.close(w)
    os.close(fd)
    out = b""
    while chunk := os.read(r, 4096):
        out += chunk
    os.close(r)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]), out.decode()


def test_it_execs_the_path_with_the_programs_own_argv_and_env() -> None:
    code, out = spawn([trampoline.ARGV0, "/bin/sh", "sh", "-c", 'echo "$0" "$1" "$MARK"', "zero", "one"])
    assert (code, out) == (0, "zero one m\n")
    code, out = spawn([trampoline.ARGV0, "/bin/sh", "my-sh", "-c", 'tr "\\0" " " < /proc/$$/cmdline'])
    assert (code, out.split()[0]) == (0, "my-sh")


def test_a_missing_program_exits_127_and_other_failures_126() -> None:
    assert spawn([trampoline.ARGV0, "/no/such/program", "x"]) == (
        127, "simcon: exec of the container process failed\n")
    assert spawn([trampoline.ARGV0, "/etc/hostname", "x"])[0] == 126


def test_it_refuses_to_be_rerun_as_an_interpreter() -> None:
    # `#!/proc/self/exe` makes the kernel run it with argv[0] = "/proc/self/exe".
    assert spawn(["/proc/self/exe", "/bin/true", "true"])[0] == 126


def test_the_memfd_is_sealed() -> None:
    fd = trampoline.sealed_fd()
    try:
        with pytest.raises(PermissionError):
            os.pwrite(fd, b"x", 0)
        with pytest.raises(PermissionError):
            os.ftruncate(fd, 0)
        writer = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY)
        try:
            with pytest.raises(PermissionError):
                os.write(writer, b"x")
        finally:
            os.close(writer)
    finally:
        os.close(fd)


def test_image_is_a_static_x86_64_elf() -> None:
    data = trampoline.image()
    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[18] == 0x3E
    assert len(data) < 512
