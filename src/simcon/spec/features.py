"""`simcon features`: what this build of SimCon supports, in the OCI features.md format.

Truthful by construction: anything SimCon cannot do yet is ``false`` or absent, so engines do not ask for it.
"""

from __future__ import annotations

from simcon.version import __version__
from simcon.spec.constants import (
    CAPABILITIES,
    HOOK_KINDS,
    MOUNT_OPTIONS,
    NAMESPACES,
    OCI_VERSION_MAX,
    OCI_VERSION_MIN,
)

__all__ = ["features_document"]


def features_document(*, idmap: bool = False) -> dict:
    """The document; ``idmap`` says whether this kernel can make idmapped mounts (the runtime probes it)."""
    return {
        "ociVersionMin": OCI_VERSION_MIN,
        "ociVersionMax": OCI_VERSION_MAX,
        "hooks": list(HOOK_KINDS),
        "mountOptions": sorted(MOUNT_OPTIONS),
        "linux": {
            "namespaces": list(NAMESPACES),
            "capabilities": list(CAPABILITIES),
            # systemd(User): the transient-scope driver of --systemd-cgroup, root or the user's manager (cgroup v2).
            "cgroup": {"v1": True, "v2": True, "systemd": True, "systemdUser": True, "rdma": True},
            "seccomp": _seccomp(),
            "apparmor": {"enabled": True},  # applied where the host runs it (runtime.plan.lsm_labels)
            "selinux": {"enabled": False},
            "intelRdt": {"enabled": False},
            "mountExtensions": {"idmap": {"enabled": idmap}},
        },
        "annotations": {"io.github.simcon.version": __version__},
        "potentiallyUnsafeConfigAnnotations": [],
    }


def _seccomp() -> dict:
    from simcon.spec.seccomp import ACTIONS, FLAGS, OPERATORS

    return {
        "enabled": True,
        "actions": list(ACTIONS),
        "operators": list(OPERATORS),
        "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
                  "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
                  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
                  "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
                  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64"],
        "knownFlags": list(FLAGS),
        "supportedFlags": list(FLAGS),
    }
