"""simcon.runtime.plan (capabilities, rlimits, sysctl, personality, LSM labels, id maps): config sections -> the plain values the init applies, and the errors before fork."""

from __future__ import annotations

import resource

import pytest

from simcon import log
from simcon.errors import ConfigError
from simcon.linux import lsm as host_lsm
from simcon.runtime.plan import capabilities, idmaps, personality, rlimits, sysctl
from simcon.runtime.plan import lsm_labels
from simcon.spec.model import Capabilities, Personality, Rlimit

ALL = (1 << 41) - 1
CFG = "/b/config.json"


def caps_plan(last_cap: int = 40, own: int = ALL, **sets: list[str]) -> capabilities.CapsPlan:
    return capabilities.capabilities_plan(Capabilities(**sets), CFG, last_cap=last_cap, own_permitted=own)


def test_no_section_means_no_capabilities() -> None:
    plan = capabilities.capabilities_plan(None, CFG, last_cap=40)
    assert (plan.bounding, plan.effective, plan.permitted, plan.inheritable, plan.ambient) == (0, 0, 0, 0, 0)
    assert plan.last_cap == 40


def test_sets_become_bit_masks() -> None:
    plan = caps_plan(bounding=["CAP_CHOWN", "CAP_KILL"], effective=["CAP_KILL"], permitted=["CAP_KILL"],
                     inheritable=["CAP_SYS_ADMIN"], ambient=[])
    assert plan.bounding == 0b100001
    assert plan.effective == plan.permitted == 1 << 5
    assert plan.inheritable == 1 << 21


def test_unknown_name_names_the_json_path() -> None:
    with pytest.raises(ConfigError) as info:
        caps_plan(permitted=["CAP_KILL", "CAP_NOPE"])
    assert "process.capabilities.permitted[1]" in str(info.value)
    assert "CAP_NOPE" in str(info.value)


def test_capability_newer_than_the_kernel_is_skipped_with_a_warning(capsys, warnings_on_stderr) -> None:
    plan = caps_plan(last_cap=37, bounding=["CAP_KILL", "CAP_BPF"], permitted=["CAP_BPF"])
    assert plan.bounding == 1 << 5
    assert plan.permitted == 0
    assert plan.last_cap == 37
    err = capsys.readouterr().err
    assert "process.capabilities.bounding[1]: CAP_BPF is not supported by the running kernel" in err
    assert "process.capabilities.permitted[0]" in err


def test_capability_simcon_lacks_is_skipped_except_in_the_bounding_set(capsys, warnings_on_stderr) -> None:
    own = ALL & ~(1 << 24)
    plan = caps_plan(own=own, bounding=["CAP_SYS_RESOURCE"], permitted=["CAP_SYS_RESOURCE", "CAP_KILL"])
    assert plan.bounding == 1 << 24
    assert plan.permitted == 1 << 5
    assert "process.capabilities.permitted[0]: SimCon itself does not hold CAP_SYS_RESOURCE" in capsys.readouterr().err


def test_ambient_needs_permitted_and_inheritable(tmp_path) -> None:
    # runc's default spec asks for ambient capabilities without inheritable ones: skipped, and not worth a warning.
    log_file = tmp_path / "log"
    log.configure(str(log_file), "text", False)
    try:
        plan = caps_plan(permitted=["CAP_KILL", "CAP_CHOWN"], inheritable=["CAP_KILL"],
                         ambient=["CAP_KILL", "CAP_CHOWN"])
    finally:
        log.configure(None, "text", False)
    assert plan.ambient == 1 << 5
    assert not log_file.exists()


# --- rlimits ---


def test_rlimits_map_to_resource_numbers_and_infinity() -> None:
    limits = rlimits.rlimits_plan([Rlimit(type="RLIMIT_NOFILE", soft=10, hard=20),
                                    Rlimit(type="RLIMIT_CORE", soft=2**64 - 1, hard=2**64 - 1)], CFG)
    assert limits[0] == (resource.RLIMIT_NOFILE, 10, 20)
    core_hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    if core_hard == resource.RLIM_INFINITY:
        assert limits[1] == (resource.RLIMIT_CORE, resource.RLIM_INFINITY, resource.RLIM_INFINITY)


def test_hard_limit_above_our_own_without_cap_sys_resource_is_an_error(monkeypatch) -> None:
    monkeypatch.setattr(capabilities, "own_permitted_set", lambda: 0)
    own_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    with pytest.raises(ConfigError) as info:
        rlimits.rlimits_plan([Rlimit(type="RLIMIT_NOFILE", soft=1, hard=own_hard + 1)], CFG)
    text = str(info.value)
    assert "process.rlimits[0].hard" in text and "CAP_SYS_RESOURCE" in text and str(own_hard) in text


