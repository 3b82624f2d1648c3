"""process.apparmorProfile applied for real: in the VM booted with AppArmor (`run-in-vm.sh --apparmor`).

A profile is loaded with Debian's apparmor_parser; the container's process must run confined by it (as
/proc/self/attr/current says) and be denied what it denies, and so must a process `exec`'d into it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

PARSER = "/sbin/apparmor_parser"


def apparmor_enabled() -> bool:
    try:
        return Path("/sys/module/apparmor/parameters/enabled").read_text().strip() == "Y"
    except OSError:
        return False


pytestmark = [
    pytest.mark.apparmor,
    pytest.mark.skipif(not apparmor_enabled(), reason="needs AppArmor enabled: run `make test-vm` "
                       "(its second boot, `scripts/vm/run-in-vm.sh --apparmor -- .venv/bin/pytest -m apparmor tests/vm`)"),
]


@pytest.fixture
def profile(tmp_path: Path) -> Iterator[str]:
    """A loaded profile that allows what a container needs but writing below /tmp/denied; unloaded after."""
    name = f"simcon-test-{os.getpid()}-{os.urandom(3).hex()}"
    path = tmp_path / name
    path.write_text(
        f"profile {name} flags=(attach_disconnected,mediate_deleted) {{\n"
        "  file,\n  capability,\n  network,\n  signal,\n  ptrace,\n  unix,\n  mount,\n  umount,\n  pivot_root,\n"
        "  deny /tmp/denied/** w,\n"
        "}\n")
    load = subprocess.run([PARSER, "-r", "-W", str(path)], capture_output=True, text=True, timeout=300)
    assert load.returncode == 0, load.stderr
    try:
        yield name
    finally:
        subprocess.run([PARSER, "-R", str(path)], capture_output=True, text=True, timeout=300)


def confined_bundle(rt, args: list[str], profile: str):  # noqa: ANN001, ANN201
    bundle = rt.bundle(args, write=False)
    bundle.config["process"]["apparmorProfile"] = profile
    (bundle.rootfs / "tmp" / "denied").mkdir(parents=True, exist_ok=True)
    bundle.write()
    return bundle


def test_the_process_runs_confined_by_the_profile(rt, profile: str) -> None:  # noqa: ANN001
    bundle = confined_bundle(rt, ["sh", "-c", "cat /proc/self/attr/current; touch /tmp/allowed && echo allowed-ok; "
                                              "touch /tmp/denied/x; echo denied-rc=$?"], profile)
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    lines = proc.stdout.splitlines()
    assert lines[0] == f"{profile} (enforce)"
    assert "allowed-ok" in lines
    assert "denied-rc=1" in lines
    assert "Permission denied" in proc.stderr


def test_exec_gets_the_profile_too(rt, profile: str) -> None:  # noqa: ANN001
    bundle = confined_bundle(rt, ["sleep", "3600"], profile)
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    proc = rt.ok("exec", bundle.cid, "cat", "/proc/self/attr/current")
    assert proc.stdout.strip() == f"{profile} (enforce)"


def test_a_profile_that_is_not_loaded_is_a_clear_error(rt) -> None:  # noqa: ANN001
    bundle = confined_bundle(rt, ["true"], "simcon-no-such-profile")
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "process.apparmorProfile" in lines[0] and "not loaded" in lines[0], proc.stderr
    assert rt.root_entries() == []
