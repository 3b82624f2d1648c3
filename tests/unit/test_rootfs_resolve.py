"""simcon.linux.inroot path logic: resolving container paths inside the rootfs without ever leaving it.

A tmp dir plays the rootfs; its symlinks are what a hostile image could ship. Nothing here mounts anything.
"""

from __future__ import annotations

import errno
import os
import uuid

import pytest

from simcon.linux.inroot import MAX_SYMLINKS, ensure_mountpoint, make_parents_in_root, resolve_in_root


@pytest.fixture
def root(tmp_path) -> str:
    """A small rootfs: /etc/passwd, /usr/bin/sh, /bin -> usr/bin, /var/run -> /run, /run."""
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (r / "usr" / "bin").mkdir(parents=True)
    (r / "usr" / "bin" / "sh").write_text("")
    (r / "bin").symlink_to("usr/bin")
    (r / "run").mkdir()
    (r / "var").mkdir()
    (r / "var" / "run").symlink_to("/run")
    return str(r)


def inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root + "/")


# --- resolve_in_root -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, expected", [
    ("/", ""),
    ("", ""),
    ("/etc/passwd", "etc/passwd"),
    ("etc/passwd", "etc/passwd"),
    ("//etc//./passwd/", "etc/passwd"),
    ("/bin/sh", "usr/bin/sh"),  # relative symlink
    ("/var/run/x.pid", "run/x.pid"),  # absolute symlink: relative to the root, not the host
    ("/var/run", "run"),
    ("/var/run/../etc", "etc"),  # `..` after a symlink applies to its target (physical resolution)
])
def test_resolve(root: str, path: str, expected: str) -> None:
    assert resolve_in_root(root, path) == (os.path.join(root, expected) if expected else root)


def test_root_itself(root: str) -> None:
    assert resolve_in_root(root, "/") == root


@pytest.mark.parametrize("path", ["/..", "/../..", "/../../../../etc/passwd", "/etc/../../../etc/passwd",
                                  "../etc/passwd", "/usr/bin/../../../../etc/passwd"])
def test_dotdot_cannot_climb_above_root(root: str, path: str) -> None:
    result = resolve_in_root(root, path)
    assert inside(root, result)
    assert result in (root, os.path.join(root, "etc", "passwd"))


def test_absolute_symlink_to_a_host_path_stays_inside(root: str) -> None:
    os.symlink("/etc/shadow", os.path.join(root, "shadow-link"))
    assert resolve_in_root(root, "/shadow-link") == os.path.join(root, "etc", "shadow")
    os.symlink("/", os.path.join(root, "slash"))
    assert resolve_in_root(root, "/slash/etc/passwd") == os.path.join(root, "etc", "passwd")


def test_relative_symlink_climbing_out_stays_inside(root: str) -> None:
    os.symlink("../../../../../../../../tmp", os.path.join(root, "etc", "up"))
    assert resolve_in_root(root, "/etc/up/file") == os.path.join(root, "tmp", "file")
    os.symlink("../../../../../../..", os.path.join(root, "usr", "bin", "top"))
    assert resolve_in_root(root, "/bin/top") == root


def test_symlink_chain(root: str) -> None:
    os.symlink("/b", os.path.join(root, "a"))
    os.symlink("c/../d", os.path.join(root, "b"))
    os.mkdir(os.path.join(root, "c"))
    os.symlink("/etc", os.path.join(root, "d"))
    assert resolve_in_root(root, "/a/passwd") == os.path.join(root, "etc", "passwd")


def test_missing_components_are_appended(root: str) -> None:
    assert resolve_in_root(root, "/etc/missing/deeper/file") == os.path.join(root, "etc", "missing", "deeper", "file")
    assert resolve_in_root(root, "/nope/../etc") == os.path.join(root, "etc")


def test_dangling_symlink_resolves_to_its_in_root_target(root: str) -> None:
    os.symlink("/nowhere/x", os.path.join(root, "dangle"))
    assert resolve_in_root(root, "/dangle/y") == os.path.join(root, "nowhere", "x", "y")


def test_component_under_a_regular_file_is_appended(root: str) -> None:
    assert resolve_in_root(root, "/etc/passwd/sub") == os.path.join(root, "etc", "passwd", "sub")


def test_symlink_loop_is_eloop(root: str) -> None:
    os.symlink("l2", os.path.join(root, "l1"))
    os.symlink("/l1", os.path.join(root, "l2"))
    with pytest.raises(OSError) as info:
        resolve_in_root(root, "/l1/x")
    assert info.value.errno == errno.ELOOP


def test_self_loop_is_eloop(root: str) -> None:
    os.symlink("self", os.path.join(root, "etc", "self"))
    with pytest.raises(OSError) as info:
        resolve_in_root(root, "/etc/self")
    assert info.value.errno == errno.ELOOP
    assert info.value.filename.startswith("/etc/")  # the path inside the container, not the host path