def test_hard_limit_above_our_own_is_fine_with_cap_sys_resource(monkeypatch) -> None:
    monkeypatch.setattr(capabilities, "own_permitted_set", lambda: ALL)
    own_hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert rlimits.rlimits_plan([Rlimit(type="RLIMIT_NOFILE", soft=1, hard=own_hard + 1)], CFG)


# --- oomScoreAdj ---


def test_oom_score_adj_range() -> None:
    with pytest.raises(ConfigError, match="process.oomScoreAdj: must be between -1000 and 1000"):
        rlimits.oom_score_adj_plan(1001, CFG)
    assert rlimits.oom_score_adj_plan(None, CFG) is None
    assert rlimits.oom_score_adj_plan(1000, CFG) == 1000


def test_oom_score_adj_below_our_own_is_left_to_the_kernel(monkeypatch) -> None:
    # The kernel allows lowering it down to oom_score_adj_min without CAP_SYS_RESOURCE: no guess before fork.
    monkeypatch.setattr(capabilities, "own_permitted_set", lambda: 0)
    assert rlimits.oom_score_adj_plan(-999, CFG) == -999


# --- sysctl ---


@pytest.mark.parametrize(("key", "kind"), [
    ("net.ipv4.ip_forward", "network"), ("net/ipv4/ip_forward", "network"), ("kernel.shmmax", "ipc"),
    ("kernel.msgmax", "ipc"), ("kernel.sem", "ipc"), ("fs.mqueue.msg_max", "ipc"), ("kernel.hostname", "uts"),
    ("kernel.domainname", "uts"), ("kernel.pid_max", None), ("vm.swappiness", None), ("fs.file-max", None),
])
def test_sysctl_namespace_of_each_key(key: str, kind: str | None) -> None:
    assert sysctl.sysctl_namespace(key) == kind


def test_sysctl_paths_and_namespace_checks() -> None:
    has = {"network", "ipc"}.__contains__
    assert sysctl.sysctl_plan({"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"}, has, CFG) == [
        ("/proc/sys/net/ipv4/ip_forward", "1"), ("/proc/sys/kernel/shmmax", "1000")]
    with pytest.raises(ConfigError) as info:
        sysctl.sysctl_plan({"kernel.hostname": "x"}, has, CFG)
    assert 'linux.sysctl["kernel.hostname"]: needs a uts namespace' in str(info.value)
    with pytest.raises(ConfigError) as info:
        sysctl.sysctl_plan({"vm.swappiness": "1"}, has, CFG)
    assert 'linux.sysctl["vm.swappiness"]: not a namespaced sysctl' in str(info.value)


# --- personality ---


def test_personality_domains() -> None:
    assert personality.personality_plan(None, CFG) is None
    assert personality.personality_plan(Personality(domain="LINUX32"), CFG) == 0x0008
    assert personality.personality_plan(Personality(domain="LINUX"), CFG) == 0
    with pytest.raises(ConfigError, match="linux.personality.domain: unknown domain"):
        personality.personality_plan(Personality(domain="SVR4"), CFG)


# --- LSMs ---


def test_lsm_detection_reads_the_kernel_files(tmp_path) -> None:
    lsm = tmp_path / "lsm"
    lsm.write_text("lockdown,capability,apparmor\n")
    assert host_lsm.active_lsms(str(lsm)) == ["lockdown", "capability", "apparmor"]
    assert host_lsm.active_lsms(str(tmp_path / "missing")) == []
    enabled = tmp_path / "enabled"
    enabled.write_text("Y\n")
    assert host_lsm.apparmor_enabled(str(enabled))
    enabled.write_text("N\n")
    assert not host_lsm.apparmor_enabled(str(enabled))
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text("30 25 0:26 / /sys/fs/selinux rw,relatime shared:7 - selinuxfs selinuxfs rw\n")
    assert host_lsm.selinux_enabled(str(mountinfo))
    mountinfo.write_text("30 25 0:26 / /proc rw - proc proc rw\n")
    assert not host_lsm.selinux_enabled(str(mountinfo))


