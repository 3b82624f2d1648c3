"""simcon.linux.inroot, fd-based resolution: openat2(RESOLVE_IN_ROOT) and the O_NOFOLLOW component walk.

A tmp dir plays the rootfs and holds what a hostile image could ship: symlinks to `/`, to host paths, climbing
`..` chains, magic links. Every result is checked by where its fd really is (/proc/self/fd), and the host paths a
symlink names are checked to stay untouched. Both the openat2 path and the fallback walk are exercised. Nothing
here mounts anything.
"""

from __future__ import annotations

import errno
import os
import stat
import uuid

import pytest

from simcon.init import rootfs
from simcon.linux import inroot as fs
from simcon.linux import openat2 as o2


@pytest.fixture
def root(tmp_path) -> str:
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    (r / "usr" / "bin").mkdir(parents=True)
    (r / "bin").symlink_to("usr/bin")
    (r / "run").mkdir()
    (r / "var").mkdir()
    (r / "var" / "run").symlink_to("/run")
    return os.path.realpath(r)


@pytest.fixture
def root_fd(root: str):  # noqa: ANN201
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    yield fd
    os.close(fd)


@pytest.fixture(params=["openat2", "walk"])
def resolver(request, monkeypatch) -> str:
    """Run the test with the kernel's openat2 and again with the userspace fallback."""
    if request.param == "openat2":
        if not o2.available():
            pytest.skip("this kernel has no openat2 (Linux < 5.6)")
    else:
        monkeypatch.setattr(o2, "available", lambda: False)
    return request.param


def where(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)


def host_name() -> str:
    return f"simcon-test-{uuid.uuid4()}"


# --- open_in_root ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path, expected", [
    ("/", ""),
    ("/etc/passwd", "etc/passwd"),
    ("etc//./passwd", "etc/passwd"),
    ("/bin", "usr/bin"),
    ("/var/run", "run"),
    ("/var/run/../etc", "etc"),
    ("/../../../etc/passwd", "etc/passwd"),
])
def test_open_in_root(root: str, root_fd: int, resolver: str, path: str, expected: str) -> None:
    assert where(fs.open_in_root(root_fd, path)) == (os.path.join(root, expected) if expected else root)


@pytest.mark.parametrize("link", ["/", "..", "../../../../../..", "/../..", "/etc/../.."])
def test_symlink_to_slash_or_above_is_the_rootfs(root: str, root_fd: int, resolver: str, link: str) -> None:
    os.symlink(link, os.path.join(root, "proc"))
    assert where(fs.open_in_root(root_fd, "/proc")) == root
    assert where(fs.open_in_root(root_fd, "/proc/etc/passwd")) == os.path.join(root, "etc", "passwd")


def test_absolute_host_path_symlink_stays_inside(root: str, root_fd: int, resolver: str) -> None:
    os.makedirs(os.path.join(root, "tmp", "host-path"))
    os.symlink("/tmp/host-path", os.path.join(root, "dev"))
    assert where(fs.open_in_root(root_fd, "/dev")) == os.path.join(root, "tmp", "host-path")


def test_missing_is_enoent_with_the_container_path(root_fd: int, resolver: str) -> None:
    with pytest.raises(FileNotFoundError) as info:
        fs.open_in_root(root_fd, "/etc/nope/deeper")
    assert info.value.filename.startswith("/etc/nope")


def test_dangling_symlink_to_a_host_path_is_enoent_not_the_host_file(root: str, root_fd: int, resolver: str) -> None:
    os.symlink("/etc/hostname", os.path.join(root, "etc", "hosts"))  # exists on the host, not in the rootfs
    with pytest.raises(FileNotFoundError):
        fs.open_in_root(root_fd, "/etc/hosts")


