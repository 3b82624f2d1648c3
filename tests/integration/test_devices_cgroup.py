"""The device cgroup: `linux.resources.devices` applied exactly in the listed order, then the default allow list
(null, zero, full, random, urandom, tty, console, ptmx, pts, tun, mknod of anything), and nothing more: a
`linux.devices` entry is a node in /dev, not a permission.

Checked from inside the container on the kmsg node (c 1:11): ``: > /dev/kmsg`` opens it for writing and writes
nothing, ``: < /dev/kmsg`` opens it for reading (with CAP_SYSLOG); the device cgroup decides at open. On this host's v1 devices
hierarchy; the same checks on a pure cgroup v2 kernel (the eBPF filter) are in tests/vm/test_v2_devices.py.
"""

from __future__ import annotations

import json

import pytest

from simcon.cgroups.mounts import parse_mountinfo

KMSG = {"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 0o666}
DENY_ALL = {"allow": False, "access": "rwm"}
PROBE = ("(: > /dev/kmsg) 2>/dev/null && echo write-ok || echo write-denied; "
         "(: < /dev/kmsg) 2>/dev/null && echo read-ok || echo read-denied; "
         "echo x > /dev/null && echo null-ok; head -c 1 /dev/zero | wc -c")


def _has_v1_devices() -> bool:
    return any(h.version == 1 and "devices" in h.controllers for h in parse_mountinfo())


pytestmark = pytest.mark.skipif(not _has_v1_devices(), reason="no v1 devices hierarchy on this host (the v2 "
                                "device filter is tested in tests/vm by `make test-vm`)")


def kmsg(access: str, allow: bool = True) -> dict:
    return {"allow": allow, "type": "c", "major": 1, "minor": 11, "access": access}


@pytest.mark.parametrize(("rules", "expected"), [
    ([DENY_ALL, kmsg("r")], ["write-denied", "read-ok"]),
    ([kmsg("rw"), DENY_ALL], ["write-denied", "read-denied"]),
    ([DENY_ALL, kmsg("rw")], ["write-ok", "read-ok"]),
    ([DENY_ALL, kmsg("rw"), kmsg("w", allow=False)], ["write-denied", "read-ok"]),
    ([DENY_ALL], ["write-denied", "read-denied"]),
], ids=["deny-all,allow-r", "allow-rw,deny-all", "deny-all,allow-rw", "allow-rw,deny-w", "deny-all"])
def test_device_rules_apply_in_order_and_nothing_more(rt, rules: list[dict], expected: list[str]) -> None:  # noqa: ANN001
    def edit(bundle) -> None:  # noqa: ANN001
        bundle.config["linux"]["devices"] = [KMSG]
        bundle.config["linux"]["resources"] = {"devices": rules}
        # Reading kmsg needs CAP_SYSLOG where dmesg_restrict is set; the same caps for every runtime.
        bundle.config["process"]["capabilities"] = {key: ["CAP_SYSLOG"] for key in ("bounding", "effective",
                                                                                  "permitted")}

    proc = rt.run_container(["sh", "-c", PROBE], edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    # The defaults stay allowed whatever the rules say, as in runc and crun.
    assert proc.stdout.split() == [*expected, "null-ok", "1"], rt.describe(proc)


@pytest.mark.simcon_only("runc's update leaves the device rules as they were at create")
def test_update_replaces_the_rules_of_a_running_container(rt) -> None:  # noqa: ANN001
    bundle = rt.bundle(["sleep", "1000"], write=False)
    bundle.config["linux"]["devices"] = [KMSG]
    bundle.config["linux"]["resources"] = {"devices": [DENY_ALL, kmsg("r")]}
    bundle.config["process"]["capabilities"] = {key: ["CAP_SYSLOG"] for key in ("bounding", "effective",
                                                                              "permitted")}
    bundle.write()
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    rt.ok("start", bundle.cid)

    def probe() -> list[str]:
        return rt.ok("exec", bundle.cid, "sh", "-c", PROBE).stdout.split()

    assert probe() == ["write-denied", "read-ok", "null-ok", "1"]
    update = rt.tmp / "devices.json"
    update.write_text(json.dumps({"devices": [DENY_ALL, kmsg("w")]}))
    rt.ok("update", "--resources", update, bundle.cid)
    assert probe() == ["write-ok", "read-denied", "null-ok", "1"]
    # An update without device rules leaves them as they are.
    update.write_text(json.dumps({"pids": {"limit": 100}}))
    rt.ok("update", "--resources", update, bundle.cid)
    assert probe() == ["write-ok", "read-denied", "null-ok", "1"]
