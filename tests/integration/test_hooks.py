"""OCI hooks: each kind runs at its point of the lifecycle, in the right mount namespace, with the state on stdin.

createContainer and startContainer hooks run in the container's namespaces, and runtimes differ in where their
path is resolved (runc: createContainer before pivot_root, so host paths; startContainer after it). So the hook
script and the marker dir sit at the same absolute path on the host and inside the rootfs (the marker dir is
bind-mounted onto itself), and every hook works whichever view it gets.
"""

from __future__ import annotations

import json
import os
import shutil
import signal

import pytest

ALL_HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
IN_CONTAINER = {"createContainer", "startContainer"}
HOOK_ENV = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]

HOOK_SCRIPT = """#!/bin/sh
# $1: marker dir, $2: hook name. Saves the state from stdin and the mount namespace the hook ran in.
cat > "$1/$2.json"
readlink /proc/self/ns/mnt > "$1/$2.mnt"
echo "$2" >> "$1/order"
"""

SLEEP_MARK = "597.25"  # an unusual duration, to find a hook's sleep the runtime failed to kill


class HookedBundle:
    def __init__(self, rt, args: list[str]) -> None:
        self.rt = rt
        self.markers = rt.mkdir("hook-markers")
        self.script = rt.mkdir("hooks") / "hook.sh"
        self.script.write_text(HOOK_SCRIPT)
        self.script.chmod(0o755)
        self.bundle = rt.bundle(args, write=False)
        inside = self.bundle.rootfs / str(self.script).lstrip("/")
        inside.parent.mkdir(parents=True)
        shutil.copy2(self.script, inside)
        (self.bundle.rootfs / str(self.markers).lstrip("/")).mkdir(parents=True)
        self.bundle.add_mount(str(self.markers), self.markers)
        self.bundle.config["hooks"] = {}

    def add(self, kind: str, hook: dict | None = None) -> "HookedBundle":
        hook = hook or {"path": str(self.script), "args": ["hook.sh", str(self.markers), kind], "env": HOOK_ENV}
        self.bundle.config["hooks"].setdefault(kind, []).append(hook)
        return self

    def write(self) -> "HookedBundle":
        self.bundle.write()
        return self

    @property
    def cid(self) -> str:
        return self.bundle.cid

    def ran(self) -> set[str]:
        return {p.stem for p in self.markers.glob("*.json")}

    def state(self, kind: str) -> dict:
        return json.loads((self.markers / f"{kind}.json").read_text())

    def mnt_ns(self, kind: str) -> str:
        return (self.markers / f"{kind}.mnt").read_text().strip()

    def order(self) -> list[str]:
        return (self.markers / "order").read_text().split()


def _hooked(rt, args: list[str], kinds=ALL_HOOKS) -> HookedBundle:
    hooked = HookedBundle(rt, args)
    for kind in kinds:
        hooked.add(kind)
    return hooked.write()


