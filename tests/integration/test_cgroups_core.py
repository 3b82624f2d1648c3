"""The cgroup manager on this host's real cgroupfs (v1, v2 or hybrid, whatever is mounted).

Every test works below its own absolute parent ``/simcon-test-<uuid>`` in each hierarchy and the ``parent``
fixture removes whatever is left there (thawing, killing and rmdir-ing bottom-up) even when a test fails. Nothing
else in the hierarchies is touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

import pytest

from simcon.cgroups import CgroupManager, open_manager
from simcon.cgroups.mounts import parse_mountinfo
from simcon.cgroups.paths import parse_proc_cgroup
from simcon.errors import CgroupError

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="creating cgroups needs root"),
]


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError:
        pass


def _thaw(top: str) -> None:
    """Thaw every cgroup below ``top`` (a dir this test made): a frozen task does not even die of SIGKILL."""
    for d, _, _ in os.walk(top):
        _write(os.path.join(d, "freezer.state"), "THAWED")
        _write(os.path.join(d, "cgroup.freeze"), "0")


def _cleanup(top: str) -> None:
    """Thaw, kill and remove everything below ``top`` (a dir this test made), children first."""
    if not os.path.isdir(top):
        return
    _thaw(top)
    walk = list(os.walk(top, topdown=False))
    for d, _, _ in walk:
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                for pid in f.read().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        except OSError:
            pass
    for d, _, _ in walk:
        for _ in range(200):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.01)


@pytest.fixture
def hierarchies():
    return parse_mountinfo()


@pytest.fixture
def parent(hierarchies):
    name = f"/simcon-test-{uuid.uuid4().hex[:12]}"
    try:
        yield name
    finally:
        for h in hierarchies:
            _cleanup(h.mount_point + name)


@pytest.fixture
def sleeper(hierarchies, parent):
    """Starts ``sleep 60``; afterwards thaws the test's cgroups (before ``parent`` cleans up), kills and reaps."""
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        p = subprocess.Popen(["sleep", "60"])
        procs.append(p)
        return p

    try:
        yield start
    finally:
        for h in hierarchies:
            _thaw(h.mount_point + parent)
        for p in procs:
            p.kill()
            p.wait(timeout=10)


def _proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def _wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_lifecycle_on_every_hierarchy(hierarchies, parent, sleeper):
    m = open_manager(f"{parent}/c1", "c1")
    m.create()
    assert len(m.cgroups) == len(hierarchies)
    for h in hierarchies:
        assert os.path.isdir(f"{h.mount_point}{parent}/c1"), h
    if any(h.version == 2 for h in hierarchies):
        assert m.dirs[""] == next(h.mount_point for h in hierarchies if h.version == 2) + f"{parent}/c1"

    proc = sleeper()
    m.add_process(proc.pid)
    own = parse_proc_cgroup(f"/proc/{proc.pid}/cgroup")
    for h in hierarchies:
        assert own[h.key] == f"{parent}/c1", h
    assert m.pids() == [proc.pid]

    m.freeze()
    assert m.is_frozen()
    v1_freezer = next((cg for cg in m.cgroups if "freezer" in cg.hierarchy.controllers), None)
    if v1_freezer is not None:  # legacy/hybrid: the v1 freezer does it
        with open(os.path.join(v1_freezer.dir, "freezer.state")) as f:
            assert f.read().strip() == "FROZEN"
    else:
        with open(os.path.join(m.dirs[""], "cgroup.events")) as f:
            assert "frozen 1" in f.read().splitlines()
    m.thaw()
    assert not m.is_frozen()
    assert _wait_for(lambda: _proc_state(proc.pid) == "S")

    m.signal_all(signal.SIGKILL)
    assert proc.wait(timeout=5) == -signal.SIGKILL
    m.destroy()
    for h in hierarchies:
        assert not os.path.exists(h.mount_point + parent), h
    m.destroy()  # idempotent


