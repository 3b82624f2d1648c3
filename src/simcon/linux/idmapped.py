"""Idmapped mounts: a detached copy of a mount tree that shows its files' owners through an id mapping.

Made in the parent with the host's privileges (the kernel idmaps a mount only for a caller privileged over the
filesystem) and attached by the init with move_mount.
"""

from __future__ import annotations

import errno
import os

from simcon.linux import mount as m
from simcon.linux import namespaces as ns


def clone_idmapped(source: str, uid_map: str, gid_map: str, *, recursive_bind: bool, recursive_idmap: bool) -> int:
    """A detached copy of the mount tree at ``source`` carrying the id mapping (``uid_map``/``gid_map``: lines of
    "inside outside count"): an fd to attach with move_mount.

    ``recursive_bind`` clones the submounts too (rbind); ``recursive_idmap`` (ridmap) maps them as well.
    """
    if not os.path.exists(source):
        raise OSError(errno.ENOENT, "bind source does not exist", source)
    userns = user_namespace_fd(uid_map, gid_map)
    try:
        clone_flags = m.OPEN_TREE_CLONE | m.OPEN_TREE_CLOEXEC | (m.AT_RECURSIVE if recursive_bind else 0)
        tree = m.open_tree(m.AT_FDCWD, source, clone_flags)
        try:
            m.mount_setattr(tree, "", m.AT_EMPTY_PATH | (m.AT_RECURSIVE if recursive_idmap else 0),
                            m.MOUNT_ATTR_IDMAP, userns_fd=userns, what=source)
        except BaseException:
            os.close(tree)
            raise
        return tree
    finally:
        os.close(userns)


def user_namespace_fd(uid_map: str, gid_map: str) -> int:
    """An fd of a new user namespace with these maps (lines of "inside outside count"), held by no process.

    A short-lived child unshares it and waits; we write its maps, open its ns file, and let it go.
    """
    ready_r, ready_w = os.pipe2(os.O_CLOEXEC)
    done_r, done_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(ready_r)
            os.close(done_w)
            # Our pid as the mounted /proc knows it: the init may be in a new pid namespace while /proc is the
            # host's, where os.getpid() would name some other process.
            proc_pid = os.readlink("/proc/self")
            ns.unshare(ns.CLONE_NEWUSER)
            os.write(ready_w, proc_pid.encode())
            os.read(done_r, 1)
            code = 0
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(done_r)
    try:
        proc_pid = os.read(ready_r, 32).decode()
        if not proc_pid.isdigit():
            raise OSError(errno.EPERM, "could not create a user namespace for an idmapped mount")
        for name, content in (("uid_map", uid_map), ("gid_map", gid_map)):
            fd = os.open(f"/proc/{proc_pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, content.encode())
            except OSError as exc:
                raise OSError(exc.errno, exc.strerror, f"{name} of the idmapped mount's user namespace") from exc
            finally:
                os.close(fd)
        return os.open(f"/proc/{proc_pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(ready_r)
        os.close(done_w)
        os.waitpid(pid, 0)
