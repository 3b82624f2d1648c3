"""Building the container's filesystem view inside its new mount namespace.

Runs in the container init, before and after pivot_root. Paths inside the rootfs are resolved by
``resolve_in_root``, which follows symlinks as if the rootfs were `/`, so a symlink in the rootfs cannot point a
mount at a host path.
"""

from __future__ import annotations

import errno
import os
import stat

from simcon.linux import mount as m

MAX_SYMLINKS = 40

# Flags a remount must carry over from the existing mount, or the kernel refuses it (locked mounts) or
# silently clears them. statvfs's ST_* values equal the MS_* ones for these.
_KEPT_ON_REMOUNT = m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC | m.MS_NOATIME | m.MS_NODIRATIME | m.MS_RELATIME


class RootfsError(Exception):
    """A failed rootfs step: the step's name plus the ``OSError`` (errno and path) that caused it."""

    def __init__(self, step: str, cause: OSError) -> None:
        super().__init__(step)
        self.step = step
        self.cause = cause


def resolve_in_root(root: str, path: str) -> str:
    """The host path of ``path`` inside ``root``, resolving symlinks and `..` without leaving ``root``.

    Components that do not exist yet are appended as they are (the caller may create them).
    """
    parts = [p for p in path.split("/") if p and p != "."]
    resolved: list[str] = []
    followed = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            target = os.readlink(candidate)
        except OSError:  # not a symlink, or does not exist
            resolved.append(part)
            continue
        followed += 1
        if followed > MAX_SYMLINKS:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), os.path.join("/", *resolved, part))
        if target.startswith("/"):
            resolved = []
        parts = [p for p in target.split("/") if p and p != "."] + parts
    return os.path.join(root, *resolved)


def make_parents_in_root(root: str, path: str, mode: int = 0o755) -> str:
    """Create each missing directory of ``path`` inside ``root``, re-resolving after every step."""
    parts = [p for p in path.split("/") if p]
    current = "/"
    for part in parts:
        current = os.path.join(current, part)
        host = resolve_in_root(root, current)
        if not os.path.lexists(host):
            # `host` is already resolved inside the root; a dangling in-root symlink may need several levels.
            os.makedirs(host, mode, exist_ok=True)
    return resolve_in_root(root, path)


def ensure_mountpoint(root: str, destination: str, *, is_file: bool) -> str:
    target = resolve_in_root(root, destination)
    if os.path.lexists(target):
        return target
    parent = os.path.dirname(destination.rstrip("/")) or "/"
    make_parents_in_root(root, parent)
    target = resolve_in_root(root, destination)
    if is_file:
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
    else:
        os.mkdir(target, 0o755)
    return target


def kept_flags(path: str) -> int:
    return os.statvfs(path).f_flag & _KEPT_ON_REMOUNT


def set_root_propagation(flags: int) -> None:
    # Nothing mounted from here on may propagate back to the host: the container's mounts stay its own.
    m.mount(None, "/", None, flags)


def bind_rootfs(rootfs: str) -> None:
    """pivot_root needs the new root to be a mount point: bind it onto itself."""
    m.mount(rootfs, rootfs, None, m.MS_BIND | m.MS_REC)


def make_parent_mount_private(rootfs: str) -> None:
    """pivot_root refuses a new root whose parent mount is shared (as with rootfsPropagation "shared")."""
    parent = _mountpoint_of(os.path.dirname(rootfs))
    m.mount(None, parent, None, m.MS_PRIVATE)


def _mountpoint_of(path: str) -> str:
    best = "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
                best = point
    return best


def mount_one(rootfs: str, mp, cgroup_binds: list[tuple[str, str]], unified_only: bool) -> None:  # noqa: ANN001
    """Carry out one planned mount onto its destination inside ``rootfs``."""
    if mp.is_bind:
        source_is_dir = os.path.isdir(mp.source)
        if not os.path.exists(mp.source):
            raise OSError(errno.ENOENT, "bind source does not exist", mp.source)
        target = ensure_mountpoint(rootfs, mp.destination, is_file=not source_is_dir)
        m.mount(mp.source, target, None, m.MS_BIND | (mp.flags & m.MS_REC))
        # A bind mount ignores most flags: they take effect only through a remount of the new mount.
        extra = mp.flags & ~(m.MS_BIND | m.MS_REC | m.MS_REMOUNT)
        if extra:
            m.mount(None, target, None, m.MS_BIND | m.MS_REMOUNT | extra | kept_flags(target))
    elif mp.fstype == "cgroup" or mp.fstype == "cgroup2":
        target = ensure_mountpoint(rootfs, mp.destination, is_file=False)
        mount_cgroups(target, mp, cgroup_binds, unified_only)
    else:
        target = ensure_mountpoint(rootfs, mp.destination, is_file=False)
        m.mount(mp.source, target, mp.fstype, mp.flags & ~m.MS_REMOUNT, mp.data or None)
    for propagation in mp.propagation:
        m.mount(None, target, None, propagation)


