"""The order of the final process steps, shared by the container init and `exec`, checked without root.

The steps call the kernel only through ``init.syscalls.Syscalls``; here a recording fake stands in for it, so the
test sees every call in order (no process is changed, nothing is exec'd). The order is the security argument of
``init.process_setup``: privileges are used while held, then dropped; the seccomp filter comes after the last
privileged step when no_new_privs allows it, and before the steps that need CAP_SYS_ADMIN gone when it does not.
"""

from __future__ import annotations

import os
import stat

import pytest

from simcon.init import container_init, exec_init
from simcon.init.plan import (
    CapsPlan,
    ContainerLaunch,
    ContainerPlan,
    ExecLaunch,
    ExecPlan,
    ProcessPlan,
    SeccompPlan,
)
from simcon.init.syscalls import Syscalls

# Calls that need a privilege the later steps give up (or that change what the process may do).
PRIVILEGED = ("setrlimit", "bounding_drop", "setgroups", "setresgid", "setresuid", "capset", "ambient_raise",
              "set_keepcaps")


class Recorder(Syscalls):
    """Every kernel call of the steps, recorded as (name, *args); nothing reaches the kernel."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]


def _recording(name: str):  # noqa: ANN202
    def method(self: Recorder, *args: object, **options: object) -> object:
        self.calls.append((name, *args, *(f"{k}={v}" for k, v in options.items() if v != -1)))
        if name == "stat":
            return os.stat_result((stat.S_IFREG | 0o755, 0, 0, 1, 0, 0, 0, 0, 0, 0))
        if name == "access":
            return True
        if name == "seccomp_load":
            return -1
        return None

    return method


for _name in [n for n in vars(Syscalls) if not n.startswith("_")]:
    setattr(Recorder, _name, _recording(_name))


def process(**fields: object) -> ProcessPlan:
    values: dict = {
        "args": ("/bin/sh", "-c", "true"), "env": ("PATH=/bin",), "cwd": "/srv", "uid": 1000, "gid": 100,
        "additional_gids": (5,), "umask": 0o027, "no_new_privileges": True,
        "capabilities": CapsPlan(bounding=0b101, effective=0b1, permitted=0b1, inheritable=0b1, ambient=0b1,
                                 last_cap=3),
        "rlimits": ((7, 1024, 2048),), "apparmor_profile": "profile", "selinux_label": "label",
    }
    values.update(fields)
    return ProcessPlan(**values)


FILTER = SeccompPlan(b"\x06\x00\x00\x00\x00\x00\xff\x7f", 0)


class FakeChannel:
    def fileno(self) -> int:
        return 99


def init_calls(proc: ProcessPlan, seccomp: SeccompPlan | None = FILTER) -> list[tuple]:
    """The calls of the container init from its tail's first step to execve."""
    plan = ContainerPlan(container_id="c", rootfs="/r", process=proc, seccomp=seccomp)
    init = container_init._Init(plan, ContainerLaunch(), FakeChannel())
    init.sys = recorder = Recorder()
    for _name, action in init.setup_steps():
        action()
    init.exec_process()
    return recorder.calls


def exec_calls(proc: ProcessPlan, seccomp: SeccompPlan | None = FILTER) -> list[tuple]:
    """The calls of an exec'd process from its tail's first step to execve."""
    process_steps = exec_init._Process(ExecPlan(container_id="c", init_pid=1, process=proc, seccomp=seccomp),
                                       ExecLaunch(), FakeChannel())
    process_steps.sys = recorder = Recorder()
    for _name, action in process_steps.setup_steps():
        action()
    process_steps.exec()
    return recorder.calls


BOTH = pytest.mark.parametrize("calls_of", [init_calls, exec_calls], ids=["init", "exec"])


def test_init_and_exec_end_with_the_same_steps() -> None:
    proc = process()
    plan = ContainerPlan(container_id="c", rootfs="/r", process=proc, seccomp=FILTER)
    init = container_init._Init(plan, ContainerLaunch(), FakeChannel())
    exec_process = exec_init._Process(ExecPlan(container_id="c", init_pid=1, process=proc, seccomp=FILTER),
                                      ExecLaunch(), FakeChannel())
    tail = [name for name, _ in init.setup_steps()]
    assert tail == ["set rlimits", "drop capabilities from the bounding set", "switch user", "set capabilities",
                    "change to the working directory", "find the executable"]
    assert [name for name, _ in init.steps()][-len(tail):] == tail
    assert [name for name, _ in exec_process.steps()][-len(tail):] == tail
    # The same kernel calls in the same order, but for the fds each keeps open until execve.
    strip = [call for call in init_calls(proc) if call[0] != "close_fds_except"]
    assert strip == [call for call in exec_calls(proc) if call[0] != "close_fds_except"]


