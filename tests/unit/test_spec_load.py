"""simcon.spec.load: config.json -> Spec, and every bad input -> one ConfigError line naming file and JSON path."""

from __future__ import annotations

import json
import os

import pytest

from simcon.errors import ConfigError
from simcon.spec import decode_process, load_config
from simcon.spec.load import load_config_with_warnings
from simcon.spec.model import Spec

RUNC_STYLE_CONFIG = {
    "ociVersion": "1.2.0",
    "process": {
        "terminal": False,
        "consoleSize": {"height": 24, "width": 80},
        "user": {"uid": 1000, "gid": 1000, "umask": 18, "additionalGids": [5, 10], "username": "app"},
        "args": ["/bin/sh", "-c", "echo hi"],
        "env": ["PATH=/usr/bin:/bin", "TERM=xterm"],
        "cwd": "/srv",
        "capabilities": {
            "bounding": ["CAP_CHOWN", "CAP_KILL"],
            "effective": ["CAP_KILL"],
            "inheritable": [],
            "permitted": ["CAP_CHOWN", "CAP_KILL"],
            "ambient": ["CAP_KILL"],
        },
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024},
                    {"type": "RLIMIT_CORE", "hard": 18446744073709551615, "soft": 0}],
        "noNewPrivileges": True,
        "oomScoreAdj": 100,
        "scheduler": {"policy": "SCHED_OTHER", "nice": 5},
        "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
        "execCPUAffinity": {"initial": "0", "final": "0-3"},
    },
    "root": {"path": "rootfs", "readonly": True},
    "hostname": "web",
    "domainname": "example.org",
    "mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro"],
         "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]},
    ],
    "hooks": {
        "prestart": [{"path": "/usr/bin/netns-setup", "args": ["netns-setup", "up"], "env": ["A=1"], "timeout": 5}],
        "createRuntime": [{"path": "/bin/true"}],
        "createContainer": [{"path": "/bin/true"}],
        "startContainer": [{"path": "/bin/true"}],
        "poststart": [{"path": "/bin/true"}],
        "poststop": [{"path": "/bin/true"}],
    },
    "annotations": {"org.opencontainers.image.ref.name": "busybox"},
    "linux": {
        "namespaces": [{"type": "pid"}, {"type": "network", "path": "/var/run/netns/x"}, {"type": "ipc"},
                       {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}, {"type": "time"}],
        "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "timeOffsets": {"monotonic": {"secs": 10, "nanosecs": 5}},
        "devices": [{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 438, "uid": 0,
                     "gid": 0}],
        "cgroupsPath": "/simcon/web",
        "resources": {
            "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10, "minor": 229,
                                                            "access": "rw"}],
            "memory": {"limit": 536870912, "reservation": 1024, "swap": -1, "kernelTCP": 0, "swappiness": 10,
                       "disableOOMKiller": False, "checkBeforeUpdate": True},
            "cpu": {"shares": 1024, "quota": 50000, "burst": 0, "period": 100000, "realtimeRuntime": 0,
                    "realtimePeriod": 0, "cpus": "0-1", "mems": "0", "idle": 0},
            "pids": {"limit": 100},
            "blockIO": {"weight": 500, "leafWeight": 300,
                        "weightDevice": [{"major": 8, "minor": 0, "weight": 100}],
                        "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1000}],
                        "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 10}]},
            "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
            "network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
            "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
            "unified": {"io.max": "8:0 rbps=1000"},
        },
        "intelRdt": {"closID": "guaranteed", "l3CacheSchema": "L3:0=7f", "enableCMT": True},
        "sysctl": {"net.ipv4.ip_forward": "1"},
        "seccomp": {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "architectures": ["SCMP_ARCH_X86_64"],
                    "flags": ["SECCOMP_FILTER_FLAG_LOG"], "listenerPath": "/run/seccomp.sock",
                    "listenerMetadata": "meta",
                    "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                                 {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                                  "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}]},
        "rootfsPropagation": "rslave",
        "maskedPaths": ["/proc/kcore"],
        "readonlyPaths": ["/proc/sys"],
        "mountLabel": "system_u:object_r:container_file_t:s0",
        "personality": {"domain": "LINUX32", "flags": []},
    },
    "vendor.extension": {"anything": True},
}


