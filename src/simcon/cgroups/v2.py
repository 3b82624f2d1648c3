"""The cgroup v2 driver: the container directory in the unified hierarchy.

Freezing writes ``cgroup.freeze`` and waits for ``frozen 1`` in ``cgroup.events`` (Linux 5.2+); ``cgroup.kill``
(Linux 5.14+) SIGKILLs the whole subtree atomically, racing no fork. Both files exist only below the root.

Devices have no files on v2: ``set_device_filter`` attaches an eBPF program (``cgroups.devfilter``) to the
directory, and the kernel drops it when the directory is removed.
"""

from __future__ import annotations

import errno as _errno
import os
import time

from simcon.cgroups import fs
from simcon.cgroups.mounts import Hierarchy
from simcon.errors import CgroupError

# The name our device programs carry (at most 15 bytes), so that `update` replaces ours and nothing else.
DEVICE_FILTER_NAME = "simcon_devices"


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


# -- device filter --------------------------------------------------------------------------------------------------


def set_device_filter(cgroup_dir: str, insns: bytes, field: str) -> None:
    """Attach the device program ``insns`` to ``cgroup_dir``, replacing the one SimCon attached before.

    BPF_F_ALLOW_MULTI, so programs of the parents (systemd's, an engine's) keep applying too. The old program is
    swapped out atomically with BPF_F_REPLACE (Linux 5.6+); where the kernel lacks it, the new one is attached
    before the old one is detached: either way the container is never without a filter. ``field`` names the
    resource in errors.
    """
    from simcon.cgroups.controllers._common import ResourceError, warn
    from simcon.linux import bpf

    try:
        dir_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise ResourceError(field, f"open: {fs.strerror(exc)}", path=cgroup_dir, errno=exc.errno or 0) from exc
    old: list[int] = []
    step = "query the attached device programs"
    try:
        old = _own_device_programs(dir_fd)
        step = "load the device filter (eBPF)"
        prog = bpf.prog_load(bpf.BPF_PROG_TYPE_CGROUP_DEVICE, insns, DEVICE_FILTER_NAME)
        try:
            step = "attach the device filter"
            flags = bpf.BPF_F_ALLOW_MULTI
            if len(old) == 1:
                try:
                    bpf.prog_attach(dir_fd, prog, bpf.BPF_CGROUP_DEVICE, flags | bpf.BPF_F_REPLACE, old[0])
                    return
                except OSError as exc:
                    if exc.errno != _errno.EINVAL:  # EINVAL: no BPF_F_REPLACE in this kernel
                        raise
            bpf.prog_attach(dir_fd, prog, bpf.BPF_CGROUP_DEVICE, flags)
            step = "detach the previous device filter"
            for fd in old:
                bpf.prog_detach(dir_fd, fd, bpf.BPF_CGROUP_DEVICE)
        finally:
            os.close(prog)
    except OSError as exc:
        if exc.errno == _errno.EPERM and os.geteuid() != 0:
            # Rootless in a delegated cgroup: loading eBPF needs privileges the user lacks (runc skips it too).
            warn(field, f"not enforced: {step}: {fs.strerror(exc)} (unprivileged user)")
            return
        raise ResourceError(field, f"{step}: {fs.strerror(exc)}", path=cgroup_dir, errno=exc.errno or 0) from exc
    finally:
        for fd in old:
            os.close(fd)
        os.close(dir_fd)


def _own_device_programs(dir_fd: int) -> list[int]:
    """fds of the device programs SimCon attached to this very directory (found by name)."""
    from simcon.linux import bpf

    fds = []
    for prog_id in bpf.prog_query(dir_fd, bpf.BPF_CGROUP_DEVICE):
        try:
            fd = bpf.prog_fd_by_id(prog_id)
        except FileNotFoundError:
            continue  # gone meanwhile
        if bpf.prog_info(fd).name.decode(errors="replace") == DEVICE_FILTER_NAME:
            fds.append(fd)
        else:
            os.close(fd)
    return fds
