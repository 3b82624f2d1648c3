"""Building the container's filesystem view inside its new mount namespace.

Runs in the container init, before and after pivot_root. The rule that keeps the host safe: no path inside the
rootfs is ever handed to the kernel as a string. Each one is opened as an fd relative to an fd of the rootfs,
either by openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) or, where something must be created (or the kernel
has no openat2), by a walk that opens one component at a time with O_NOFOLLOW and resolves symlinks itself as if
the rootfs were `/` (``linux.inroot``). The mount is then made onto that fd through ``/proc/self/fd/N``. A rootfs whose `/proc` is a
symlink to `/`, or a mount destination reaching up through `../../..`, therefore lands inside the rootfs (the
class of runc CVE-2021-30465), and a symlink swapped in between the check and the mount changes nothing.
"""

from __future__ import annotations

import errno
import os
import stat

from simcon.init.plan import DevicePlan, MountPlan
from simcon.linux import mount as m
from simcon.linux.idmapped import clone_idmapped
from simcon.linux.inroot import (
    fd_path,
    host_path,
    mkdirs_in_root,
    mountpoint_in_root,
    open_in_root,
    split_path,
)

# Flags a remount must carry over from the existing mount, or the kernel refuses it (locked mounts) or
# silently clears them. statvfs's ST_* values equal the MS_* ones for these.
_KEPT_ON_REMOUNT = m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC | m.MS_NOATIME | m.MS_NODIRATIME | m.MS_RELATIME


class RootfsError(Exception):
    """A failed rootfs step: the step's name plus the ``OSError`` (errno and path) that caused it."""

    def __init__(self, step: str, cause: OSError) -> None:
        super().__init__(step)
        self.step = step
        self.cause = cause


# --- mounting onto fds -----------------------------------------------------------------------------------------


def _mount(source: str | None, fd: int, fstype: str | None, flags: int, data: str | None = None) -> None:
    try:
        m.mount(source, fd_path(fd), fstype, flags, data)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, host_path(fd)) from exc


def kept_flags(fd_or_path: int | str) -> int:
    if isinstance(fd_or_path, int):
        return os.fstatvfs(fd_or_path).f_flag & _KEPT_ON_REMOUNT
    return os.statvfs(fd_or_path).f_flag & _KEPT_ON_REMOUNT


def set_root_propagation(flags: int) -> None:
    # Nothing mounted from here on may propagate back to the host: the container's mounts stay its own.
    m.mount(None, "/", None, flags)


def bind_rootfs(rootfs: str) -> None:
    """pivot_root needs the new root to be a mount point: bind it onto itself."""
    m.mount(rootfs, rootfs, None, m.MS_BIND | m.MS_REC)


def open_rootfs(rootfs: str) -> int:
    """The fd every later path inside the rootfs is resolved against (taken after ``bind_rootfs``)."""
    return os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)


def make_parent_mount_private(rootfs: str) -> None:
    """pivot_root refuses a new root whose parent mount is shared (as with rootfsPropagation "shared")."""
    parent = _mountpoint_of(os.path.dirname(rootfs))
    m.mount(None, parent, None, m.MS_PRIVATE)


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def _mountinfo() -> list[tuple[int, int, str]]:
    """(mount id, parent id, mount point) of every mount this process can see."""
    result = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split(" ", 5)
            result.append((int(fields[0]), int(fields[1]), _unescape(fields[4])))
    return result


def _mountpoint_of(path: str) -> str:
    best = "/"
    for _, _, point in _mountinfo():
        if (path == point or path.startswith(point.rstrip("/") + "/")) and len(point) > len(best):
            best = point
    return best


def mount_one(root_fd: int, mp: MountPlan, cgroup_binds: list[tuple[str, str]], unified_only: bool,
              idmapped_tree: int = -1) -> None:
    """Carry out one planned mount onto its destination inside the rootfs ``root_fd``. ``idmapped_tree``: the fd
    of the detached idmapped tree the parent made for an idmapped bind (-1: make it here)."""
    try:
        _mount_one(root_fd, mp, cgroup_binds, unified_only, idmapped_tree)
    except OSError as exc:
        if exc.filename == "/" + "/".join(split_path(mp.destination)):
            # The step already names the destination: say it once.
            raise OSError(exc.errno, exc.strerror) from exc
        raise


