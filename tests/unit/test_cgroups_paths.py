"""Resolving the OCI linux.cgroupsPath to a directory per hierarchy, like runc."""

from __future__ import annotations

import pytest

from simcon.cgroups.mounts import Hierarchy
from simcon.cgroups.paths import check_cgroups_path, container_dir, parse_proc_cgroup, parse_proc_cgroup_text
from simcon.errors import CgroupError

CPU = Hierarchy(1, ("cpu", "cpuacct"), "/sys/fs/cgroup/cpu,cpuacct")
MEMORY = Hierarchy(1, ("memory",), "/sys/fs/cgroup/memory")
SYSTEMD = Hierarchy(1, ("name=systemd",), "/sys/fs/cgroup/systemd")
UNIFIED = Hierarchy(2, (), "/sys/fs/cgroup/unified")
BOUND = Hierarchy(1, ("pids",), "/sys/fs/cgroup/pids", "/docker/abc")

PROC_CGROUP = """\
12:pids:/docker/abc/inner
9:name=systemd:/user.slice/session-1.scope
4:memory:/user.slice
2:cpuacct,cpu:/
0::/user.slice/session-1.scope
"""


def test_parse_proc_cgroup_keys_by_sorted_controllers():
    own = parse_proc_cgroup_text(PROC_CGROUP)
    assert own == {
        "pids": "/docker/abc/inner",
        "name=systemd": "/user.slice/session-1.scope",
        "memory": "/user.slice",
        "cpu,cpuacct": "/",
        "": "/user.slice/session-1.scope",
    }


def test_default_is_simcon_slash_id():
    path = check_cgroups_path(None, "web")
    assert path == "/simcon/web"
    assert check_cgroups_path("", "web") == "/simcon/web"
    assert container_dir(MEMORY, path) == "/sys/fs/cgroup/memory/simcon/web"
    assert container_dir(UNIFIED, path) == "/sys/fs/cgroup/unified/simcon/web"


def test_absolute_is_below_each_mount_point_and_normalised():
    assert container_dir(CPU, "/a/b") == "/sys/fs/cgroup/cpu,cpuacct/a/b"
    assert container_dir(SYSTEMD, "//a/./x/../b/") == "/sys/fs/cgroup/systemd/a/b"
    # Like runc: an absolute path ignores the mount root of a bind-mounted sub-tree.
    assert container_dir(BOUND, "/a") == "/sys/fs/cgroup/pids/a"


def test_relative_is_below_own_cgroup_per_hierarchy():
    own = parse_proc_cgroup_text(PROC_CGROUP)
    assert container_dir(MEMORY, "ctr/1", own) == "/sys/fs/cgroup/memory/user.slice/ctr/1"
    assert container_dir(CPU, "ctr/1", own) == "/sys/fs/cgroup/cpu,cpuacct/ctr/1"
    assert container_dir(UNIFIED, "ctr", own) == "/sys/fs/cgroup/unified/user.slice/session-1.scope/ctr"
    # Own cgroup is shown relative to the mount root of a bind-mounted sub-tree.
    assert container_dir(BOUND, "ctr", own) == "/sys/fs/cgroup/pids/inner/ctr"
    # `..` may leave the own cgroup as long as it stays in the hierarchy.
    assert container_dir(MEMORY, "../sibling", own) == "/sys/fs/cgroup/memory/sibling"


def test_relative_reads_proc_cgroup_file(tmp_path):
    f = tmp_path / "cgroup"
    f.write_text(PROC_CGROUP)
    assert parse_proc_cgroup(str(f))["memory"] == "/user.slice"
    assert container_dir(MEMORY, "c", proc_cgroup=str(f)) == "/sys/fs/cgroup/memory/user.slice/c"


def test_relative_without_line_for_hierarchy_is_an_error():
    with pytest.raises(CgroupError, match="no cgroup of hierarchy 'freezer'"):
        container_dir(Hierarchy(1, ("freezer",), "/sys/fs/cgroup/freezer"), "c", {"memory": "/"})


def test_own_cgroup_outside_bind_mount_root_is_an_error():
    with pytest.raises(CgroupError, match="outside the mounted part"):
        container_dir(BOUND, "c", {"pids": "/elsewhere"})


@pytest.mark.parametrize("path", ["/../etc", "/a/../../b", "../..", "a/../../../../x"])
def test_dotdot_escaping_the_hierarchy_is_rejected(path):
    own = {"memory": "/user.slice"}
    with pytest.raises(CgroupError, match="escapes the cgroup hierarchy"):
        container_dir(MEMORY, path, own)


@pytest.mark.parametrize("path", ["/", "/a/..", "/./"])
def test_hierarchy_root_is_rejected(path):
    with pytest.raises(CgroupError, match="is the root of the hierarchy"):
        container_dir(MEMORY, path)


def test_systemd_form_is_rejected_with_a_clear_message():
    with pytest.raises(CgroupError) as info:
        check_cgroups_path("system.slice:simcon:web", "web")
    assert "systemd form `slice:prefix:name`" in str(info.value)
    assert "pass --systemd-cgroup" in str(info.value)
    # An absolute path may contain colons.
    assert check_cgroups_path("/a:b:c", "web") == "/a:b:c"


@pytest.mark.parametrize("bad", ["a/b", "..", "."])
def test_default_refuses_ids_that_are_not_one_component(bad):
    with pytest.raises(CgroupError, match="cannot name a cgroup"):
        check_cgroups_path(None, bad)
