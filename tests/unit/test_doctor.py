"""`simcon doctor`: each check against hosts this machine cannot be (FakeHost), and the real host's answers
checked against what the host really has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from simcon.runtime import doctor
from simcon.runtime.doctor import FAIL, OK, WARN, FakeHost

SIMCON = str(Path(sys.executable).parent / "simcon")

V2_ONLY = "30 1 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n"
HYBRID = (
    "30 1 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n"
    "31 30 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "32 30 0:28 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
    "33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "34 30 0:30 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
)


def host(mountinfo: str = V2_ONLY, **extra: object) -> FakeHost:
    files = {
        "/proc/self/mountinfo": mountinfo,
        "/sys/fs/cgroup/cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
        "/proc/self/status": "Name:\tsimcon\nSeccomp:\t0\n",
        "/proc/sys/user/max_user_namespaces": "63379\n",
        "/proc/self/ns/user": "",
        "/etc/subuid": "alice:100000:65536\n",
        "/etc/subgid": "alice:100000:65536\n",
    }
    files.update(extra.pop("files", {}))  # type: ignore[arg-type]
    commands = {"newuidmap": "/usr/bin/newuidmap", "newgidmap": "/usr/bin/newgidmap"}
    return FakeHost(files, commands, **extra)


def checks(fake: FakeHost, **kw: object) -> dict[str, doctor.Finding]:
    found = doctor.run_checks(fake, root=kw.get("root", "/run/simcon"), cni_plugin_dirs=["/usr/lib/cni"],
                              cni_config_dir="/etc/simcon/net.d", cgroup_manager=kw.get("manager", "cgroupfs"))
    return {f.check: f for f in found}


def test_pure_v2_host_reports_its_controllers() -> None:
    cgroups = checks(host())["cgroups"]
    assert cgroups.status == OK
    assert cgroups.detail.startswith("v2; controllers: cpu cpuset hugetlb io memory misc pids rdma")


def test_hybrid_host_is_named_hybrid() -> None:
    assert checks(host(HYBRID))["cgroups"].detail.startswith("hybrid; controllers: cpu cpuacct memory pids")


def test_no_cgroups_is_a_failure_and_exit_1() -> None:
    found = checks(host(""))
    assert found["cgroups"].status == FAIL
    assert doctor.exit_code(list(found.values())) == 1


def test_user_namespaces_disabled_warns_with_the_sysctl() -> None:
    finding = checks(host(files={"/proc/sys/user/max_user_namespaces": "0\n"}))["user namespaces"]
    assert (finding.status, finding.fix) == (WARN, "sysctl -w user.max_user_namespaces=15000")


def test_missing_libseccomp_fails_with_the_package_to_install() -> None:
    finding = checks(host(libseccomp=None))["seccomp"]
    assert (finding.status, finding.fix) == (FAIL, "apt-get install libseccomp2")


def test_systemd_driver_selected_without_systemd_fails() -> None:
    assert checks(host(), manager="systemd")["cgroup driver"].status == FAIL
    running = host(files={"/run/systemd/system/x": "", "/run/dbus/system_bus_socket": ""})
    assert checks(running, manager="systemd")["cgroup driver"].status == OK


def test_systemd_driver_needs_v2_and_the_system_bus() -> None:
    files = {"/run/systemd/system/x": "", "/run/dbus/system_bus_socket": ""}
    hybrid = checks(host(HYBRID, files=files), manager="systemd")["cgroup driver"]
    assert hybrid.status == FAIL and "needs cgroup v2" in hybrid.detail
    no_bus = checks(host(files={"/run/systemd/system/x": ""}), manager="systemd")["cgroup driver"]
    assert no_bus.status == FAIL and "systemctl start dbus" in no_bus.fix


def test_missing_cni_plugins_are_named() -> None:
    fake = host(files={"/usr/lib/cni/bridge": "", "/usr/lib/cni/loopback": ""})
    finding = checks(fake)["CNI plugins"]
    assert finding.status == WARN
    assert "host-local, portmap, firewall, tuning" in finding.detail


def test_unreadable_state_dir_is_a_leftover() -> None:
    fake = host(files={"/run/simcon/good/state.json": '{"id": "good"}', "/run/simcon/bad/state.json": "{trunc"})
    finding = checks(fake)["state"]
    assert finding.status == WARN and "bad" in finding.detail and "good" not in finding.detail


def test_old_kernel_fails() -> None:
    assert checks(host(kernel="4.9.0"))["kernel"].status == FAIL


def test_real_host_answers_match_the_host() -> None:
    """Run as this machine's user: what doctor says is what the kernel and the files say."""
    result = subprocess.run([SIMCON, "doctor", "--format", "json"], capture_output=True, text=True, timeout=60)
    assert result.returncode in (0, 1), result.stderr
    found = {f["check"]: f for f in json.loads(result.stdout)}
    assert found["kernel"]["detail"].startswith(f"Linux {os.uname().release}")
    mountinfo = Path("/proc/self/mountinfo").read_text()
    has_v1 = " - cgroup " in mountinfo
    has_v2 = " - cgroup2 " in mountinfo
    layout = "hybrid" if has_v1 and has_v2 else ("v2" if has_v2 else "v1")
    assert found["cgroups"]["detail"].startswith(layout + ";")
    pidfd = hasattr(os, "pidfd_open")
    assert (found["pidfd"]["status"] == OK) == pidfd
    assert result.returncode == (1 if any(f["needed"] and f["status"] == FAIL for f in found.values()) else 0)
