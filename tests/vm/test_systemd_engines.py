"""podman and containerd with SimCon as their OCI runtime on a systemd host, each with its default systemd cgroup
setup: podman's `cgroup_manager = "systemd"` (cgroupsPath `machine.slice:libpod:<id>`) and containerd's
`SystemdCgroup = true` (`ctr run --runc-binary ... --runc-systemd-cgroup`, a kubelet-style cgroupsPath). Runs in
the VM lane's systemd boot (`make test-vm-systemd`).

No registry is reachable, so the containers run the busybox rootfs the suite builds (`--rootfs`); podman's storage
is `vfs` in a tmp dir (the guest's root is an overlay, which overlay storage cannot sit on), containerd runs as a
transient unit with its root and state in a tmp dir. Everything is removed at the end: containers, units, dirs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from v2harness import MIB, harness

pytestmark = [pytest.mark.systemd,
              pytest.mark.skipif(not os.path.isdir("/run/systemd/system"),
                                 reason="needs systemd as PID 1: run `make test-vm-systemd`")]

SIMCON = harness.runtime_command()[0]
TIMEOUT = 300


def run(argv: list[str], check: bool = True, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if check:
        assert proc.returncode == 0, f"{' '.join(argv)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def show(unit: str, prop: str) -> str:
    return run(["systemctl", "show", unit, f"--property={prop}", "--value"], check=False).stdout.strip()


@pytest.fixture(scope="module")
def workdir(rootfs_cache: Path):  # noqa: ANN201
    top = Path(tempfile.mkdtemp(prefix="simcon-engines-"))
    shutil.copytree(rootfs_cache, top / "rootfs", symlinks=True)
    yield top
    harness.unmount_under(top)
    shutil.rmtree(top, ignore_errors=True)


# -- podman ------------------------------------------------------------------------------------------------------


class Podman:
    def __init__(self, top: Path) -> None:
        self.top = top
        self.base = ["podman", "--root", str(top / "storage"), "--runroot", str(top / "runroot"),
                     "--storage-driver", "vfs", "--runtime", SIMCON, "--log-level", "error"]

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return run([*self.base, *args], check=check)


@pytest.fixture(scope="module")
def podman(workdir: Path):  # noqa: ANN201
    p = Podman(workdir / "podman")
    yield p
    p("rm", "--all", "--force", "--time", "0", check=False)


def test_podman_uses_the_systemd_cgroup_manager(podman) -> None:  # noqa: ANN001
    assert podman("info", "--format", "{{.Host.CgroupManager}} {{.Host.CgroupsVersion}}").stdout.split() == [
        "systemd", "v2"]


def test_podman_run_with_a_memory_limit(podman, workdir: Path) -> None:  # noqa: ANN001
    out = podman("run", "--rm", "--network", "none", "--memory", "64m", "--rootfs", str(workdir / "rootfs"),
                 "sh", "-c", "cat /sys/fs/cgroup/memory.max; cat /proc/self/cgroup").stdout.split()
    assert out == [str(64 * MIB), "0::/"], out


def test_podman_run_exec_stop_rm_in_a_libpod_scope(podman, workdir: Path) -> None:  # noqa: ANN001
    cid = podman("run", "-d", "--network", "none", "--memory", "48m", "--rootfs", str(workdir / "rootfs"),
                 "sleep", "1000").stdout.strip()
    unit = f"libpod-{cid}.scope"
    try:
        assert show(unit, "ActiveState") == "active"
        assert show(unit, "Slice") == "machine.slice"
        assert show(unit, "MemoryMax") == str(48 * MIB)
        assert Path(f"/sys/fs/cgroup/machine.slice/{unit}/memory.max").read_text().strip() == str(48 * MIB)
        assert podman("exec", cid, "sh", "-c", "echo hi from $(hostname)").stdout.startswith("hi from ")
        assert podman("inspect", "--format", "{{.State.Status}}", cid).stdout.strip() == "running"
        podman("stop", "--time", "2", cid)
        assert podman("inspect", "--format", "{{.State.Status}}", cid).stdout.strip() == "exited"
    finally:
        podman("rm", "--force", "--time", "0", cid, check=False)
    assert show(unit, "LoadState") == "not-found"
    assert not Path(f"/sys/fs/cgroup/machine.slice/{unit}").exists()


# -- containerd --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def containerd(workdir: Path):  # noqa: ANN201
    top = workdir / "containerd"
    top.mkdir()
    address = top / "containerd.sock"
    config = top / "config.toml"
    config.write_text(f'version = 2\nroot = "{top}/root"\nstate = "{top}/state"\n'
                      f'[grpc]\n  address = "{address}"\n')
    unit = f"simcon-test-containerd-{os.urandom(3).hex()}.service"
    run(["systemd-run", f"--unit={unit}", "--property=Delegate=yes", "--property=KillMode=process",
         "containerd", "--config", str(config)])
    deadline = time.monotonic() + 120
    while run(["ctr", "--address", str(address), "version"], check=False).returncode != 0:
        assert time.monotonic() < deadline, "containerd did not come up: " + run(
            ["journalctl", "-u", unit, "--no-pager", "-n", "30"], check=False).stdout
        time.sleep(1)
    yield ["ctr", "--address", str(address)]
    run(["systemctl", "stop", unit], check=False)
    run(["systemctl", "reset-failed", unit], check=False)


def test_containerd_runs_simcon_with_systemd_cgroups(containerd, workdir: Path) -> None:  # noqa: ANN001
    cid = f"simcon-test-{os.urandom(3).hex()}"
    pod_slice = f"kubepods-besteffort-pod{os.urandom(3).hex()}.slice"
    unit = f"cri-containerd-{cid}.scope"
    scope_dir = f"/kubepods.slice/kubepods-besteffort.slice/{pod_slice}/{unit}"
    try:
        # As kubelet + containerd with SystemdCgroup = true: the shim calls `simcon --systemd-cgroup create`.
        run([*containerd, "run", "-d", "--rootfs", "--runc-binary", SIMCON, "--runc-systemd-cgroup",
             "--cgroup", f"{pod_slice}:cri-containerd:{cid}", "--memory-limit", str(32 * MIB),
             str(workdir / "rootfs"), cid, "sleep", "1000"])
        assert show(unit, "ActiveState") == "active"
        assert show(unit, "MemoryMax") == str(32 * MIB)
        assert Path(f"/sys/fs/cgroup{scope_dir}/memory.max").read_text().strip() == str(32 * MIB)
        # exec through the shim; ctr's spec has no cgroup namespace, so the full path shows.
        out = run([*containerd, "task", "exec", "--exec-id", "probe", cid, "cat", "/proc/1/cgroup"]).stdout
        assert out.strip() == f"0::{scope_dir}"
        run([*containerd, "task", "kill", "--signal", "SIGKILL", cid])
        deadline = time.monotonic() + 60
        while "STOPPED" not in run([*containerd, "task", "ls"], check=False).stdout:
            assert time.monotonic() < deadline, "the task did not stop"
            time.sleep(0.5)
        run([*containerd, "task", "delete", cid])
        run([*containerd, "container", "delete", cid])
        assert show(unit, "LoadState") == "not-found"
        assert not Path(f"/sys/fs/cgroup{scope_dir}").exists()
    finally:
        run([*containerd, "task", "kill", "--signal", "SIGKILL", cid], check=False)
        run([*containerd, "task", "delete", "--force", cid], check=False)
        run([*containerd, "container", "delete", cid], check=False)
        run(["systemctl", "stop", unit, pod_slice], check=False)
