"""simcon.runtime.plan.build_plan: a Spec loaded from a real (tmp) bundle -> the frozen CreatePlan (and the ContainerPlan
the children get)."""

from __future__ import annotations

import copy
import json
import os

import pytest

from simcon.errors import CgroupError, ConfigError
from simcon.init.plan import MountPlan
from simcon.runtime.plan import DEFAULT_DEVICES, CreatePlan, build_plan
from simcon.spec.default import default_spec
from simcon.spec.load import load_config

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19

DEFAULT_DEVICE_PATHS = ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]


def base_config() -> dict:
    config = default_spec()
    config["process"]["terminal"] = False
    return config


def plan_for(tmp_path, config: dict, container_id: str = "web") -> CreatePlan:
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True, exist_ok=True)
    (bundle / "config.json").write_text(json.dumps(config))
    spec = load_config(str(bundle))
    return build_plan(spec, str(bundle), container_id, config_file=str(bundle / "config.json"))


def with_mounts(*mounts: dict) -> dict:
    config = base_config()
    config["mounts"] = config["mounts"] + list(mounts)
    return config


def find_mount(plan: CreatePlan, destination: str) -> MountPlan:
    matches = [mp for mp in plan.container.mounts if mp.destination == destination]
    assert len(matches) == 1, destination
    return matches[0]


# --- basics ----------------------------------------------------------------------------------------------------


def test_default_spec_plan(tmp_path) -> None:
    plan = plan_for(tmp_path, base_config())
    bundle = tmp_path / "bundle"
    assert plan.container_id == "web"
    assert plan.bundle == str(bundle)
    assert plan.container.rootfs == os.path.realpath(bundle / "rootfs")
    assert plan.container.rootfs_readonly is True
    assert plan.container.rootfs_propagation == MS_SLAVE | MS_REC
    assert plan.container.hostname == "simcon"
    assert plan.container.process.args == ("sh",)
    assert plan.container.process.cwd == "/"
    assert plan.container.process.no_new_privileges is True
    assert [mp.destination for mp in plan.container.mounts] == [m["destination"] for m in default_spec()["mounts"]]
    assert [mp.index for mp in plan.container.mounts] == list(range(len(plan.container.mounts)))
    assert list(plan.container.masked_paths) == default_spec()["linux"]["maskedPaths"]
    assert list(plan.container.readonly_paths) == default_spec()["linux"]["readonlyPaths"]


def test_absolute_root_path_through_a_symlink_is_resolved(tmp_path) -> None:
    real = tmp_path / "real-rootfs"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    config = base_config()
    config["root"] = {"path": str(tmp_path / "link")}
    plan = plan_for(tmp_path, config)
    assert plan.container.rootfs == str(real)
    assert plan.container.rootfs_readonly is False


def test_process_fields(tmp_path) -> None:
    config = base_config()
    config["process"].update({
        "args": ["/bin/echo", "hi"], "env": ["A=1"], "cwd": "/srv",
        "user": {"uid": 1000, "gid": 100, "additionalGids": [5, 6], "umask": 0o22},
    })
    plan = plan_for(tmp_path, config)
    assert (plan.container.process.args, plan.container.process.env, plan.container.process.cwd) == (("/bin/echo", "hi"), ("A=1",), "/srv")
    assert (plan.container.process.uid, plan.container.process.gid, plan.container.process.additional_gids, plan.container.process.umask) == (1000, 100, (5, 6), 0o22)


def test_rootfs_propagation(tmp_path) -> None:
    config = base_config()
    config["linux"]["rootfsPropagation"] = "private"
    assert plan_for(tmp_path, config).container.rootfs_propagation == MS_PRIVATE


def test_build_plan_does_not_modify_the_spec(tmp_path) -> None:
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    config = with_mounts({"destination": "/data", "type": "bind", "source": "data"})
    (bundle / "config.json").write_text(json.dumps(config))
    spec = load_config(str(bundle))
    before = copy.deepcopy(spec)
    build_plan(spec, str(bundle), "web", config_file=str(bundle / "config.json"))
    assert spec == before


