"""The compiled-filter cache seen from the outside: a second container with the same profile reuses the entry,
a changed profile gets its own, and a corrupt entry is recompiled (the container still gets the right filter)."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.simcon_only("SimCon's own cache directory")

X86 = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]


def block_mkdir(errno_ret: int) -> dict:
    # The cache directory is shared by the session: the `acct` rule makes these profiles this file's own, so that
    # another test's mkdir profile compiled earlier cannot be the entry these tests expect to be new.
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": X86,
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno_ret},
                         {"names": ["acct"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}


def mkdir_error(rt, seccomp: dict) -> str:
    def edit(bundle) -> None:
        bundle.config["linux"]["seccomp"] = seccomp

    proc = rt.run_container(["sh", "-c", "mkdir /tmp/x 2>&1; true"], edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    return proc.stdout.strip()


def entries(directory) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.endswith(".bpf")) if directory.exists() else []


def test_same_profile_reuses_the_entry_and_another_gets_its_own(rt, seccomp_cache_dir) -> None:
    before = entries(seccomp_cache_dir)
    assert mkdir_error(rt, block_mkdir(1)).endswith("Operation not permitted")
    first = entries(seccomp_cache_dir)
    assert len(first) == len(before) + 1
    assert mkdir_error(rt, block_mkdir(1)).endswith("Operation not permitted")
    assert entries(seccomp_cache_dir) == first
    assert mkdir_error(rt, block_mkdir(13)).endswith("Permission denied")
    assert len(entries(seccomp_cache_dir)) == len(first) + 1


def test_a_corrupt_entry_is_recompiled_not_trusted(rt, seccomp_cache_dir) -> None:
    profile = block_mkdir(2)  # ENOENT: a profile of this test only
    before = set(entries(seccomp_cache_dir))
    assert mkdir_error(rt, profile).endswith("No such file or directory")
    (name,) = set(entries(seccomp_cache_dir)) - before
    path = seccomp_cache_dir / name
    good = path.read_bytes()
    # Damage the program: a filter that would, if trusted, be loaded garbled (or refused by the kernel).
    path.write_bytes(good[:-8] + bytes(8))
    assert mkdir_error(rt, profile).endswith("No such file or directory")
    assert path.read_bytes() == good  # recompiled and written back whole