def test_magic_link_is_refused(root: str, root_fd: int) -> None:
    """A rootfs symlink to /proc/self/root would be a way out if magic links were followed."""
    if not o2.available():
        pytest.skip("RESOLVE_NO_MAGICLINKS needs openat2 (Linux >= 5.6)")
    os.makedirs(os.path.join(root, "proc", "self"))
    os.symlink("/", os.path.join(root, "proc", "self", "root"))  # harmless in the rootfs itself
    assert where(fs.open_in_root(root_fd, "/proc/self/root")) == root
    # The host's /proc/self/root magic link, reached through a dir fd, is refused outright.
    proc = os.open("/proc/self", os.O_PATH | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as info:
            o2.openat2(proc, "root", os.O_PATH, o2.RESOLVE_NO_MAGICLINKS)
        assert info.value.errno == errno.ELOOP
    finally:
        os.close(proc)


def test_symlink_loop_is_eloop(root: str, root_fd: int, resolver: str) -> None:
    os.symlink("l2", os.path.join(root, "l1"))
    os.symlink("/l1", os.path.join(root, "l2"))
    with pytest.raises(OSError) as info:
        fs.open_in_root(root_fd, "/l1/x")
    assert info.value.errno == errno.ELOOP


def test_open_with_flags(root: str, root_fd: int, resolver: str) -> None:
    fd = fs.open_in_root(root_fd, "/var/../etc/passwd", os.O_RDONLY)
    try:
        assert os.read(fd, 5) == b"root:"
    finally:
        os.close(fd)


# --- walk_in_root / mkdirs_in_root / mountpoint_in_root ---------------------------------------------------------


def test_walk_never_follows_a_symlink_out(root: str, root_fd: int) -> None:
    os.symlink("../../../../../../../..", os.path.join(root, "etc", "up"))
    assert where(fs.walk_in_root(root_fd, "/etc/up/etc/passwd")) == os.path.join(root, "etc", "passwd")


def test_walk_through_a_regular_file_is_enotdir(root_fd: int) -> None:
    with pytest.raises(NotADirectoryError):
        fs.walk_in_root(root_fd, "/etc/passwd/x")


@pytest.mark.parametrize("link", ["/", "../../../../..", "/../../.."])
def test_mkdirs_through_escaping_symlink_creates_inside(root: str, root_fd: int, link: str) -> None:
    name = host_name()
    os.symlink(link, os.path.join(root, "etc", "evil"))
    try:
        assert where(fs.mkdirs_in_root(root_fd, f"/etc/evil/{name}/sub")) == os.path.join(root, name, "sub")
    finally:
        assert not os.path.lexists(f"/{name}"), "created a directory on the host"
        assert not os.path.lexists(os.path.join(os.path.dirname(root), name))


def test_mkdirs_follows_dangling_symlink_into_the_rootfs(root: str, root_fd: int) -> None:
    os.symlink("/srv/lock", os.path.join(root, "var", "lock"))
    assert where(fs.mkdirs_in_root(root_fd, "/var/lock/app")) == os.path.join(root, "srv", "lock", "app")


def test_mkdirs_onto_a_file_is_enotdir(root_fd: int) -> None:
    with pytest.raises(NotADirectoryError):
        fs.mkdirs_in_root(root_fd, "/etc/passwd")


def test_mkdirs_mode_goes_through_umask(root: str, root_fd: int) -> None:
    os.close(fs.mkdirs_in_root(root_fd, "/opt/app", 0o700))
    assert stat.S_IMODE(os.stat(os.path.join(root, "opt")).st_mode) == 0o700 & ~_umask()


@pytest.mark.parametrize("is_file", [True, False])
def test_mountpoint_created_by_type(root: str, root_fd: int, resolver: str, is_file: bool) -> None:
    fd = fs.mountpoint_in_root(root_fd, "/var/run/secrets/token", is_file=is_file)
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == os.path.join(root, "run", "secrets", "token")
        assert stat.S_ISREG(os.fstat(fd).st_mode) if is_file else stat.S_ISDIR(os.fstat(fd).st_mode)
    finally:
        os.close(fd)


def test_mountpoint_file_through_dangling_symlink_to_host_file(root: str, root_fd: int, resolver: str) -> None:
    """/etc/hosts -> /etc/<name> where only the host could have that file: created inside the rootfs."""
    name = host_name()
    os.symlink(f"/etc/{name}", os.path.join(root, "etc", "hosts"))
    try:
        assert where(fs.mountpoint_in_root(root_fd, "/etc/hosts", is_file=True)) == os.path.join(root, "etc", name)
        assert os.path.isfile(os.path.join(root, "etc", name))
    finally:
        assert not os.path.lexists(f"/etc/{name}")


def test_mountpoint_file_through_relative_dangling_symlink(root: str, root_fd: int, resolver: str) -> None:
    os.symlink("../../../../run/x.conf", os.path.join(root, "etc", "x.conf"))
    assert where(fs.mountpoint_in_root(root_fd, "/etc/x.conf", is_file=True)) == os.path.join(root, "run", "x.conf")


def test_mountpoint_keeps_existing_content(root: str, root_fd: int) -> None:
    os.close(fs.mountpoint_in_root(root_fd, "/etc/passwd", is_file=True))
    with open(os.path.join(root, "etc", "passwd")) as f:
        assert f.read().startswith("root:")


def test_mountpoint_dir_through_symlink_to_slash(root: str, root_fd: int, resolver: str) -> None:
    os.symlink("/", os.path.join(root, "proc"))
    assert where(fs.mountpoint_in_root(root_fd, "/proc", is_file=False)) == root


# --- copy_tree (tmpcopyup) -------------------------------------------------------------------------------------


def test_copy_tree_keeps_modes_owners_times_and_links(tmp_path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "file").write_text("data\n")
    os.chmod(src / "file", 0o640)
    owner = (123, 456) if os.geteuid() == 0 else (os.getuid(), os.getgid())  # only root can give files away
    os.chown(src / "file", *owner)
    os.utime(src / "file", ns=(1_000_000_000, 2_000_000_000))
    (src / "sub" / "deep").write_text("deep\n")
    os.chmod(src / "sub", 0o711)
    (src / "link").symlink_to("/etc/shadow")
    os.mkfifo(src / "fifo", 0o600)
    dst = tmp_path / "dst"
    dst.mkdir()
    sfd, dfd = os.open(src, os.O_RDONLY | os.O_DIRECTORY), os.open(dst, os.O_RDONLY | os.O_DIRECTORY)
    try:
        rootfs.copy_tree(sfd, dfd)
    finally:
        os.close(sfd)
        os.close(dfd)
    st = os.stat(dst / "file")
    assert (dst / "file").read_text() == "data\n"
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns) == (0o640, *owner, 2_000_000_000)
    assert (dst / "sub" / "deep").read_text() == "deep\n"
    assert stat.S_IMODE(os.stat(dst / "sub").st_mode) == 0o711
    assert os.readlink(dst / "link") == "/etc/shadow"  # copied as a link, never followed
    assert stat.S_ISFIFO(os.lstat(dst / "fifo").st_mode)


