"""Reading and writing cgroupfs files; every failure becomes a ``CgroupError`` that names the file.

``mkdir`` and ``rmdir`` are looked up through this module at call time so unit tests can replace them with a fake
that behaves like cgroupfs (new directories get their interface files; ``rmdir`` refuses populated cgroups).
"""

from __future__ import annotations

import os

from simcon.errors import CgroupError

mkdir = os.mkdir
rmdir = os.rmdir


def strerror(exc: OSError) -> str:
    """``exc``'s message in our lowercase style: ``no such process``."""
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]


def read(cgroup_dir: str, name: str) -> str:
    """The content of ``cgroup_dir/name`` without the trailing newline."""
    path = os.path.join(cgroup_dir, name)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().rstrip("\n")
    except OSError as exc:
        raise CgroupError(f"read: {strerror(exc)}", path=path, errno=exc.errno or 0) from exc


def write(cgroup_dir: str, name: str, value: str) -> None:
    """Write ``value`` to ``cgroup_dir/name`` in one ``write(2)``; the file must exist (cgroupfs creates them)."""
    path = os.path.join(cgroup_dir, name)
    data = value.encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as exc:
        raise CgroupError(f'write "{value}": {strerror(exc)}', path=path, errno=exc.errno or 0) from exc


def read_pids(cgroup_dir: str, name: str = "cgroup.procs") -> list[int]:
    """The pids listed in ``cgroup_dir/cgroup.procs``; none when the cgroup is gone. (systemd removes an emptied
    scope by itself: a read racing with that fails with ENODEV, or ENOENT once the directory is gone.)"""
    import errno

    try:
        return [int(word) for word in read(cgroup_dir, name).split()]
    except CgroupError as exc:
        if exc.errno in (errno.ENOENT, errno.ENODEV):
            return []
        raise


def subtree(cgroup_dir: str) -> list[str]:
    """``cgroup_dir`` and every cgroup below it, children before their parent (the order ``rmdir`` needs).

    A directory that vanishes while walking (a cgroup removed concurrently) is skipped; a missing ``cgroup_dir``
    gives an empty list.
    """
    out: list[str] = []
    try:
        entries = list(os.scandir(cgroup_dir))
    except FileNotFoundError:
        return out
    except OSError as exc:
        raise CgroupError(f"list: {strerror(exc)}", path=cgroup_dir, errno=exc.errno or 0) from exc
    for entry in entries:
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            continue
        if is_dir:
            out.extend(subtree(entry.path))
    out.append(cgroup_dir)
    return out
