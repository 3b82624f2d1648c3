"""Cgroups: one manager interface (``open_manager`` -> ``CgroupManager``) over v1 and v2 filesystem drivers.

Modules: ``mounts`` (which hierarchies are mounted), ``paths`` (OCI ``cgroupsPath`` -> directory per hierarchy),
``fs`` (cgroupfs reads/writes with errors naming the file), ``v1``/``v2`` (per-hierarchy drivers), ``manager``.
Per-controller resource writers (``apply(resources, cgroup_dir)``) will sit next to them.
"""

from simcon.cgroups.manager import CgroupManager, open_manager
from simcon.cgroups.mounts import detect_mode

__all__ = ["CgroupManager", "detect_mode", "open_manager"]