@BOTH
def test_with_no_new_privs_seccomp_is_the_last_step_before_execve(calls_of) -> None:  # noqa: ANN001
    names = [call[0] for call in calls_of(process(no_new_privileges=True))]
    assert names[-2:] == ["seccomp_load", "execve"]
    last_privileged = max(i for i, name in enumerate(names)
                          if name in (*PRIVILEGED, "set_no_new_privs", "apparmor_exec", "selinux_exec",
                                      "close_fds_except", "umask", "reset_signals"))
    assert names.index("seccomp_load") > last_privileged
    assert names.index("set_no_new_privs") < names.index("seccomp_load")


@BOTH
def test_without_no_new_privs_seccomp_is_loaded_while_still_privileged(calls_of) -> None:  # noqa: ANN001
    """Loading a filter without no_new_privs needs CAP_SYS_ADMIN: before the bounding set and the user go."""
    names = [call[0] for call in calls_of(process(no_new_privileges=False))]
    assert "set_no_new_privs" not in names
    assert names.count("seccomp_load") == 1
    load = names.index("seccomp_load")
    assert names.index("setrlimit") < load < names.index("bounding_drop") < names.index("setresuid")


@BOTH
def test_user_switch_comes_before_the_capabilities_are_set(calls_of) -> None:  # noqa: ANN001
    calls = calls_of(process())
    names = [call[0] for call in calls]
    # rlimits while root; the bounding set while CAP_SETPCAP is held; groups and gid while still privileged.
    assert names.index("setrlimit") < names.index("bounding_drop") < names.index("setgroups")
    assert names.index("setgroups") < names.index("setresgid") < names.index("setresuid")
    # keep-caps around the switch, then the sets: capset after setresuid (the switch would clear them).
    assert [i for i, n in enumerate(names) if n == "set_keepcaps"] == [names.index("setgroups") - 1,
                                                                        names.index("setresuid") + 1]
    assert names.index("setresuid") < names.index("capset") < names.index("ambient_clear_all") \
        < names.index("ambient_raise")
    # Bits 1 and 3 are outside the bounding set (0b101 of last_cap 3): dropped, the others kept.
    assert [call[1] for call in calls if call[0] == "bounding_drop"] == [1, 3]
    assert ("setresuid", 1000) in calls and ("setresgid", 100) in calls and ("setgroups", (5,)) in calls


@BOTH
def test_the_last_moments_before_execve(calls_of) -> None:  # noqa: ANN001
    calls = calls_of(process())
    names = [call[0] for call in calls]
    chdir = names.index("chdir")
    assert calls[chdir] == ("chdir", "/srv") and names[chdir + 1] == "stat"  # the executable, in the new cwd
    tail = names[names.index("umask"):]
    assert tail == ["umask", "reset_signals", "set_no_new_privs", "apparmor_exec", "selinux_exec",
                    "close_fds_except", "seccomp_load", "execve"]
    assert calls[-1] == ("execve", "/bin/sh", ("/bin/sh", "-c", "true"), {"PATH": "/bin"}, -1)
    assert ("umask", 0o027) in calls


@BOTH
def test_a_denied_setgroups_is_not_attempted(calls_of) -> None:  # noqa: ANN001
    names = [call[0] for call in calls_of(process(setgroups_denied=True, additional_gids=()))]
    assert "setgroups" not in names and names.index("setresgid") < names.index("setresuid")


def test_newgidmap_finding_overrides_the_plan_in_the_init() -> None:
    """The plan is never changed: what newgidmap decided reaches the init through the launch state."""
    plan = ContainerPlan(container_id="c", rootfs="/r", process=process(additional_gids=()))
    launch = ContainerLaunch()
    launch.setgroups_denied = True
    init = container_init._Init(plan, launch, FakeChannel())
    init.sys = recorder = Recorder()
    init.switch_user()
    assert "setgroups" not in recorder.names()


def test_personality_is_the_inits_last_setup_step() -> None:
    plan = ContainerPlan(container_id="c", rootfs="/r", process=process(), personality=8)
    init = container_init._Init(plan, ContainerLaunch(), FakeChannel())
    init.sys = recorder = Recorder()
    for _name, action in init.setup_steps():
        action()
    assert recorder.names()[-1] == "set_personality" and recorder.calls[-1] == ("set_personality", 8)


def test_the_plan_cannot_be_changed_by_a_step() -> None:
    proc = process()
    with pytest.raises(AttributeError):
        proc.uid = 0  # type: ignore[misc]


def test_waiting_in_the_trampoline_keeps_the_fifo_open_until_execve() -> None:
    """The init that waits for `start` in the sealed trampoline hands it exec.fifo: kept through the fd closing,
    made inheritable after the seccomp filter, passed to execve."""
    plan = ContainerPlan(container_id="c", rootfs="/r", process=process(), seccomp=FILTER)
    init = container_init._Init(plan, ContainerLaunch(), FakeChannel())
    init.sys = recorder = Recorder()
    for _name, action in init.exec_steps((), 9, wait_fifo_fd=11):
        action()
    names = recorder.names()
    assert names[-4:] == ["close_fds_except", "seccomp_load", "set_inheritable", "execve"]
    assert 11 in recorder.calls[names.index("close_fds_except")][2]
    assert recorder.calls[-1][-1] == "wait_fifo_fd=11"
