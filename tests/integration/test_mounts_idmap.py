"""Idmapped mounts: `uidMappings`/`gidMappings` on a mount, with the `idmap` (top mount) or `ridmap` (every mount
of an rbind) option, made with open_tree + mount_setattr(MOUNT_ATTR_IDMAP) + move_mount.

The source lives on the bundle's filesystem and holds files owned by 0 and 1000; a tmpfs mounted below it tells
`idmap` from `ridmap`. Inside, `stat` shows the mapped owners, while the files on the host keep theirs.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

MAPPING = {"uidMappings": [{"containerID": 0, "hostID": 5000, "size": 2000}],
           "gidMappings": [{"containerID": 0, "hostID": 7000, "size": 2000}]}


@pytest.fixture
def owned_tree(rt) -> Path:  # noqa: ANN001
    src = rt.mkdir("idmap-src")
    (src / "root-file").write_text("r\n")
    (src / "user-file").write_text("u\n")
    os.chown(src / "user-file", 1000, 1000)
    (src / "sub").mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "simcon-test-idmap", str(src / "sub")], check=True)
    (src / "sub" / "deep").write_text("d\n")
    return src


def _idmapped(source: Path, options: list[str]):  # noqa: ANN202
    def edit(bundle) -> None:  # noqa: ANN001
        bundle.config["mounts"].append({"destination": "/data", "type": "bind", "source": str(source),
                                        "options": options, **MAPPING})
    return edit


STAT = "stat -c '%n %u %g' /data/root-file /data/user-file /data/sub/deep"


@pytest.mark.simcon_only("idmapped mounts without a user namespace: runc 1.1 refuses them")
def test_idmap_maps_the_top_mount(rt, owned_tree: Path) -> None:
    proc = rt.run_container(["sh", "-c", STAT], edit=_idmapped(owned_tree, ["rbind", "idmap"]))
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["/data/root-file 5000 7000", "/data/user-file 6000 8000",
                                        "/data/sub/deep 0 0"]
    st = os.stat(owned_tree / "user-file")
    assert (st.st_uid, st.st_gid) == (1000, 1000), "the mapping changed the files on disk"


@pytest.mark.simcon_only("idmapped mounts without a user namespace: runc 1.1 refuses them")
def test_ridmap_maps_every_submount(rt, owned_tree: Path) -> None:
    proc = rt.run_container(["sh", "-c", STAT], edit=_idmapped(owned_tree, ["rbind", "ridmap"]))
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["/data/root-file 5000 7000", "/data/user-file 6000 8000",
                                        "/data/sub/deep 5000 7000"]


@pytest.mark.simcon_only("idmapped mounts without a user namespace: runc 1.1 refuses them")
def test_mappings_without_option_still_map(rt, owned_tree: Path) -> None:
    """runtime-spec: a mount with mappings is idmapped; never silently bound without them."""
    proc = rt.run_container(["stat", "-c", "%u", "/data/root-file"], edit=_idmapped(owned_tree, ["rbind"]))
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "5000\n"


@pytest.mark.simcon_only("idmapped mounts without a user namespace: runc 1.1 refuses them")
def test_idmapped_mount_is_an_idmapped_mount_in_mountinfo(rt, owned_tree: Path) -> None:
    script = "awk '$5 == \"/data\" {print $6}' /proc/self/mountinfo | tr , '\\n' | grep -x idmapped"
    proc = rt.run_container(["sh", "-c", script], edit=_idmapped(owned_tree, ["rbind", "idmap", "ro"]))
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "idmapped\n"


@pytest.mark.simcon_only("checks SimCon's message")
def test_idmap_without_mappings_is_refused_by_name(rt, owned_tree: Path) -> None:
    def edit(bundle) -> None:  # noqa: ANN001
        bundle.config["mounts"].append({"destination": "/data", "type": "bind", "source": str(owned_tree),
                                        "options": ["rbind", "idmap"]})

    proc = rt.run_container(["true"], edit=edit)
    assert proc.returncode != 0
    assert "mounts[6].uidMappings" in proc.stderr and "/data" in proc.stderr
    assert rt.root_entries() == []


@pytest.mark.simcon_only("checks SimCon's features document")
def test_features_says_idmap_is_enabled(rt) -> None:
    """This kernel (>= 5.12) has mount_setattr, and the tests above show the mounts work."""
    doc = json.loads(rt.ok("features", root=False).stdout)
    assert doc["linux"]["mountExtensions"] == {"idmap": {"enabled": True}}


# --- with a container user namespace -----------------------------------------------------------------------------

BASE = 100000
SIZE = 65536


def _run_plain_stdio(rt, *args: str) -> subprocess.CompletedProcess:  # noqa: ANN001
    """Stdio on regular files: a container whose users are remapped is never handed the host's /dev/null."""
    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.run(rt.argv(*args), stdin=stdin, stdout=out, stderr=err, timeout=60)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))