# --- the path-returning forms -----------------------------------------------------------------------------------


def test_ensure_mountpoint_and_make_parents_return_host_paths(root: str) -> None:
    assert fs.make_parents_in_root(root, "/a/b") == os.path.join(root, "a", "b")
    assert fs.ensure_mountpoint(root, "/a/b/c", is_file=True) == os.path.join(root, "a", "b", "c")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_openat2_eagain_is_retried(root: str, root_fd: int, monkeypatch) -> None:
    """openat2 returns EAGAIN when a rename raced with a `..` step; the answer is to resolve again."""
    real = o2.openat2
    calls = []

    def flaky(dir_fd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
        calls.append(path)
        if len(calls) < 3:
            raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN), path)
        return real(dir_fd, path, flags, resolve, mode)

    monkeypatch.setattr(o2, "available", lambda: True)
    monkeypatch.setattr(o2, "openat2", flaky)
    assert where(fs.open_in_root(root_fd, "/etc/passwd")) == os.path.join(root, "etc", "passwd")
    assert calls == ["etc/passwd"] * 3


def test_openat2_eagain_forever_is_an_error(root_fd: int, monkeypatch) -> None:
    def always(dir_fd: int, path: str, flags: int, resolve: int, mode: int = 0) -> int:
        raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN), path)

    monkeypatch.setattr(o2, "available", lambda: True)
    monkeypatch.setattr(o2, "openat2", always)
    with pytest.raises(OSError) as info:
        fs.open_in_root(root_fd, "/etc/passwd")
    assert info.value.errno == errno.EAGAIN and info.value.filename == "/etc/passwd"
