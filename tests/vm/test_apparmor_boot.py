"""The AppArmor boot of the test VM (`scripts/vm/run-in-vm.sh --apparmor`): the LSM is on, its securityfs is
there and Debian's apparmor_parser loads and removes a profile. The security issue's AppArmor tests build on it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SECURITYFS = Path("/sys/kernel/security/apparmor")
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


def test_securityfs_shows_apparmor() -> None:
    assert SECURITYFS.is_dir()
    assert (SECURITYFS / "profiles").exists()


def test_parser_loads_and_removes_a_profile(tmp_path: Path) -> None:
    name = f"simcon-vm-smoke-{os.getpid()}"
    profile = tmp_path / name
    profile.write_text(f"profile {name} {{\n  file,\n}}\n")
    load = subprocess.run([PARSER, "-r", "-W", str(profile)], capture_output=True, text=True, timeout=120)
    assert load.returncode == 0, load.stderr
    try:
        loaded = (SECURITYFS / "profiles").read_text().splitlines()
        assert f"{name} (enforce)" in loaded
    finally:
        remove = subprocess.run([PARSER, "-R", str(profile)], capture_output=True, text=True, timeout=120)
    assert remove.returncode == 0, remove.stderr
    assert f"{name} (enforce)" not in (SECURITYFS / "profiles").read_text().splitlines()