def write_bundle(tmp_path, config, raw: bytes | None = None) -> str:
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    (tmp_path / "config.json").write_bytes(raw if raw is not None else json.dumps(config, indent=2).encode())
    return str(tmp_path)


def minimal(**changes) -> dict:
    config = {"ociVersion": "1.2.0", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}}
    config.update(changes)
    return config


def load_error(tmp_path, config=None, raw: bytes | None = None) -> str:
    bundle = write_bundle(tmp_path, config, raw)
    with pytest.raises(ConfigError) as info:
        load_config(bundle)
    text = str(info.value)
    assert "\n" not in text
    return text


# --- good input ------------------------------------------------------------------------------------------------


def test_runc_style_config_loads_into_typed_models(tmp_path):
    spec = load_config(write_bundle(tmp_path, RUNC_STYLE_CONFIG))

    assert isinstance(spec, Spec)
    assert spec.oci_version == "1.2.0"
    assert (spec.root.path, spec.root.readonly) == ("rootfs", True)
    assert spec.hostname == "web" and spec.domainname == "example.org"
    assert spec.annotations == {"org.opencontainers.image.ref.name": "busybox"}

    p = spec.process
    assert p.args == ["/bin/sh", "-c", "echo hi"] and p.cwd == "/srv" and p.terminal is False
    assert (p.console_size.height, p.console_size.width) == (24, 80)
    assert (p.user.uid, p.user.gid, p.user.umask, p.user.additional_gids, p.user.username) == (
        1000, 1000, 18, [5, 10], "app")
    assert p.capabilities.bounding == ["CAP_CHOWN", "CAP_KILL"] and p.capabilities.ambient == ["CAP_KILL"]
    assert [(r.type, r.soft, r.hard) for r in p.rlimits] == [
        ("RLIMIT_NOFILE", 1024, 4096), ("RLIMIT_CORE", 0, 2**64 - 1)]
    assert p.no_new_privileges is True and p.oom_score_adj == 100
    assert p.scheduler.policy == "SCHED_OTHER" and p.scheduler.nice == 5
    assert (p.io_priority.io_class, p.io_priority.priority) == ("IOPRIO_CLASS_BE", 4)
    assert p.exec_cpu_affinity.final == "0-3"

    assert [m.destination for m in spec.mounts] == ["/proc", "/data"]
    assert spec.mounts[0].options == [] and spec.mounts[1].options == ["rbind", "ro"]
    assert spec.mounts[1].uid_mappings[0].host_id == 100000

    hooks = spec.hooks
    assert hooks.prestart[0].path == "/usr/bin/netns-setup" and hooks.prestart[0].args == ["netns-setup", "up"]
    assert hooks.prestart[0].env == ["A=1"] and hooks.prestart[0].timeout == 5
    for kind in (hooks.create_runtime, hooks.create_container, hooks.start_container, hooks.poststart,
                 hooks.poststop):
        assert kind[0].path == "/bin/true" and kind[0].timeout is None

    linux = spec.linux
    assert [ns.type for ns in linux.namespaces][:2] == ["pid", "network"]
    assert linux.namespaces[1].path == "/var/run/netns/x" and linux.namespaces[0].path is None
    m = linux.uid_mappings[0]
    assert (m.container_id, m.host_id, m.size) == (0, 100000, 65536)
    assert linux.time_offsets["monotonic"].secs == 10
    d = linux.devices[0]
    assert (d.type, d.path, d.major, d.minor, d.file_mode, d.uid, d.gid) == ("c", "/dev/fuse", 10, 229, 438, 0, 0)
    assert linux.cgroups_path == "/simcon/web"
    assert linux.sysctl == {"net.ipv4.ip_forward": "1"}
    assert linux.rootfs_propagation == "rslave"
    assert linux.masked_paths == ["/proc/kcore"] and linux.readonly_paths == ["/proc/sys"]
    assert linux.mount_label.startswith("system_u") and linux.personality.domain == "LINUX32"
    assert linux.intel_rdt.clos_id == "guaranteed" and linux.intel_rdt.enable_cmt is True

    r = linux.resources
    assert r.devices[0].allow is False and r.devices[1].major == 10
    assert (r.memory.limit, r.memory.swap, r.memory.kernel_tcp, r.memory.disable_oom_killer) == (
        536870912, -1, 0, False)
    assert (r.cpu.shares, r.cpu.quota, r.cpu.realtime_runtime, r.cpu.cpus) == (1024, 50000, 0, "0-1")
    assert r.pids.limit == 100
    assert r.block_io.weight == 500 and r.block_io.weight_device[0].weight == 100
    assert r.block_io.throttle_read_bps_device[0].rate == 1000
    assert r.block_io.throttle_write_iops_device[0].rate == 10
    assert r.hugepage_limits[0].page_size == "2MB"
    assert r.network.class_id == 1048577 and r.network.priorities[0].name == "eth0"
    assert r.rdma["mlx5_1"].hca_handles == 3
    assert r.unified == {"io.max": "8:0 rbps=1000"}

    s = linux.seccomp
    assert (s.default_action, s.default_errno_ret, s.listener_path) == ("SCMP_ACT_ERRNO", 1, "/run/seccomp.sock")
    assert s.syscalls[1].errno_ret == 38 and s.syscalls[1].args[0].op == "SCMP_CMP_EQ"


