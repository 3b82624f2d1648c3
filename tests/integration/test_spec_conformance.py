"""Runtime-spec details runc and crun get right, as the container and the kernel see them (issue 10, items 4-12):
oomScoreAdj below the runtime's own value, HOME from the container's /etc/passwd, an unbindable root, SELinux
labels on a host without SELinux, a config without `process`."""

from __future__ import annotations

import json
import os

import pytest

# Raises the runtime's own oom_score_adj (anyone may raise it) before it runs, so a config value below the
# runtime's own but above the kernel's oom_score_adj_min is what the CRI asks of a shim on a Kubernetes node.
RAISE_OOM_SCORE_ADJ = ["sh", "-c", 'echo 500 > /proc/self/oom_score_adj && exec "$@"', "sh"]


def one_line(proc) -> str:  # noqa: ANN001
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


# --- 4: oomScoreAdj ---------------------------------------------------------------------------------------------


def test_oom_score_adj_below_the_runtimes_own_is_written(rt) -> None:
    if int(open("/proc/self/oom_score_adj").read()) > 100:
        pytest.skip("this test's own oom_score_adj is above 100: the kernel would refuse 100 (oom_score_adj_min)")
    bundle = rt.bundle(["cat", "/proc/self/oom_score_adj"], write=False)
    bundle.config["process"]["oomScoreAdj"] = 100
    bundle.write()
    # The runtime without CAP_SYS_RESOURCE (as on this CI host), whatever the test process holds.
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid, wrap=[*rt.WITHOUT_CAP_SYS_RESOURCE, *RAISE_OOM_SCORE_ADJ])
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.strip() == "100"


@pytest.mark.simcon_only("SimCon's message names the step")
def test_oom_score_adj_the_kernel_refuses_is_a_clear_error(rt) -> None:
    own = int(open("/proc/self/oom_score_adj").read())
    if own == -1000:
        pytest.skip("oom_score_adj is at its minimum already")
    bundle = rt.bundle(["true"], write=False)
    bundle.config["process"]["oomScoreAdj"] = -1000  # below oom_score_adj_min: only CAP_SYS_RESOURCE may
    bundle.write()
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid, wrap=rt.WITHOUT_CAP_SYS_RESOURCE)
    assert proc.returncode != 0, rt.describe(proc)
    line = one_line(proc)
    assert "oomScoreAdj" in line and "permission denied" in line.lower(), line
    assert rt.root_entries() == []
    assert rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid)) == []


# --- 7: HOME ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("uid", "home"), [(0, "/root"), (1000, "/home"), (4242, "/")])
def test_home_comes_from_the_containers_passwd(rt, uid: int, home: str) -> None:
    bundle = rt.bundle(["sh", "-c", 'echo "HOME=$HOME"'], write=False)
    bundle.config["process"]["user"] = {"uid": uid, "gid": uid}
    bundle.config["process"]["env"] = [e for e in bundle.config["process"]["env"] if not e.startswith("HOME=")]
    bundle.write()
    proc = rt.ok("run", "--bundle", bundle.path, bundle.cid)
    assert proc.stdout.strip() == f"HOME={home}"


def test_home_in_the_config_wins(rt) -> None:
    bundle = rt.bundle(["sh", "-c", 'echo "HOME=$HOME"'], write=False)
    bundle.config["process"]["env"].append("HOME=/somewhere")
    bundle.write()
    assert rt.ok("run", "--bundle", bundle.path, bundle.cid).stdout.strip() == "HOME=/somewhere"


def test_exec_gets_home_from_the_containers_passwd(rt) -> None:
    bundle = rt.bundle(["sleep", "600"], write=False)
    bundle.config["process"]["env"] = [e for e in bundle.config["process"]["env"] if not e.startswith("HOME=")]
    bundle.write()
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    assert rt.ok("exec", bundle.cid, "sh", "-c", 'echo "HOME=$HOME"').stdout.strip() == "HOME=/root"
    assert rt.ok("exec", "--user", "1000:1000", bundle.cid, "sh", "-c",
                 'echo "HOME=$HOME"').stdout.strip() == "HOME=/home"


def test_a_fifo_as_passwd_does_not_hang_the_init(rt) -> None:
    bundle = rt.bundle(["sh", "-c", 'echo "HOME=$HOME"'], write=False)
    passwd = bundle.rootfs / "etc" / "passwd"
    passwd.unlink()
    os.mkfifo(passwd)
    bundle.write()
    proc = rt.ok("run", "--bundle", bundle.path, bundle.cid, timeout=60)
    assert proc.stdout.strip() == "HOME=/"


# --- 10: rootfsPropagation unbindable ---------------------------------------------------------------------------


@pytest.mark.parametrize("propagation", ["unbindable", "runbindable"])
def test_rootfs_propagation_unbindable_makes_the_root_unbindable(rt, propagation: str) -> None:
    bundle = rt.bundle(["cat", "/proc/self/mountinfo"], write=False)
    bundle.config["linux"]["rootfsPropagation"] = propagation
    bundle.write()
    proc = rt.ok("run", "--bundle", bundle.path, bundle.cid)
    root = [line for line in proc.stdout.splitlines() if line.split(" ")[4] == "/"]
    assert root, proc.stdout
    optional = root[-1].partition(" - ")[0].split(" ")[6:]
    assert "unbindable" in optional, root[-1]


# --- 12: SELinux labels on a host without SELinux ---------------------------------------------------------------


def _selinux_host() -> bool:
    try:
        with open("/proc/self/mountinfo") as f:
            return any(" - selinuxfs " in line for line in f)
    except OSError:
        return False


@pytest.mark.simcon_only("SimCon's warning text in its log")
def test_selinux_labels_without_selinux_are_skipped_with_a_log_warning(rt) -> None:
    if _selinux_host():
        pytest.skip("this host runs SELinux: the labels would be applied")
    bundle = rt.bundle(["sh", "-c", "echo ran; grep -c context= /proc/self/mountinfo || true"], write=False)
    bundle.config["process"]["selinuxLabel"] = "system_u:system_r:container_t:s0"
    bundle.config["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0"
    bundle.write()
    log = rt.tmp / "runtime.log"
    proc = rt.run("--log", log, "run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.split() == ["ran", "0"]
    logged = log.read_text()
    assert "process.selinuxLabel" in logged and "linux.mountLabel" in logged, logged
    assert "SELinux is not enabled" in logged, logged
    features = json.loads(rt.ok("features").stdout)
    assert features["linux"]["selinux"] == {"enabled": False}


# --- 11: a config without `process` -----------------------------------------------------------------------------


def test_a_config_without_process_holds_namespaces_and_start_refuses(rt) -> None:
    bundle = rt.bundle(["true"], write=False)
    del bundle.config["process"]
    bundle.write()
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    state = rt.state(bundle.cid)
    assert state["status"] == "created"
    pid = state["pid"]
    assert os.readlink(f"/proc/{pid}/ns/pid") != rt.host_ns("pid")  # it holds the namespaces it made
    assert os.readlink(f"/proc/{pid}/ns/mnt") != rt.host_ns("mnt")
    proc = rt.run("start", bundle.cid)
    assert proc.returncode == 1, rt.describe(proc)
    line = one_line(proc)
    assert "no `process`" in line and bundle.cid in line, line
    assert rt.state(bundle.cid)["status"] == "created"  # nothing was started, nothing changed
    proc = rt.run("exec", bundle.cid, "true")
    assert proc.returncode == 1 and "--process" in one_line(proc), rt.describe(proc)
    rt.ok("delete", "--force", bundle.cid)
    assert rt.root_entries() == []
    assert rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid)) == []
