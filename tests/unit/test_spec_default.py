"""simcon.spec.default: what `simcon spec` writes, and that it loads back."""

from __future__ import annotations

import json
import os

from simcon.spec import default_spec, load_config

CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def write_bundle(tmp_path, spec: dict) -> str:
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.json").write_text(json.dumps(spec, indent="\t"))
    return str(tmp_path)


def test_default_spec_matches_runc_spec():
    spec = default_spec()
    assert spec["ociVersion"] == "1.2.0"
    assert spec["root"] == {"path": "rootfs", "readonly": True}
    assert spec["hostname"] == "simcon"
    process = spec["process"]
    assert process["terminal"] is True and process["args"] == ["sh"] and process["cwd"] == "/"
    assert process["env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"]
    assert process["capabilities"] == {"bounding": CAPS, "effective": CAPS, "permitted": CAPS}
    assert process["rlimits"] == [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    assert process["noNewPrivileges"] is True
    assert [(m["destination"], m["type"]) for m in spec["mounts"]] == [
        ("/proc", "proc"), ("/dev", "tmpfs"), ("/dev/pts", "devpts"), ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"), ("/sys", "sysfs"), ("/sys/fs/cgroup", "cgroup")]
    assert "gid=5" in spec["mounts"][2]["options"]
    linux = spec["linux"]
    assert linux["resources"] == {"devices": [{"allow": False, "access": "rwm"}]}
    assert [ns["type"] for ns in linux["namespaces"]] == ["pid", "network", "ipc", "uts", "mount", "cgroup"]
    assert "/proc/kcore" in linux["maskedPaths"] and "/sys/firmware" in linux["maskedPaths"]
    assert linux["readonlyPaths"] == ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
    assert "uidMappings" not in linux


def test_rootless_changes():
    spec = default_spec(rootless=True)
    linux = spec["linux"]
    types = [ns["type"] for ns in linux["namespaces"]]
    assert "network" not in types and types.count("user") == 1 and types[-1] == "user"
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": os.geteuid(), "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": os.getegid(), "size": 1}]
    assert "resources" not in linux
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert sys_mount == {"destination": "/sys", "type": "none", "source": "/sys",
                         "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
    for mount in spec["mounts"]:
        assert not any(o.startswith(("gid=", "uid=")) for o in mount.get("options", []))
    devpts = next(m for m in spec["mounts"] if m["destination"] == "/dev/pts")
    assert devpts["options"] == ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
    # the rest is as in the default
    assert spec["process"] == default_spec()["process"]


def test_each_call_returns_a_fresh_document():
    first = default_spec()
    first["mounts"][0]["options"] = ["x"]
    first["linux"]["maskedPaths"].append("/x")
    assert "options" not in default_spec()["mounts"][0]
    assert "/x" not in default_spec()["linux"]["maskedPaths"]


def test_default_spec_round_trips_through_load_config(tmp_path):
    spec = load_config(write_bundle(tmp_path, default_spec()))
    assert spec.oci_version == "1.2.0" and spec.hostname == "simcon"
    assert spec.root.path == "rootfs" and spec.root.readonly is True
    assert spec.process.args == ["sh"] and spec.process.terminal is True
    assert spec.process.capabilities.bounding == CAPS and spec.process.capabilities.inheritable == []
    assert spec.process.rlimits[0].type == "RLIMIT_NOFILE" and spec.process.rlimits[0].soft == 1024
    assert spec.mounts[2].destination == "/dev/pts" and "gid=5" in spec.mounts[2].options
    assert spec.mounts[0].options == []
    assert [ns.type for ns in spec.linux.namespaces] == ["pid", "network", "ipc", "uts", "mount", "cgroup"]
    assert spec.linux.resources.devices[0].allow is False and spec.linux.resources.devices[0].access == "rwm"


def test_rootless_default_spec_round_trips_through_load_config(tmp_path):
    spec = load_config(write_bundle(tmp_path, default_spec(rootless=True)))
    assert spec.linux.uid_mappings[0].host_id == os.geteuid()
    assert spec.linux.gid_mappings[0].host_id == os.getegid()
    assert spec.linux.resources is None
    assert spec.mounts[5].type == "none" and spec.mounts[5].options[0] == "rbind"