def test_minimal_config_gives_empty_defaults_to_iterate(tmp_path):
    spec = load_config(write_bundle(tmp_path, minimal()))
    assert spec.mounts == [] and spec.annotations == {} and spec.hostname is None
    assert spec.hooks.prestart == [] and spec.hooks.poststop == []
    assert spec.linux.namespaces == [] and spec.linux.devices == [] and spec.linux.resources is None
    assert spec.process.env == [] and spec.process.rlimits == [] and spec.process.capabilities is None
    assert (spec.process.user.uid, spec.process.user.gid) == (0, 0)


def test_relative_bundle_path_is_reported_as_given(tmp_path, monkeypatch):
    write_bundle(tmp_path / "", minimal(process={"args": [1], "cwd": "/"}))
    monkeypatch.chdir(tmp_path.parent)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path.name)
    assert str(info.value) == f"{tmp_path.name}/config.json: process.args[0]: expected a string, got an integer"


def test_newer_minor_version_loads_with_a_warning(tmp_path):
    spec, warnings = load_config_with_warnings(write_bundle(tmp_path, minimal(ociVersion="1.3.0")))
    assert spec.oci_version == "1.3.0"
    assert [w.path for w in warnings] == ["ociVersion"]
    assert "newer than 1.2.0" in warnings[0].message


# --- unreadable or malformed files -----------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path / "nope"))
    assert str(info.value) == f"{tmp_path}/nope/config.json: no such file (is --bundle right?)"
    assert info.value.file == f"{tmp_path}/nope/config.json"


def test_config_json_is_a_directory(tmp_path):
    (tmp_path / "config.json").mkdir()
    with pytest.raises(ConfigError) as info:
        load_config(str(tmp_path))
    assert str(info.value) == f"{tmp_path}/config.json: is a directory, not a file"


def test_invalid_json_names_line_and_column(tmp_path):
    raw = b'{\n  "ociVersion": "1.2.0",\n    ]\n}\n'
    assert load_error(tmp_path, raw=raw).startswith(f"{tmp_path}/config.json: invalid JSON at line 3 column 5: ")