def _destination(root_fd: int, mp: MountPlan, *, is_file: bool) -> int:
    """The O_PATH fd to mount onto; never the rootfs's own root, which a symlink to `/` or `..` would make it."""
    fd = mountpoint_in_root(root_fd, mp.destination, is_file=is_file)
    st, root = os.fstat(fd), os.fstat(root_fd)
    if (st.st_dev, st.st_ino) == (root.st_dev, root.st_ino):
        os.close(fd)
        raise OSError(errno.EINVAL, "the destination resolves to the root of the rootfs (a symlink to `/` or `..`?);"
                                    " refusing to mount over it")
    return fd


def _mount_one(root_fd: int, mp: MountPlan, cgroup_binds: list[tuple[str, str]], unified_only: bool,
               idmapped_tree: int) -> None:
    if mp.flags & m.MS_REMOUNT and not mp.is_bind:
        # `remount` changes the flags of what is already mounted there (say, /dev made read-only after the
        # devices were created), as runc does: no new mount, and the destination must be a mount already.
        fd = open_in_root(root_fd, mp.destination)
        try:
            _mount(None, fd, None, mp.flags, mp.data or None)
        finally:
            os.close(fd)
        return
    if mp.is_bind:
        if not os.path.exists(mp.source):
            raise OSError(errno.ENOENT, "bind source does not exist", mp.source)
        fd = _destination(root_fd, mp, is_file=not os.path.isdir(mp.source))
        try:
            if mp.idmap is not None:
                _idmapped_bind(mp, fd, idmapped_tree)
            else:
                _mount(mp.source, fd, None, m.MS_BIND | (mp.flags & m.MS_REC))
        finally:
            os.close(fd)
        fd = open_in_root(root_fd, mp.destination)  # the new mount, not the directory under it
        # A bind mount ignores most flags: they take effect only through a remount of the new mount.
        extra = mp.flags & ~(m.MS_BIND | m.MS_REC | m.MS_REMOUNT)
        if extra:
            _mount(None, fd, None, m.MS_BIND | m.MS_REMOUNT | extra | kept_flags(fd))
    else:
        fd = _destination(root_fd, mp, is_file=False)
        below = None
        try:
            if mp.tmpcopyup:
                below = os.open(fd_path(fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            if mp.fstype in ("cgroup", "cgroup2"):
                mount_cgroups(root_fd, fd, mp, cgroup_binds, unified_only)
            else:
                _mount(mp.source, fd, mp.fstype, mp.flags & ~m.MS_REMOUNT, mp.data or None)
            os.close(fd)
            fd = -1
            fd = open_in_root(root_fd, mp.destination)
            if below is not None:
                # The fd taken before the mount still reaches the directory now hidden under it.
                new = os.open(fd_path(fd), os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    copy_tree(below, new)
                finally:
                    os.close(new)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            raise
        finally:
            if below is not None:
                os.close(below)
    try:
        if mp.attr_set or mp.attr_clr:
            m.mount_setattr(fd, "", m.AT_EMPTY_PATH | m.AT_RECURSIVE, mp.attr_set, mp.attr_clr,
                            what=host_path(fd))
        for propagation in mp.propagation:
            _mount(None, fd, None, propagation)
    finally:
        os.close(fd)


def mount_cgroups(root_fd: int, fd: int, mp: MountPlan, cgroup_binds: list[tuple[str, str]],
                  unified_only: bool) -> None:
    """The container's view of its cgroups onto ``fd``: cgroup2 itself on a unified host; on v1, a tmpfs holding
    a bind of the container's own directory of each hierarchy (read-only unless the config says rw)."""
    flags = mp.flags | m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC
    if unified_only:
        _mount("cgroup2", fd, "cgroup2", flags)
        return
    _mount("tmpfs", fd, "tmpfs", m.MS_NOSUID | m.MS_NODEV | m.MS_NOEXEC, "mode=755")
    # ``fd`` (and /proc/self/fd/N) is still the directory under the new tmpfs: resolve the path again to reach the
    # tmpfs. It is fresh, so plain paths below it are safe.
    top = open_in_root(root_fd, mp.destination, os.O_PATH | os.O_DIRECTORY)
    try:
        base = fd_path(top)
        for host_dir, name in cgroup_binds:
            try:
                os.mkdir(name, 0o755, dir_fd=top)
            except FileExistsError:
                pass
            sub = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=top)
            try:
                _mount(host_dir, sub, None, m.MS_BIND)
            finally:
                os.close(sub)
            m.mount(None, os.path.join(base, name), None, m.MS_BIND | m.MS_REMOUNT | flags
                    | kept_flags(os.path.join(base, name)))
        if flags & m.MS_RDONLY:
            _mount(None, top, None, m.MS_REMOUNT | flags, "mode=755")
    finally:
        os.close(top)


def copy_tree(src_fd: int, dst_fd: int) -> None:
    """Copy the directory ``src_fd``'s content into ``dst_fd`` (tmpcopyup): modes, owners and times kept,
    symlinks copied as symlinks, never followed."""
    with os.scandir(src_fd) as entries:
        names = [entry.name for entry in entries]
    for name in names:
        st = os.lstat(name, dir_fd=src_fd)
        kind = stat.S_IFMT(st.st_mode)
        if kind == stat.S_IFDIR:
            os.mkdir(name, 0o700, dir_fd=dst_fd)
            sub_src = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
            sub_dst = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst_fd)
            try:
                copy_tree(sub_src, sub_dst)
            finally:
                os.close(sub_src)
                os.close(sub_dst)
        elif kind == stat.S_IFLNK:
            os.symlink(os.readlink(name, dir_fd=src_fd), name, dir_fd=dst_fd)
        elif kind == stat.S_IFREG:
            _copy_file(src_fd, dst_fd, name, st.st_size)
        elif kind in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO):
            os.mknod(name, st.st_mode, st.st_rdev, dir_fd=dst_fd)
        else:  # a socket means nothing without its listener
            continue
        os.chown(name, st.st_uid, st.st_gid, dir_fd=dst_fd, follow_symlinks=False)
        if kind != stat.S_IFLNK:
            os.chmod(name, stat.S_IMODE(st.st_mode), dir_fd=dst_fd)
        os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_fd, follow_symlinks=False)