@pytest.mark.parametrize("version", [1, 2])
def test_each_freezer_stops_and_resumes_the_process(hierarchies, parent, sleeper, version):
    m = open_manager(f"{parent}/c1", "c1")
    drivers = [cg for cg in m.cgroups if cg.version == version]
    if not drivers:
        pytest.skip(f"no cgroup v{version} hierarchy mounted on this host")
    m.create()
    freezer = next((cg for cg in drivers if cg.can_freeze()), None)
    if freezer is None:
        pytest.skip(f"cgroup v{version} offers no freezer on this host")
    proc = sleeper()
    m.add_process(proc.pid)
    assert _wait_for(lambda: _proc_state(proc.pid) == "S")
    freezer.freeze(5.0)
    assert freezer.is_frozen() and m.is_frozen()
    if version == 2:
        with open(os.path.join(freezer.dir, "cgroup.events")) as f:
            assert "frozen 1" in f.read().splitlines()
    else:
        with open(os.path.join(freezer.dir, "freezer.state")) as f:
            assert f.read().strip() == "FROZEN"
    # A frozen task is not running or sleeping interruptibly any more (uninterruptible/stopped-like state).
    assert _proc_state(proc.pid) != "R"
    freezer.thaw()
    assert not m.is_frozen()
    proc.terminate()
    assert proc.wait(timeout=5) == -signal.SIGTERM
    m.destroy()
    assert not any(os.path.exists(h.mount_point + parent) for h in hierarchies)


def test_signal_all_reaches_child_cgroups_and_destroy_removes_them(hierarchies, parent, sleeper):
    m = open_manager(f"{parent}/c1", "c1")
    m.create()
    a, b = sleeper(), sleeper()
    m.add_process(a.pid)
    m.add_process(b.pid)
    sub = next(cg for cg in m.cgroups if "freezer" in cg.hierarchy.controllers or cg.version == 2).dir + "/sub"
    os.mkdir(sub)
    with open(os.path.join(sub, "cgroup.procs"), "w") as f:
        f.write(str(b.pid))
    assert m.pids() == sorted([a.pid, b.pid])
    m.signal_all(signal.SIGTERM)
    assert a.wait(timeout=5) == -signal.SIGTERM
    assert b.wait(timeout=5) == -signal.SIGTERM
    m.destroy()
    assert not os.path.exists(sub)
    assert not any(os.path.exists(h.mount_point + parent) for h in hierarchies)


def test_pre_existing_parent_is_not_removed(hierarchies, parent):
    for h in hierarchies:
        os.mkdir(h.mount_point + parent)
        if "cpuset" in h.controllers:  # make it usable like an administrator would
            for name in ("cpuset.cpus", "cpuset.mems"):
                with open(os.path.join(h.mount_point, name)) as src, open(f"{h.mount_point}{parent}/{name}", "w") as f:
                    f.write(src.read())
    m = open_manager(f"{parent}/c1", "c1")
    m.create()
    assert all(d.endswith(f"{parent}/c1") for d in m.created)
    state = m.to_state()
    CgroupManager.from_state(state).destroy()  # as `simcon delete` would, from the saved state
    for h in hierarchies:
        assert os.path.isdir(h.mount_point + parent), h
        assert not os.path.exists(f"{h.mount_point}{parent}/c1"), h


def test_sigkill_of_a_frozen_container_kills_and_thaws(hierarchies, parent, sleeper):
    m = open_manager(f"{parent}/c1", "c1")
    m.create()
    proc = sleeper()
    m.add_process(proc.pid)
    m.freeze()
    m.signal_all(signal.SIGKILL)
    assert proc.wait(timeout=5) == -signal.SIGKILL
    assert not m.is_frozen()
    m.destroy()
    assert not any(os.path.exists(h.mount_point + parent) for h in hierarchies)


def test_container_dir_in_use_is_refused(hierarchies, parent, sleeper):
    first = open_manager(f"{parent}/c1", "c1")
    first.create()
    proc = sleeper()
    first.add_process(proc.pid)
    second = open_manager(f"{parent}/c1", "other")
    with pytest.raises(CgroupError, match="another container uses this cgroup"):
        second.create()
    assert second.created == []
    assert first.pids() == [proc.pid]
    first.signal_all(signal.SIGKILL)
    proc.wait(timeout=5)
    first.destroy()
    assert not any(os.path.exists(h.mount_point + parent) for h in hierarchies)


def test_add_process_error_names_the_file(parent):
    m = open_manager(f"{parent}/c1", "c1")
    m.create()
    try:
        with pytest.raises(CgroupError) as info:
            m.add_process(2**22 + 12345)  # above the default pid_max: no such process
        assert info.value.path.endswith(f"{parent}/c1/cgroup.procs")
        assert f'write "{2**22 + 12345}": no such process' in str(info.value)
    finally:
        m.destroy()
