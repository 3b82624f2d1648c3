"""The cgroup v1 driver: one container directory in one v1 hierarchy (``cpu,cpuacct``, ``memory``, ``name=systemd``...).

What differs from v2 lives here: new cpuset directories start with empty ``cpuset.cpus``/``cpuset.mems`` (no
process can join until they are copied from the parent), and freezing goes through ``freezer.state``.
"""

from __future__ import annotations

import os
import time

from simcon.cgroups import fs
from simcon.cgroups.mounts import Hierarchy
from simcon.errors import CgroupError


class V1Cgroup:
    __slots__ = ("hierarchy", "dir")

    version = 1

    def __init__(self, hierarchy: Hierarchy, cgroup_dir: str) -> None:
        self.hierarchy = hierarchy
        self.dir = cgroup_dir

    def has(self, controller: str) -> bool:
        return controller in self.hierarchy.controllers

    def init_dir(self, path: str) -> None:
        """Make the freshly made (or found empty) directory ``path`` joinable: fill cpuset from its parent."""
        if self.has("cpuset"):
            parent = os.path.dirname(path)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not fs.read(path, name).strip():
                    fs.write(path, name, fs.read(parent, name))

    # -- freezer --------------------------------------------------------------------------------------------------

    def can_freeze(self) -> bool:
        return self.has("freezer")

    def freeze(self, timeout: float) -> None:
        """Write FROZEN and wait until the kernel reports FROZEN (it passes through FREEZING); thaw on timeout."""
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            # Re-writing FROZEN retries tasks that were busy (e.g. in vfork) on the previous attempt.
            fs.write(self.dir, "freezer.state", "FROZEN")
            state = fs.read(self.dir, "freezer.state").strip()
            if state == "FROZEN":
                return
            if time.monotonic() >= deadline:
                self.thaw()
                raise CgroupError(
                    f"freeze: still {state} after {timeout:g}s", path=os.path.join(self.dir, "freezer.state")
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def thaw(self) -> None:
        fs.write(self.dir, "freezer.state", "THAWED")

    def is_frozen(self) -> bool:
        return fs.read(self.dir, "freezer.state").strip() == "FROZEN"

    def kill(self) -> bool:
        """v1 has no ``cgroup.kill``."""
        return False

    def __repr__(self) -> str:
        return f"V1Cgroup({self.hierarchy.key!r}, {self.dir!r})"
