"""CgroupManager against a tmp directory tree standing in for cgroupfs (no root needed).

``FakeCgroupFs`` replaces ``simcon.cgroups.fs.mkdir``/``rmdir`` with versions that behave like the kernel's:
a new directory gets its interface files, and ``rmdir`` removes them but refuses (EBUSY) a cgroup that has child
cgroups or processes.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess

import pytest

from simcon.cgroups import fs, manager
from simcon.cgroups.manager import CgroupManager, open_manager
from simcon.errors import CgroupError

MOUNTS = {  # mount dir name -> (fs type, super options)
    "cpu,cpuacct": ("cgroup", "rw,cpu,cpuacct"),
    "cpuset": ("cgroup", "rw,cpuset"),
    "freezer": ("cgroup", "rw,freezer"),
    "systemd": ("cgroup", "rw,xattr,name=systemd"),
    "unified": ("cgroup2", "rw,nsdelegate"),
}


class FakeCgroupFs:
    def __init__(self, tmp_path, mounts=MOUNTS):
        self.top = str(tmp_path / "cg")
        self.mounts = mounts
        lines = []
        for n, (name, (fstype, opts)) in enumerate(mounts.items()):
            mp = os.path.join(self.top, name)
            os.makedirs(mp)
            self._populate(mp, root=True)
            lines.append(f"{40 + n} 31 0:{60 + n} / {mp} rw,relatime - {fstype} {fstype} {opts}")
        self.mountinfo = str(tmp_path / "mountinfo")
        with open(self.mountinfo, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc_cgroup = str(tmp_path / "proc-cgroup")
        with open(self.proc_cgroup, "w") as f:
            f.write("4:cpu,cpuacct:/\n3:cpuset:/\n2:freezer:/me\n1:name=systemd:/\n0::/me\n")

    def mount(self, name):
        return os.path.join(self.top, name)

    def _kind(self, path):
        return os.path.relpath(path, self.top).split(os.sep)[0]

    def _populate(self, path, root=False):
        kind = self._kind(path)
        files = {"cgroup.procs": ""}
        if kind == "cpuset":
            files.update({"cpuset.cpus": "0-3" if root else "", "cpuset.mems": "0" if root else ""})
        if kind == "freezer" and not root:
            files["freezer.state"] = "THAWED"
        if kind == "unified" and not root:
            files.update({"cgroup.freeze": "0", "cgroup.events": "populated 0\nfrozen 0\n", "cgroup.kill": ""})
        for name, text in files.items():
            with open(os.path.join(path, name), "w") as f:
                f.write(text)

    def mkdir(self, path, mode=0o777):
        os.mkdir(path, mode)
        self._populate(path)

    def rmdir(self, path):
        if not os.path.isdir(path):
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        entries = list(os.scandir(path))
        procs = os.path.join(path, "cgroup.procs")
        if any(e.is_dir() for e in entries) or (os.path.exists(procs) and open(procs).read().strip()):
            raise OSError(errno.EBUSY, os.strerror(errno.EBUSY), path)
        for e in entries:
            os.unlink(e.path)
        os.rmdir(path)

    def put_pids(self, cgroup_dir, *pids):
        with open(os.path.join(cgroup_dir, "cgroup.procs"), "w") as f:
            f.write("".join(f"{p}\n" for p in pids))


@pytest.fixture
def cgfs(tmp_path, monkeypatch):
    fake = FakeCgroupFs(tmp_path)
    monkeypatch.setattr(fs, "mkdir", fake.mkdir)
    monkeypatch.setattr(fs, "rmdir", fake.rmdir)
    monkeypatch.setattr(manager, "DESTROY_TIMEOUT", 0.05)
    return fake


def open_fake(cgfs, path, cid="c1"):
    return open_manager(path, cid, mountinfo=cgfs.mountinfo, proc_cgroup=cgfs.proc_cgroup)


def test_create_makes_the_dir_in_every_hierarchy_and_remembers_what_it_made(cgfs):
    m = open_fake(cgfs, "/p/q/c1")
    assert m.mode == "hybrid"
    m.create()
    for name in MOUNTS:
        assert os.path.isdir(os.path.join(cgfs.mount(name), "p/q/c1"))
    assert m.created == [
        os.path.join(cgfs.mount(name), *parts) for name in MOUNTS for parts in (["p"], ["p", "q"], ["p", "q", "c1"])
    ]
    assert m.dirs["name=systemd"] == os.path.join(cgfs.mount("systemd"), "p/q/c1")
    assert m.dirs[""] == os.path.join(cgfs.mount("unified"), "p/q/c1")


def test_cpuset_is_copied_from_the_parent_into_every_new_dir(cgfs):
    m = open_fake(cgfs, "/p/c1")
    m.create()
    for d in ("p", "p/c1"):
        assert fs.read(os.path.join(cgfs.mount("cpuset"), d), "cpuset.cpus") == "0-3"
        assert fs.read(os.path.join(cgfs.mount("cpuset"), d), "cpuset.mems") == "0"


def test_default_and_relative_paths(cgfs):
    assert open_fake(cgfs, None, "web").dirs["freezer"] == os.path.join(cgfs.mount("freezer"), "simcon/web")
    m = open_fake(cgfs, "ctr/web", "web")
    assert m.dirs["freezer"] == os.path.join(cgfs.mount("freezer"), "me/ctr/web")
    assert m.dirs["cpuset"] == os.path.join(cgfs.mount("cpuset"), "ctr/web")
    assert m.dirs[""] == os.path.join(cgfs.mount("unified"), "me/ctr/web")


def test_systemd_style_path_is_refused(cgfs):
    with pytest.raises(CgroupError, match="pass --systemd-cgroup"):
        open_fake(cgfs, "system.slice:simcon:c1")


def test_destroy_removes_everything_it_created(cgfs):
    m = open_fake(cgfs, "/p/q/c1")
    m.create()
    child = os.path.join(m.dirs["freezer"], "sub/deeper")
    cgfs.mkdir(os.path.dirname(child))
    cgfs.mkdir(child)  # the container made nested cgroups of its own
    m.destroy()
    for name in MOUNTS:
        assert not os.path.exists(os.path.join(cgfs.mount(name), "p"))
        assert os.path.isdir(cgfs.mount(name))


def test_destroy_is_idempotent_and_fine_when_never_created(cgfs):
    m = open_fake(cgfs, "/p/c1")
    m.destroy()
    m.create()
    m.destroy()
    m.destroy()


def test_pre_existing_parent_is_kept(cgfs):
    for name in MOUNTS:
        cgfs.mkdir(os.path.join(cgfs.mount(name), "mine"))
    m = open_fake(cgfs, "/mine/c1")
    m.create()
    assert all(d.endswith("/mine/c1") for d in m.created)
    m.destroy()
    for name in MOUNTS:
        assert os.path.isdir(os.path.join(cgfs.mount(name), "mine"))
        assert not os.path.exists(os.path.join(cgfs.mount(name), "mine/c1"))


def test_shared_parent_stays_while_another_container_uses_it(cgfs):
    first = open_fake(cgfs, "/shared/c1", "c1")
    second = open_fake(cgfs, "/shared/c2", "c2")
    first.create()
    second.create()
    assert not any(d.endswith("/shared") for d in second.created)
    first.destroy()  # its ancestor `shared` is busy with c2: kept, no error
    for name in MOUNTS:
        assert os.listdir(os.path.join(cgfs.mount(name), "shared")).count("c2") == 1
    second.destroy()  # did not create `shared`, so leaves it
    assert os.path.isdir(os.path.join(cgfs.mount("freezer"), "shared"))


def test_shared_parent_goes_with_its_creator_when_last(cgfs):
    first = open_fake(cgfs, "/shared/c1", "c1")
    second = open_fake(cgfs, "/shared/c2", "c2")
    first.create()
    second.create()
    second.destroy()
    first.destroy()
    for name in MOUNTS:
        assert not os.path.exists(os.path.join(cgfs.mount(name), "shared"))


def test_existing_empty_container_dir_is_reused_but_not_claimed(cgfs):
    for name in MOUNTS:
        cgfs.mkdir(os.path.join(cgfs.mount(name), "c1"))
    m = open_fake(cgfs, "/c1")
    m.create()
    assert m.created == []
    assert fs.read(m.dirs["cpuset"], "cpuset.cpus") == "0-3"  # filled in though it existed
    m.destroy()  # the container's own dirs are removed all the same
    assert not any(os.path.exists(os.path.join(cgfs.mount(n), "c1")) for n in MOUNTS)


def test_existing_container_dir_with_processes_is_an_error_and_create_rolls_back(cgfs):
    busy = os.path.join(cgfs.mount("unified"), "p", "c1")  # the last hierarchy: the others get made first
    cgfs.mkdir(os.path.dirname(busy))
    cgfs.mkdir(busy)
    cgfs.put_pids(busy, 4242)
    m = open_fake(cgfs, "/p/c1")
    with pytest.raises(CgroupError) as info:
        m.create()
    assert str(info.value) == (
        f"cgroup `{busy}`: already exists with 1 process(es) in it (pid 4242): another container uses this cgroup"
    )
    assert info.value.errno == errno.EBUSY
    assert m.created == []
    for name in ("cpu,cpuacct", "cpuset", "freezer", "systemd"):
        assert not os.path.exists(os.path.join(cgfs.mount(name), "p"))
    assert os.path.isdir(busy)  # not ours: untouched


def test_mkdir_failure_names_the_dir_and_rolls_back(cgfs, monkeypatch):
    real = cgfs.mkdir

    def failing(path, mode=0o777):
        if "/freezer/" in path:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        real(path, mode)

    monkeypatch.setattr(fs, "mkdir", failing)
    m = open_fake(cgfs, "/p/c1")
    with pytest.raises(CgroupError) as info:
        m.create()
    assert str(info.value) == f"cgroup `{cgfs.mount('freezer')}/p`: mkdir: permission denied"
    assert not os.path.exists(os.path.join(cgfs.mount("cpuset"), "p"))


def test_destroy_retries_busy_then_reports_processes_and_still_cleans_other_hierarchies(cgfs):
    m = open_fake(cgfs, "/p/c1")
    m.create()
    cgfs.put_pids(m.dirs["freezer"], 777)
    with pytest.raises(CgroupError) as info:
        m.destroy()
    assert info.value.path == m.dirs["freezer"]
    assert "device or resource busy; processes still in it: 777" in str(info.value)
    assert os.path.isdir(m.dirs["freezer"])
    assert not os.path.exists(os.path.join(cgfs.mount("cpuset"), "p"))
    cgfs.put_pids(m.dirs["freezer"])
    m.destroy()
    assert not os.path.exists(os.path.join(cgfs.mount("freezer"), "p"))


def test_add_process_writes_every_hierarchy_and_errors_name_the_file(cgfs):
    m = open_fake(cgfs, "/c1")
    m.create()
    m.add_process(123)
    for d in m.dirs.values():
        assert fs.read(d, "cgroup.procs") == "123"
    os.unlink(os.path.join(m.dirs["freezer"], "cgroup.procs"))
    with pytest.raises(CgroupError) as info:
        m.add_process(123)
    target = os.path.join(m.dirs["freezer"], "cgroup.procs")
    assert str(info.value) == f'cgroup `{target}`: write "123": no such file or directory'
    assert info.value.errno == errno.ENOENT and info.value.path == target


def test_pids_is_the_union_over_hierarchies_including_child_cgroups(cgfs):
    m = open_fake(cgfs, "/c1")
    assert m.pids() == []  # nothing created yet
    m.create()
    cgfs.put_pids(m.dirs[""], 10, 11)
    sub = os.path.join(m.dirs[""], "sub")
    cgfs.mkdir(sub)
    cgfs.put_pids(sub, 12)
    cgfs.put_pids(m.dirs["freezer"], 10, 13)
    assert m.pids() == [10, 11, 12, 13]


def test_hybrid_freezes_with_the_v1_freezer_only(cgfs):
    m = open_fake(cgfs, "/c1")
    m.create()
    assert not m.is_frozen()
    m.freeze()
    assert fs.read(m.dirs["freezer"], "freezer.state") == "FROZEN"
    assert fs.read(m.dirs[""], "cgroup.freeze") == "0"  # a v1-frozen task would never report v2 `frozen 1`
    assert m.is_frozen()
    m.thaw()
    assert fs.read(m.dirs["freezer"], "freezer.state") == "THAWED"
    assert not m.is_frozen()


@pytest.fixture
def unified(tmp_path, monkeypatch):
    fake = FakeCgroupFs(tmp_path, {"unified": ("cgroup2", "rw,nsdelegate")})
    monkeypatch.setattr(fs, "mkdir", fake.mkdir)
    monkeypatch.setattr(fs, "rmdir", fake.rmdir)
    return fake


def test_unified_freezes_with_cgroup_freeze(unified):
    m = open_fake(unified, "/c1")
    assert m.mode == "unified"
    m.create()
    with open(os.path.join(m.dirs[""], "cgroup.events"), "w") as f:
        f.write("populated 1\nfrozen 1\n")  # what the kernel reports once frozen
    m.freeze()
    assert fs.read(m.dirs[""], "cgroup.freeze") == "1"
    assert m.is_frozen()
    m.thaw()
    assert fs.read(m.dirs[""], "cgroup.freeze") == "0"
    assert not m.is_frozen()


def test_hybrid_is_frozen_and_thaw_see_a_v2_freeze_too(cgfs):
    m = open_fake(cgfs, "/c1")
    m.create()
    fs.write(m.dirs[""], "cgroup.freeze", "1")  # frozen by someone through v2
    assert m.is_frozen()
    m.thaw()
    assert fs.read(m.dirs[""], "cgroup.freeze") == "0"


def test_v2_freeze_timeout_thaws_again(unified):
    m = open_fake(unified, "/c1")
    m.create()  # cgroup.events keeps saying `frozen 0`
    with pytest.raises(CgroupError, match=r"cgroup.events`: freeze: `frozen 1` not reported after 0.05s"):
        m.freeze(timeout=0.05)
    assert fs.read(m.dirs[""], "cgroup.freeze") == "0"


def test_is_frozen_false_when_cgroup_is_gone(cgfs):
    assert open_fake(cgfs, "/never").is_frozen() is False


def test_freeze_without_any_freezer_is_an_error(tmp_path, monkeypatch):
    fake = FakeCgroupFs(tmp_path, {"memory": ("cgroup", "rw,memory")})
    monkeypatch.setattr(fs, "mkdir", fake.mkdir)
    monkeypatch.setattr(fs, "rmdir", fake.rmdir)
    m = open_fake(fake, "/c1")
    assert m.mode == "legacy"
    m.create()
    with pytest.raises(CgroupError, match="no freezer"):
        m.freeze()
    m.destroy()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_signal_all_reaches_the_processes_listed(cgfs, sig):
    m = open_fake(cgfs, "/c1")
    m.create()
    proc = subprocess.Popen(["sleep", "60"])
    try:
        cgfs.put_pids(m.dirs["cpuset"], proc.pid)
        m.signal_all(sig)
        assert proc.wait(timeout=5) == -sig
        if sig == signal.SIGKILL:
            assert fs.read(m.dirs[""], "cgroup.kill") == "1"
    finally:
        proc.kill()
        proc.wait()


def test_state_round_trips_through_json(cgfs):
    m = open_fake(cgfs, "/p/c1")
    m.create()
    state = json.loads(json.dumps(m.to_state()))
    again = CgroupManager.from_state(state)
    assert again.to_state() == m.to_state()
    assert again.dirs == m.dirs and again.created == m.created and again.mode == "hybrid"
    again.destroy()
    assert not os.path.exists(os.path.join(cgfs.mount("systemd"), "p"))


@pytest.mark.parametrize(
    "bad", [{}, {"version": 2}, {"version": 1, "mode": "hybrid", "cgroups": [{"version": 3}], "created": []}, []]
)
def test_from_state_rejects_garbage(bad):
    with pytest.raises(CgroupError, match="cgroup state"):
        CgroupManager.from_state(bad)


def test_dir_for_prefers_the_v1_hierarchy_carrying_the_controller(cgfs):
    m = open_fake(cgfs, "/c1")
    assert m.dir_for("cpu") == os.path.join(cgfs.mount("cpu,cpuacct"), "c1")
    assert m.dir_for("memory") is None  # hybrid: the unified hierarchy has no controllers here
    with open(os.path.join(cgfs.mount("unified"), "cgroup.controllers"), "w") as f:
        f.write("memory pids\n")
    assert m.dir_for("memory") == os.path.join(cgfs.mount("unified"), "c1")
    assert m.dir_for("cpu") == os.path.join(cgfs.mount("cpu,cpuacct"), "c1")
