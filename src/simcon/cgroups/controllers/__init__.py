"""One writer per cgroup controller, and the table that says which hierarchy each writes to.

Each module has ``wants(resources)`` (is anything set for it?) and ``apply(resources, cgroup_dir, version,
field)``; ``CgroupManager.apply`` picks the directory: the v1 hierarchy carrying the controller, else the v2 one.
The order is runc's: cpuset before cpu (a new cpuset must be set up before tasks need it), devices early,
``unified`` last so raw keys win.
"""

from __future__ import annotations

from simcon.cgroups.controllers import (
    blkio,
    cpu,
    cpuset,
    devices,
    hugetlb,
    memory,
    net_cls,
    net_prio,
    pids,
    rdma,
    unified,
)
from simcon.cgroups.controllers._common import ResourceError

# (v1 controller, the resource's JSON name for messages, writer); on v2 every writer goes to the one directory.
WRITERS = (
    ("cpuset", "cpu", cpuset),
    ("devices", "devices", devices),
    ("memory", "memory", memory),
    ("cpu", "cpu", cpu),
    ("pids", "pids", pids),
    ("blkio", "blockIO", blkio),
    ("hugetlb", "hugepageLimits", hugetlb),
    ("net_cls", "network.classID", net_cls),
    ("net_prio", "network.priorities", net_prio),
    ("rdma", "rdma", rdma),
    ("", "unified", unified),
)

__all__ = ["WRITERS", "ResourceError", "devices", "unified"]