def _copy_file(src_fd: int, dst_fd: int, name: str, size: int) -> None:
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd)
    try:
        dst = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                      dir_fd=dst_fd)
        try:
            offset = 0
            while offset < size:
                sent = os.sendfile(dst, src, offset, size - offset)
                if sent == 0:
                    break
                offset += sent
        finally:
            os.close(dst)
    finally:
        os.close(src)


# --- idmapped mounts -------------------------------------------------------------------------------------------


def _idmapped_bind(mp: MountPlan, target_fd: int, tree: int) -> None:
    """Attach the mount's idmapped tree (``tree``, made by the parent; -1: made here) onto ``target_fd``."""
    if tree < 0:
        tree = clone_idmapped(mp.source, mp.idmap.uid_map, mp.idmap.gid_map, recursive_bind=bool(mp.flags & m.MS_REC),
                              recursive_idmap=mp.idmap.recursive)
    try:
        m.move_mount(tree, "", target_fd, "", m.MOVE_MOUNT_F_EMPTY_PATH | m.MOVE_MOUNT_T_EMPTY_PATH)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, host_path(target_fd)) from exc
    finally:
        os.close(tree)


# --- devices ---------------------------------------------------------------------------------------------------


_NODE_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}
_FILE_KINDS = {stat.S_IFREG: "a regular file", stat.S_IFDIR: "a directory", stat.S_IFLNK: "a symlink",
               stat.S_IFIFO: "a fifo", stat.S_IFSOCK: "a socket", stat.S_IFCHR: "the char device",
               stat.S_IFBLK: "the block device"}


