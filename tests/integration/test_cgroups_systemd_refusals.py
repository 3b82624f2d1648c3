"""`--systemd-cgroup` where it cannot work, and the `slice:prefix:name` form without it: one clear line, nothing
left behind. On this project's hosts systemd is installed but not running; the driver against a running systemd
is tested in the VM lane's systemd boot (tests/vm/test_systemd_cgroup.py)."""

from __future__ import annotations

import os

import pytest

pytestmark = pytest.mark.simcon_only("SimCon's own error texts")


def _refused(rt, proc) -> str:  # noqa: ANN001
    assert proc.returncode == 1, rt.describe(proc)
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert rt.root_entries() == [], "a refused create left state behind"
    return err


def test_plain_path_with_systemd_cgroup_gets_runcs_error(rt):
    bundle = rt.bundle(["true"])  # the harness's absolute cgroupsPath
    err = _refused(rt, rt.run("--systemd-cgroup", "run", "--bundle", bundle.path, bundle.cid))
    assert 'expected cgroupsPath to be of format "slice:prefix:name" for systemd cgroups' in err
    assert rt.cgroup_path(bundle.cid) in err


@pytest.mark.skipif(os.path.isdir("/run/systemd/system"), reason="systemd is running here: the VM lane's case")
def test_without_systemd_the_error_says_so_and_suggests_cgroupfs(rt):
    bundle = rt.bundle(["true"], write=False)
    bundle.config["linux"]["cgroupsPath"] = f"system.slice:simcon-test:{bundle.cid}"
    bundle.write()
    err = _refused(rt, rt.run("--systemd-cgroup", "run", "--bundle", bundle.path, bundle.cid))
    assert "systemd is not running" in err and "--systemd-cgroup" in err
    assert "hint: use the cgroupfs driver" in err
    assert not os.path.exists(f"/sys/fs/cgroup/unified/system.slice/simcon-test-{bundle.cid}.scope")


def test_systemd_form_without_the_flag_names_the_flag(rt):
    bundle = rt.bundle(["true"], write=False)
    bundle.config["linux"]["cgroupsPath"] = f"system.slice:simcon-test:{bundle.cid}"
    bundle.write()
    err = _refused(rt, rt.run("run", "--bundle", bundle.path, bundle.cid))
    assert "systemd form `slice:prefix:name`: pass --systemd-cgroup" in err


@pytest.mark.skipif(os.path.isdir("/run/systemd/system"), reason="systemd is running here: the VM lane's case")
def test_cgroup_manager_setting_applies_only_without_a_cgroups_path(rt):
    """simcon.toml's cgroup_manager = "systemd" (here through $SIMCON_CGROUP_MANAGER) picks the systemd driver for a
    config without cgroupsPath; a config that names one is left to --systemd-cgroup alone (as engines call)."""
    wrap = ["env", "SIMCON_CGROUP_MANAGER=systemd"]
    bundle = rt.bundle(["true"], write=False)
    del bundle.config["linux"]["cgroupsPath"]
    bundle.write()
    err = _refused(rt, rt.run("run", "--bundle", bundle.path, bundle.cid, wrap=wrap))
    assert "systemd is not running" in err

    named = rt.bundle(["true"])  # the harness's cgroupfs path
    proc = rt.run("run", "--bundle", named.path, named.cid, wrap=wrap)
    assert proc.returncode == 0, rt.describe(proc)
