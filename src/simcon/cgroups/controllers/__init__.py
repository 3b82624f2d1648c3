"""One writer per cgroup controller, and the table that says which hierarchy each writes to.

Each module has ``wants(resources)`` (is anything set for it?) and ``apply(resources, cgroup_dir, version,
field)``; ``CgroupManager.apply`` picks the directory: the v1 hierarchy carrying the controller, else the v2 one.
What can be checked from the values alone (whatever the host) is a module's ``check(resources, field)``, run once
by ``check`` below when the plan is built (create) or the update is read, before any cgroup file is written.
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



def check(resources, field: str) -> None:  # noqa: ANN001 - a spec.model.Resources
    """``ResourceError`` naming the JSON path (``field`` + the resource) of the first value no host would take."""
    for _v1_name, _json_name, writer in WRITERS:
        checker = getattr(writer, "check", None)
        if checker is not None:
            checker(resources, field)


__all__ = ["WRITERS", "ResourceError", "check", "devices", "unified"]