# --- namespaces ------------------------------------------------------------------------------------------------


def test_namespaces_without_path_are_unshared(tmp_path) -> None:
    plan = plan_for(tmp_path, base_config())
    assert plan.container.unshare_flags == (CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNS
                                  | CLONE_NEWCGROUP)
    assert plan.container.own_namespaces == {"pid", "network", "ipc", "uts", "mount", "cgroup"}
    assert plan.container.join_namespaces == ()


def test_namespaces_with_path_are_joined_not_unshared(tmp_path) -> None:
    config = base_config()
    config["linux"]["namespaces"] = [
        {"type": "pid"}, {"type": "network", "path": "/var/run/netns/blue"}, {"type": "mount"},
        {"type": "ipc", "path": "/proc/1/ns/ipc"}, {"type": "uts"},
    ]
    plan = plan_for(tmp_path, config)
    assert plan.container.unshare_flags == CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS
    assert plan.container.own_namespaces == {"pid", "mount", "uts"}
    assert plan.container.join_namespaces == (("/var/run/netns/blue", CLONE_NEWNET, "network"),
                                              ("/proc/1/ns/ipc", CLONE_NEWIPC, "ipc"))
    assert plan.container.has_namespace("network") and plan.container.has_namespace("pid")
    assert not plan.container.has_namespace("cgroup")


def test_no_linux_section(tmp_path) -> None:
    config = base_config()
    del config["linux"]
    del config["hostname"]  # a hostname needs a uts namespace
    plan = plan_for(tmp_path, config)
    assert plan.container.unshare_flags == 0 and plan.container.join_namespaces == ()
    assert [d.path for d in plan.container.devices] == DEFAULT_DEVICE_PATHS


def test_new_user_namespace_is_created_apart_with_its_maps(tmp_path) -> None:
    config = base_config()
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 1000}]
    plan = plan_for(tmp_path, config)
    assert plan.container.new_user_namespace is True
    assert not plan.container.unshare_flags & 0x10000000  # CLONE_NEWUSER: unshared alone, before the others
    assert plan.container.unshare_flags & CLONE_NEWPID
    assert plan.uid_mappings == ((0, 100000, 65536),)
    assert plan.gid_mappings == ((0, 200000, 1000),)


def test_a_user_namespace_given_by_path_is_joined_first(tmp_path) -> None:
    config = base_config()
    config["linux"]["namespaces"] = [{"type": "uts"}, {"type": "network", "path": "/proc/1/ns/net"},
                                     {"type": "user", "path": "/proc/1/ns/user"}]
    plan = plan_for(tmp_path, config)
    assert [kind for _, _, kind in plan.container.join_namespaces] == ["user", "network"]
    assert plan.container.new_user_namespace is False


# --- mounts ----------------------------------------------------------------------------------------------------


def test_relative_bind_source_is_made_absolute_under_the_bundle(tmp_path) -> None:
    plan = plan_for(tmp_path, with_mounts({"destination": "/data", "type": "bind", "source": "data",
                                           "options": ["rbind", "ro"]}))
    mp = find_mount(plan, "/data")
    assert mp.source == str(tmp_path / "bundle" / "data")
    assert os.path.isabs(mp.source)
    assert mp.flags == MS_BIND | MS_REC | MS_RDONLY
    assert mp.is_bind


def test_absolute_bind_source_is_kept(tmp_path) -> None:
    plan = plan_for(tmp_path, with_mounts({"destination": "/data", "type": "none", "source": "/srv/data",
                                           "options": ["bind"]}))
    mp = find_mount(plan, "/data")
    assert mp.source == "/srv/data"
    assert mp.fstype == "none"
    assert mp.flags == MS_BIND


def test_non_bind_source_is_not_joined_to_the_bundle(tmp_path) -> None:
    mp = find_mount(plan_for(tmp_path, base_config()), "/dev/shm")
    assert mp.source == "shm"
    assert mp.fstype == "tmpfs"
    assert mp.data == "mode=1777,size=65536k"
    assert not mp.is_bind


