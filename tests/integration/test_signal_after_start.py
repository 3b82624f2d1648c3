"""A signal sent right after `start` returns reaches the container's program, every time.

PID 1 of a pid namespace does not get the signals it has no handler for. If `start` returned while PID 1 was
still SimCon's init (which has none), a SIGTERM sent at once would be dropped and a shell that traps TERM would
never see it (issue 11). The init now waits for `start` in the exec trampoline, so the program is exec'd the
instant `start` reads the fifo; a `kill` (a process start later) finds the program with its trap set.

The shell sets its trap as its first command; the test sends TERM as soon as `start` returns, many times.
"""

from __future__ import annotations

import os

import pytest

ROUNDS = 25
# As a profile that predates close_range, with noNewPrivileges false (podman's default): before this fix, the
# init spent 150-200 ms after `start` closing fds one by one under the filter, a window no kill could miss.
OLD_PROFILE = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
SCRIPT = 'trap "echo got-term > /tmp/got; exit 7" TERM; while :; do sleep 0.05; done'


@pytest.mark.parametrize("config", ["bare", "seccomp without close_range"])
def test_term_right_after_start_is_never_lost(rt, config: str) -> None:
    cid0 = rt.new_id("sig")
    bundle = rt.bundle(["sh", "-c", SCRIPT], cid0, write=False)
    if config != "bare":
        bundle.config["linux"]["seccomp"] = OLD_PROFILE
        bundle.config["process"]["noNewPrivileges"] = False
    bundle.write()
    got = bundle.rootfs / "tmp" / "got"
    lost = []
    for round_ in range(ROUNDS):
        cid = cid0 if round_ == 0 else rt.new_id("sig")
        got.unlink(missing_ok=True)
        rt.ok("create", "--bundle", bundle.path, cid)
        rt.ok("start", cid)
        rt.ok("kill", cid, "TERM")
        try:
            rt.wait_status(cid, "stopped", timeout=10)
        except (AssertionError, TimeoutError):
            lost.append(round_)
        rt.ok("delete", "--force", cid)
        if round_ not in lost:
            assert got.read_text() == "got-term\n", f"round {round_}: stopped without running the trap"
    assert not lost, f"SIGTERM right after start lost in rounds {lost} of {ROUNDS}"


@pytest.mark.simcon_only("how SimCon's created container waits")
def test_a_created_container_waits_outside_python(rt) -> None:
    """The waiting process is the sealed trampoline (a memfd), not an interpreter."""
    cid = rt.new_id("wait")
    bundle = rt.bundle(["true"], cid)
    rt.ok("create", "--bundle", bundle.path, cid)
    pid = rt.state(cid)["pid"]
    rt.wait_for(lambda: os.readlink(f"/proc/{pid}/exe").startswith("/memfd:simcon-exec"), 10,
                "the init to exec the trampoline")
    assert rt.status(cid) == "created"
    rt.ok("start", cid)
    rt.wait_status(cid, "stopped", timeout=10)
