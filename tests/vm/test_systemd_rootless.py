"""Rootless `--systemd-cgroup`: an unprivileged user's container goes into a scope of the user's own systemd
manager (user@UID.service, reached on $XDG_RUNTIME_DIR/bus), below its `user.slice`. Runs in the VM lane's systemd
boot (`make test-vm-systemd`), with a throwaway user made there and removed afterwards (user manager stopped,
home removed)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest

from v2harness import MIB, harness

pytestmark = [pytest.mark.systemd,
              pytest.mark.skipif(not os.path.isdir("/run/systemd/system"),
                                 reason="needs systemd as PID 1: run `make test-vm-systemd`")]

SIMCON = harness.runtime_command()[0]


def run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, check=False)
    if check:
        assert proc.returncode == 0, f"{' '.join(argv)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


class User:
    def __init__(self, name: str) -> None:
        entry = pwd.getpwnam(name)
        self.name, self.uid, self.home = name, entry.pw_uid, Path(entry.pw_dir)
        runtime = f"/run/user/{self.uid}"
        self.prefix = ["/usr/bin/setpriv", f"--reuid={self.uid}", f"--regid={entry.pw_gid}", "--init-groups",
                       "env", f"XDG_RUNTIME_DIR={runtime}", f"DBUS_SESSION_BUS_ADDRESS=unix:path={runtime}/bus",
                       f"HOME={self.home}"]

    def __call__(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess:
        return run([*self.prefix, *argv], check=check)


@pytest.fixture(scope="module")
def user(rootfs_cache: Path):  # noqa: ANN201
    name = f"sct{os.urandom(3).hex()}"
    run(["useradd", "--create-home", name])
    u = User(name)
    try:
        run(["systemctl", "start", f"user@{u.uid}.service"])
        bundle = u.home / "bundle"
        bundle.mkdir()
        shutil.copytree(rootfs_cache, bundle / "rootfs", symlinks=True)
        run(["chown", "-R", f"{name}:", str(u.home)])
        u("sh", "-c", f"cd {bundle} && {SIMCON} spec --rootless")
        config = json.loads((bundle / "config.json").read_text())
        config["process"]["args"] = ["sh", "-c", "cat /proc/self/cgroup; id -u; sleep 1000"]
        config["process"]["terminal"] = False
        config["linux"]["cgroupsPath"] = ":simcon-test:rl"
        config["linux"]["resources"] = {"memory": {"limit": 48 * MIB}, "pids": {"limit": 30}}
        # Without a cgroup namespace of its own a rootless container cannot mount cgroup2 there (EBUSY).
        config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/sys/fs/cgroup"]
        (bundle / "config.json").write_text(json.dumps(config))
        u.bundle = bundle
        yield u
    finally:
        u(SIMCON, "delete", "--force", "rl", check=False)
        run(["systemctl", "stop", f"user@{u.uid}.service"], check=False)
        run(["userdel", "--remove", name], check=False)


def user_show(u: User, unit: str, prop: str) -> str:  # noqa: ANN001
    return u("systemctl", "--user", "show", unit, f"--property={prop}", "--value", check=False).stdout.strip()


def test_rootless_container_runs_in_a_scope_of_the_users_manager(user: User) -> None:
    unit = "simcon-test-rl.scope"
    user(SIMCON, "--systemd-cgroup", "run", "-d", "--bundle", str(user.bundle), "rl")
    try:
        control_group = f"/user.slice/user-{user.uid}.slice/user@{user.uid}.service/user.slice/{unit}"
        assert user_show(user, unit, "ActiveState") == "active"
        assert user_show(user, unit, "ControlGroup") == control_group
        assert user_show(user, unit, "MemoryMax") == str(48 * MIB)
        assert user_show(user, unit, "TasksMax") == "30"
        assert Path(f"/sys/fs/cgroup{control_group}/memory.max").read_text().strip() == str(48 * MIB)
        pid = json.loads(user(SIMCON, "state", "rl").stdout)["pid"]
        assert Path(f"/proc/{pid}/cgroup").read_text().strip() == f"0::{control_group}"
        user(SIMCON, "delete", "--force", "rl")
        assert user_show(user, unit, "LoadState") == "not-found"
        assert not Path(f"/sys/fs/cgroup{control_group}").exists()
    finally:
        user(SIMCON, "delete", "--force", "rl", check=False)