def test_type_bind_without_bind_option_is_rbind(tmp_path) -> None:
    plan = plan_for(tmp_path, with_mounts({"destination": "/data", "type": "bind", "source": "/srv/data",
                                           "options": ["ro", "nosuid"]}))
    mp = find_mount(plan, "/data")
    assert mp.flags == MS_BIND | MS_REC | MS_RDONLY | MS_NOSUID


def test_type_bind_with_plain_bind_option_is_not_recursive(tmp_path) -> None:
    plan = plan_for(tmp_path, with_mounts({"destination": "/data", "type": "bind", "source": "/srv/data",
                                           "options": ["bind"]}))
    assert find_mount(plan, "/data").flags == MS_BIND


def test_bind_option_without_type_gives_type_bind(tmp_path) -> None:
    plan = plan_for(tmp_path, with_mounts({"destination": "/data", "source": "/srv/data", "options": ["rbind"]}))
    mp = find_mount(plan, "/data")
    assert mp.fstype == "bind"
    assert mp.flags == MS_BIND | MS_REC


def test_mount_without_source_uses_its_type(tmp_path) -> None:
    plan = plan_for(tmp_path, with_mounts({"destination": "/run", "type": "tmpfs"}))
    mp = find_mount(plan, "/run")
    assert (mp.source, mp.fstype, mp.flags, mp.data) == ("tmpfs", "tmpfs", 0, "")


def test_propagation_of_a_mount(tmp_path) -> None:
    plan = plan_for(tmp_path, with_mounts({"destination": "/data", "type": "bind", "source": "/srv",
                                           "options": ["rbind", "rprivate"]}))
    assert find_mount(plan, "/data").propagation == (MS_PRIVATE | MS_REC,)


def test_describe_names_index_and_destination(tmp_path) -> None:
    plan = plan_for(tmp_path, base_config())
    assert plan.container.mounts[0].describe() == "mounts[0] `/proc`"


@pytest.mark.parametrize("option, index", [("tmpcopyup", 7), ("", 7)])
def test_bad_mount_option_names_the_json_path(tmp_path, option: str, index: int) -> None:
    config = with_mounts({"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", option]})
    assert len(config["mounts"]) == index + 1
    with pytest.raises(ConfigError) as info:
        plan_for(tmp_path, config)
    assert info.value.json_path == f"mounts[{index}].options"
    assert info.value.file == str(tmp_path / "bundle" / "config.json")
    assert repr(option) in str(info.value)
    assert "/data" in str(info.value)
    assert str(info.value).startswith(f"{tmp_path / 'bundle' / 'config.json'}: mounts[{index}].options: ")


def test_bad_option_in_the_first_mount(tmp_path) -> None:
    config = base_config()
    config["mounts"][0]["options"] = ["tmpcopyup"]  # /proc is not a tmpfs
    with pytest.raises(ConfigError) as info:
        plan_for(tmp_path, config)
    assert info.value.json_path == "mounts[0].options"
    assert "tmpfs" in str(info.value) and "/proc" in str(info.value)


def test_recursive_options_reach_the_plan(tmp_path) -> None:
    plan = plan_for(tmp_path, with_mounts({"destination": "/data", "type": "bind", "source": "/srv",
                                           "options": ["rbind", "rro", "rnosuid"]}))
    mp = find_mount(plan, "/data")
    assert (mp.attr_set, mp.attr_clr) == (0x1 | 0x2, 0)  # MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID


def test_tmpcopyup_on_a_tmpfs(tmp_path) -> None:
    plan = plan_for(tmp_path, with_mounts({"destination": "/etc", "type": "tmpfs", "source": "tmpfs",
                                           "options": ["tmpcopyup", "mode=755"]}))
    mp = find_mount(plan, "/etc")
    assert mp.tmpcopyup and mp.data == "mode=755"


IDMAP = {"uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
         "gidMappings": [{"containerID": 0, "hostID": 200000, "size": 10}, {"containerID": 10, "hostID": 5, "size": 1}]}