def _userns_bundle(rt, args: list[str], mount: dict):  # noqa: ANN001, ANN202
    bundle = rt.bundle(args, write=False)
    config = bundle.config
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": BASE, "size": SIZE}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": BASE, "size": SIZE}]
    config["mounts"].append(mount)
    bundle.write()
    os.chmod(rt.tmp, 0o711)  # the mapped root must reach its rootfs (mkdtemp made the dir 0700)
    subprocess.run(["chown", "-R", f"{BASE}:{BASE}", str(bundle.rootfs)], check=True)
    return bundle


@pytest.mark.simcon_only("idmapped mounts made by the parent for a user-namespaced container")
@pytest.mark.parametrize("options, expected", [
    (["rbind"], f"{65534} {65534}"),  # host root's files are nobody's inside: the reason idmap exists
    (["rbind", "idmap"], "0 0"),      # mapped with the container's own mappings: root's files are root's
])
def test_idmap_with_the_containers_user_namespace(rt, owned_tree: Path, options: list[str], expected: str) -> None:
    os.chmod(owned_tree, 0o755)
    mount = {"destination": "/data", "type": "bind", "source": str(owned_tree), "options": options}
    bundle = _userns_bundle(rt, ["stat", "-c", "%u %g", "/data/root-file"], mount)
    proc = _run_plain_stdio(rt, "run", "--bundle", str(bundle.path), bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == expected + "\n"


@pytest.mark.simcon_only("idmapped mounts made by the parent for a user-namespaced container")
def test_explicit_mappings_in_a_user_namespace(rt, owned_tree: Path) -> None:
    """The mount's own mappings map disk ids to host ids; the container's userns then maps those: disk 1000 ->
    host BASE+7 -> container 7."""
    os.chmod(owned_tree, 0o755)
    mount = {"destination": "/data", "type": "bind", "source": str(owned_tree), "options": ["rbind", "idmap"],
             "uidMappings": [{"containerID": 1000, "hostID": BASE + 7, "size": 1}],
             "gidMappings": [{"containerID": 1000, "hostID": BASE + 9, "size": 1}]}
    bundle = _userns_bundle(rt, ["stat", "-c", "%u %g", "/data/user-file"], mount)
    proc = _run_plain_stdio(rt, "run", "--bundle", str(bundle.path), bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "7 9\n"


@pytest.mark.simcon_only("checks SimCon's message")
def test_filesystem_without_idmap_support_fails_by_name(rt) -> None:
    """ramfs cannot be idmapped: create fails before fork with one line naming the mount; nothing is left."""
    src = rt.mkdir("ramfs-src")
    subprocess.run(["mount", "-t", "ramfs", "simcon-test-ramfs", str(src)], check=True)
    before = [line for line in rt.read_mountinfo() if str(rt.tmp) in line]
    proc = rt.run_container(["true"], edit=_idmapped(src, ["rbind", "idmap"]))
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "mount mounts[6] `/data`" in proc.stderr
    assert rt.root_entries() == []
    assert [line for line in rt.read_mountinfo() if str(rt.tmp) in line] == before
