"""Rootless: an unprivileged user runs `simcon spec --rootless` and `simcon run`.

Each test makes a throwaway system user (removed again even when the test fails), gives it a private
XDG_RUNTIME_DIR and a bundle it owns, and runs SimCon as that user through setpriv. Nothing here may need root's
rights on the user's behalf: the assertions look at what the container sees and what is left on the host.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

pytestmark = pytest.mark.simcon_only("runs SimCon's own spec --rootless and its default state root")

TIMEOUT = 60


def _userns_works() -> bool:
    proc = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "unshare", "-Ur",
                           "id", "-u"], capture_output=True, text=True, timeout=TIMEOUT)
    return proc.returncode == 0 and proc.stdout.strip() == "0"


@dataclass
class User:
    name: str
    uid: int
    gid: int
    home: Path  # a private tmp dir it owns: XDG_RUNTIME_DIR and bundles live below it
    command: list[str]

    @property
    def xdg(self) -> Path:
        return self.home / "xdg"

    @property
    def state_root(self) -> Path:
        return self.xdg / "simcon"

    def run(self, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
        env = ["env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", f"XDG_RUNTIME_DIR={self.xdg}", "HOME=/"]
        argv = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--", *env,
                *self.command, *map(str, args)]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd=cwd, timeout=TIMEOUT)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, proc.returncode, out.read().decode(errors="replace"),
                                               err.read().decode(errors="replace"))

    def ok(self, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
        proc = self.run(*args, cwd=cwd)
        assert proc.returncode == 0, f"{proc.args}: rc {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def chown(self, path: Path) -> None:
        for root, dirs, files in os.walk(path):
            for name in dirs + files:
                os.lchown(os.path.join(root, name), self.uid, self.gid)
        os.lchown(path, self.uid, self.gid)

    def bundle(self, rootfs_cache: Path, name: str, args: list[str]) -> Path:
        """A bundle owned by the user, its config.json written by `simcon spec --rootless` as the user."""
        path = self.home / name
        path.mkdir()
        shutil.copytree(rootfs_cache, path / "rootfs", symlinks=True)
        self.chown(path)
        self.ok("spec", "--rootless", "--bundle", path)
        config = json.loads((path / "config.json").read_text())
        config["process"]["args"] = args
        config["process"]["terminal"] = False
        (path / "config.json").write_text(json.dumps(config, indent=2))
        return path


def _edit(bundle: Path, change) -> None:  # noqa: ANN001
    config = json.loads((bundle / "config.json").read_text())
    change(config)
    (bundle / "config.json").write_text(json.dumps(config, indent=2))


@pytest.fixture
def user(runtime_cmd: list[str]) -> Iterator[User]:
    if not _userns_works():
        pytest.skip("unprivileged user namespaces are disabled on this kernel (unshare -Ur as nobody fails)")
    name = f"simcon-rl-{secrets.token_hex(3)}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                   check=True, capture_output=True, timeout=TIMEOUT)
    home = Path(tempfile.mkdtemp(prefix="simcon-rootless-"))
    made = None
    try:
        import pwd

        entry = pwd.getpwnam(name)
        os.chmod(home, 0o755)
        made = User(name, entry.pw_uid, entry.pw_gid, home, runtime_cmd)
        made.xdg.mkdir(mode=0o700)
        os.chown(made.xdg, made.uid, made.gid)
        for part in Path(runtime_cmd[0]).parents:  # the entry point must be reachable by the user
            assert os.stat(part).st_mode & 0o005 == 0o005, f"{part} is not readable/searchable by others"
        yield made
    finally:
        try:
            if made is not None and made.state_root.exists():
                for cid in made.run("list", "-q").stdout.split():
                    made.run("delete", "--force", cid)
        finally:
            shutil.rmtree(home, ignore_errors=True)
            subprocess.run(["userdel", name], capture_output=True, timeout=TIMEOUT)


def _host_traces(user: User, cid: str) -> list[str]:
    """What a container may have left on the host: mounts under the user's dir, cgroup dirs named after it."""
    with open("/proc/self/mountinfo") as f:
        mounts = [line for line in f if str(user.home) in line]
    cgroups = [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/**/{cid}")]
    return mounts + cgroups


def test_rootless_run_as_an_unprivileged_user(user: User, rootfs_cache: Path) -> None:
    shared = user.home / "shared"
    shared.mkdir()
    user.chown(shared)
    script = ("id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; hostname; echo pid=$$; "
              "grep -c . /proc/self/setgroups; cat /proc/self/setgroups; touch /shared/made-inside; "
              "ls -ln /shared/made-inside; exit 7")
    bundle = user.bundle(rootfs_cache, "bundle", ["sh", "-c", script])

    def change(config: dict) -> None:
        config["hostname"] = "rootless-box"
        config["mounts"].append({"destination": "/shared", "type": "bind", "source": str(shared),
                                 "options": ["rbind", "rw"]})

    _edit(bundle, change)
    cid = f"rl-{secrets.token_hex(3)}"
    proc = user.run("run", "--bundle", bundle, cid)
    assert proc.returncode == 7, f"{proc.stdout}\n{proc.stderr}"
    lines = proc.stdout.split("\n")
    assert lines[0] == "0" and lines[1] == "0", proc.stdout
    assert lines[2].split() == ["0", str(user.uid), "1"], proc.stdout
    assert lines[3].split() == ["0", str(user.gid), "1"], proc.stdout
    assert "rootless-box" in lines and "pid=1" in lines, proc.stdout
    assert "deny" in lines, proc.stdout
    made = shared / "made-inside"
    assert (made.stat().st_uid, made.stat().st_gid) == (user.uid, user.gid)
    assert " 0 " in next(line for line in lines if "made-inside" in line)  # root inside owns it
    assert "Traceback" not in proc.stderr
    # `run` deleted the container: nothing under the user's state root, nothing on the host.
    assert user.state_root.is_dir()
    assert list(user.state_root.iterdir()) == []
    assert _host_traces(user, cid) == []


def test_rootless_detached_lifecycle_state_list_exec_delete(user: User, rootfs_cache: Path) -> None:
    bundle = user.bundle(rootfs_cache, "bundle", ["sleep", "300"])
    cid = f"rl-{secrets.token_hex(3)}"
    user.ok("run", "--detach", "--bundle", bundle, cid)
    # State lives under the user's XDG_RUNTIME_DIR, without any --root.
    assert (user.state_root / cid).is_dir()
    assert os.stat(user.state_root / cid).st_uid == user.uid
    listed = user.ok("list").stdout
    assert cid in listed and "running" in listed and user.name in listed
    state = json.loads(user.ok("state", cid).stdout)
    assert state["status"] == "running"
    init_status = Path(f"/proc/{state['pid']}/status").read_text()
    assert f"Uid:\t{user.uid}\t" in init_status  # the host sees the user's own uid, not root
    out = user.ok("exec", cid, "sh", "-c", "id -u; cat /proc/self/uid_map").stdout.split("\n")
    assert out[0] == "0" and out[1].split() == ["0", str(user.uid), "1"]
    user.ok("kill", cid, "KILL")
    user.ok("delete", "--force", cid)
    assert not (user.state_root / cid).exists()
    assert cid not in user.ok("list").stdout
    assert not Path(f"/proc/{state['pid']}").exists() or "zombie" in Path(f"/proc/{state['pid']}/status").read_text()
    assert _host_traces(user, cid) == []


def test_rootless_resources_without_a_writable_cgroup_are_ignored_with_a_warning(user: User,
                                                                                 rootfs_cache: Path) -> None:
    bundle = user.bundle(rootfs_cache, "bundle", ["sh", "-c", "cat /proc/self/cgroup | head -1; exit 0"])
    _edit(bundle, lambda c: c["linux"].update(resources={"memory": {"limit": 100 * 1024 * 1024}}))
    cid = f"rl-{secrets.token_hex(3)}"
    log_file = Path(bundle) / "runtime.log"  # the user owns the bundle dir; stderr is the container's
    proc = user.run("--log", log_file, "run", "--bundle", bundle, cid)
    assert proc.returncode == 0, proc.stderr
    assert log_file.exists(), proc.stderr
    warnings = [line for line in log_file.read_text().splitlines() if "rootless" in line]
    assert len(warnings) == 1 and "linux.resources ignored" in warnings[0], proc.stderr
    assert _host_traces(user, cid) == []


def test_rootless_never_hands_over_or_chowns_host_device_nodes(user: User, rootfs_cache: Path) -> None:
    before = {p: (os.stat(p).st_uid, os.stat(p).st_mode) for p in ("/dev/null", "/dev/zero", "/dev/tty")}
    bundle = user.bundle(rootfs_cache, "bundle", ["sh", "-c", "echo x > /dev/null && ls -ln /dev/null"])
    proc = user.run("run", "--bundle", bundle, f"rl-{secrets.token_hex(3)}")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("crw-rw-rw-"), proc.stdout  # the host's node, bind-mounted (mknod is refused)
    assert {p: (os.stat(p).st_uid, os.stat(p).st_mode) for p in before} == before


@pytest.mark.parametrize("change, expected", [
    # Without newuidmap: refused before fork; with it (and no /etc/subuid range for the user): newuidmap's word.
    (lambda c: c["linux"]["uidMappings"].append({"containerID": 1, "hostID": 100000, "size": 65536}),
     "linux.uidMappings: .*(newuidmap/newgidmap \\(Debian package uidmap|newuidmap refused the map: "
     "uid range \\[1-65537\\) -> \\[100000-165536\\) not allowed)"),
    (lambda c: c["linux"]["gidMappings"].__setitem__(0, {"containerID": 0, "hostID": 0, "size": 1}),
     "linux.gidMappings: .*(newuidmap/newgidmap \\(Debian|newgidmap refused the map: gid range .* not allowed)"),
    (lambda c: c["process"]["user"].update(additionalGids=[0]), "process.user.additionalGids: rootless"),
    (lambda c: c["linux"]["namespaces"].append({"type": "network", "path": "/proc/1/ns/net"}),
     "join network namespace `/proc/1/ns/net`: Permission denied"),
], ids=["multi-range-uid-map", "foreign-gid", "additional-gids", "host-netns"])
def test_rootless_create_of_what_it_cannot_do_is_one_clear_line(user: User, rootfs_cache: Path, change,
                                                                 expected: str) -> None:
    bundle = user.bundle(rootfs_cache, "bundle", ["true"])
    _edit(bundle, change)
    cid = f"rl-{secrets.token_hex(3)}"
    proc = user.run("create", "--bundle", bundle, cid)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(expected, lines[0]), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (user.state_root / cid).exists()
    assert _host_traces(user, cid) == []


def test_rootless_false_as_a_user_does_not_skip_the_cgroup(user: User, rootfs_cache: Path) -> None:
    bundle = user.bundle(rootfs_cache, "bundle", ["true"])
    cid = f"rl-{secrets.token_hex(3)}"
    proc = user.run("--rootless", "false", "run", "--bundle", bundle, cid)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cgroup" in lines[0] and "ermission denied" in lines[0], proc.stderr
    assert not (user.state_root / cid).exists()


@pytest.mark.skipif(not (shutil.which("newuidmap") and shutil.which("newgidmap")),
                    reason="newuidmap/newgidmap (Debian package uidmap) are not installed; `make setup` installs it")
def test_rootless_multi_range_maps_through_newuidmap(user: User, rootfs_cache: Path) -> None:
    base = 3_000_000_000 + secrets.randbelow(1000) * 65536  # far above any range a host hands out
    span = f"{base}-{base + 65535}"
    subprocess.run(["usermod", "--add-subuids", span, "--add-subgids", span, user.name], check=True,
                   capture_output=True, timeout=TIMEOUT)
    try:
        script = ("cat /proc/self/uid_map /proc/self/gid_map; cat /proc/self/setgroups; id -G; "
                  "touch /shared/f && chown 1000:1000 /shared/f; exit 5")
        bundle = user.bundle(rootfs_cache, "bundle", ["sh", "-c", script])
        shared = user.home / "shared"
        shared.mkdir()
        user.chown(shared)

        def change(config: dict) -> None:
            config["linux"]["uidMappings"].append({"containerID": 1, "hostID": base, "size": 65536})
            config["linux"]["gidMappings"].append({"containerID": 1, "hostID": base, "size": 65536})
            config["process"]["user"]["additionalGids"] = [10]
            for field in ("bounding", "effective", "permitted"):
                config["process"]["capabilities"][field].append("CAP_CHOWN")
            config["mounts"].append({"destination": "/shared", "type": "bind", "source": str(shared),
                                     "options": ["rbind", "rw"]})

        _edit(bundle, change)
        cid = f"rl-{secrets.token_hex(3)}"
        proc = user.run("run", "--bundle", bundle, cid)
        assert proc.returncode == 5, proc.stderr
        lines = [line.split() for line in proc.stdout.splitlines()]
        assert lines[:4] == [["0", str(user.uid), "1"], ["1", str(base), "65536"],
                             ["0", str(user.gid), "1"], ["1", str(base), "65536"]], proc.stdout
        assert lines[4] == ["allow"] and lines[5] == ["0", "10"], proc.stdout  # setgroups works: group 10 is set
        owner = (shared / "f").stat()
        assert (owner.st_uid, owner.st_gid) == (base + 999, base + 999)  # container id 1000 -> base + 999
        assert _host_traces(user, cid) == []
    finally:
        subprocess.run(["usermod", "--del-subuids", span, "--del-subgids", span, user.name],
                       capture_output=True, timeout=TIMEOUT)
