"""The v2 device filter on the real kernel, without a container: SimCon's program attached to a cgroup2 directory
of the test's own (on this hybrid host, under the unified mount), a shell moved into it, and what the shell may
open. End to end with containers on a pure v2 kernel: tests/vm/test_v2_devices.py.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from simcon.cgroups import devfilter, v2
from simcon.cgroups.controllers import devices
from simcon.cgroups.mounts import parse_mountinfo
from simcon.linux import bpf
from simcon.records import convert
from simcon.spec.model import Resources

PROBE = ("(: > /dev/kmsg) 2>/dev/null && echo write-ok || echo write-denied; "
         "(: < /dev/kmsg) 2>/dev/null && echo read-ok || echo read-denied; "
         "echo x > /dev/null && echo null-ok")


def _unified() -> str | None:
    return next((h.mount_point for h in parse_mountinfo() if h.version == 2), None)


pytestmark = pytest.mark.skipif(_unified() is None, reason="no cgroup2 mount on this host")


@pytest.fixture
def cgroup(rt):  # noqa: ANN001, ANN201
    """A fresh cgroup2 directory under the test session's parent; removed (with its parents) afterwards."""
    path = Path(_unified()) / rt.cgroup_path(rt.new_id("bpf")).lstrip("/")
    path.mkdir(parents=True)
    yield path
    left = rt.cleanup()  # SIGKILLs anything still in it and removes the directories
    assert not left, left


def attach(path: Path, raw_rules: list[dict]) -> None:
    resources = convert({"devices": raw_rules}, Resources)
    default_allow, exceptions = devices.emulate(devices.effective_rules(resources, "linux.resources"))
    v2.set_device_filter(str(path), devfilter.program(default_allow, exceptions), "linux.resources.devices")


def probe(path: Path) -> list[str]:
    """The probe in a shell that first moves itself into ``path``."""
    proc = subprocess.run(["sh", "-c", f"echo $$ > {path}/cgroup.procs && {PROBE}"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc
    return proc.stdout.split()


def attached(path: Path) -> list[int]:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return bpf.prog_query(fd, bpf.BPF_CGROUP_DEVICE)
    finally:
        os.close(fd)


DENY_ALL = {"allow": False, "access": "rwm"}
KMSG_R = {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"}
KMSG_W = {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "w"}


def test_the_filter_allows_and_denies_as_written(cgroup: Path) -> None:
    attach(cgroup, [DENY_ALL, KMSG_R])
    assert probe(cgroup) == ["write-denied", "read-ok", "null-ok"]


def test_update_replaces_the_filter_in_place(cgroup: Path) -> None:
    attach(cgroup, [DENY_ALL, KMSG_R])
    first = attached(cgroup)
    attach(cgroup, [DENY_ALL, KMSG_W])
    second = attached(cgroup)
    assert len(first) == len(second) == 1 and first != second
    assert probe(cgroup) == ["write-ok", "read-denied", "null-ok"]
    with pytest.raises(OSError) as info:
        bpf.prog_fd_by_id(first[0])  # the old program is gone, not just detached
    assert info.value.errno == errno.ENOENT


def test_removing_the_cgroup_frees_the_program(rt, cgroup: Path) -> None:  # noqa: ANN001
    attach(cgroup, [DENY_ALL])
    (prog_id,) = attached(cgroup)
    cgroup.rmdir()

    def freed() -> bool:
        try:
            os.close(bpf.prog_fd_by_id(prog_id))
        except FileNotFoundError:
            return True
        return False

    # The kernel releases a removed cgroup's programs from a work queue, shortly after the rmdir.
    rt.wait_for(freed, what=f"program {prog_id} to be freed")


def test_a_directory_that_is_no_cgroup_gives_one_line_naming_field_and_path(tmp_path: Path) -> None:
    from simcon.cgroups.controllers import ResourceError

    with pytest.raises(ResourceError) as info:
        attach(tmp_path, [DENY_ALL])
    message = str(info.value)
    assert message.startswith(f"linux.resources.devices: cgroup `{tmp_path}`: query the attached device programs: ")
    assert "\n" not in message


def test_an_unprivileged_user_gets_a_warning_not_a_failure(cgroup: Path) -> None:
    # Rootless in a delegated cgroup: the kernel lets no unprivileged user query or load device programs, so the
    # rules cannot be enforced there (runc skips them too); SimCon says so and goes on.
    os.chown(cgroup, 65534, 65534)
    # Warnings reach stderr only with --debug (log.configure's third argument), as `simcon --debug` sets it.
    code = ("import sys; from simcon import log; from simcon.cgroups import devfilter, v2; "
            "log.configure(None, 'text', True); "
            "v2.set_device_filter(sys.argv[1], devfilter.program(False, []), 'linux.resources.devices'); "
            "print('went on')")
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                           sys.executable, "-c", code, str(cgroup)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc
    assert proc.stdout == "went on\n"
    assert "linux.resources.devices: not enforced: " in proc.stderr and "(unprivileged user)" in proc.stderr
    assert attached(cgroup) == []


def test_several_old_filters_are_all_replaced_attach_first(cgroup: Path) -> None:
    # Two programs of ours (a crash between attach and detach could leave that): no single one to replace, so
    # the new one is attached first and then both old ones are detached (the path kernels without
    # BPF_F_REPLACE take too).
    insns = devfilter.program(False, [])
    fd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(2):
            prog = bpf.prog_load(bpf.BPF_PROG_TYPE_CGROUP_DEVICE, insns, v2.DEVICE_FILTER_NAME)
            try:
                bpf.prog_attach(fd, prog, bpf.BPF_CGROUP_DEVICE, bpf.BPF_F_ALLOW_MULTI)
            finally:
                os.close(prog)
    finally:
        os.close(fd)
    old = attached(cgroup)
    assert len(old) == 2
    attach(cgroup, [DENY_ALL, KMSG_W])
    new = attached(cgroup)
    assert len(new) == 1 and new[0] not in old
    assert probe(cgroup) == ["write-ok", "read-denied", "null-ok"]