def test_many_but_finite_symlinks_are_fine(root: str) -> None:
    os.symlink("/etc", os.path.join(root, "s0"))
    for i in range(1, MAX_SYMLINKS):
        os.symlink(f"s{i - 1}", os.path.join(root, f"s{i}"))
    assert resolve_in_root(root, f"/s{MAX_SYMLINKS - 1}/passwd") == os.path.join(root, "etc", "passwd")
    os.symlink(f"s{MAX_SYMLINKS - 1}", os.path.join(root, f"s{MAX_SYMLINKS}"))
    with pytest.raises(OSError) as info:
        resolve_in_root(root, f"/s{MAX_SYMLINKS}/passwd")
    assert info.value.errno == errno.ELOOP


def test_does_not_touch_the_filesystem(root: str) -> None:
    before = sorted(os.walk(root))
    resolve_in_root(root, "/a/b/c/d")
    assert sorted(os.walk(root)) == before


# --- make_parents_in_root / ensure_mountpoint ------------------------------------------------------------------


def test_make_parents_creates_nested_dirs(root: str) -> None:
    result = make_parents_in_root(root, "/opt/app/data")
    assert result == os.path.join(root, "opt", "app", "data")
    assert os.path.isdir(result)
    assert os.stat(os.path.join(root, "opt")).st_mode & 0o777 == 0o755 & ~_umask()


def test_make_parents_existing_is_fine(root: str) -> None:
    assert make_parents_in_root(root, "/etc") == os.path.join(root, "etc")


def test_make_parents_follows_an_in_root_symlink(root: str) -> None:
    result = make_parents_in_root(root, "/var/run/app")
    assert result == os.path.join(root, "run", "app")
    assert os.path.isdir(os.path.join(root, "run", "app"))
    assert os.path.islink(os.path.join(root, "var", "run"))


def test_make_parents_through_symlink_to_slash_never_leaves_root(root: str) -> None:
    name = f"simcon-test-{uuid.uuid4()}"
    assert not os.path.lexists(f"/{name}")
    os.symlink("/", os.path.join(root, "evil"))
    try:
        result = make_parents_in_root(root, f"/evil/{name}/sub")
        assert result == os.path.join(root, name, "sub")
        assert os.path.isdir(os.path.join(root, name, "sub"))
    finally:
        assert not os.path.lexists(f"/{name}"), "created a directory on the host!"


def test_make_parents_through_relative_escape_never_leaves_root(root: str) -> None:
    name = f"simcon-test-{uuid.uuid4()}"
    host_dir = os.path.dirname(root)  # where `..` out of the rootfs would land
    os.symlink("../../../../../../../..", os.path.join(root, "etc", "evil"))
    try:
        result = make_parents_in_root(root, f"/etc/evil/{name}")
        assert result == os.path.join(root, name)
        assert os.path.isdir(result)
    finally:
        assert not os.path.lexists(f"/{name}")
        assert not os.path.lexists(os.path.join(host_dir, name))


def test_make_parents_through_dangling_symlink_to_nested_missing_dirs(root: str) -> None:
    """/var/lock -> /run/lock with no /run/lock yet (as in many images): the directories the symlink
    points to are missing directories of the path, and must be created inside the root."""
    os.symlink("/srv/lock", os.path.join(root, "var", "lock"))  # /srv does not exist either
    result = make_parents_in_root(root, "/var/lock/app")
    assert result == os.path.join(root, "srv", "lock", "app")
    assert os.path.isdir(result)


def test_ensure_mountpoint_makes_a_directory(root: str) -> None:
    target = ensure_mountpoint(root, "/var/run/secrets/kube", is_file=False)
    assert target == os.path.join(root, "run", "secrets", "kube")
    assert os.path.isdir(target)


def test_ensure_mountpoint_makes_a_file(root: str) -> None:
    target = ensure_mountpoint(root, "/etc/resolv.conf", is_file=True)
    assert target == os.path.join(root, "etc", "resolv.conf")
    assert os.path.isfile(target)
    target = ensure_mountpoint(root, "/new/dir/hosts", is_file=True)
    assert os.path.isfile(target) and target == os.path.join(root, "new", "dir", "hosts")


def test_ensure_mountpoint_keeps_existing(root: str) -> None:
    assert ensure_mountpoint(root, "/etc/passwd", is_file=False) == os.path.join(root, "etc", "passwd")
    with open(os.path.join(root, "etc", "passwd")) as f:
        assert f.read().startswith("root:")


def test_ensure_mountpoint_through_symlink_to_host_path_stays_inside(root: str) -> None:
    name = f"simcon-test-{uuid.uuid4()}"
    os.symlink(f"/{name}", os.path.join(root, "etc", "trap"))
    try:
        target = ensure_mountpoint(root, "/etc/trap", is_file=True)
        assert target == os.path.join(root, name)
        assert os.path.isfile(target)
    finally:
        assert not os.path.lexists(f"/{name}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
