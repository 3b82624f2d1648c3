"""User namespaces: the maps the parent writes, ids and file ownership seen from inside and from the host.

The container's stdio here are regular files, never a host device node: a container whose users are remapped
must not be handed the host's /dev/null (the harness's `run` would pass it as stdin).
"""

from __future__ import annotations

import os
import subprocess
import tempfile

import pytest

BASE = 100000
SIZE = 65536


def userns_bundle(rt, args: list[str], uid_maps=None, gid_maps=None, edit=None):  # noqa: ANN001, ANN201
    bundle = rt.bundle(args, write=False)
    config = bundle.config
    config["linux"]["namespaces"].append({"type": "user"})
    config["linux"]["uidMappings"] = [{"containerID": c, "hostID": h, "size": s}
                                      for c, h, s in (uid_maps or [(0, BASE, SIZE)])]
    config["linux"]["gidMappings"] = [{"containerID": c, "hostID": h, "size": s}
                                      for c, h, s in (gid_maps or [(0, BASE, SIZE)])]
    if edit is not None:
        edit(bundle)
    bundle.write()
    # The mapped root must be able to reach the rootfs (mkdtemp made the test's dir 0700), which belongs to
    # the container's root, as an image unpacked for this mapping would.
    os.chmod(rt.tmp, 0o711)
    subprocess.run(["chown", "-R", f"{BASE}:{BASE}", str(bundle.rootfs)], check=True)
    os.chmod(bundle.rootfs / "tmp", 0o1777)
    return bundle


def run_plain_stdio(rt, *args: str) -> subprocess.CompletedProcess:
    """The runtime with stdin, stdout and stderr on regular files."""
    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.run(rt.argv(*args), stdin=stdin, stdout=out, stderr=err, timeout=60)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.read().decode(errors="replace"),
                                           err.read().decode(errors="replace"))


def run_ok(rt, bundle) -> str:  # noqa: ANN001
    proc = run_plain_stdio(rt, "run", "--bundle", str(bundle.path), bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    return proc.stdout


@pytest.fixture
def host_devnull():  # noqa: ANN201
    before = os.stat("/dev/null")
    yield
    after = os.stat("/dev/null")
    assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid, before.st_mode)


def test_maps_ids_and_file_ownership(rt, host_devnull) -> None:
    bundle = userns_bundle(rt, ["sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; "
                                            "ls -ln /bin/busybox; touch /tmp/made-inside; ls -ln /tmp/host-root"])
    (bundle.rootfs / "tmp" / "host-root").write_text("x")
    os.chown(bundle.rootfs / "tmp" / "host-root", 0, 0)
    lines = run_ok(rt, bundle).splitlines()
    assert lines[0].split() == ["0", str(BASE), str(SIZE)]
    assert lines[1].split() == ["0", str(BASE), str(SIZE)]
    assert lines[2:4] == ["0", "0"]
    assert lines[4].split()[2:4] == ["0", "0"]  # the image's files belong to root inside
    made = os.stat(bundle.rootfs / "tmp" / "made-inside")
    assert (made.st_uid, made.st_gid) == (BASE, BASE)
    assert lines[5].split()[2:4] == ["65534", "65534"]  # host root is outside the map: the overflow id


def test_non_root_user_and_multi_range_maps(rt, host_devnull) -> None:
    maps = [(0, BASE, 1000), (1000, 300000, 1000)]

    def edit(bundle) -> None:
        bundle.config["process"]["user"] = {"uid": 1500, "gid": 1500, "additionalGids": [10]}

    bundle = userns_bundle(rt, ["sh", "-c", "cat /proc/self/uid_map; id -u; id -G; touch /tmp/f"],
                           uid_maps=maps, gid_maps=maps, edit=edit)
    lines = run_ok(rt, bundle).splitlines()
    assert [line.split() for line in lines[:2]] == [["0", str(BASE), "1000"], ["1000", "300000", "1000"]]
    assert lines[2] == "1500"
    assert set(lines[3].split()) == {"1500", "10"}
    made = os.stat(bundle.rootfs / "tmp" / "f")
    assert (made.st_uid, made.st_gid) == (300500, 300500)


def test_devices_work_without_mknod(rt, host_devnull) -> None:
    bundle = userns_bundle(rt, ["sh", "-c", "echo x > /dev/null && echo null-ok; head -c 4 /dev/urandom | wc -c; "
                                            "test -c /dev/zero && echo zero-is-char"])
    out = run_ok(rt, bundle)
    assert "null-ok" in out and "zero-is-char" in out
    assert "4" in out.split()


def test_capabilities_are_the_namespace_s_own(rt, host_devnull) -> None:
    admin = ["CAP_SYS_ADMIN"]

    def edit(bundle) -> None:
        bundle.config["process"]["capabilities"] = {"bounding": admin, "effective": admin, "permitted": admin}

    bundle = userns_bundle(rt, ["sh", "-c", "hostname renamed && hostname; mount -t tmpfs t /tmp && echo mount-ok; "
                                            "grep ^CapEff /proc/self/status"], edit=edit)
    out = run_ok(rt, bundle)
    assert "renamed" in out and "mount-ok" in out
    assert int(out.split("CapEff:")[1].split()[0], 16) == 1 << 21


def test_exec_joins_the_user_namespace(rt, host_devnull) -> None:
    bundle = userns_bundle(rt, ["sleep", "3600"])
    proc = run_plain_stdio(rt, "run", "-d", "--bundle", str(bundle.path), bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    proc = run_plain_stdio(rt, "exec", bundle.cid, "sh", "-c", "cat /proc/self/uid_map; id -u")
    assert proc.returncode == 0, rt.describe(proc)
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["0", str(BASE), str(SIZE)] and lines[1] == "0"


@pytest.mark.simcon_only("SimCon's message and JSON path")
def test_unmappable_uid_is_a_clear_error_and_leaves_nothing(rt) -> None:
    def edit(bundle) -> None:
        bundle.config["process"]["user"] = {"uid": 70000, "gid": 0}

    bundle = userns_bundle(rt, ["true"], edit=edit)
    proc = run_plain_stdio(rt, "run", "--bundle", str(bundle.path), bundle.cid)
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "process.user.uid: 70000 is not mapped by linux.uidMappings" in lines[0], proc.stderr
    assert rt.root_entries() == []