def test_trailing_comma(tmp_path):
    raw = b'{"ociVersion": "1.2.0",\n "mounts": [{"destination": "/x"},]}'
    assert load_error(tmp_path, raw=raw) == (
        f"{tmp_path}/config.json: invalid JSON at line 2 column 35: trailing comma in array")


def test_truncated_json(tmp_path):
    raw = b'{"ociVersion": "1.2.0",\n "process": {\n'
    assert load_error(tmp_path, raw=raw) == (
        f"{tmp_path}/config.json: invalid JSON at line 2 column 14: unexpected end of file")


def test_empty_file(tmp_path):
    assert load_error(tmp_path, raw=b"") == f"{tmp_path}/config.json: invalid JSON: the file is empty"


def test_top_level_must_be_an_object(tmp_path):
    assert load_error(tmp_path, raw=b"[]") == f"{tmp_path}/config.json: expected an object, got an array"


# --- wrong types and missing fields (decode errors) ------------------------------------------------------------


@pytest.mark.parametrize(("change", "path", "problem"), [
    ({"process": {"args": [1], "cwd": "/"}}, "process.args[0]", "expected a string, got an integer"),
    ({"process": {"args": "sh", "cwd": "/"}}, "process.args", "expected an array, got a string"),
    ({"process": {"args": ["sh"], "cwd": "/", "terminal": "yes"}}, "process.terminal",
     "expected a boolean, got a string"),
    ({"process": {"args": ["sh"], "cwd": "/", "user": {"uid": -1}}}, "process.user.uid",
     "expected an integer >= 0, got -1"),
    ({"process": {"args": ["sh"], "cwd": "/", "user": {"uid": 2**32}}}, "process.user.uid",
     "expected an integer <= 4294967295, got 4294967296"),
    ({"process": {"args": ["sh"], "cwd": "/", "user": {"gid": 1.5}}}, "process.user.gid",
     "expected an integer, got a decimal number"),
    ({"process": {"args": ["sh"], "cwd": "/", "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1}]}},
     "process.rlimits[0].soft", "required field is missing"),
    ({"ociVersion": 1}, "ociVersion", "expected a string, got an integer"),
    ({"root": {"readonly": True}}, "root.path", "required field is missing"),
    ({"mounts": [{"destination": "/a"}, {"source": "/b"}]}, "mounts[1].destination", "required field is missing"),
    ({"mounts": [{"destination": "/a", "options": ["ro", None]}]}, "mounts[0].options[1]",
     "expected a string, got null"),
    ({"hooks": {"poststop": [{"args": []}]}}, "hooks.poststop[0].path", "required field is missing"),
    ({"hooks": {"prestart": [{"path": "/x", "timeout": "5"}]}}, "hooks.prestart[0].timeout",
     "expected an integer, got a string"),
    ({"linux": {"namespaces": [{"path": "/proc/1/ns/pid"}]}}, "linux.namespaces[0].type",
     "required field is missing"),
    ({"linux": {"uidMappings": [{"containerID": 0, "hostID": 1000}]}}, "linux.uidMappings[0].size",
     "required field is missing"),
    ({"annotations": {"a.b": "ok", "c.d": 1}}, 'annotations["c.d"]', "expected a string, got an integer"),
    ({"linux": {"sysctl": {"kernel.x": {}}}}, 'linux.sysctl["kernel.x"]', "expected a string, got an object"),
    ({"linux": {"timeOffsets": {"boottime": {"secs": 1}, "monotonic": {"secs": "x"}}}},
     'linux.timeOffsets["monotonic"].secs', "expected an integer, got a string"),
    ({"linux": {"resources": {"memory": {"limit": "1G"}}}}, "linux.resources.memory.limit",
     "expected an integer, got a string"),
    ({"linux": {"resources": {"blockIO": {"weight": 70000}}}}, "linux.resources.blockIO.weight",
     "expected an integer <= 65535, got 70000"),
    ({"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"]}]}}},
     "linux.seccomp.syscalls[0].action", "required field is missing"),
])
def test_decode_errors_name_file_and_json_path(tmp_path, change, path, problem):
    text = load_error(tmp_path, minimal(**change))
    assert text == f"{tmp_path}/config.json: {path}: {problem}"


