"""Commands that start no container: spec, features, --version."""

from __future__ import annotations

import json
import os
import re


def test_spec_writes_config_in_bundle_dir(rt) -> None:
    bundle_dir = rt.mkdir("spec-bundle")
    proc = rt.run("spec", "--bundle", bundle_dir)
    assert proc.returncode == 0, rt.describe(proc)
    config = json.loads((bundle_dir / "config.json").read_text())
    assert config["ociVersion"]
    assert config["root"]["path"] == "rootfs"
    assert config["process"]["args"] == ["sh"]
    kinds = {ns["type"] for ns in config["linux"]["namespaces"]}
    assert {"pid", "ipc", "uts", "mount", "network"} <= kinds
    assert "user" not in kinds


def test_spec_writes_config_in_cwd_by_default(rt) -> None:
    work = rt.mkdir("spec-cwd")
    proc = rt.run("spec", cwd=work)
    assert proc.returncode == 0, rt.describe(proc)
    assert json.loads((work / "config.json").read_text())["ociVersion"]


def test_spec_refuses_to_overwrite(rt) -> None:
    bundle_dir = rt.mkdir("spec-existing")
    (bundle_dir / "config.json").write_text("{}\n")
    proc = rt.run("spec", "--bundle", bundle_dir)
    assert proc.returncode != 0, rt.describe(proc)
    assert "config.json" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (bundle_dir / "config.json").read_text() == "{}\n"


def test_spec_rootless(rt) -> None:
    bundle_dir = rt.mkdir("spec-rootless")
    proc = rt.run("spec", "--rootless", "--bundle", bundle_dir)
    assert proc.returncode == 0, rt.describe(proc)
    config = json.loads((bundle_dir / "config.json").read_text())
    kinds = {ns["type"] for ns in config["linux"]["namespaces"]}
    assert "user" in kinds
    assert "network" not in kinds
    assert config["linux"]["uidMappings"] and config["linux"]["gidMappings"]
    assert config["linux"]["uidMappings"][0]["containerID"] == 0
    assert config["linux"]["uidMappings"][0]["hostID"] == os.geteuid()


def test_spec_output_is_a_runnable_config(rt) -> None:
    """The generated spec, with a non-terminal process, runs the busybox bundle."""
    bundle = rt.bundle(["true"], write=False)
    rt.ok("spec", "--bundle", bundle.path)
    config = json.loads(bundle.config_path.read_text())
    config["process"]["terminal"] = False
    config["process"]["args"] = ["echo", "from spec"]
    config["linux"]["cgroupsPath"] = rt.cgroup_path(bundle.cid)
    bundle.config = config
    bundle.write()
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "from spec\n"


def test_features(rt) -> None:
    proc = rt.run("features")
    assert proc.returncode == 0, rt.describe(proc)
    features = json.loads(proc.stdout)
    assert re.fullmatch(r"1\.\d+\.\d+(-.*)?", features["ociVersionMin"])
    assert re.fullmatch(r"1\.\d+\.\d+(-.*)?", features["ociVersionMax"])
    assert set(features["hooks"]) >= {"prestart", "createRuntime", "createContainer", "startContainer",
                                      "poststart", "poststop"}


def test_version(rt) -> None:
    proc = rt.run("--version", root=False)
    assert proc.returncode == 0, rt.describe(proc)
    lines = proc.stdout.splitlines()
    assert re.match(r"\S+ version \S", lines[0]), lines
    assert any(line.startswith("spec: 1.") for line in lines), lines
    if rt.is_simcon:
        assert lines[0].startswith("simcon version "), lines
        assert any(line.startswith("spec: 1.2") for line in lines), lines


def test_unknown_command_fails_cleanly(rt) -> None:
    proc = rt.run("no-such-command")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
