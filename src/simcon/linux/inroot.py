"""Paths inside a directory fd resolved as if that directory were `/`, without ever leaving it.

No path inside a container's rootfs is handed to the kernel as a string: each one is opened as an fd relative to
an fd of the rootfs, either by openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) or, where something must be
created (or the kernel has no openat2), by a walk that opens one component at a time with O_NOFOLLOW and
resolves symlinks itself. Used by the container init (``init.rootfs``) and by anyone in the parent that must
touch a path inside a rootfs. Raises ``OSError`` naming the path inside the root.
"""

from __future__ import annotations

import errno
import os
import stat

from simcon.linux import openat2 as o2

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing
if TYPE_CHECKING:
    from collections.abc import Callable

MAX_SYMLINKS = 40

_IN_ROOT = o2.RESOLVE_IN_ROOT | o2.RESOLVE_NO_MAGICLINKS
_EAGAIN_RETRIES = 64


def fd_path(fd: int) -> str:
    """The path that makes the kernel operate on exactly the object behind ``fd`` (a magic link)."""
    return f"/proc/self/fd/{fd}"


def host_path(fd: int) -> str:
    """Where ``fd`` actually is, for error messages."""
    try:
        return os.readlink(fd_path(fd))
    except OSError:
        return fd_path(fd)


def split_path(path: str) -> list[str]:
    return [p for p in path.split("/") if p and p != "."]


# --- resolving inside the rootfs (fd based) --------------------------------------------------------------------


def walk_in_root(root_fd: int, path: str, *, create_dirs: bool = False, mode: int = 0o755) -> int:
    """An O_PATH fd for ``path`` inside the directory ``root_fd``, resolved as if it were `/`.

    One component at a time, each opened with O_NOFOLLOW relative to the fd of the one before, so the kernel never
    follows a symlink for us: a symlink's target is spliced into the remaining path (an absolute one restarts at
    the root) and `..` never climbs above the root. With ``create_dirs``, missing directories are made on the way,
    including the ones a dangling symlink points to. Raises ``OSError`` naming the path inside the container.
    """
    parts = split_path(path)
    stack = [os.dup(root_fd)]  # fds of the resolved components; stack[0] is the root
    done: list[str] = []  # the in-root path of stack[-1], for error messages
    followed = 0
    try:
        while parts:
            part = parts.pop(0)
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                    done.pop()
                continue
            where = "/" + "/".join([*done, part])
            try:
                fd = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            except FileNotFoundError:
                if not create_dirs:
                    raise OSError(errno.ENOENT, os.strerror(errno.ENOENT), where) from None
                try:
                    os.mkdir(part, mode, dir_fd=stack[-1])
                except FileExistsError:  # appeared meanwhile; the next round opens it
                    pass
                parts.insert(0, part)
                continue
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, where) from exc
            if stat.S_ISLNK(os.fstat(fd).st_mode):
                try:
                    target = os.readlink(part, dir_fd=stack[-1])
                finally:
                    os.close(fd)
                followed += 1
                if followed > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), where)
                if target.startswith("/"):
                    while len(stack) > 1:
                        os.close(stack.pop())
                    done.clear()
                parts = split_path(target) + parts
                continue
            if parts and not stat.S_ISDIR(os.fstat(fd).st_mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), where)
            stack.append(fd)
            done.append(part)
        result = stack.pop()
    finally:
        for fd in stack:
            os.close(fd)
    return result


