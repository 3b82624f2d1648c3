"""SELinux labels on their way to the kernel, without an SELinux host (this one runs no LSM; the error path is in
tests/integration/test_security_lsm.py). What is checked here is the plumbing: the process label reaches the
plan and the attribute file the init writes before execve; the mount label becomes `context=` on exactly the
mounts runc labels."""

from __future__ import annotations

import json

import pytest

from simcon.linux import lsm
from simcon.runtime.plan import build_plan
from simcon.spec.default import default_spec
from simcon.spec.load import load_config

PROCESS_LABEL = "system_u:system_r:container_t:s0:c1,c2"
MOUNT_LABEL = "system_u:object_r:container_file_t:s0:c1,c2"


def test_selinux_exec_writes_the_label_to_the_attribute_file(tmp_path) -> None:
    attr = tmp_path / "exec"
    attr.write_text("")
    lsm.selinux_exec(PROCESS_LABEL, str(attr))
    assert attr.read_text() == PROCESS_LABEL


def test_selinux_exec_names_a_missing_attribute_file(tmp_path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        lsm.selinux_exec(PROCESS_LABEL, str(tmp_path / "missing"))
    assert info.value.filename == str(tmp_path / "missing")


@pytest.mark.parametrize(("data", "expected"), [
    ("", f'context="{MOUNT_LABEL}"'),
    ("size=65536k,mode=755", f'size=65536k,mode=755,context="{MOUNT_LABEL}"'),
])
def test_mount_data_gets_the_context(data: str, expected: str) -> None:
    assert lsm.selinux_mount_data(data, MOUNT_LABEL) == expected


@pytest.fixture
def labelled_plan(tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setattr(lsm, "selinux_enabled", lambda: True)
    config = default_spec()
    config["process"]["terminal"] = False
    config["process"]["selinuxLabel"] = PROCESS_LABEL
    config["linux"]["mountLabel"] = MOUNT_LABEL
    (tmp_path / "data").mkdir()
    config["mounts"].append({"destination": "/data", "type": "bind", "source": str(tmp_path / "data"),
                             "options": ["rbind"]})
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "config.json").write_text(json.dumps(config))
    return build_plan(load_config(str(bundle)), str(bundle), "web", config_file=str(bundle / "config.json"))


def test_the_process_label_is_in_the_plan(labelled_plan) -> None:  # noqa: ANN001
    assert labelled_plan.container.process.selinux_label == PROCESS_LABEL


def test_the_mount_label_goes_only_where_runc_puts_it(labelled_plan) -> None:  # noqa: ANN001
    by_destination = {mp.destination: mp for mp in labelled_plan.container.mounts}
    context = f'context="{MOUNT_LABEL}"'
    for labelled in ("/dev", "/dev/pts", "/dev/shm"):
        assert by_destination[labelled].data.endswith(context), (labelled, by_destination[labelled].data)
    for unlabelled in ("/proc", "/sys", "/dev/mqueue", "/sys/fs/cgroup", "/data"):
        assert context not in by_destination[unlabelled].data, unlabelled


def test_no_label_no_context(tmp_path) -> None:
    config = default_spec()
    config["process"]["terminal"] = False
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "config.json").write_text(json.dumps(config))
    plan = build_plan(load_config(str(bundle)), str(bundle), "web", config_file=str(bundle / "config.json"))
    assert plan.container.process.selinux_label is None
    assert not any("context=" in mp.data for mp in plan.container.mounts)
