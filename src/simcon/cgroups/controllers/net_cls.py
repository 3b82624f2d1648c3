"""network.classID: ``net_cls.classid`` (v1 only; cgroup v2 has no net_cls controller)."""

from __future__ import annotations

from simcon.cgroups.controllers._common import ResourceError, write


def wants(resources) -> bool:  # noqa: ANN001
    return resources.network is not None and resources.network.class_id is not None


def apply(resources, cgroup_dir: str, version: int, field: str) -> None:  # noqa: ANN001
    if not wants(resources):
        return
    where = f"{field}.network.classID"
    if version == 2:
        raise ResourceError(where, "cgroup v2 has no net_cls controller (mark packets with nftables' "
                            "`socket cgroupv2` instead)")
    write(cgroup_dir, "net_cls.classid", str(resources.network.class_id), where)
