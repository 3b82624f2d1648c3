"""Helpers shared by tests/vm's conftest and tests: the integration harness, host detection, bundle edits.

A plain module (not conftest.py) so that test modules can import it by name: pytest may hold several modules
called `conftest`, and which one `import conftest` finds depends on collection order.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import threading
from pathlib import Path

SKIP_REASON = "needs a pure cgroup v2 host: run `make test-vm`"
CGROUP_ROOT = Path("/sys/fs/cgroup")
HERE = Path(__file__).resolve().parent
MIB = 1 << 20


def _load_harness():  # noqa: ANN202
    """tests/integration/conftest.py under its own module name; its hooks and fixtures are not registered."""
    name = "simcon_tests_integration_harness"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE.parent / "integration" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


harness = _load_harness()


def pure_v2_host() -> bool:
    """cgroup2 mounted at /sys/fs/cgroup and no v1 hierarchy anywhere (what runc calls unified mode)."""
    fstypes = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fstype = after.split(" ", 1)[0]
        if fstype in ("cgroup", "cgroup2"):
            fstypes[before.split(" ")[4]] = fstype
    return fstypes.get(str(CGROUP_ROOT)) == "cgroup2" and "cgroup" not in fstypes.values()


def make_harness(rootfs_cache: Path, cgroup_parent: str):  # noqa: ANN201
    """A Harness with its own tmp dir, as the integration suite's `rt` fixture; end it with finish()."""
    tmp = Path(tempfile.mkdtemp(prefix="simcon-test-"))
    return harness.Harness(command=harness.runtime_command(), is_simcon=harness.runtime_is_simcon(), tmp=tmp,
                           rootfs_cache=rootfs_cache, cgroup_parent=cgroup_parent)


def finish(rt) -> list[str]:  # noqa: ANN001
    """Teardown: thaw what a failed test left frozen (a frozen task does not even die of SIGKILL), then the
    harness's cleanup (delete --force, kill and rmdir the cgroups, unmount, remove the tmp dir)."""
    for cid in rt.ids:
        for directory, _, _ in os.walk(cgroup_dir(rt, cid)):
            try:
                (Path(directory) / "cgroup.freeze").write_text("0")
            except OSError:
                pass
    return rt.cleanup()


def cgroup_dir(rt, cid: str) -> Path:  # noqa: ANN001
    """The host directory of a container's cgroup on the unified hierarchy."""
    return CGROUP_ROOT / rt.cgroup_path(cid).lstrip("/")


CGROUP_MOUNT = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}


def add_cgroup_mount(bundle) -> None:  # noqa: ANN001
    """The container's own cgroup2 at /sys/fs/cgroup, as `runc spec` has it (with the cgroup namespace of
    mkbundle's default config, its root is the container's cgroup)."""
    bundle.config["mounts"].append(dict(CGROUP_MOUNT))


def start_container(rt, args: list[str], resources: dict | None = None):  # noqa: ANN001, ANN201
    """create + start a detached container (cgroup mount added, `resources` as linux.resources); its Bundle."""
    bundle = rt.bundle(args, write=False)
    add_cgroup_mount(bundle)
    if resources is not None:
        bundle.config["linux"]["resources"] = resources
    bundle.write()
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    rt.ok("start", bundle.cid)
    return bundle


def read_keyed(path: Path) -> dict[str, int]:
    """A flat-keyed cgroup file (cgroup.events, memory.events, pids.events) as a dict."""
    out = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        out[key] = int(value)
    return out


class LineReader:
    """Collects a child's stdout lines in a thread, so a test can wait for one without blocking on the pipe."""

    def __init__(self, stream) -> None:  # noqa: ANN001
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._run, args=(stream,), daemon=True)
        self._thread.start()

    def _run(self, stream) -> None:  # noqa: ANN001
        for line in stream:
            self.lines.append(line.rstrip("\n"))
