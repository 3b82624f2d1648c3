"""`create`/`run --seccomp-profile FILE`: a profile file replaces the config's linux.seccomp at run time."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.simcon_only("--seccomp-profile is SimCon's own option")

BLOCK_MKDIR = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}
DOCKER_BLOCK_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
                {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                  "comment": "no new directories"}],
}
SCRIPT = "grep ^Seccomp: /proc/self/status; mkdir /tmp/x; echo mkdir=$?"


def run_with_profile(rt, profile: str, seccomp: dict | None = None):
    def edit(bundle) -> None:
        bundle.config["linux"].pop("seccomp", None)
        if seccomp is not None:
            bundle.config["linux"]["seccomp"] = seccomp

    return rt.run_container(["sh", "-c", SCRIPT], edit=edit, run_args=("--seccomp-profile", profile))


@pytest.mark.parametrize("profile", [BLOCK_MKDIR, DOCKER_BLOCK_MKDIR], ids=["oci", "docker"])
def test_profile_file_blocks_mkdir_though_the_config_has_no_seccomp(rt, profile: dict) -> None:
    path = rt.tmp / "profile.json"
    path.write_text(json.dumps(profile))
    proc = run_with_profile(rt, str(path))
    assert proc.returncode == 0, rt.describe(proc)
    out = proc.stdout + proc.stderr
    assert "Seccomp:\t2" in out
    assert "mkdir: can't create directory '/tmp/x': Operation not permitted" in out
    assert "mkdir=1" in out


def test_the_profile_replaces_the_config_filter_and_unconfined_removes_it(rt) -> None:
    allow_all = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}
    path = rt.tmp / "allow.json"
    path.write_text(json.dumps(allow_all))
    proc = run_with_profile(rt, str(path), seccomp=BLOCK_MKDIR)
    assert proc.returncode == 0, rt.describe(proc)
    assert "mkdir=0" in proc.stdout

    proc = run_with_profile(rt, "unconfined", seccomp=BLOCK_MKDIR)
    assert proc.returncode == 0, rt.describe(proc)
    assert "Seccomp:\t0" in proc.stdout and "mkdir=0" in proc.stdout


def test_create_takes_the_option_too(rt) -> None:
    path = rt.tmp / "profile.json"
    path.write_text(json.dumps(BLOCK_MKDIR))
    bundle = rt.bundle(["sh", "-c", SCRIPT])
    out = rt.tmp / "out.txt"
    bundle.config["process"]["args"] = ["sh", "-c", f"exec >/out/out.txt 2>&1; {SCRIPT}"]
    bundle.add_mount("/out", rt.tmp).write()
    rt.ok("create", "--seccomp-profile", path, "--bundle", bundle.path, bundle.cid)
    rt.ok("start", bundle.cid)
    rt.wait_for(lambda: "mkdir=" in (out.read_text() if out.exists() else ""), what="the container's output")
    assert "Operation not permitted" in out.read_text()
    assert "mkdir=1" in out.read_text()


@pytest.mark.parametrize("text, where", [
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "NOPE"}]}',
     "syscalls[0].action"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", '
     '"args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ALMOST"}]}]}', "syscalls[0].args[0].op"),
    ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", '
     '"errnoRet": "one"}]}', "syscalls[0].errnoRet"),
    ("{nope", "invalid JSON"),
    (None, "no such seccomp profile file"),
])
def test_malformed_profile_is_one_clear_line_and_leaves_nothing(rt, text: str | None, where: str) -> None:
    path = rt.tmp / "bad-profile.json"
    if text is not None:
        path.write_text(text)
    proc = run_with_profile(rt, str(path))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(path) in lines[0] and where in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert rt.root_entries() == []
