"""Real containers whose state.json is damaged (issue 10, item 15): no traceback, `list` keeps listing the others,
and `delete --force` still kills the container through its recorded cgroup, removes the cgroups and the dir, after
which the id can be created again."""

from __future__ import annotations

import json
import os

import pytest

pytestmark = pytest.mark.simcon_only("SimCon's state.json layout and messages")


def _state_file(rt, cid: str):  # noqa: ANN001, ANN202
    return rt.root / cid / "state.json"


def _truncate_after_cgroup(text: str) -> str:
    """Cut the file in the middle of the field after `cgroup` (as a full disk or a crash could)."""
    return text[: text.index('"own_pid_namespace"') + 8]


def _wrong_types(text: str) -> str:
    data = json.loads(text)
    data.update(pid="12", init_start_time=[1], annotations=7)
    return json.dumps(data)


@pytest.mark.parametrize("damage", [_truncate_after_cgroup, _wrong_types], ids=["truncated", "wrong-types"])
def test_damaged_state_json(rt, damage) -> None:  # noqa: ANN001
    other = rt.bundle(["sleep", "3600"])
    rt.ok("create", "--bundle", other.path, other.cid)
    bundle = rt.bundle(["sleep", "3600"])
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    pid = rt.state(bundle.cid)["pid"]
    cgroup_dirs = rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid))
    assert cgroup_dirs
    state_file = _state_file(rt, bundle.cid)
    state_file.write_text(damage(state_file.read_text()))

    for verb in (["state", bundle.cid], ["kill", bundle.cid, "KILL"], ["delete", bundle.cid]):
        proc = rt.run(*verb)
        assert proc.returncode == 1, rt.describe(proc)
        [line] = proc.stderr.splitlines()
        assert str(state_file) in line and "corrupt state" in line, line
    assert os.path.exists(f"/proc/{pid}")  # nothing was done to it

    listed = rt.run("list", "--format", "json")
    assert listed.returncode == 0, rt.describe(listed)
    assert [entry["id"] for entry in json.loads(listed.stdout)] == [other.cid]
    [line] = listed.stderr.splitlines()
    assert f"`{bundle.cid}`" in line and str(state_file) in line

    deleted = rt.run("delete", "--force", bundle.cid)
    assert deleted.returncode == 0, rt.describe(deleted)
    assert deleted.stderr == ""
    rt.wait_for(lambda: not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read(),
                30, "the init to be killed through its cgroup")
    assert rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid)) == []
    assert not (rt.root / bundle.cid).exists()
    assert rt.state(other.cid)["status"] == "created"

    # The id is free again.
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    assert rt.state(bundle.cid)["status"] == "created"


def test_state_dir_without_state_json_no_longer_blocks_its_id(rt) -> None:
    bundle = rt.bundle(["true"])
    (rt.root / bundle.cid).mkdir(parents=True)  # what a create killed right after mkdir leaves
    blocked = rt.run("create", "--bundle", bundle.path, bundle.cid)
    assert blocked.returncode == 1 and "already exists" in blocked.stderr
    assert rt.run("state", bundle.cid).returncode == 1
    rt.ok("delete", "--force", bundle.cid)
    assert not (rt.root / bundle.cid).exists()
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    assert rt.state(bundle.cid)["status"] == "created"
