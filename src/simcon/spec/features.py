"""`simcon features`: what this build of SimCon supports, in the OCI features.md format.

Truthful by construction: anything SimCon cannot do yet is ``false`` or absent, so engines do not ask for it.
"""

from __future__ import annotations

from simcon import __version__
from simcon.spec.constants import (
    CAPABILITIES,
    HOOK_KINDS,
    MOUNT_OPTIONS,
    NAMESPACES,
    OCI_VERSION_MAX,
    OCI_VERSION_MIN,
)

__all__ = ["features_document"]


def features_document() -> dict:
    return {
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION_MAX,
        "hooks": list(HOOK_KINDS),
        "mountOptions": sorted(MOUNT_OPTIONS),
        "linux": {
            "namespaces": list(NAMESPACES),
            "capabilities": list(CAPABILITIES),
            "cgroup": {"v1": True, "v2": True, "systemd": False, "systemdUser": False, "rdma": False},
            "seccomp": {"enabled": False},
            "apparmor": {"enabled": False},
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": False}},
        },
        "annotations": {"io.github.simcon.version": __version__},
        "potentiallyUnsafeConfigAnnotations": [],
    }
