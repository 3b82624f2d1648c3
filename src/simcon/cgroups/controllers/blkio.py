"""blockIO: weights, per-device weights and throttles. v1 ``blkio.*``; v2 ``io.*``.

Weights: v1 takes 10-1000 in ``blkio.weight`` (CFQ) or ``blkio.bfq.weight`` (BFQ, the only one on recent
kernels). v2 writes the same value to ``io.bfq.weight`` when BFQ is there, else converts it to ``io.weight``'s
1-10000 as runc does. Throttles: v1 one file per kind; v2 one ``io.max`` line per device and kind.
"""

from __future__ import annotations

from simcon.cgroups.controllers._common import exists, warn, write

_THROTTLES = (  # (model attribute, JSON name, v1 file, v2 io.max key)
    ("throttle_read_bps_device", "throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps"),
    ("throttle_write_bps_device", "throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps"),
    ("throttle_read_iops_device", "throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops"),
    ("throttle_write_iops_device", "throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops"),
)


def blkio_to_io_weight(weight: int) -> int:
    """runc's map of the blkio weight [10, 1000] onto v2 io.weight [1, 10000]; 0 stays "not set"."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def wants(resources) -> bool:  # noqa: ANN001
    return resources.block_io is not None


def apply(resources, cgroup_dir: str, version: int, field: str) -> None:  # noqa: ANN001
    bio = resources.block_io
    if bio is None:
        return
    field = f"{field}.blockIO"
    if version == 1:
        _apply_v1(bio, cgroup_dir, field)
    else:
        _apply_v2(bio, cgroup_dir, field)
    for attr, json_name, v1_file, key in _THROTTLES:
        for i, dev in enumerate(getattr(bio, attr)):
            where = f"{field}.{json_name}[{i}]"
            if version == 1:
                write(cgroup_dir, v1_file, f"{dev.major}:{dev.minor} {dev.rate}", where)
            else:
                write(cgroup_dir, "io.max", f"{dev.major}:{dev.minor} {key}={dev.rate}", where)


def _apply_v1(bio, d: str, field: str) -> None:  # noqa: ANN001
    bfq = not exists(d, "blkio.weight") and exists(d, "blkio.bfq.weight")
    weight_file = "blkio.bfq.weight" if bfq else "blkio.weight"
    if bio.weight:
        write(d, weight_file, str(bio.weight), f"{field}.weight")
    if bio.leaf_weight:
        write(d, "blkio.leaf_weight", str(bio.leaf_weight), f"{field}.leafWeight")
    for i, dev in enumerate(bio.weight_device):
        where = f"{field}.weightDevice[{i}]"
        if dev.weight:
            write(d, f"{weight_file}_device", f"{dev.major}:{dev.minor} {dev.weight}", f"{where}.weight")
        if dev.leaf_weight:
            write(d, "blkio.leaf_weight_device", f"{dev.major}:{dev.minor} {dev.leaf_weight}", f"{where}.leafWeight")


def _apply_v2(bio, d: str, field: str) -> None:  # noqa: ANN001
    bfq = exists(d, "io.bfq.weight")
    if bio.weight:
        if bfq:
            write(d, "io.bfq.weight", str(bio.weight), f"{field}.weight")
        else:
            write(d, "io.weight", str(blkio_to_io_weight(bio.weight)), f"{field}.weight")
    if bio.leaf_weight:
        warn(f"{field}.leafWeight", "leaf weights do not exist on cgroup v2: ignored")
    for i, dev in enumerate(bio.weight_device):
        where = f"{field}.weightDevice[{i}]"
        if dev.weight:
            if bfq:
                write(d, "io.bfq.weight", f"{dev.major}:{dev.minor} {dev.weight}", f"{where}.weight")
            else:
                write(d, "io.weight", f"{dev.major}:{dev.minor} {blkio_to_io_weight(dev.weight)}", f"{where}.weight")
        if dev.leaf_weight:
            warn(f"{where}.leafWeight", "leaf weights do not exist on cgroup v2: ignored")
