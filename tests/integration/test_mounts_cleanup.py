"""No mount made for a container is ever visible on the host: not while it runs, not after `delete`, not after a
failed `create`.

To give a leak a way out, the test's tmp dir (holding the bundle) is made a *shared* mount first: a mount made
under the rootfs in a namespace still peered with it would show up in the host's /proc/self/mountinfo.
"""

from __future__ import annotations

import subprocess

import pytest


@pytest.fixture
def shared_tmp(rt):  # noqa: ANN001, ANN201
    """rt.tmp bind-mounted onto itself and made shared; the harness unmounts it at teardown."""
    subprocess.run(["mount", "--bind", str(rt.tmp), str(rt.tmp)], check=True)
    subprocess.run(["mount", "--make-shared", str(rt.tmp)], check=True)
    return rt.tmp


def _ours(rt) -> list[str]:  # noqa: ANN001
    """The host's mountinfo lines about the test's tmp dir (mount id, parent, dev, root, point, options...)."""
    return sorted(line for line in rt.read_mountinfo() if str(rt.tmp) in line)


def _add_volume(rt, bundle) -> None:  # noqa: ANN001
    volume = rt.mkdir("volume")
    (volume / "f").write_text("v\n")
    bundle.add_mount("/data", volume, ["ro"])
    bundle.add_mount("/scratch", "tmpfs", ["size=1m"], type_="tmpfs")


@pytest.mark.parametrize("propagation", [None, "rshared", "rslave", "private"])
def test_nothing_reaches_the_host_during_and_after(rt, shared_tmp, propagation: str | None) -> None:
    bundle = rt.bundle(["sleep", "3600"], write=False)
    _add_volume(rt, bundle)
    if propagation:
        bundle.config["linux"]["rootfsPropagation"] = propagation
    bundle.write()
    before = _ours(rt)
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    assert _ours(rt) == before, "created: the container's mounts reached the host"
    rt.ok("start", bundle.cid)
    assert _ours(rt) == before, "running: the container's mounts reached the host"
    rt.ok("delete", "--force", bundle.cid)
    assert _ours(rt) == before, "deleted: a mount was left behind"


@pytest.mark.parametrize("run_args", [(), ("--no-pivot",)], ids=["pivot_root", "no-pivot"])
def test_nothing_left_after_run(rt, shared_tmp, run_args: tuple[str, ...]) -> None:
    bundle = rt.bundle(["cat", "/data/f"], write=False)
    _add_volume(rt, bundle)
    bundle.write()
    before = _ours(rt)
    proc = rt.run("run", *run_args, "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "v\n"
    assert rt.status(bundle.cid) is None  # `run` deleted it
    assert _ours(rt) == before


@pytest.mark.parametrize("propagation", [None, "rshared"])
def test_failed_create_leaves_no_mount(rt, shared_tmp, propagation: str | None) -> None:
    """A bind source that does not exist fails create after several mounts were already made."""
    bundle = rt.bundle(["true"], write=False)
    _add_volume(rt, bundle)
    bundle.add_mount("/missing", rt.tmp / "no-such-source")
    if propagation:
        bundle.config["linux"]["rootfsPropagation"] = propagation
    bundle.write()
    before = _ours(rt)
    proc = rt.run("create", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    if rt.is_simcon:
        assert "mounts[8] `/missing`" in proc.stderr and "no-such-source" in proc.stderr
    assert _ours(rt) == before
    assert rt.root_entries() == []
