"""simcon.linux.trampoline: the sealed exec trampoline, run for real (fork + execve of the memfd)."""

from __future__ import annotations

import os
import time

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


def test_wait_mode_blocks_on_the_fifo_until_it_is_read_then_execs(tmp_path) -> None:
    fifo = tmp_path / "exec.fifo"
    os.mkfifo(fifo, 0o600)
    opath = os.open(fifo, os.O_PATH)
    os.set_inheritable(opath, True)  # as the init leaves it; the trampoline closes it
    fd = trampoline.sealed_fd()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(w, 1)
        os.dup2(w, 2)
        for name in os.listdir("/proc/self/fd"):  # whatever pytest left inheritable
            if int(name) not in (0, 1, 2, opath, fd):
                try:
                    os.close(int(name))
                except OSError:
                    pass
        try:
            os.execve(fd, trampoline.wait_argv(opath, "/bin/sh", ["sh", "-c", "echo ran; ls /proc/self/fd"]),
                      {"MARK": "m"})
        finally:
            os._exit(99)
    os.close(w)
    os.close(fd)
    try:
        # Nothing runs before the fifo is read: the child sits in openat (the process is the trampoline, which
        # made itself non-dumpable).
        def waiting_in_trampoline() -> bool:
            try:
                with open(f"/proc/{pid}/status") as f:
                    asleep = "\nState:\tS" in f.read()
                return asleep and os.readlink(f"/proc/{pid}/exe").startswith("/memfd:simcon-exec")
            except OSError:  # between fork and execve
                return False

        for _ in range(1000):
            if waiting_in_trampoline():
                break
            time.sleep(0.01)
        assert waiting_in_trampoline()
        time.sleep(0.05)
        assert os.waitpid(pid, os.WNOHANG) == (0, 0)
        assert waiting_in_trampoline()
        with open(fifo, "rb") as reader:  # what `simcon start` does
            assert reader.read(1) == b"0"
        out = b""
        while chunk := os.read(r, 4096):
            out += chunk
        code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    finally:
        os.close(r)
        os.close(opath)
    lines = out.decode().split()
    assert (code, lines[0]) == (0, "ran")
    # Only stdio and the fd ls reads the directory through: the O_PATH fd and the fifo's were closed.
    assert sorted(lines[1:]) == ["0", "1", "2", "3"]


def test_wait_mode_reports_a_fifo_it_cannot_open() -> None:
    assert spawn([trampoline.WAIT_ARGV0, "/no/such/fifo", "99", "/bin/true", "true"]) == (
        127, "simcon: waiting for start at exec.fifo failed\n")
