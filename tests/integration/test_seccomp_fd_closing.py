"""The fds SimCon closes before execve are closed without running into the container's own seccomp filter.

Without no_new_privs the filter goes in early (loading it needs CAP_SYS_ADMIN, which the user switch drops), so
everything SimCon does after that runs under the container's filter. A profile older than close_range answers it
with an errno, and a close loop over every possible fd number would then make about a million close(2) calls
(issue 11). The probe profile here turns that slow path into a visible one: close_range is refused and a close(2)
of an fd number no process here ever opens kills the process, so the container only runs if SimCon closed the fds
that are open and nothing else.
"""

from __future__ import annotations

import pytest

# Allow everything, except: close_range refused (as by a profile that predates it), and close(fd >= 4096) kills.
PROBE_PROFILE = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [
        {"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        {"names": ["close"], "action": "SCMP_ACT_KILL_PROCESS",
         "args": [{"index": 0, "value": 4096, "op": "SCMP_CMP_GE"}]},
    ],
}


@pytest.mark.parametrize("no_new_privileges", [False, True])
def test_run_closes_only_open_fds_under_a_filter_without_close_range(rt, no_new_privileges: bool) -> None:
    def edit(bundle) -> None:
        bundle.config["linux"]["seccomp"] = PROBE_PROFILE
        bundle.config["process"]["noNewPrivileges"] = no_new_privileges

    proc = rt.run_container(["sh", "-c", "echo fds: $(ls /proc/self/fd | tr '\\n' ' ')"], edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    # stdio, and the fd `ls` reads the directory through: nothing of SimCon's leaked into the container.
    assert proc.stdout.split() == ["fds:", "0", "1", "2", "3"], rt.describe(proc)


@pytest.mark.parametrize("no_new_privileges", [False, True])
def test_exec_closes_only_open_fds_under_a_filter_without_close_range(rt, no_new_privileges: bool) -> None:
    cid = rt.new_id("fdc")
    bundle = rt.bundle(["sleep", "1000"], cid)
    bundle.config["linux"]["seccomp"] = PROBE_PROFILE
    bundle.config["process"]["noNewPrivileges"] = no_new_privileges
    bundle.write()
    rt.ok("run", "-d", "--bundle", bundle.path, cid)
    proc = rt.run("exec", cid, "sh", "-c", "echo fds: $(ls /proc/self/fd | tr '\\n' ' ')")
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.split() == ["fds:", "0", "1", "2", "3"], rt.describe(proc)