def _node_text(kind: int, rdev: int) -> str:
    """``c 1:3``, ``b 7:0``, ``fifo``: a node as the errors name it."""
    if kind == stat.S_IFIFO:
        return "fifo"
    return f"{'b' if kind == stat.S_IFBLK else 'c'} {os.major(rdev)}:{os.minor(rdev)}"


def _check_existing(st: os.stat_result, kind: int, rdev: int) -> None:
    """Accept the node already at the path only if it is the very device asked for (as runc keeps it)."""
    have = stat.S_IFMT(st.st_mode)
    if have == kind and (kind == stat.S_IFIFO or st.st_rdev == rdev):
        return
    what = _FILE_KINDS.get(have, "something else")
    if have in (stat.S_IFCHR, stat.S_IFBLK):
        what = f"{what} {os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
    raise OSError(errno.EEXIST, f"already exists as {what}, not {_node_text(kind, rdev)}: a device never replaces "
                                "what is in the rootfs")


def create_device(root_fd: int, dev: DevicePlan) -> None:
    """Make the node ``dev`` inside the rootfs, or accept the same node already there.

    Nothing at the path is ever removed or replaced: that would destroy a file of the bundle's rootfs on disk
    (the runtime-spec makes a mismatch an error). Missing parent directories are made, as runc does, except where
    ``dev.may_create`` is False (a bind-mounted /dev): there the node must exist already.
    """
    parts = split_path(dev.path)
    kind = _NODE_TYPES[dev.kind]
    rdev = 0 if kind == stat.S_IFIFO else os.makedev(dev.major, dev.minor)
    try:
        if dev.may_create:
            parent = mkdirs_in_root(root_fd, "/" + "/".join(parts[:-1]))
        else:
            parent = open_in_root(root_fd, "/" + "/".join(parts[:-1]), os.O_PATH | os.O_DIRECTORY)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, exc.filename if exc.filename != dev.path else None) from exc
    name = parts[-1]
    try:
        try:
            _check_existing(os.lstat(name, dir_fd=parent), kind, rdev)
            return
        except FileNotFoundError:
            if not dev.may_create:
                raise OSError(errno.ENOENT, "no such node in the bind-mounted /dev, and SimCon never adds nodes "
                                            "to a directory bound from elsewhere") from None
        try:
            os.mknod(name, kind | (dev.mode & 0o7777), rdev, dir_fd=parent)
        except FileExistsError:
            # Something appeared since the lstat: judge it the same way, never replace it.
            _check_existing(os.lstat(name, dir_fd=parent), kind, rdev)
            return
        except PermissionError:
            # No mknod (a user namespace): bind the host's node instead, as runc does.
            os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644,
                             dir_fd=parent))
            node = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
            try:
                _mount(dev.path, node, None, m.MS_BIND)
            finally:
                os.close(node)
            return
        os.chown(name, dev.uid, dev.gid, dir_fd=parent, follow_symlinks=False)
        # mknod's mode went through the umask: set it exactly.
        os.chmod(name, dev.mode & 0o7777, dir_fd=parent)
    except OSError as exc:
        # The step names the device and its path; a different path (the host node bound) is worth saying.
        raise OSError(exc.errno, exc.strerror, exc.filename if exc.filename != dev.path else None) from exc
    finally:
        os.close(parent)


def create_dev_symlinks(root_fd: int) -> None:
    dev = open_in_root(root_fd, "/dev", os.O_PATH | os.O_DIRECTORY)
    try:
        links = [("/proc/self/fd", "fd"), ("/proc/self/fd/0", "stdin"), ("/proc/self/fd/1", "stdout"),
                 ("/proc/self/fd/2", "stderr")]
        if os.path.exists("/proc/kcore"):
            links.append(("/proc/kcore", "core"))
        if _exists("pts", dev) and not _exists("ptmx", dev):
            links.append(("pts/ptmx", "ptmx"))
        for target, name in links:
            if not _exists(name, dev):
                os.symlink(target, name, dir_fd=dev)
    finally:
        os.close(dev)