def test_all_hooks_run_with_state_on_stdin(rt) -> None:
    hooked = _hooked(rt, ["true"])
    proc = rt.run("run", "--bundle", hooked.bundle.path, hooked.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert hooked.ran() == set(ALL_HOOKS)
    for kind in ALL_HOOKS:
        state = hooked.state(kind)
        assert state["id"] == hooked.cid, kind
        assert os.path.realpath(state["bundle"]) == os.path.realpath(hooked.bundle.path), kind
        assert "status" in state and "ociVersion" in state, kind


def test_hooks_run_in_the_right_mount_namespace(rt) -> None:
    hooked = _hooked(rt, ["true"])
    rt.ok("run", "--bundle", hooked.bundle.path, hooked.cid)
    host = rt.host_ns("mnt")
    for kind in ALL_HOOKS:
        if kind in IN_CONTAINER:
            assert hooked.mnt_ns(kind) != host, f"{kind} ran in the host's mount namespace"
        else:
            assert hooked.mnt_ns(kind) == host, f"{kind} did not run in the host's mount namespace"


def test_hook_order(rt) -> None:
    hooked = _hooked(rt, ["true"])
    rt.ok("run", "--bundle", hooked.bundle.path, hooked.cid)
    order = hooked.order()
    assert sorted(order) == sorted(ALL_HOOKS), order
    pos = {kind: order.index(kind) for kind in ALL_HOOKS}
    assert pos["prestart"] < pos["createContainer"]
    assert pos["createRuntime"] < pos["createContainer"] < pos["startContainer"]
    assert pos["poststop"] == len(order) - 1


def test_hooks_follow_create_start_delete(rt) -> None:
    hooked = _hooked(rt, ["sh", "-c", "while :; do sleep 1; done"])
    rt.ok("create", "--bundle", hooked.bundle.path, hooked.cid)
    assert {"prestart", "createRuntime", "createContainer"} <= hooked.ran()
    assert not {"startContainer", "poststop"} & hooked.ran()
    created_pid = rt.state(hooked.cid)["pid"]
    assert hooked.state("createRuntime")["pid"] == created_pid

    rt.ok("start", hooked.cid)
    rt.wait_for(lambda: {"startContainer", "poststart"} <= hooked.ran(), what="start hooks")
    assert hooked.state("poststart")["pid"] == created_pid
    assert "poststop" not in hooked.ran()

    rt.ok("delete", "--force", hooked.cid)
    assert "poststop" in hooked.ran()
    assert rt.run("state", hooked.cid).returncode != 0


@pytest.mark.simcon_only("runc 1.1.5 runs poststart hooks at `create`; the spec (and the issue) say after start")
def test_poststart_runs_at_start_not_create(rt) -> None:
    hooked = _hooked(rt, ["sh", "-c", "while :; do sleep 1; done"])
    rt.ok("create", "--bundle", hooked.bundle.path, hooked.cid)
    assert hooked.ran() == {"prestart", "createRuntime", "createContainer"}
    rt.ok("start", hooked.cid)
    rt.wait_for(lambda: "poststart" in hooked.ran(), what="the poststart hook")


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_failing_create_hook_fails_create_and_leaves_nothing(rt, kind: str) -> None:
    hooked = HookedBundle(rt, ["true"])
    hooked.add(kind, {"path": "/bin/sh", "args": ["sh", "-c", "echo hook says no >&2; exit 7"]})
    hooked.add("startContainer")
    hooked.write()
    proc = rt.run("create", "--bundle", hooked.bundle.path, hooked.cid)
    assert proc.returncode != 0, rt.describe(proc)
    assert "Traceback" not in proc.stderr
    assert "startContainer" not in hooked.ran()
    assert rt.root_entries() == []
    assert rt.existing_cgroup_dirs(rt.cgroup_path(hooked.cid)) == []


def _sleepers() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if SLEEP_MARK.encode() in argv:
            found.append(int(entry))
    return found


def test_hook_timeout_is_enforced(rt) -> None:
    hooked = HookedBundle(rt, ["true"])
    hooked.add("prestart", {"path": "/bin/sleep", "args": ["sleep", SLEEP_MARK], "timeout": 1})
    hooked.write()
    try:
        proc = rt.run("create", "--bundle", hooked.bundle.path, hooked.cid, timeout=300)
        assert proc.returncode != 0, rt.describe(proc)
        assert "Traceback" not in proc.stderr
        assert rt.root_entries() == []
        assert rt.existing_cgroup_dirs(rt.cgroup_path(hooked.cid)) == []
        rt.wait_for(lambda: not _sleepers(), 30, "the timed-out hook to be killed")
    finally:
        for pid in _sleepers():  # only our own hook's `sleep 597.25`
            os.kill(pid, signal.SIGKILL)


def test_failing_poststop_hook_only_warns(rt) -> None:
    hooked = HookedBundle(rt, ["sh", "-c", "echo done"])
    hooked.add("poststop", {"path": "/bin/sh", "args": ["sh", "-c", "exit 9"]})
    hooked.add("prestart")
    hooked.write()
    log_file = rt.tmp / "runtime.log"
    proc = rt.run("--log", log_file, "run", "--bundle", hooked.bundle.path, hooked.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "done\n"
    assert "Traceback" not in proc.stderr
    if rt.is_simcon:  # the warning names the hook kind, in the runtime log (stderr is the container's)
        assert "poststop" in log_file.read_text(), rt.describe(proc)
    assert rt.run("state", hooked.cid).returncode != 0


def test_failing_poststop_hook_does_not_block_delete(rt) -> None:
    hooked = HookedBundle(rt, ["sh", "-c", "while :; do sleep 1; done"])
    hooked.add("poststop", {"path": "/bin/sh", "args": ["sh", "-c", "exit 9"]})
    hooked.write()
    rt.ok("run", "-d", "--bundle", hooked.bundle.path, hooked.cid)
    proc = rt.run("delete", "--force", hooked.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert rt.run("state", hooked.cid).returncode != 0
    assert rt.existing_cgroup_dirs(rt.cgroup_path(hooked.cid)) == []


def test_start_container_hooks_see_status_created(rt) -> None:
    """runtime-spec: startContainer hooks run before the user's process, so the state says `created`."""
    hooked = _hooked(rt, ["true"], kinds=("startContainer", "poststart"))
    rt.ok("run", "--bundle", hooked.bundle.path, hooked.cid)
    assert hooked.state("startContainer")["status"] == "created"
    assert hooked.state("poststart")["status"] == "running"


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
@pytest.mark.parametrize("how", ["fails", "times out"])
def test_failed_create_hook_still_runs_poststop_and_leaves_nothing(rt, kind: str, how: str) -> None:
    """runtime-spec lifecycle: a failing (or timed-out) create hook stops the container and "continues the
    lifecycle at step 12": the poststop hooks run, and nothing of the container is left."""
    hooked = HookedBundle(rt, ["true"])
    if how == "fails":
        hooked.add(kind, {"path": "/bin/sh", "args": ["sh", "-c", "exit 7"]})
    else:
        hooked.add(kind, {"path": "/bin/sleep", "args": ["sleep", SLEEP_MARK], "timeout": 1})
    hooked.add("poststop")
    hooked.write()
    try:
        proc = rt.run("create", "--bundle", hooked.bundle.path, hooked.cid, timeout=300)
        assert proc.returncode != 0, rt.describe(proc)
        assert "Traceback" not in proc.stderr
        assert "poststop" in hooked.ran(), rt.describe(proc)
        assert hooked.state("poststop")["status"] == "stopped"
        assert hooked.state("poststop")["id"] == hooked.cid
        assert rt.root_entries() == []
        assert rt.existing_cgroup_dirs(rt.cgroup_path(hooked.cid)) == []
        rt.wait_for(lambda: not _sleepers(), 30, "the timed-out hook to be killed")
    finally:
        for pid in _sleepers():  # only our own hook's `sleep 597.25`
            os.kill(pid, signal.SIGKILL)