def test_config_error_attributes(tmp_path):
    bundle = write_bundle(tmp_path, minimal(process={"args": [1], "cwd": "/"}))
    with pytest.raises(ConfigError) as info:
        load_config(bundle)
    err = info.value
    assert (err.file, err.json_path, err.problem) == (
        os.path.join(bundle, "config.json"), "process.args[0]", "expected a string, got an integer")


def test_validation_error_is_raised_after_decoding(tmp_path):
    text = load_error(tmp_path, minimal(linux={"namespaces": [{"type": "pid"}, {"type": "pid"}]}))
    assert text == f'{tmp_path}/config.json: linux.namespaces[1].type: duplicate namespace "pid"'


# --- process.json (exec --process) -----------------------------------------------------------------------------


def test_decode_process_good():
    process = decode_process(b'{"args": ["ls", "-l"], "cwd": "/tmp", "env": ["A=1"], "terminal": true}',
                             "/tmp/p.json")
    assert process.args == ["ls", "-l"] and process.cwd == "/tmp" and process.terminal is True


@pytest.mark.parametrize(("raw", "message"), [
    (b'{"args": [1], "cwd": "/"}', "/tmp/p.json: args[0]: expected a string, got an integer"),
    (b'{"args": [], "cwd": "/"}', "/tmp/p.json: args: must not be empty"),
    (b'{"args": ["ls"], "cwd": "tmp"}', '/tmp/p.json: cwd: must be an absolute path, got "tmp"'),
    (b'{"args": ["ls"], "cwd": "/", "capabilities": {"bounding": ["CAP_NOPE"]}}',
     '/tmp/p.json: capabilities.bounding[0]: unknown capability "CAP_NOPE"'),
    (b'{"args": ["ls"],', "/tmp/p.json: invalid JSON at line 1 column 17: unexpected end of file"),
])
def test_decode_process_errors(raw, message):
    with pytest.raises(ConfigError) as info:
        decode_process(raw, "/tmp/p.json")
    assert str(info.value) == message


@pytest.mark.parametrize(("raw", "column", "problem"), [
    (b'{"ociVersion": "1.2.0"} x', 25, "trailing characters"),
    (b'{"ociVersion": "1.2.0",}', 24, "trailing comma in object"),
    (b'{"ociVersion" "1.2.0"}', 15, "expected ':'"),
    (b'{"ociVersion": "1.2.0" "root": {}}', 24, "expected ',' or '}'"),
    (b'{"mounts": [{} {}]}', 16, "expected ',' or ']'"),
    (b'{1: 2}', 2, "object keys must be strings"),
    (b'{"a": [,]}', 8, "invalid character"),
    (b'{"a": tru}', 11, "invalid character"),  # after the four letters that are not `true`
    (b'{"a": NaN}', 7, "invalid character"),
    (b'{"a": 01}', 8, "invalid number"),
    (b'{"a": 1.}', 9, "invalid number"),
    (b'{"a": "\\x"}', 10, "invalid escape character in string"),
    (b'{"a": "\\u12"}', 13, "invalid character in unicode escape"),
    (b'{"a": "a\tb"}', 9, "invalid character"),
    (b'{"a": "abc', 11, "unexpected end of file"),
])
def test_syntax_errors_say_where_and_what(tmp_path, raw: bytes, column: int, problem: str) -> None:
    assert load_error(tmp_path, raw=raw) == (
        f"{tmp_path}/config.json: invalid JSON at line 1 column {column}: {problem}")


def test_syntax_error_on_a_later_line(tmp_path):
    raw = b'{\n  "ociVersion": "1.2.0",\n  "mounts": [1,]\n}\n'
    assert load_error(tmp_path, raw=raw) == (
        f"{tmp_path}/config.json: invalid JSON at line 3 column 16: trailing comma in array")