@pytest.mark.parametrize("option, recursive", [("idmap", False), ("ridmap", True), (None, False)])
def test_idmapped_mount_plan(tmp_path, option: str | None, recursive: bool) -> None:
    """uidMappings/gidMappings make the mount idmapped (with or without the option): never silently dropped."""
    options = ["rbind"] + ([option] if option else [])
    plan = plan_for(tmp_path, with_mounts({"destination": "/data", "type": "bind", "source": "/srv",
                                           "options": options, **IDMAP}))
    idmap = find_mount(plan, "/data").idmap
    assert (idmap.uid_map, idmap.gid_map, idmap.recursive) == ("0 100000 65536\n", "0 200000 10\n10 5 1\n", recursive)


def test_idmap_without_mappings_uses_the_containers_user_namespace(tmp_path) -> None:
    config = with_mounts({"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", "idmap"]})
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 200000, "size": 65536}]
    idmap = find_mount(plan_for(tmp_path, config), "/data").idmap
    assert (idmap.uid_map, idmap.gid_map) == ("0 100000 65536\n", "0 200000 65536\n")


@pytest.mark.parametrize("mount, json_path, words", [
    ({"type": "tmpfs", "source": "tmpfs", "options": ["idmap"], **IDMAP}, "options", "bind mounts"),
    ({"type": "bind", "source": "/srv", "options": ["rbind", "idmap"]}, "uidMappings", "both"),
    ({"type": "bind", "source": "/srv", "options": ["rbind"], "uidMappings": IDMAP["uidMappings"]},
     "gidMappings", "both"),
    ({"type": "bind", "source": "/srv", "options": ["rbind"], "uidMappings": IDMAP["uidMappings"],
      "gidMappings": [{"containerID": 0, "hostID": 1, "size": 0}]}, "gidMappings[0].size", "at least 1"),
])
def test_bad_idmapped_mount_names_the_json_path(tmp_path, mount: dict, json_path: str, words: str) -> None:
    config = with_mounts({"destination": "/data", **mount})
    index = len(config["mounts"]) - 1
    with pytest.raises(ConfigError) as info:
        plan_for(tmp_path, config)
    assert info.value.json_path == f"mounts[{index}].{json_path}"
    assert words in str(info.value) and "/data" in str(info.value)


def test_cgroup_mount_is_read_only_unless_rw(tmp_path) -> None:
    plan = plan_for(tmp_path, with_mounts({"destination": "/cg-default", "type": "cgroup", "source": "cgroup"},
                                          {"destination": "/cg-rw", "type": "cgroup", "source": "cgroup",
                                           "options": ["rw"]}))
    assert find_mount(plan, "/cg-default").flags & MS_RDONLY
    assert not find_mount(plan, "/cg-rw").flags & MS_RDONLY


def test_sysfs_is_read_only_in_the_host_network_namespace(tmp_path) -> None:
    config = base_config()
    for mount in config["mounts"]:
        if mount["type"] == "sysfs":
            mount["options"] = ["nosuid", "noexec", "nodev"]
    assert not find_mount(plan_for(tmp_path / "own", config), "/sys").flags & MS_RDONLY
    config["linux"]["namespaces"] = [ns for ns in config["linux"]["namespaces"] if ns["type"] != "network"]
    assert find_mount(plan_for(tmp_path / "host", config), "/sys").flags & MS_RDONLY


# --- devices ---------------------------------------------------------------------------------------------------


def test_default_devices_are_present(tmp_path) -> None:
    plan = plan_for(tmp_path, base_config())
    assert [d.path for d in plan.container.devices] == DEFAULT_DEVICE_PATHS
    null = plan.container.devices[0]
    assert (null.kind, null.major, null.minor, null.mode, null.uid, null.gid) == ("c", 1, 3, 0o666, 0, 0)
    tty = plan.container.devices[-1]
    assert (tty.major, tty.minor) == (5, 0)


