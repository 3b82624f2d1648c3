"""A container's network namespace, made before the container and pinned by a bind mount on a file.

Why pinned and made first (as podman does): the CNI plugins need a namespace path, and DEL must be able to run
with the same path after the container's processes are gone, or after `simcon create` was killed halfway. The
container then simply joins the namespace by path, like any namespace an engine hands over.
"""

from __future__ import annotations

import os

from simcon.linux import mount as m
from simcon.linux.namespaces import CLONE_NEWNET, setns, unshare


def create_pinned(path: str) -> None:
    """A new, empty network namespace, kept alive by a bind mount of it on ``path`` (created here)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        # unshare moves this thread into the new namespace; setns puts it back. SimCon is single-threaded here.
        unshare(CLONE_NEWNET)
        try:
            m.mount("/proc/thread-self/ns/net", path, None, m.MS_BIND)
            _allow_low_ports()
        finally:
            setns(own, CLONE_NEWNET, "/proc/thread-self/ns/net")
    except BaseException:
        os.unlink(path)
        raise
    finally:
        os.close(own)


def _allow_low_ports() -> None:
    """As podman does: any user of the container may bind ports below 1024 in its own namespace (a web server
    on port 80 without CAP_NET_BIND_SERVICE). /proc/sys/net is the writer's namespace: we are inside it now."""
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start", "w") as f:
        f.write("0")


def is_pinned(path: str) -> bool:
    """True while ``path`` holds a namespace: nsfs has one superblock, so its device is that of our own ns."""
    try:
        return os.stat(path).st_dev == os.stat("/proc/self/ns/net").st_dev
    except OSError:
        return False


def remove_pinned(path: str) -> None:
    """Unmount and remove the pin; the namespace dies with its last user. Missing pieces are fine."""
    if is_pinned(path):
        m.umount2(path, m.MNT_DETACH)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