def open_in_root(root_fd: int, path: str, flags: int = os.O_PATH) -> int:
    """An fd for ``path`` inside ``root_fd`` that cannot be outside it, however hostile the rootfs.

    openat2 with RESOLVE_IN_ROOT when the kernel has it (it also refuses magic links such as /proc/self/root);
    otherwise the component walk, then reopened with ``flags`` through the fd.
    """
    if o2.available():
        relative = "/".join(split_path(path)) or "."
        for attempt in range(_EAGAIN_RETRIES):
            try:
                return o2.openat2(root_fd, relative, flags, _IN_ROOT)
            except BlockingIOError:
                # The kernel refuses to guess when a rename or mount raced with a `..` step: just ask again.
                if attempt == _EAGAIN_RETRIES - 1:
                    raise OSError(errno.EAGAIN, "the path kept changing while it was resolved", "/" + relative) from None
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, "/" + relative) from exc
    fd = walk_in_root(root_fd, path)
    if flags == os.O_PATH:
        return fd
    try:
        return os.open(fd_path(fd), flags | os.O_CLOEXEC)
    finally:
        os.close(fd)


def mkdirs_in_root(root_fd: int, path: str, mode: int = 0o755) -> int:
    """Create every missing directory of ``path`` inside ``root_fd``; an O_PATH fd of the last one."""
    fd = walk_in_root(root_fd, path, create_dirs=True, mode=mode)
    if not stat.S_ISDIR(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
    return fd


def mountpoint_in_root(root_fd: int, destination: str, *, is_file: bool, _depth: int = 0) -> int:
    """An O_PATH fd of ``destination`` inside the rootfs, created (a file or a directory) if missing.

    A dangling symlink on the way, or as the destination itself, is followed inside the rootfs and what it points
    to is created there.
    """
    try:
        return open_in_root(root_fd, destination)
    except FileNotFoundError:
        pass
    parts = split_path(destination)
    if not is_file or not parts or parts[-1] == "..":
        os.close(mkdirs_in_root(root_fd, destination))
        return open_in_root(root_fd, destination)
    parent_fd = mkdirs_in_root(root_fd, "/".join(parts[:-1]))
    try:
        try:
            link = os.readlink(parts[-1], dir_fd=parent_fd)
        except OSError:
            link = None
        if link is not None:
            if _depth >= MAX_SYMLINKS:
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), destination)
            target = link if link.startswith("/") else os.path.join(in_root_path(root_fd, parent_fd), link)
            os.close(mountpoint_in_root(root_fd, target, is_file=True, _depth=_depth + 1))
        else:
            try:
                os.close(os.open(parts[-1], os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC,
                                 0o644, dir_fd=parent_fd))
            except FileExistsError:
                pass
    finally:
        os.close(parent_fd)
    return open_in_root(root_fd, destination)


def in_root_path(root_fd: int, fd: int) -> str:
    """The in-root path of ``fd`` (a directory inside ``root_fd``), as `/a/b`."""
    root = host_path(root_fd).rstrip("/")
    path = host_path(fd)
    return "/" + path[len(root):].lstrip("/") if path.startswith(root) else "/"


# --- the path-returning forms (host paths; the rootfs given as a path) -----------------------------------------


def resolve_in_root(root: str, path: str) -> str:
    """The host path of ``path`` inside ``root``, resolving symlinks and `..` without leaving ``root``.

    Pure string work plus readlink; components that do not exist yet are appended as they are. For display and
    tests: the mount code itself never uses a string path inside the rootfs (see ``open_in_root``).
    """
    parts = split_path(path)
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
        parts = split_path(target) + parts
    return os.path.join(root, *resolved)


def _with_root(root: str, action: Callable[[int], int]) -> str:
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = action(root_fd)
    finally:
        os.close(root_fd)
    try:
        return host_path(fd)
    finally:
        os.close(fd)


def make_parents_in_root(root: str, path: str, mode: int = 0o755) -> str:
    """Create each missing directory of ``path`` inside ``root``; the host path of the last one."""
    return _with_root(root, lambda root_fd: mkdirs_in_root(root_fd, path, mode))


def ensure_mountpoint(root: str, destination: str, *, is_file: bool) -> str:
    """The host path of ``destination`` inside ``root``, created (file or directory) if missing."""
    return _with_root(root, lambda root_fd: mountpoint_in_root(root_fd, destination, is_file=is_file))