def test_config_devices_come_after_the_defaults(tmp_path) -> None:
    config = base_config()
    config["linux"]["devices"] = [
        {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o600, "uid": 0, "gid": 0},
        {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0},
    ]
    plan = plan_for(tmp_path, config)
    assert [d.path for d in plan.container.devices] == DEFAULT_DEVICE_PATHS + ["/dev/fuse", "/dev/sda"]
    fuse, sda = plan.container.devices[-2:]
    assert (fuse.kind, fuse.major, fuse.minor, fuse.mode) == ("c", 10, 229, 0o600)
    assert (sda.kind, sda.major, sda.minor, sda.mode, sda.uid, sda.gid) == ("b", 8, 0, 0o666, 0, 0)


@pytest.mark.parametrize("destination", ["/dev", "/dev/"])
def test_no_default_devices_when_dev_is_bind_mounted(tmp_path, destination: str) -> None:
    config = base_config()
    config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/dev"]
    config["mounts"].append({"destination": destination, "type": "bind", "source": "/dev", "options": ["rbind"]})
    config["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
    plan = plan_for(tmp_path, config)
    assert [d.path for d in plan.container.devices] == ["/dev/fuse"]
    # Someone else's /dev: the node is only checked there, and no /dev links are added to it.
    assert [d.may_create for d in plan.container.devices] == [False]
    assert plan.container.dev_links is False


def test_bound_dev_leaves_devices_elsewhere_creatable(tmp_path) -> None:
    config = base_config()
    config["mounts"] = [m for m in config["mounts"] if m["destination"] != "/dev"]
    config["mounts"].append({"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"]})
    config["linux"]["devices"] = [{"path": "/opt/dev/fuse", "type": "c", "major": 10, "minor": 229},
                                  {"path": "/dev/../devx", "type": "c", "major": 1, "minor": 3}]
    assert [d.may_create for d in plan_for(tmp_path, config).container.devices] == [True, True]


def test_a_config_device_replaces_the_default_of_its_path(tmp_path) -> None:
    config = base_config()
    config["linux"]["devices"] = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600,
                                   "uid": 1000}]
    plan = plan_for(tmp_path, config)
    assert [d.path for d in plan.container.devices] == [p for p in DEFAULT_DEVICE_PATHS if p != "/dev/null"] + ["/dev/null"]
    null = plan.container.devices[-1]
    assert (null.mode, null.uid, null.index) == (0o600, 1000, 0)
    assert null.describe() == "linux.devices[0] `/dev/null`"
    assert plan.container.devices[0].describe() == "device `/dev/zero`" and plan.container.dev_links is True


def test_default_devices_kept_when_dev_is_a_tmpfs(tmp_path) -> None:
    config = base_config()
    assert any(m["destination"] == "/dev" and m["type"] == "tmpfs" for m in config["mounts"])
    assert [d.path for d in plan_for(tmp_path, config).container.devices] == DEFAULT_DEVICE_PATHS


def test_the_plan_is_frozen(tmp_path) -> None:
    plan = plan_for(tmp_path, base_config())
    for owner, field in ((plan, "start_timeout"), (plan.container, "hostname"), (plan.container.process, "uid"),
                         (plan.container.devices[0], "mode"), (plan.container.mounts[0], "flags"),
                         (plan.hooks, "prestart"), (plan.cgroup, "path")):
        with pytest.raises(AttributeError):
            setattr(owner, field, getattr(owner, field))
    assert isinstance(plan.container.devices, tuple) and isinstance(plan.container.mounts, tuple)
    assert len(DEFAULT_DEVICES) == 6


# --- hooks -----------------------------------------------------------------------------------------------------


def with_hooks(**hooks: list) -> dict:
    config = base_config()
    config["hooks"] = hooks
    return config


def test_no_hooks(tmp_path) -> None:
    plan = plan_for(tmp_path, base_config())
    assert plan.hooks.init_waits is False and plan.container.sync_create_hooks is False
    assert all(getattr(plan.hooks, kind) == () for kind in ("prestart", "create_runtime", "create_container",
                                                             "start_container", "poststart", "poststop"))


@pytest.mark.parametrize("kind, field", [("prestart", "prestart"), ("createRuntime", "create_runtime"),
                                         ("createContainer", "create_container"),
                                         ("startContainer", "start_container")])
