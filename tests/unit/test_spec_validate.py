"""simcon.spec.validate: each check finds its problem and names the JSON path; load_config raises the first."""

from __future__ import annotations

import json

import pytest

from simcon.errors import ConfigError
from simcon.spec.load import decode_config, load_config
from simcon.spec.validate import CHECKS, Problem, validate


def minimal(**changes) -> dict:
    config = {"ociVersion": "1.2.0", "root": {"path": "rootfs"}, "process": {"args": ["sh"], "cwd": "/"}}
    config.update(changes)
    return config


def with_linux(**linux) -> dict:
    return minimal(linux=linux)


def with_process(**process) -> dict:
    base = {"args": ["sh"], "cwd": "/"}
    base.update(process)
    return minimal(process=base)


def bundle_with(tmp_path, config: dict) -> str:
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    (tmp_path / "config.json").write_text(json.dumps(config))
    return str(tmp_path)


def problems(tmp_path, config: dict) -> tuple[list[Problem], list[Problem]]:
    bundle = bundle_with(tmp_path, config)
    return validate(decode_config(json.dumps(config).encode(), "config.json"), bundle)


USERNS = {"namespaces": [{"type": "user"}], "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
          "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}

CASES = [
    # ociVersion
    (minimal(ociVersion="2.0.0"), "ociVersion", 'unsupported version "2.0.0": SimCon supports 1.0.0 to 1.2.0'),
    (minimal(ociVersion="0.5.0"), "ociVersion", 'unsupported version "0.5.0": SimCon supports 1.0.0 to 1.2.0'),
    (minimal(ociVersion="latest"), "ociVersion",
     '"latest" is not a version (expected MAJOR.MINOR.PATCH, like "1.2.0")'),
    # root
    ({"ociVersion": "1.2.0", "process": {"args": ["sh"], "cwd": "/"}}, "root", "required field is missing"),
    (minimal(root={"path": ""}), "root.path", "must not be empty"),
    # process
    (with_process(args=[]), "process.args", "must not be empty"),
    (minimal(process={"args": ["sh"]}), "process.cwd", "required field is missing (an absolute path)"),
    (with_process(cwd="srv"), "process.cwd", 'must be an absolute path, got "srv"'),
    (with_process(capabilities={"bounding": ["CAP_KILL", "CAP_FLY"]}), "process.capabilities.bounding[1]",
     'unknown capability "CAP_FLY"'),
    (with_process(capabilities={"ambient": ["kill"]}), "process.capabilities.ambient[0]",
     '"kill" is not a capability name (expected CAP_ and upper case, like "CAP_KILL")'),
    (with_process(rlimits=[{"type": "RLIMIT_FOO", "hard": 1, "soft": 1}]), "process.rlimits[0].type",
     'unknown rlimit "RLIMIT_FOO" (expected one of RLIMIT_AS, RLIMIT_CORE, RLIMIT_CPU, RLIMIT_DATA, RLIMIT_FSIZE, '
     "RLIMIT_LOCKS, RLIMIT_MEMLOCK, RLIMIT_MSGQUEUE, RLIMIT_NICE, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_RSS, "
     "RLIMIT_RTPRIO, RLIMIT_RTTIME, RLIMIT_SIGPENDING, RLIMIT_STACK)"),
    (with_process(rlimits=[{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 2048}]), "process.rlimits[0]",
     "soft limit 2048 is greater than hard limit 1024"),
    (with_process(rlimits=[{"type": "RLIMIT_NOFILE", "hard": 1, "soft": 1},
                           {"type": "RLIMIT_NOFILE", "hard": 2, "soft": 2}]), "process.rlimits[1].type",
     'duplicate rlimit "RLIMIT_NOFILE"'),
    # mounts
    (minimal(mounts=[{"destination": "/proc"}, {"destination": "proc"}]), "mounts[1].destination",
     'must be an absolute path, got "proc"'),
    # hostname / domainname
    (minimal(hostname="web"), "hostname",
     'setting the hostname needs a uts namespace (add {"type": "uts"} to linux.namespaces)'),
    (minimal(domainname="example.org", linux={"namespaces": [{"type": "pid"}]}), "domainname",
     'setting the domainname needs a uts namespace (add {"type": "uts"} to linux.namespaces)'),
    # hooks
    (minimal(hooks={"createRuntime": [{"path": "/bin/true"}, {"path": "true"}]}), "hooks.createRuntime[1].path",
     'must be an absolute path, got "true"'),
    (minimal(hooks={"poststop": [{"path": "/bin/true", "timeout": 0}]}), "hooks.poststop[0].timeout",
     "must be greater than zero, got 0"),
    (minimal(hooks={"startContainer": [{"path": "/bin/true", "timeout": -3}]}), "hooks.startContainer[0].timeout",
     "must be greater than zero, got -3"),
    # namespaces
    (with_linux(namespaces=[{"type": "pid"}, {"type": "net"}]), "linux.namespaces[1].type",
     'unknown namespace type "net" (expected one of pid, network, mount, ipc, uts, user, cgroup, time)'),
    (with_linux(namespaces=[{"type": "pid"}, {"type": "ipc"}, {"type": "mount"}, {"type": "pid"}]),
     "linux.namespaces[3].type", 'duplicate namespace "pid"'),
    (with_linux(namespaces=[{"type": "network", "path": "netns/x"}]), "linux.namespaces[0].path",
     'must be an absolute path, got "netns/x"'),
    # user namespace and mappings
    (with_linux(uidMappings=USERNS["uidMappings"]), "linux.uidMappings",
     'uid mappings need a user namespace (add {"type": "user"} to linux.namespaces)'),
    (with_linux(gidMappings=USERNS["gidMappings"]), "linux.gidMappings",
     'gid mappings need a user namespace (add {"type": "user"} to linux.namespaces)'),
    (with_linux(namespaces=[{"type": "pid"}, {"type": "user"}]), "linux.namespaces[1]",
     "a new user namespace needs linux.uidMappings and linux.gidMappings"),
    (with_linux(namespaces=[{"type": "user"}], uidMappings=USERNS["uidMappings"]), "linux.namespaces[0]",
     "a new user namespace needs linux.uidMappings and linux.gidMappings"),
    # rootfsPropagation
    (with_linux(rootfsPropagation="recursive"), "linux.rootfsPropagation",
     'unknown propagation "recursive" (expected one of private, rprivate, slave, rslave, shared, rshared, '
     "unbindable, runbindable)"),
    # devices
    (with_linux(devices=[{"type": "x", "path": "/dev/x", "major": 1, "minor": 1}]), "linux.devices[0].type",
     'unknown device type "x" (expected c, b, u or p)'),
    (with_linux(devices=[{"type": "c", "path": "dev/null", "major": 1, "minor": 3}]), "linux.devices[0].path",
     'must be an absolute path, got "dev/null"'),
    (with_linux(devices=[{"type": "b", "path": "/dev/sda"}]), "linux.devices[0]",
     'device type "b" needs major and minor'),
    # sysctl
    (with_linux(sysctl={"": "1"}), 'linux.sysctl[""]', "key must not be empty"),
    # maskedPaths / readonlyPaths
    (with_linux(maskedPaths=["/proc/kcore", "proc/keys"]), "linux.maskedPaths[1]",
     'must be an absolute path, got "proc/keys"'),
    (with_linux(readonlyPaths=["sys"]), "linux.readonlyPaths[0]", 'must be an absolute path, got "sys"'),
]


@pytest.mark.parametrize(("config", "path", "message"), CASES, ids=[case[1] for case in CASES])
def test_check_finds_the_problem(tmp_path, config, path, message):
    errors, _warnings = problems(tmp_path, config)
    assert [str(e) for e in errors] == [f"{path}: {message}"]


@pytest.mark.parametrize(("config", "path", "message"), CASES, ids=[case[1] for case in CASES])
def test_load_config_raises_it_as_one_line(tmp_path, config, path, message):
    bundle = bundle_with(tmp_path, config)
    with pytest.raises(ConfigError) as info:
        load_config(bundle)
    assert str(info.value) == f"{bundle}/config.json: {path}: {message}"
    assert info.value.json_path == path


def test_root_path_must_exist(tmp_path):
    config = minimal(root={"path": "missing"})
    errors, _ = problems(tmp_path, config)
    assert [str(e) for e in errors] == [f'root.path: directory "{tmp_path}/missing" does not exist']


def test_root_path_must_be_a_directory(tmp_path):
    (tmp_path / "afile").write_text("")
    errors, _ = problems(tmp_path, minimal(root={"path": "afile"}))
    assert [str(e) for e in errors] == [f'root.path: "{tmp_path}/afile" is not a directory']


def test_absolute_root_path_is_not_joined_to_the_bundle(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    errors, _ = problems(tmp_path / "", minimal(root={"path": str(tmp_path / "elsewhere")}))
    assert errors == []


def test_valid_configs_have_no_problems(tmp_path):
    config = minimal(
        hostname="web", domainname="example.org",
        mounts=[{"destination": "/proc", "type": "proc", "source": "proc"}],
        hooks={"prestart": [{"path": "/bin/true", "timeout": 1}]},
        linux={**USERNS, "namespaces": [{"type": t} for t in
                                        ("pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")],
               "rootfsPropagation": "rprivate", "cgroupsPath": "/simcon/x",
               "devices": [{"type": "p", "path": "/dev/fifo"}, {"type": "u", "path": "/dev/u", "major": 1,
                                                                   "minor": 2}],
               "sysctl": {"net.ipv4.ip_forward": "1"}},
    )
    assert problems(tmp_path, config) == ([], [])


def test_joining_a_user_namespace_needs_no_mappings(tmp_path):
    errors, _ = problems(tmp_path, with_linux(namespaces=[{"type": "user", "path": "/proc/42/ns/user"}]))
    assert errors == []


def test_cgroups_path_forms_are_left_to_the_cgroup_driver(tmp_path):
    # Which form is right depends on --systemd-cgroup: simcon.cgroups.paths / simcon.cgroups.slices decide.
    assert problems(tmp_path, with_linux(cgroupsPath="system.slice:simcon:web")) == ([], [])


def test_relative_cgroups_path_without_colon_is_fine(tmp_path):
    assert problems(tmp_path, with_linux(cgroupsPath="simcon/web")) == ([], [])


def test_every_problem_is_reported_not_just_the_first(tmp_path):
    config = minimal(hostname="web", mounts=[{"destination": "x"}],
                     linux={"namespaces": [{"type": "pid"}, {"type": "pid"}]})
    errors, _ = problems(tmp_path, config)
    assert [e.path for e in errors] == ["mounts[0].destination", "hostname", "linux.namespaces[1].type"]


def test_warnings_are_separate(tmp_path):
    config = minimal(ociVersion="1.9.0", linux={"seccomp": {"defaultAction": "SCMP_ACT_ALLOW"}},
                     process={"args": ["sh"], "cwd": "/", "apparmorProfile": "docker-default",
                              "selinuxLabel": "system_u:system_r:container_t:s0"})
    errors, warnings = problems(tmp_path, config)
    assert errors == []
    # seccomp is applied, and LSM labels are refused when the plan is built (runtime.plan): not warnings.
    assert [w.path for w in warnings] == ["ociVersion"]
    assert all(w.warning for w in warnings)


def test_pre_release_versions_of_1x_are_accepted(tmp_path):
    for version in ("1.0.0", "1.0.2-dev", "1.1.0-rc.1", "1.2.0"):
        assert problems(tmp_path, minimal(ociVersion=version)) == ([], [])


def test_checks_are_small_functions_named_check():
    assert len(CHECKS) >= 12
    assert all(check.__name__.startswith("check_") for check in CHECKS)


def test_a_config_without_process_is_valid(tmp_path) -> None:
    """runtime-spec: `process` is optional (the container only holds its namespaces; `start` refuses)."""
    (tmp_path / "rootfs").mkdir()
    (tmp_path / "config.json").write_text(json.dumps({"ociVersion": "1.2.0", "root": {"path": "rootfs"}}))
    assert load_config(str(tmp_path)).process is None
