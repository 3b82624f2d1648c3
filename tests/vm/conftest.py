"""Fixtures for the cgroup v2 tests that need a pure v2 kernel: they run inside the test VM (`make test-vm`).

On any other host (this project's hybrid hosts included) every test here is skipped with the reason
"needs a pure cgroup v2 host: run `make test-vm`", so `make test` collects and skips them cleanly. The harness
is the integration suite's (tests/integration/conftest.py: per-test --root, busybox bundles, absolute
cgroupsPath under /simcon-test-<hex>/, teardown that removes everything), loaded by v2harness.py.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

from v2harness import SKIP_REASON, finish, harness, make_harness, pure_v2_host

HERE = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "vm: needs a pure cgroup v2 kernel (runs in the test VM, `make test-vm`)")
    config.addinivalue_line("markers", "apparmor: needs the VM booted with AppArmor (`run-in-vm.sh --apparmor`)")
    config.addinivalue_line("markers", "systemd: needs systemd as PID 1 (`run-in-vm.sh --systemd`, make test-vm-systemd)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="the v2 tests run real containers and need root")
    elif not pure_v2_host():
        skip = pytest.mark.skip(reason=SKIP_REASON)
    else:
        skip = None
    for item in items:
        if HERE not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.vm)
        if skip is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def cgroup_parent() -> Iterator[str]:
    parent = f"/simcon-test-{os.urandom(4).hex()}"
    yield parent
    left = harness.remove_cgroup_tree(parent)
    assert not left, f"could not remove cgroup dirs: {left}"


@pytest.fixture(scope="session")
def rootfs_cache() -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="simcon-test-rootfs-"))
    rootfs = tmp / "rootfs"
    harness.mkbundle.make_rootfs(rootfs)
    yield rootfs
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def rt(rootfs_cache: Path, cgroup_parent: str) -> Iterator["harness.Harness"]:
    runtime = make_harness(rootfs_cache, cgroup_parent)
    try:
        yield runtime
    finally:
        problems = finish(runtime)
        if problems:
            print("vm test cleanup problems:", *problems, sep="\n  ", file=sys.stderr)
