"""hugepageLimits: ``hugetlb.<size>.limit_in_bytes`` (v1) or ``hugetlb.<size>.max`` (v2), plus the matching
reservation limit where the kernel has it (``rsvd``), as runc does, so reserved-but-unfaulted pages count too."""

from __future__ import annotations

from simcon.cgroups.controllers._common import ResourceError, exists, write


def wants(resources) -> bool:  # noqa: ANN001
    return bool(resources.hugepage_limits)


def check(resources, field: str) -> None:  # noqa: ANN001
    for i, hp in enumerate(resources.hugepage_limits):
        if not _is_page_size(hp.page_size):
            raise ResourceError(f"{field}.hugepageLimits[{i}].pageSize",
                                f"expected a size such as 2MB or 1GB, got {hp.page_size!r}")


def apply(resources, cgroup_dir: str, version: int, field: str) -> None:  # noqa: ANN001
    for i, hp in enumerate(resources.hugepage_limits):
        where = f"{field}.hugepageLimits[{i}]"
        if version == 1:
            limit_file = f"hugetlb.{hp.page_size}.limit_in_bytes"
            rsvd_file = f"hugetlb.{hp.page_size}.rsvd.limit_in_bytes"
        else:
            limit_file = f"hugetlb.{hp.page_size}.max"
            rsvd_file = f"hugetlb.{hp.page_size}.rsvd.max"
        write(cgroup_dir, limit_file, str(hp.limit), f"{where}.limit")
        if exists(cgroup_dir, rsvd_file):
            write(cgroup_dir, rsvd_file, str(hp.limit), f"{where}.limit")


def _is_page_size(text: str) -> bool:
    """``2MB``, ``1GB``, ``64KB`` (without ``re``: this runs on every create)."""
    return len(text) > 2 and text[-2:] in ("KB", "MB", "GB") and text[:-2].isdigit() and text[:-2].isascii()
