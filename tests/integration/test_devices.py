"""`linux.devices`: nodes are created, never over something of the rootfs.

The runtime-spec says a file at a device's path that is not that device is an error; runc silently keeps
whatever is there, and SimCon used to unlink it (destroying a file of the bundle's rootfs on disk). Now a
matching device node (same type and numbers) is accepted as it is, anything else fails `create` with one line
naming `linux.devices[i]` and the path, and the rootfs is left exactly as it was.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

SECRET = "top secret\n"


def _device(path: str, kind: str = "c", major: int = 1, minor: int = 3) -> dict:
    return {"path": path, "type": kind, "major": major, "minor": minor, "fileMode": 0o666}


def _snapshot(path: Path) -> tuple:
    st = os.lstat(path)
    content = os.readlink(path) if stat.S_ISLNK(st.st_mode) else (
        path.read_text() if stat.S_ISREG(st.st_mode) else None)
    return st.st_ino, stat.S_IFMT(st.st_mode), st.st_rdev, content


def _one_line_error(rt, proc, *words: str) -> None:  # noqa: ANN001
    assert proc.returncode != 0, rt.describe(proc)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, rt.describe(proc)
    for word in words:
        assert word in lines[0], rt.describe(proc)


# What may sit at a device's path in the rootfs, each made by a function of the rootfs dir.
EXISTING = {
    "regular file": lambda root: (root / "etc" / "secret").write_text(SECRET),
    "directory": lambda root: (root / "etc" / "secret").mkdir(),
    "symlink to a file": lambda root: ((root / "etc" / "target").write_text(SECRET),
                                       (root / "etc" / "secret").symlink_to("target")),
    "dangling symlink": lambda root: (root / "etc" / "secret").symlink_to("/nowhere"),
    "fifo": lambda root: os.mkfifo(root / "etc" / "secret"),
    "other char device": lambda root: os.mknod(root / "etc" / "secret", 0o600 | stat.S_IFCHR, os.makedev(1, 5)),
    "block device, same numbers": lambda root: os.mknod(root / "etc" / "secret", 0o600 | stat.S_IFBLK,
                                                        os.makedev(1, 3)),
}


@pytest.mark.simcon_only("runc keeps whatever is at the path and reports nothing")
@pytest.mark.parametrize("what", sorted(EXISTING))
def test_a_device_never_replaces_what_is_in_the_rootfs(rt, what: str) -> None:  # noqa: ANN001
    bundle = rt.bundle(["true"], write=False)
    EXISTING[what](bundle.rootfs)
    secret = bundle.rootfs / "etc" / "secret"
    before = _snapshot(secret)
    bundle.config["linux"]["devices"] = [_device("/dev/ok", minor=5), _device("/etc/secret")]
    bundle.write()
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid)
    _one_line_error(rt, proc, "linux.devices[1]", "/etc/secret", "c 1:3")
    assert _snapshot(secret) == before
    assert rt.root_entries() == []


def test_a_matching_device_node_in_the_rootfs_is_kept(rt) -> None:  # noqa: ANN001
    bundle = rt.bundle(["sh", "-c", "stat -c '%F %t:%T' /etc/mynull; echo x > /etc/mynull && echo written"],
                       write=False)
    node = bundle.rootfs / "etc" / "mynull"
    os.mknod(node, 0o640 | stat.S_IFCHR, os.makedev(1, 3))
    before = _snapshot(node)
    bundle.config["linux"]["devices"] = [_device("/etc/mynull")]
    bundle.write()
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["character special file 1:3", "written"]
    assert _snapshot(node) == before
    assert stat.S_IMODE(os.lstat(node).st_mode) == 0o640  # as it was: nothing of the rootfs is changed


def test_missing_parent_directories_are_made(rt) -> None:  # noqa: ANN001
    bundle = rt.bundle(["stat", "-c", "%F %t:%T %a", "/opt/deep/er/zero"], write=False)
    bundle.config["linux"]["devices"] = [{**_device("/opt/deep/er/zero", minor=5), "fileMode": 0o620}]
    bundle.write()
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.split() == ["character", "special", "file", "1:5", "620"]


@pytest.mark.simcon_only("runc reports mkdir's error in its own words")
def test_a_file_where_a_parent_directory_should_be_fails_cleanly(rt) -> None:  # noqa: ANN001
    bundle = rt.bundle(["true"], write=False)
    secret = bundle.rootfs / "etc" / "secret"
    secret.write_text(SECRET)
    before = _snapshot(secret)
    bundle.config["linux"]["devices"] = [_device("/etc/secret/null")]
    bundle.write()
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid)
    _one_line_error(rt, proc, "linux.devices[0]", "/etc/secret")
    assert _snapshot(secret) == before


@pytest.mark.simcon_only("runc creates no device at all when /dev is bind-mounted, and reports nothing")
def test_bind_mounted_dev_is_checked_never_written(rt) -> None:  # noqa: ANN001
    # A /dev of the test's own (never the host's): it holds one null node and nothing else.
    fake_dev = rt.mkdir("fake-dev")
    os.mknod(fake_dev / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    before = sorted(os.listdir(fake_dev))

    def bundle_with(devices: list[dict], args: list[str]):  # noqa: ANN202
        bundle = rt.bundle(args, write=False)
        bundle.config["mounts"] = [m for m in bundle.config["mounts"] if not m["destination"].startswith("/dev")]
        bundle.add_mount("/dev", fake_dev)
        bundle.config["linux"]["devices"] = devices
        return bundle.write()

    ok = bundle_with([_device("/dev/null")], ["sh", "-c", "echo x > /dev/null && echo null-ok"])
    proc = rt.run("run", "--bundle", ok.path, ok.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.split() == ["null-ok"]

    missing = bundle_with([_device("/dev/null"), _device("/dev/mynull")], ["true"])
    proc = rt.run("run", "--bundle", missing.path, missing.cid)
    _one_line_error(rt, proc, "linux.devices[1]", "/dev/mynull", "bind")
    assert sorted(os.listdir(fake_dev)) == before