def mount_cgroups(target: str, mp, cgroup_binds: list[tuple[str, str]], unified_only: bool) -> None:  # noqa: ANN001
    """The container's view of its cgroups: cgroup2 itself on a unified host; on v1, a tmpfs holding a bind of
    the container's own directory of each hierarchy (read-only unless the config says rw)."""
    flags = mp.flags | m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC
    if unified_only:
        m.mount("cgroup2", target, "cgroup2", flags)
        return
    m.mount("tmpfs", target, "tmpfs", m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC, "mode=755")
    for host_dir, name in cgroup_binds:
        sub = os.path.join(target, name)
        os.makedirs(sub, exist_ok=True)
        m.mount(host_dir, sub, None, m.MS_BIND)
        m.mount(None, sub, None, m.MS_BIND | m.MS_REMOUNT | flags | kept_flags(sub))
    if flags & m.MS_RDONLY:
        m.mount(None, target, None, m.MS_REMOUNT | flags, "mode=755")


def create_device(rootfs: str, dev) -> None:  # noqa: ANN001
    target = ensure_mountpoint(rootfs, os.path.dirname(dev.path), is_file=False)
    target = os.path.join(target, os.path.basename(dev.path))
    kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[dev.kind]
    if os.path.lexists(target):
        os.unlink(target)
    try:
        os.mknod(target, kind | (dev.mode & 0o7777), os.makedev(dev.major, dev.minor))
    except PermissionError:
        # No mknod (a user namespace): bind the host's node instead, as runc does.
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
        m.mount(dev.path, target, None, m.MS_BIND)
        return
    os.chown(target, dev.uid, dev.gid)
    os.chmod(target, dev.mode & 0o7777)


def create_dev_symlinks(rootfs: str) -> None:
    dev = resolve_in_root(rootfs, "/dev")
    links = [("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
             ("/proc/self/fd/2", "stderr")]
    if os.path.exists("/proc/kcore"):
        links.append(("/proc/kcore", "core"))
    if os.path.isdir(os.path.join(dev, "pts")) and not os.path.lexists(os.path.join(dev, "ptmx")):
        links.append(("pts/ptmx", "ptmx"))
    for target, name in links:
        path = os.path.join(dev, name)
        if not os.path.lexists(path):
            os.symlink(target, path)


def pivot_into(rootfs: str) -> None:
    """Make ``rootfs`` the root and detach the old one entirely (pivot_root(".", ".") keeps no directory)."""
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new_root = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new_root)
        m.pivot_root(".", ".")
        os.fchdir(old_root)
        # The old root is now stacked under "/": make it a slave so its unmount cannot reach the host, then go.
        m.mount(None, ".", None, m.MS_SLAVE | m.MS_REC)
        m.umount2(".", m.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old_root)
        os.close(new_root)


def move_into(rootfs: str) -> None:
    """`--no-pivot`: move the rootfs mount over / and chroot into it (for ramdisk roots where pivot fails)."""
    os.chdir(rootfs)
    m.mount(rootfs, "/", None, m.MS_MOVE)
    os.chroot(".")
    os.chdir("/")


def mask_path(path: str) -> None:
    """Hide ``path`` (already inside the new root): files under /dev/null, directories under an empty ro tmpfs."""
    try:
        is_dir = os.path.isdir(path)
        if not os.path.lexists(path):
            return
        if is_dir:
            m.mount("tmpfs", path, "tmpfs", m.MS_RDONLY)
        else:
            m.mount("/dev/null", path, None, m.MS_BIND)
    except FileNotFoundError:
        return


def make_readonly(path: str) -> None:
    if not os.path.lexists(path):
        return
    m.mount(path, path, None, m.MS_BIND | m.MS_REC)
    m.mount(None, path, None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | m.MS_REC | kept_flags(path))


def remount_root_readonly() -> None:
    m.mount(None, "/", None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | kept_flags("/"))
