"""Fixtures for the black-box integration tests: real containers run by a real runtime.

The suite is written against runc's command line and behaviour, so it can be cross-checked:

    pytest tests/integration                                   # runs the installed `simcon`
    SIMCON_TEST_RUNTIME=/usr/sbin/runc pytest tests/integration

Every test gets its own `--root` state dir, unique container ids, a fresh copy of a busybox rootfs (built once
per session by tools/mkbundle.py) and an absolute cgroupsPath under a per-session parent
(`/simcon-test-<random>/<id>`): a relative path would land in the cgroup of the shell that started pytest.
Teardown runs even when a test fails: `delete --force` for every container the test named (and anything else
`list` shows under its root), SIGKILL + rmdir of its cgroups in every hierarchy, lazy unmount of anything left
mounted under its tmp dir, removal of the tmp dir. The session removes the cgroup parent bottom-up.

Markers:
    simcon_only("reason")  skipped when SIMCON_TEST_RUNTIME names another runtime: the test checks SimCon's own
                           messages or a requirement where runc 1.1.5 behaves differently.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

import mkbundle  # tools/ is put on sys.path by tests/conftest.py

RUNTIME_ENV = "SIMCON_TEST_RUNTIME"
DEFAULT_TIMEOUT = 60  # seconds; only to avoid hangs, never asserted on
CGROUP_FSTYPES = ("cgroup", "cgroup2")


# --------------------------------------------------------------------------------------------------------------
# Which runtime


def runtime_command() -> list[str]:
    override = os.environ.get(RUNTIME_ENV)
    if override:
        return shlex.split(override)
    return [str(Path(sys.executable).parent / "simcon")]


def runtime_is_simcon() -> bool:
    override = os.environ.get(RUNTIME_ENV)
    return not override or "simcon" in override


# A `wrap` that runs simcon without CAP_SYS_RESOURCE, as on a host whose root lacks it (like this CI host): the
# capability leaves the bounding set of a child (setpriv, util-linux), so the simcon it execs holds it in no set.
# Tests of what SimCon does without the capability use it, rather than skipping wherever the test holds it.
WITHOUT_CAP_SYS_RESOURCE = ["setpriv", "--bounding-set", "-sys_resource", "--"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "simcon_only(reason): checks a SimCon-specific message or requirement; "
        f"skipped when {RUNTIME_ENV} names another runtime"
    )


NEEDS_ROOT = "integration tests run real containers and need root"
_NOT_RUN = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config) -> None:
    """Run as non-root, the integration tests cannot run at all: say so loudly, not as one skip among many."""
    not_run = config.stash.get(_NOT_RUN, 0)
    if not_run:
        terminalreporter.write_line(f"NOT TESTED: {not_run} integration tests did not run: {NEEDS_ROOT} (run "
                                    "`make test` as root); this run counts as failed", red=True, bold=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # `make test` as non-root must not be green by skipping every test that runs a container.
    if session.config.stash.get(_NOT_RUN, 0) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    not_root = os.geteuid() != 0
    other_runtime = not runtime_is_simcon()
    for item in items:
        if here not in Path(str(item.fspath)).parents:
            continue
        item.add_marker(pytest.mark.integration)
        if not_root:
            item.add_marker(pytest.mark.skip(reason=NEEDS_ROOT))
            config.stash[_NOT_RUN] = config.stash.get(_NOT_RUN, 0) + 1
        marker = item.get_closest_marker("simcon_only")
        if marker is not None and other_runtime:
            reason = marker.args[0] if marker.args else marker.kwargs.get("reason", "SimCon-specific")
            item.add_marker(pytest.mark.skip(reason=f"{os.environ[RUNTIME_ENV]} is not SimCon: {reason}"))


# --------------------------------------------------------------------------------------------------------------
# Host helpers (cgroups, mounts)


def read_mountinfo() -> list[str]:
    return Path("/proc/self/mountinfo").read_text().splitlines()


def _unescape_mountinfo(field_: str) -> str:
    return field_.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def cgroup_mounts() -> list[tuple[str, str]]:
    """(mount root, mount point) of every cgroup v1/v2 hierarchy in this mount namespace."""
    result = []
    for line in read_mountinfo():
        before, _, after = line.partition(" - ")
        fstype = after.split(" ", 1)[0]
        if fstype in CGROUP_FSTYPES:
            fields = before.split(" ")
            result.append((_unescape_mountinfo(fields[3]), _unescape_mountinfo(fields[4])))
    return result


def cgroup_dirs(cgroup_path: str) -> list[Path]:
    """The directory an absolute cgroup path maps to in every mounted hierarchy (existing or not)."""
    assert cgroup_path.startswith("/"), cgroup_path
    dirs = []
    for root, mountpoint in cgroup_mounts():
        rel = os.path.relpath(cgroup_path, root)
        if rel.startswith(".."):
            continue
        dirs.append(Path(mountpoint) / rel)
    return dirs


def existing_cgroup_dirs(cgroup_path: str) -> list[Path]:
    return [d for d in cgroup_dirs(cgroup_path) if d.is_dir()]


def _kill_cgroup_procs(directory: Path) -> None:
    try:
        pids = (directory / "cgroup.procs").read_text().split()
    except OSError:
        return
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def remove_cgroup_tree(cgroup_path: str, timeout: float = 20.0) -> list[Path]:
    """SIGKILL whatever lives in the tree and remove its directories bottom-up, in every hierarchy.

    Returns the directories that could not be removed (empty on success)."""
    left: list[Path] = []
    for top in existing_cgroup_dirs(cgroup_path):
        subdirs = [Path(dirpath) for dirpath, _, _ in os.walk(top, topdown=False)]
        for directory in subdirs:
            deadline = time.monotonic() + timeout
            while True:
                _kill_cgroup_procs(directory)
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        left.append(directory)
                        break
                    time.sleep(0.05)
    return left


def unmount_under(prefix: Path) -> None:
    """Lazily unmount anything mounted at or below prefix (deepest first): only cleanup after a leak."""
    prefix_s = str(prefix)
    points = []
    for line in read_mountinfo():
        mountpoint = _unescape_mountinfo(line.split(" ")[4])
        if mountpoint == prefix_s or mountpoint.startswith(prefix_s + "/"):
            points.append(mountpoint)
    for mountpoint in sorted(points, key=len, reverse=True):
        subprocess.run(["umount", "-l", mountpoint], stdin=subprocess.DEVNULL, capture_output=True)


def host_ns(kind: str) -> str:
    return os.readlink(f"/proc/self/ns/{kind}")


def wait_for(predicate: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


# --------------------------------------------------------------------------------------------------------------
# Bundles and the per-test harness


def describe(proc: subprocess.CompletedProcess) -> str:
    return (f"command {shlex.join(map(str, proc.args))} exited {proc.returncode}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")


@dataclass
class Bundle:
    """An OCI bundle dir: `config` is a plain dict; call write() after changing it."""

    path: Path
    config: dict
    cid: str

    @property
    def rootfs(self) -> Path:
        return self.path / "rootfs"

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    def write(self) -> "Bundle":
        self.config_path.write_text(json.dumps(self.config, indent=2) + "\n")
        return self

    def add_mount(self, destination: str, source: str | Path, options: list[str] | None = None,
                  type_: str = "bind") -> "Bundle":
        mount: dict = {"destination": destination, "type": type_, "source": str(source)}
        if type_ == "bind":
            mount["options"] = ["rbind", *(options or [])]
        elif options:
            mount["options"] = list(options)
        self.config["mounts"].append(mount)
        return self


@dataclass
class Harness:
    """One test's runtime: its own --root, tmp dir, container ids and cgroups."""

    command: list[str]
    is_simcon: bool
    tmp: Path
    rootfs_cache: Path
    cgroup_parent: str
    ids: list[str] = field(default_factory=list)

    @property
    def root(self) -> Path:
        return self.tmp / "state"

    # ---- names
    def new_id(self, prefix: str = "c") -> str:
        cid = f"{prefix}-{secrets.token_hex(4)}"
        self.ids.append(cid)
        return cid

    def cgroup_path(self, cid: str) -> str:
        return f"{self.cgroup_parent}/{cid}"

    def mkdir(self, name: str) -> Path:
        path = self.tmp / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    # ---- bundles
    def bundle(self, args: list[str], cid: str | None = None, name: str | None = None,
               write: bool = True) -> Bundle:
        cid = cid or self.new_id()
        path = self.tmp / (name or f"bundle-{cid}")
        path.mkdir(parents=True)
        shutil.copytree(self.rootfs_cache, path / "rootfs", symlinks=True)
        config = mkbundle.default_config(list(args), self.cgroup_path(cid))
        bundle = Bundle(path=path, config=copy.deepcopy(config), cid=cid)
        if write:
            bundle.write()
        return bundle

    # ---- running the runtime
    def argv(self, *args: str | Path, root: bool = True) -> list[str]:
        front = [*self.command, "--root", str(self.root)] if root else list(self.command)
        return [*front, *map(str, args)]

    def run(self, *args: str | Path, timeout: float = DEFAULT_TIMEOUT, root: bool = True,
            cwd: str | Path | None = None, wrap: list[str] | None = None) -> subprocess.CompletedProcess:
        """Run the runtime; output goes through files, not pipes, so a detached container that inherits
        them cannot make us wait for EOF. `wrap` prefixes the command (e.g. a shell that opens fd 3)."""
        argv = [*(wrap or []), *self.argv(*args, root=root)]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout,
                                  cwd=cwd)
            out.seek(0)
            err.seek(0)
            return subprocess.CompletedProcess(argv, proc.returncode,
                                               out.read().decode(errors="replace"),
                                               err.read().decode(errors="replace"))

    def run_container(self, args: list[str], edit: Callable[[Bundle], Any] | None = None,
                      run_args: tuple[str, ...] = (), **kwargs: Any) -> subprocess.CompletedProcess:
        """`run` a fresh bundle in the foreground; `edit` may change bundle.config (written afterwards)."""
        bundle = self.bundle(args, write=False)
        if edit is not None:
            edit(bundle)
        bundle.write()
        return self.run("run", *run_args, "--bundle", bundle.path, bundle.cid, **kwargs)

    def popen(self, *args: str | Path, root: bool = True, **kwargs: Any) -> subprocess.Popen:
        kwargs.setdefault("stdout", subprocess.PIPE)
        kwargs.setdefault("stderr", subprocess.PIPE)
        return subprocess.Popen(self.argv(*args, root=root), stdin=subprocess.DEVNULL, text=True, **kwargs)

    def ok(self, *args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess:
        """Run and require exit status 0."""
        proc = self.run(*args, **kwargs)
        assert proc.returncode == 0, describe(proc)
        return proc

    def state(self, cid: str) -> dict:
        return json.loads(self.ok("state", cid).stdout)

    def status(self, cid: str) -> str | None:
        proc = self.run("state", cid)
        if proc.returncode != 0:
            return None
        return json.loads(proc.stdout)["status"]

    def wait_status(self, cid: str, status: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        wait_for(lambda: self.status(cid) == status, timeout, f"{cid} to be {status}")

    def root_entries(self) -> list[str]:
        """What the runtime left under --root (an absent root counts as empty)."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir())

    # ---- host-side helpers for tests (tests do not import conftest: pytest may hold several `conftest`s)
    describe = staticmethod(describe)
    wait_for = staticmethod(wait_for)
    host_ns = staticmethod(host_ns)
    read_mountinfo = staticmethod(read_mountinfo)
    existing_cgroup_dirs = staticmethod(existing_cgroup_dirs)
    WITHOUT_CAP_SYS_RESOURCE = WITHOUT_CAP_SYS_RESOURCE

    # ---- teardown
    def cleanup(self) -> list[str]:
        problems: list[str] = []
        ids = list(self.ids)
        if self.root.exists():
            try:
                listed = self.run("list", "-q", timeout=30)
                ids += [i for i in listed.stdout.split() if i not in ids]
            except (subprocess.TimeoutExpired, OSError):
                pass
        for cid in ids:
            try:
                self.run("delete", "--force", cid, timeout=30)
            except (subprocess.TimeoutExpired, OSError) as exc:
                problems.append(f"delete --force {cid}: {exc}")
        for cid in ids:
            left = remove_cgroup_tree(self.cgroup_path(cid))
            if left:
                problems.append(f"cgroup dirs left: {left}")
        unmount_under(self.tmp)
        shutil.rmtree(self.tmp, ignore_errors=True)
        return problems


# --------------------------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def runtime_cmd() -> list[str]:
    return runtime_command()


@pytest.fixture(scope="session")
def is_simcon() -> bool:
    return runtime_is_simcon()


@pytest.fixture(scope="session")
def cgroup_parent() -> Iterator[str]:
    parent = f"/simcon-test-{secrets.token_hex(4)}"
    yield parent
    left = remove_cgroup_tree(parent)
    assert not left, f"could not remove cgroup dirs: {left}"


@pytest.fixture(scope="session", autouse=True)
def seccomp_cache_dir() -> Iterator[Path]:
    """SimCon's compiled-filter cache (runtime/seccomp_cache.py) in a dir of the session's, not the host's
    /var/cache/simcon, so the tests leave nothing behind and start from an empty cache."""
    tmp = Path(tempfile.mkdtemp(prefix="simcon-test-cache-"))
    old = os.environ.get("SIMCON_CACHE_DIR")
    os.environ["SIMCON_CACHE_DIR"] = str(tmp)
    yield tmp / "seccomp"
    if old is None:
        os.environ.pop("SIMCON_CACHE_DIR", None)
    else:
        os.environ["SIMCON_CACHE_DIR"] = old
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def rootfs_cache() -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="simcon-test-rootfs-"))
    rootfs = tmp / "rootfs"
    mkbundle.make_rootfs(rootfs)
    yield rootfs
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def rt(runtime_cmd: list[str], is_simcon: bool, rootfs_cache: Path, cgroup_parent: str) -> Iterator[Harness]:
    tmp = Path(tempfile.mkdtemp(prefix="simcon-test-"))
    harness = Harness(command=runtime_cmd, is_simcon=is_simcon, tmp=tmp, rootfs_cache=rootfs_cache,
                      cgroup_parent=cgroup_parent)
    try:
        yield harness
    finally:
        problems = harness.cleanup()
        if problems:
            print("integration cleanup problems:", *problems, sep="\n  ", file=sys.stderr)


@pytest.fixture
def netns_holder() -> Iterator[str]:
    """A network namespace held by a sleeping process (nothing created in the host netns); yields its path."""
    proc = subprocess.Popen(["unshare", "--net", "sleep", "3600"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        path = f"/proc/{proc.pid}/ns/net"
        wait_for(lambda: os.readlink(path) != host_ns("net"), 30, "unshare to enter its netns")
        yield path
    finally:
        proc.kill()
        proc.wait(timeout=30)
