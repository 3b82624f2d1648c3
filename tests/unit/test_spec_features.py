"""simcon.spec.features: the features.md document, truthful about what SimCon lacks."""

from __future__ import annotations

import json

import simcon
from simcon.spec import features_document
from simcon.spec.constants import MOUNT_OPTIONS, RECURSIVE_MOUNT_OPTIONS


def test_features_document_shape():
    doc = features_document()
    assert doc["ociVersionMin"] == "1.0.0" and doc["ociVersionMax"] == "1.2.0"
    assert doc["hooks"] == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                            "poststop"]
    assert set(doc["linux"]["namespaces"]) == {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"}
    assert "CAP_SYS_ADMIN" in doc["linux"]["capabilities"] and len(doc["linux"]["capabilities"]) == 41
    # Device rules are enforced on v2 too (the eBPF filter): nothing to caveat any more.
    assert doc["annotations"] == {"io.github.simcon.version": simcon.__version__}
    json.dumps(doc)  # plain JSON data


def test_unsupported_things_are_false():
    linux = features_document()["linux"]
    assert linux["cgroup"] == {"v1": True, "v2": True, "systemd": True, "systemdUser": True, "rdma": True}
    for feature in ("selinux", "intelRdt"):
        assert linux[feature] == {"enabled": False}
    assert linux["apparmor"] == {"enabled": True}
    assert linux["mountExtensions"] == {"idmap": {"enabled": False}}


def test_mount_options_are_flags_and_propagation_only():
    options = features_document()["mountOptions"]
    assert options == sorted(MOUNT_OPTIONS)
    for name in ("ro", "rw", "nosuid", "nodev", "noexec", "bind", "rbind", "rprivate", "rslave", "strictatime"):
        assert name in options
    assert not any("=" in o for o in options)


def test_recursive_tmpcopyup_and_idmap_options_are_listed():
    options = set(features_document()["mountOptions"])
    assert set(RECURSIVE_MOUNT_OPTIONS) <= options
    assert {"rro", "rnosuid", "rnosymfollow", "tmpcopyup", "idmap", "ridmap"} <= options


def test_seccomp_is_enabled_with_every_action():
    seccomp = features_document()["linux"]["seccomp"]
    assert seccomp["enabled"] is True
    assert {"SCMP_ACT_ERRNO", "SCMP_ACT_NOTIFY", "SCMP_ACT_KILL_PROCESS"} <= set(seccomp["actions"])
    assert "SCMP_CMP_MASKED_EQ" in seccomp["operators"] and len(seccomp["operators"]) == 7
    assert "SCMP_ARCH_X86_64" in seccomp["archs"]
    assert "SECCOMP_FILTER_FLAG_LOG" in seccomp["supportedFlags"]
