"""rdma: one ``rdma.max`` line per device (``mlx4_0 hca_handle=2 hca_object=2000``), the same on v1 and v2."""

from __future__ import annotations

from simcon.cgroups.controllers._common import write


def wants(resources) -> bool:  # noqa: ANN001
    return bool(resources.rdma)


def apply(resources, cgroup_dir: str, version: int, field: str) -> None:  # noqa: ANN001, ARG001
    for device, limits in resources.rdma.items():
        parts = [device]
        if limits.hca_handles is not None:
            parts.append(f"hca_handle={limits.hca_handles}")
        if limits.hca_objects is not None:
            parts.append(f"hca_object={limits.hca_objects}")
        if len(parts) > 1:
            write(cgroup_dir, "rdma.max", " ".join(parts), f'{field}.rdma["{device}"]')