def _exists(name: str, dir_fd: int) -> bool:
    try:
        os.lstat(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True


def make_workdir(root_fd: int, path: str) -> None:
    os.close(mkdirs_in_root(root_fd, path))


# --- changing root ---------------------------------------------------------------------------------------------


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
    """`--no-pivot`: move the rootfs mount over / and chroot into it (for ramdisk roots where pivot fails).

    Unlike pivot_root this leaves the host's mounts attached under the moved rootfs, so each of them is detached
    afterwards (as a slave first, so the unmount cannot propagate to the host): nothing of the host's mount table
    stays reachable from inside.
    """
    rootfs = rootfs.rstrip("/")
    mounts = _mountinfo()
    root_ids = {mid for mid, _, point in mounts if point == "/"}
    host_points = [point for _, parent, point in mounts
                   if parent in root_ids and point != "/" and point != rootfs
                   and not rootfs.startswith(point.rstrip("/") + "/")]
    # The mounts holding the rootfs can only go once the rootfs has moved out from under them.
    holders = [point for _, parent, point in mounts
               if parent in root_ids and point != "/" and rootfs.startswith(point.rstrip("/") + "/")]
    old_root = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new_root = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new_root)
        m.mount(rootfs, "/", None, m.MS_MOVE)
        # Relative paths from the old root's fd still reach the host's mounts hidden under the moved rootfs.
        os.fchdir(old_root)
        for point in [*host_points, *holders]:
            relative = point.lstrip("/")
            try:
                m.mount(None, relative, None, m.MS_SLAVE | m.MS_REC)
                m.umount2(relative, m.MNT_DETACH)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOENT):  # already gone with a parent
                    raise
        os.fchdir(new_root)  # the moved rootfs mount (a path "/" would still start at the old root)
        os.chroot(".")
        os.chdir("/")
    finally:
        os.close(old_root)
        os.close(new_root)


# --- after the root changed ------------------------------------------------------------------------------------


def _open_here(path: str) -> int | None:
    """An O_PATH fd for ``path`` in the (new) root, or None when it does not exist."""
    root = os.open("/", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return open_in_root(root, path)
    except FileNotFoundError:
        return None
    finally:
        os.close(root)


def _target(fd: int, path: str) -> str:
    # /proc/self/fd is the container's own /proc by now; without one, the plain path is still confined to the
    # new root.
    return fd_path(fd) if os.path.isdir("/proc/self/fd") else path


def mask_path(path: str) -> None:
    """Hide ``path`` (already inside the new root): files under /dev/null, directories under an empty ro tmpfs.

    A missing path is skipped silently, as in runc.
    """
    fd = _open_here(path)
    if fd is None:
        return
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            m.mount("tmpfs", _target(fd, path), "tmpfs", m.MS_RDONLY)
            return
        null = _open_here("/dev/null")
        if null is None:
            raise OSError(errno.ENOENT, "cannot mask a file without /dev/null", "/dev/null")
        try:
            st = os.fstat(null)
            # Binding something other than the real null device over a file would expose instead of mask.
            if not stat.S_ISCHR(st.st_mode) or st.st_rdev != os.makedev(1, 3):
                raise OSError(errno.EINVAL, "/dev/null is not the null device", "/dev/null")
            m.mount(_target(null, "/dev/null"), _target(fd, path), None, m.MS_BIND)
        finally:
            os.close(null)
    finally:
        os.close(fd)


def make_readonly(path: str) -> None:
    """Bind ``path`` onto itself read-only; a missing path is skipped silently."""
    fd = _open_here(path)
    if fd is None:
        return
    try:
        m.mount(_target(fd, path), _target(fd, path), None, m.MS_BIND | m.MS_REC)
    finally:
        os.close(fd)
    fd = _open_here(path)
    if fd is None:
        return
    try:
        m.mount(None, _target(fd, path), None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | m.MS_REC | kept_flags(fd))
    finally:
        os.close(fd)


def remount_root_readonly() -> None:
    """Only the root mount itself: the mounts on top of it keep their own flags."""
    m.mount(None, "/", None, m.MS_BIND | m.MS_REMOUNT | m.MS_RDONLY | kept_flags("/"))
