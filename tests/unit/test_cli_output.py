"""What the CLI writes when its output goes away or its input is huge (issue 10, item 20)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

SIMCON = str(Path(sys.executable).parent / "simcon")


def _run_into_closed_pipe(argv: list[str]) -> subprocess.CompletedProcess:
    """Run with stdout a pipe whose reader is gone, as in `simcon list | head -0`."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=write_end, stderr=subprocess.PIPE,
                              text=True, timeout=60)
    finally:
        os.close(write_end)


def test_list_into_a_closed_pipe_is_silent_and_dies_of_sigpipe(tmp_path) -> None:
    proc = _run_into_closed_pipe([SIMCON, "--root", str(tmp_path), "list"])
    assert proc.stderr == ""
    # As `ls | head -0` does: killed by SIGPIPE (a shell shows 141), not an error message.
    assert proc.returncode == -signal.SIGPIPE


def test_spec_into_a_closed_pipe_is_silent(tmp_path) -> None:
    proc = _run_into_closed_pipe([SIMCON, "features"])
    assert proc.stderr == ""
    assert proc.returncode == -signal.SIGPIPE


def test_list_head_1_prints_no_broken_pipe(tmp_path) -> None:
    proc = subprocess.run(f"{SIMCON} --root {tmp_path} list | head -c 1", shell=True, capture_output=True,
                          text=True, timeout=60)
    assert proc.stdout == "I"
    assert "Broken pipe" not in proc.stderr and proc.stderr == ""


def test_an_error_naming_a_path_with_a_newline_is_one_line(tmp_path) -> None:
    bundle = tmp_path / "bad\nbundle"
    proc = subprocess.run([SIMCON, "--root", str(tmp_path / "root"), "create", "--bundle", str(bundle), "x"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert "bad\\nbundle" in line and "no such file" in line


def test_an_error_with_a_huge_value_is_shortened(tmp_path) -> None:
    huge = "a" * 65536
    proc = subprocess.run([SIMCON, "--root", str(tmp_path), "state", huge], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1
    [line] = proc.stderr.splitlines()
    assert "invalid container id" in line and len(line) < 1000
