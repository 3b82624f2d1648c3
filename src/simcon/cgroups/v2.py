"""The cgroup v2 driver: the container directory in the unified hierarchy.

Freezing writes ``cgroup.freeze`` and waits for ``frozen 1`` in ``cgroup.events`` (Linux 5.2+); ``cgroup.kill``
(Linux 5.14+) SIGKILLs the whole subtree atomically, racing no fork. Both files exist only below the root.
"""

from __future__ import annotations

import os
import time

from simcon.cgroups import fs
from simcon.cgroups.mounts import Hierarchy
from simcon.errors import CgroupError


class V2Cgroup:
    __slots__ = ("hierarchy", "dir")

    version = 2

    def __init__(self, hierarchy: Hierarchy, cgroup_dir: str) -> None:
        self.hierarchy = hierarchy
        self.dir = cgroup_dir

    def has(self, controller: str) -> bool:
        """Whether the hierarchy offers ``controller`` (listed in ``cgroup.controllers`` at the mount point)."""
        try:
            return controller in fs.read(self.hierarchy.mount_point, "cgroup.controllers").split()
        except CgroupError:
            return False

    def init_dir(self, path: str) -> None:
        """Enable in the parent of ``path`` every controller it offers, so ``path`` gets their files.

        Best effort, one controller at a time: a parent that holds processes itself (or a controller the
        administrator keeps for the root) refuses, and then that controller's files are missing below, which
        ``apply`` reports naming the file.
        """
        parent = os.path.dirname(path.rstrip("/"))
        mount_point = self.hierarchy.mount_point.rstrip("/")
        if parent != mount_point and not parent.startswith(mount_point + "/"):
            return
        try:
            offered = fs.read(parent, "cgroup.controllers").split()
            enabled = set(fs.read(parent, "cgroup.subtree_control").split())
        except CgroupError:
            return
        for name in offered:
            if name not in enabled:
                try:
                    fs.write(parent, "cgroup.subtree_control", f"+{name}")
                except CgroupError:
                    pass

    # -- freezer --------------------------------------------------------------------------------------------------

    def can_freeze(self) -> bool:
        return os.path.exists(os.path.join(self.dir, "cgroup.freeze"))

    def _events_frozen(self) -> bool:
        try:
            events = fs.read(self.dir, "cgroup.events")
        except CgroupError:
            return self.is_frozen()
        return "frozen 1" in events.splitlines()

    def freeze(self, timeout: float) -> None:
        fs.write(self.dir, "cgroup.freeze", "1")
        deadline = time.monotonic() + timeout
        delay = 0.001
        while not self._events_frozen():
            if time.monotonic() >= deadline:
                self.thaw()
                raise CgroupError(
                    f"freeze: `frozen 1` not reported after {timeout:g}s", path=os.path.join(self.dir, "cgroup.events")
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def thaw(self) -> None:
        fs.write(self.dir, "cgroup.freeze", "0")

    def is_frozen(self) -> bool:
        return fs.read(self.dir, "cgroup.freeze").strip() == "1"

    def kill(self) -> bool:
        """SIGKILL every process in the subtree through ``cgroup.kill``; False if the kernel lacks it."""
        if not os.path.exists(os.path.join(self.dir, "cgroup.kill")):
            return False
        fs.write(self.dir, "cgroup.kill", "1")
        return True

    def __repr__(self) -> str:
        return f"V2Cgroup({self.dir!r})"
