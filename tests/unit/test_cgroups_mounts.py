"""Parsing /proc/self/mountinfo into cgroup hierarchies, and the host's cgroup mode."""

from __future__ import annotations

import pytest

from simcon.cgroups.mounts import Hierarchy, detect_mode, mode_of, parse_mountinfo, parse_mountinfo_text
from simcon.errors import CgroupError

HYBRID = """\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
31 22 0:28 / /sys/fs/cgroup rw,relatime shared:9 - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:10 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime shared:11 - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,nosuid,nodev,noexec,relatime shared:8 - cgroup cgroup rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:6 - cgroup2 cgroup2 rw,nsdelegate
50 1 8:1 / /var/lib/cgroup-notes rw,relatime - ext4 /dev/sda1 rw
"""

UNIFIED = """\
25 1 0:22 / /sys rw - sysfs sysfs rw
30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
"""

LEGACY = """\
31 23 0:28 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
32 31 0:29 / /sys/fs/cgroup/pids rw,relatime master:3 - cgroup cgroup rw,pids
33 31 0:30 /docker/abc /sys/fs/cgroup/memory rw,relatime master:4 - cgroup none rw,memory
34 31 0:30 /docker/abc /mnt/memory\\040again rw,relatime - cgroup none rw,memory
35 31 0:33 / /mnt/named\\040dir rw - cgroup cgroup rw,none,name=mine
"""


def test_hybrid_lists_v1_controllers_named_hierarchies_and_v2():
    hs = parse_mountinfo_text(HYBRID)
    assert hs == [
        Hierarchy(1, ("cpu", "cpuacct"), "/sys/fs/cgroup/cpu,cpuacct"),
        Hierarchy(1, ("cpuset",), "/sys/fs/cgroup/cpuset"),
        Hierarchy(1, ("memory",), "/sys/fs/cgroup/memory"),
        Hierarchy(1, ("freezer",), "/sys/fs/cgroup/freezer"),
        Hierarchy(1, ("name=systemd",), "/sys/fs/cgroup/systemd"),
        Hierarchy(2, (), "/sys/fs/cgroup/unified"),
    ]
    assert hs[0].key == "cpu,cpuacct"
    assert hs[-1].key == ""
    assert mode_of(hs) == "hybrid"


def test_unified_has_one_v2_hierarchy():
    hs = parse_mountinfo_text(UNIFIED)
    assert hs == [Hierarchy(2, (), "/sys/fs/cgroup")]
    assert mode_of(hs) == "unified"


def test_legacy_keeps_mount_root_unescapes_paths_and_skips_bind_mount_duplicates():
    hs = parse_mountinfo_text(LEGACY)
    assert hs == [
        Hierarchy(1, ("pids",), "/sys/fs/cgroup/pids"),
        Hierarchy(1, ("memory",), "/sys/fs/cgroup/memory", "/docker/abc"),
        Hierarchy(1, ("name=mine",), "/mnt/named dir"),
    ]
    assert mode_of(hs) == "legacy"


def test_no_cgroup_mounted_is_an_error():
    with pytest.raises(CgroupError, match="no cgroup hierarchy is mounted"):
        mode_of(parse_mountinfo_text("22 1 0:21 / /sys rw - sysfs sysfs rw\n"))


def test_malformed_line_names_file_and_line():
    with pytest.raises(CgroupError, match=r"cgroup `/x/mountinfo`: line 1: malformed"):
        parse_mountinfo_text("32 31 0:29 / /sys/fs/cgroup/cpu rw cgroup\n", "/x/mountinfo")


def test_parse_and_detect_from_file(tmp_path):
    f = tmp_path / "mountinfo"
    f.write_text(HYBRID)
    assert len(parse_mountinfo(str(f))) == 6
    assert detect_mode(str(f)) == "hybrid"
    f.write_text(UNIFIED)
    assert detect_mode(str(f)) == "unified"


def test_missing_file_names_it(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(CgroupError) as info:
        parse_mountinfo(missing)
    assert str(info.value) == f"cgroup `{missing}`: read: no such file or directory"


def test_this_host_parses():
    assert parse_mountinfo()  # every test host has some cgroup mount
    assert detect_mode() in ("unified", "legacy", "hybrid")