def test_lsm_label_errors(monkeypatch) -> None:
    from simcon.spec.model import Linux, Process

    process = Process(args=["sh"], cwd="/", apparmor_profile="docker-default")
    monkeypatch.setattr(host_lsm, "apparmor_enabled", lambda: False)
    with pytest.raises(ConfigError, match="process.apparmorProfile: AppArmor is not enabled on this host"):
        lsm_labels.check_lsm_labels(process, None, CFG)
    monkeypatch.setattr(host_lsm, "apparmor_enabled", lambda: True)
    monkeypatch.setattr(host_lsm, "loaded_apparmor_profiles", lambda: {"other"})
    with pytest.raises(ConfigError, match='process.apparmorProfile: AppArmor profile "docker-default" is not loaded'):
        lsm_labels.check_lsm_labels(process, None, CFG)
    monkeypatch.setattr(host_lsm, "loaded_apparmor_profiles", lambda: {"docker-default"})
    assert lsm_labels.check_lsm_labels(process, None, CFG) == "docker-default"
    assert lsm_labels.check_lsm_labels(Process(args=["sh"], cwd="/"), Linux(), CFG) is None  # nothing asked


def test_selinux_labels_are_skipped_with_a_warning_without_selinux(monkeypatch, capsys, warnings_on_stderr) -> None:
    from simcon.spec.model import Linux, Process

    selinux = Process(args=["sh"], cwd="/", selinux_label="system_u:system_r:container_t:s0")
    monkeypatch.setattr(host_lsm, "selinux_enabled", lambda: True)
    assert lsm_labels.selinux_labels(selinux, Linux(mount_label="x"), CFG) == ("system_u:system_r:container_t:s0", "x")
    monkeypatch.setattr(host_lsm, "selinux_enabled", lambda: False)
    assert lsm_labels.selinux_labels(selinux, Linux(mount_label="x"), CFG) == (None, None)
    warned = capsys.readouterr().err
    assert "process.selinuxLabel: SELinux is not enabled" in warned and "linux.mountLabel" in warned
    assert lsm_labels.selinux_labels(Process(args=["sh"], cwd="/"), Linux(), CFG) == (None, None)
    assert capsys.readouterr().err == ""  # nothing asked, nothing said


def test_loaded_apparmor_profiles(tmp_path) -> None:
    profiles = tmp_path / "profiles"
    profiles.write_text("docker-default (enforce)\nsimcon test (complain)\n")
    assert host_lsm.loaded_apparmor_profiles(str(profiles)) == {"docker-default", "simcon test"}
    assert host_lsm.loaded_apparmor_profiles(str(tmp_path / "missing")) == set()


# --- user namespace maps ---


def id_maps(uid=None, gid=None, user=None):  # noqa: ANN001, ANN201
    from simcon.spec.model import IdMapping, Linux, Process, User

    full = [IdMapping(container_id=0, host_id=100000, size=65536)]
    linux = Linux(uid_mappings=full if uid is None else uid, gid_mappings=full if gid is None else gid)
    process = Process(args=["sh"], cwd="/", user=user or User())
    return idmaps.id_mappings_plan(linux, process, CFG)


def test_id_maps_become_tuples() -> None:
    from simcon.spec.model import IdMapping

    uid, gid = id_maps(gid=[IdMapping(container_id=0, host_id=5000, size=1),
                            IdMapping(container_id=1, host_id=200000, size=100)])
    assert uid == [(0, 100000, 65536)]
    assert gid == [(0, 5000, 1), (1, 200000, 100)]


def test_unmappable_ids_name_the_json_path() -> None:
    from simcon.spec.model import IdMapping, User

    small = [IdMapping(container_id=0, host_id=100000, size=10)]
    with pytest.raises(ConfigError, match=r"process.user.uid: 1000 is not mapped by linux.uidMappings"):
        id_maps(uid=small, user=User(uid=1000))
    with pytest.raises(ConfigError, match=r"process.user.gid: 50 is not mapped"):
        id_maps(gid=small, user=User(gid=50))
    with pytest.raises(ConfigError, match=r"process.user.additionalGids\[1\]: 99 is not mapped"):
        id_maps(gid=small, user=User(additional_gids=[1, 99]))


@pytest.mark.parametrize(("maps", "needle"), [
    ([(1, 100000, 10)], "linux.uidMappings: must map container id 0"),
    ([(0, 100000, 10), (5, 300000, 10)], "linux.uidMappings[1]: containerID range overlaps linux.uidMappings[0]"),
    ([(0, 100000, 10), (10, 100005, 10)], "linux.uidMappings[1]: hostID range overlaps linux.uidMappings[0]"),
    ([(0, 100000, 0)], "linux.uidMappings[0].size: must be greater than zero"),
])
def test_bad_maps(maps, needle: str) -> None:
    from simcon.spec.model import IdMapping

    with pytest.raises(ConfigError) as info:
        id_maps(uid=[IdMapping(container_id=c, host_id=h, size=s) for c, h, s in maps])
    assert needle in str(info.value)
