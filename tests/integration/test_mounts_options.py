"""Mount options as the container sees them: /proc/self/mountinfo read from inside, and write attempts.

Recursive `r*` options (mount_setattr) against plain ones on a bind whose source has a submount; tmpcopyup; data
options; propagation per mount and rootfsPropagation; sysfs in the host's network namespace; devpts, mqueue and
cgroup mounts; and bad options, which must fail with one line naming mounts[i] and its destination.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

MOUNTINFO_SCRIPT = "cat /proc/self/mountinfo"


def parse_mountinfo(text: str) -> dict[str, dict]:
    """mount point -> {options, optional, fstype, source, super}; the last (topmost) mount wins."""
    result: dict[str, dict] = {}
    for line in text.splitlines():
        before, _, after = line.partition(" - ")
        fields = before.split(" ")
        fstype, source, super_opts = (after.split(" ") + ["", "", ""])[:3]
        result[fields[4]] = {"options": set(fields[5].split(",")), "optional": fields[6:], "fstype": fstype,
                             "source": source, "super": set(super_opts.split(",")), "root": fields[3]}
    return result


def mountinfo_inside(rt, edit, run_args: tuple[str, ...] = ()) -> dict[str, dict]:  # noqa: ANN001
    proc = rt.run_container(["cat", "/proc/self/mountinfo"], edit=edit, run_args=run_args)
    assert proc.returncode == 0, rt.describe(proc)
    return parse_mountinfo(proc.stdout)


@pytest.fixture
def tree_with_submount(rt):  # noqa: ANN001, ANN201
    """A host dir with a tmpfs mounted at sub/: what distinguishes `ro` from `rro`. Unmounted by the harness."""
    src = rt.mkdir("tree")
    (src / "file").write_text("top\n")
    (src / "sub").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "simcon-test-sub", str(src / "sub")], check=True)
    (src / "sub" / "file").write_text("sub\n")
    return src


WRITE_BOTH = ("touch /data/new 2>/dev/null && echo top-rw || echo top-ro;"
              "touch /data/sub/new 2>/dev/null && echo sub-rw || echo sub-ro")


def test_ro_is_the_top_mount_only_rro_is_recursive(rt, tree_with_submount: Path) -> None:
    proc = rt.run_container(["sh", "-c", WRITE_BOTH],
                            edit=lambda b: b.add_mount("/data", tree_with_submount, ["ro"]))
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["top-ro", "sub-rw"]
    (tree_with_submount / "sub" / "new").unlink()
    proc = rt.run_container(["sh", "-c", WRITE_BOTH],
                            edit=lambda b: b.add_mount("/data", tree_with_submount, ["rro"]))
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["top-ro", "sub-ro"]
    assert sorted(p.name for p in tree_with_submount.iterdir()) == ["file", "sub"]


@pytest.mark.parametrize("option, shown", [
    ("rnosuid", "nosuid"), ("rnodev", "nodev"), ("rnoexec", "noexec"), ("rnosymfollow", "nosymfollow"),
    ("rnodiratime", "nodiratime"), ("rnoatime", "noatime"), ("rro", "ro"),
])
def test_recursive_option_reaches_every_submount(rt, tree_with_submount: Path, option: str, shown: str) -> None:
    mounts = mountinfo_inside(rt, lambda b: b.add_mount("/data", tree_with_submount, [option]))
    assert shown in mounts["/data"]["options"]
    assert shown in mounts["/data/sub"]["options"]


@pytest.mark.simcon_only("runc 1.1 keeps noatime after ratime; in SimCon the last option wins")
def test_recursive_atime_modes(rt, tree_with_submount: Path) -> None:
    mounts = mountinfo_inside(rt, lambda b: b.add_mount("/data", tree_with_submount, ["rstrictatime"]))
    for point in ("/data", "/data/sub"):
        assert not mounts[point]["options"] & {"relatime", "noatime"}, mounts[point]
    mounts = mountinfo_inside(rt, lambda b: b.add_mount("/data", tree_with_submount, ["rnoatime", "ratime"]))
    for point in ("/data", "/data/sub"):
        assert "relatime" in mounts[point]["options"] and "noatime" not in mounts[point]["options"]


def test_recursive_clear_undoes_a_plain_flag_below(rt, tree_with_submount: Path) -> None:
    """`rexec` after `noexec`: the remount makes the top noexec, then mount_setattr clears it everywhere."""
    mounts = mountinfo_inside(rt, lambda b: b.add_mount("/data", tree_with_submount, ["noexec", "rexec"]))
    assert "noexec" not in mounts["/data"]["options"]


def test_tmpcopyup_copies_the_destination_content(rt) -> None:
    def edit(bundle) -> None:  # noqa: ANN001
        (bundle.rootfs / "etc" / "app").mkdir()
        (bundle.rootfs / "etc" / "app" / "conf").write_text("setting=1\n")
        (bundle.rootfs / "etc" / "app" / "conf").chmod(0o640)
        (bundle.rootfs / "etc" / "app" / "link").symlink_to("conf")
        bundle.add_mount("/etc", "tmpfs", ["tmpcopyup", "mode=755"], type_="tmpfs")

    script = ("awk '$2 == \"/etc\" {print $3}' /proc/mounts; cat /etc/app/conf; stat -c %a /etc/app/conf;"
              "readlink /etc/app/link; echo changed > /etc/app/conf && cat /etc/app/conf")
    bundle = rt.bundle(["sh", "-c", script], write=False)
    edit(bundle)
    bundle.write()
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["tmpfs", "setting=1", "640", "conf", "changed"]
    assert (bundle.rootfs / "etc" / "app" / "conf").read_text() == "setting=1\n", "wrote through to the rootfs"


def test_data_options_reach_the_filesystem(rt) -> None:
    mounts = mountinfo_inside(rt, lambda b: b.add_mount("/scratch", "tmpfs", ["size=2m", "mode=1750", "nr_inodes=77"],
                                                        type_="tmpfs"))
    assert {"size=2048k", "mode=1750", "nr_inodes=77"} <= mounts["/scratch"]["super"]


@pytest.mark.parametrize("option, field", [("shared", "shared:"), ("rshared", "shared:"), ("unbindable", "unbindable")])
def test_propagation_of_one_mount(rt, option: str, field: str) -> None:
    source = rt.mkdir("prop")
    mounts = mountinfo_inside(rt, lambda b: b.add_mount("/data", source, [option]))
    assert any(f.startswith(field) for f in mounts["/data"]["optional"]), mounts["/data"]
    assert not any(f.startswith(field) for f in mounts["/proc"]["optional"])


def test_private_mount_has_no_peers(rt) -> None:
    source = rt.mkdir("prop")
    mounts = mountinfo_inside(rt, lambda b: b.add_mount("/data", source, ["shared", "private"]))
    assert mounts["/data"]["optional"] == []


@pytest.mark.parametrize("propagation, field", [("rshared", "shared:"), ("shared", "shared:"), ("private", None),
                                                ("rprivate", None)])
@pytest.mark.simcon_only("runc 1.1 leaves the new root private whatever rootfsPropagation says")
def test_rootfs_propagation(rt, propagation: str, field: str | None) -> None:
    def edit(bundle) -> None:  # noqa: ANN001
        bundle.config["linux"]["rootfsPropagation"] = propagation

    mounts = mountinfo_inside(rt, edit)
    optional = mounts["/"]["optional"]
    if field is None:
        assert optional == [], optional
    else:
        assert any(f.startswith(field) for f in optional), optional


def _sysfs_without_ro(bundle) -> None:  # noqa: ANN001
    for mount in bundle.config["mounts"]:
        if mount["type"] == "sysfs":
            mount["options"] = ["nosuid", "noexec", "nodev"]


def test_sysfs_read_write_in_its_own_network_namespace(rt) -> None:
    mounts = mountinfo_inside(rt, _sysfs_without_ro)
    assert "rw" in mounts["/sys"]["options"]


@pytest.mark.simcon_only("runc 1.1 does this only for rootless containers")
def test_sysfs_read_only_in_the_host_network_namespace(rt) -> None:
    def edit(bundle) -> None:  # noqa: ANN001
        _sysfs_without_ro(bundle)
        bundle.config["linux"]["namespaces"] = [n for n in bundle.config["linux"]["namespaces"]
                                                if n["type"] != "network"]

    mounts = mountinfo_inside(rt, edit)
    assert "ro" in mounts["/sys"]["options"]


def test_devpts_new_instance_with_ptmxmode(rt) -> None:
    script = "cat /proc/self/mountinfo; echo ---; ls /dev/pts; stat -c %a /dev/pts/ptmx; readlink /dev/ptmx"
    proc = rt.run_container(["sh", "-c", script])
    assert proc.returncode == 0, rt.describe(proc)
    info, _, rest = proc.stdout.partition("---\n")
    pts = parse_mountinfo(info)["/dev/pts"]
    assert pts["fstype"] == "devpts" and {"ptmxmode=666", "mode=620"} <= pts["super"]
    # A new instance: only its ptmx, none of the host's terminals.
    assert rest.splitlines() == ["ptmx", "666", "pts/ptmx"]


def test_mqueue_is_the_containers_own(rt) -> None:
    script = ("awk '$2 == \"/dev/mqueue\" {print $3}' /proc/mounts; ls -A /dev/mqueue | wc -l;"
              "touch /dev/mqueue/simcon-q && ls /dev/mqueue")
    proc = rt.run_container(["sh", "-c", script])
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.split() == ["mqueue", "0", "simcon-q"]
    assert not Path("/dev/mqueue/simcon-q").exists()


def _cgroup_mount(options: list[str] | None):  # noqa: ANN202
    def edit(bundle) -> None:  # noqa: ANN001
        mount = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"}
        if options is not None:
            mount["options"] = options
        bundle.config["mounts"].append(mount)
    return edit


CGROUP_SCRIPT = ("ls /sys/fs/cgroup | grep -c . ; touch /sys/fs/cgroup/x 2>/dev/null && echo top-rw || echo top-ro;"
                 "d=$(ls -d /sys/fs/cgroup/*/ | head -1); mkdir $d/simcon-child 2>/dev/null && echo hier-rw "
                 "&& rmdir $d/simcon-child || echo hier-ro")


@pytest.mark.simcon_only("runc 1.1 follows the options only; SimCon makes cgroup mounts read-only unless rw")
def test_cgroup_mount_is_read_only_by_default(rt) -> None:
    proc = rt.run_container(["sh", "-c", CGROUP_SCRIPT], edit=_cgroup_mount(["nosuid", "noexec", "nodev"]))
    assert proc.returncode == 0, rt.describe(proc)
    count, top, hierarchy = proc.stdout.split()
    assert int(count) >= 1
    assert (top, hierarchy) == ("top-ro", "hier-ro")


def test_cgroup_mount_rw_when_asked(rt) -> None:
    proc = rt.run_container(["sh", "-c", CGROUP_SCRIPT], edit=_cgroup_mount(["nosuid", "noexec", "nodev", "rw"]))
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.split()[2] == "hier-rw"


# --- bad options -------------------------------------------------------------------------------------------------


def _assert_one_line_and_nothing_left(rt, proc, before: list[str]) -> None:  # noqa: ANN001
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert rt.root_entries() == []
    assert [line for line in rt.read_mountinfo() if str(rt.tmp) in line] == before


@pytest.mark.simcon_only("checks SimCon's message")
def test_option_refused_before_anything_is_made(rt) -> None:
    before = [line for line in rt.read_mountinfo() if str(rt.tmp) in line]
    source = rt.mkdir("src")
    proc = rt.run_container(["true"], edit=lambda b: b.add_mount("/data", source, ["tmpcopyup"]))
    _assert_one_line_and_nothing_left(rt, proc, before)
    assert "mounts[6].options" in proc.stderr and "/data" in proc.stderr and "tmpcopyup" in proc.stderr


@pytest.mark.simcon_only("checks SimCon's message")
def test_data_option_the_filesystem_rejects(rt) -> None:
    before = [line for line in rt.read_mountinfo() if str(rt.tmp) in line]
    proc = rt.run_container(["true"], edit=lambda b: b.add_mount("/scratch", "tmpfs", ["size=banana"], type_="tmpfs"))
    _assert_one_line_and_nothing_left(rt, proc, before)
    assert "mounts[6] `/scratch`" in proc.stderr and "nvalid argument" in proc.stderr


@pytest.mark.simcon_only("checks SimCon's message")
def test_features_lists_the_options(rt) -> None:
    doc = json.loads(rt.ok("features", root=False).stdout)
    assert {"rro", "rnosuid", "rnoexec", "tmpcopyup", "idmap", "ridmap", "rbind", "rprivate"} <= set(
        doc["mountOptions"])


# --- destinations ------------------------------------------------------------------------------------------------


def test_destinations_created_by_the_source_type(rt) -> None:
    files = rt.mkdir("sources")
    (files / "conf").write_text("c\n")
    (files / "dir").mkdir()
    (files / "dir" / "inner").write_text("i\n")

    def edit(bundle) -> None:  # noqa: ANN001
        bundle.add_mount("/new/deep/conf", files / "conf", ["ro"])
        bundle.add_mount("/other/deep/dir", files / "dir", ["ro"])

    script = "stat -c '%n %F' /new/deep/conf /other/deep/dir; cat /new/deep/conf /other/deep/dir/inner"
    bundle = rt.bundle(["sh", "-c", script], write=False)
    edit(bundle)
    bundle.write()
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["/new/deep/conf regular file", "/other/deep/dir directory", "c", "i"]
    assert (bundle.rootfs / "new" / "deep" / "conf").is_file()
    assert (bundle.rootfs / "other" / "deep" / "dir").is_dir()


def test_symlinked_destination_resolved_inside_the_rootfs(rt) -> None:
    """/var/run -> /run (as in most images): the mount lands on the rootfs's /run."""
    def edit(bundle) -> None:  # noqa: ANN001
        (bundle.rootfs / "run").mkdir(exist_ok=True)
        (bundle.rootfs / "var").mkdir(exist_ok=True)
        (bundle.rootfs / "var" / "run").symlink_to("/run")
        bundle.add_mount("/var/run", "tmpfs", ["size=1m"], type_="tmpfs")

    mounts = mountinfo_inside(rt, edit)
    assert mounts["/run"]["fstype"] == "tmpfs"
    assert "/var/run" not in mounts


def test_remount_changes_the_existing_mount_in_place(rt) -> None:
    def edit(bundle) -> None:  # noqa: ANN001
        bundle.config["mounts"] += [
            {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]},
            {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["remount", "ro"]},
        ]

    script = "grep ' /data ' /proc/self/mountinfo | wc -l; touch /data/x 2>/dev/null && echo rw || echo ro"
    proc = rt.run_container(["sh", "-c", script], edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    # One mount, now read-only: the second entry changed the first instead of stacking a new tmpfs on it.
    assert proc.stdout.split() == ["1", "ro"], proc.stdout


def test_remount_of_a_path_that_is_not_a_mount_is_a_clear_error(rt) -> None:
    def edit(bundle) -> None:  # noqa: ANN001
        bundle.config["mounts"].append(
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["remount", "ro"]})

    proc = rt.run_container(["true"], edit=edit)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert rt.root_entries() == []