def test_hooks_before_the_process_make_init_wait(tmp_path, kind: str, field: str) -> None:
    """The init stops for the parent: to let it run prestart/createRuntime, and to get the state its own hooks
    receive on stdin."""
    plan = plan_for(tmp_path, with_hooks(**{kind: [{"path": "/bin/true"}]}))
    assert plan.container.sync_create_hooks is True
    assert [h.path for h in getattr(plan.hooks, field)] == ["/bin/true"]


@pytest.mark.parametrize("kind", ["poststart", "poststop"])
def test_hooks_after_the_start_do_not_make_init_wait(tmp_path, kind: str) -> None:
    plan = plan_for(tmp_path, with_hooks(**{kind: [{"path": "/bin/true", "timeout": 4}, {"path": "/bin/false"}]}))
    assert plan.container.sync_create_hooks is False
    assert [h.to_json() for h in getattr(plan.hooks, kind)] == [
        {"path": "/bin/true", "args": [], "env": [], "timeout": 4},
        {"path": "/bin/false", "args": [], "env": [], "timeout": None},
    ]


def test_container_hooks_are_carried_in_order(tmp_path) -> None:
    plan = plan_for(tmp_path, with_hooks(
        createContainer=[{"path": "/bin/a", "args": ["a", "1"], "env": ["X=1"], "timeout": 3}, {"path": "/bin/b"}],
        startContainer=[{"path": "/bin/c"}],
    ))
    assert [h.to_json() for h in plan.container.create_container_hooks] == [
        {"path": "/bin/a", "args": ["a", "1"], "env": ["X=1"], "timeout": 3},
        {"path": "/bin/b", "args": [], "env": [], "timeout": None},
    ]
    assert plan.container.create_container_hooks == plan.hooks.create_container
    assert [h.path for h in plan.container.start_container_hooks] == ["/bin/c"]


def test_hooks_on_the_way_to_start_get_the_start_timeout(tmp_path) -> None:
    config = with_hooks(prestart=[{"path": "/bin/p"}], createRuntime=[{"path": "/bin/r", "timeout": 2}],
                        startContainer=[{"path": "/bin/s"}], createContainer=[{"path": "/bin/c"}])
    config["annotations"] = {"run.oci.simcon.start-timeout": "7.5"}
    plan = plan_for(tmp_path, config)
    assert plan.start_timeout == 7.5
    assert [h.timeout for h in (*plan.hooks.prestart, *plan.hooks.create_runtime, *plan.hooks.start_container,
                                *plan.hooks.create_container)] == [8, 2, 8, None]


def test_a_bad_start_timeout_names_the_annotation(tmp_path) -> None:
    config = base_config()
    config["annotations"] = {"run.oci.simcon.start-timeout": "soon"}
    with pytest.raises(ConfigError) as info:
        plan_for(tmp_path, config)
    assert info.value.json_path == 'annotations["run.oci.simcon.start-timeout"]'


# --- cgroup ----------------------------------------------------------------------------------------------------


def test_cgroups_path_as_given_with_the_driver(tmp_path) -> None:
    assert plan_for(tmp_path, base_config(), "web").cgroup.path is None  # the driver's default: /simcon/web
    config = base_config()
    config["linux"]["cgroupsPath"] = "/mine/web"
    request = plan_for(tmp_path, config).cgroup
    assert (request.path, request.driver) == ("/mine/web", "cgroupfs")


@pytest.mark.parametrize("path", ["a:b:c", "system.slice:simcon:web"])
def test_a_systemd_cgroups_path_is_refused_before_anything_is_made(tmp_path, path: str) -> None:
    config = base_config()
    config["linux"]["cgroupsPath"] = path
    with pytest.raises(CgroupError, match="pass --systemd-cgroup"):
        plan_for(tmp_path, config)


def test_the_cgroup_request_carries_the_resources(tmp_path) -> None:
    config = base_config()
    config["linux"]["resources"] = {"pids": {"limit": 10}}
    request = plan_for(tmp_path, config).cgroup
    assert request.resources.pids.limit == 10 and request.sets_resources
    del config["linux"]["resources"]
    assert not plan_for(tmp_path, config).cgroup.sets_resources
