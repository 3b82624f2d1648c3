"""A rootfs built to make the runtime mount over the host (the class of runc CVE-2021-30465).

Its /proc, /dev or /sys is a symlink to `/`, to `..` chains or to an absolute host path, or a mount destination
climbs out with `../../..`. The runtime must resolve every one of them inside the rootfs: the container either
gets the mount inside its own rootfs or fails with one clear line, and on the host nothing changes: the mount
table (at the places a mount could land) and the marker paths the symlinks name are the same before and after.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

WATCHED = ("/", "/proc", "/dev", "/sys", "/tmp", "/run", "/etc", "/etc/hosts", "/etc/hostname")


def _mount_points(rt, extra: tuple[str, ...]) -> list[str]:
    """The host's mountinfo lines whose mount point is one a hostile mount could land on."""
    watched = set(WATCHED) | set(extra)
    lines = []
    for line in rt.read_mountinfo():
        point = line.split(" ")[4]
        if point in watched or point.startswith(("/proc/", "/dev/", "/sys/")) and "/simcon" not in point:
            lines.append(" ".join(line.split(" ")[:5]))
    return sorted(lines)


def _snapshot(paths: list[str]) -> dict[str, tuple | None]:
    result: dict[str, tuple | None] = {}
    for path in paths:
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            result[path] = None
            continue
        content = sorted(os.listdir(path)) if os.path.isdir(path) and not os.path.islink(path) else None
        result[path] = (st.st_ino, st.st_mode, st.st_size, st.st_mtime_ns, str(content))
    return result


class HostWatch:
    """Before/after picture of the host around one hostile container."""

    def __init__(self, rt, markers: list[str]) -> None:
        self.rt = rt
        self.markers = markers  # mount points to watch; the ones that are not shared directories are snapshot too
        self.mounts = _mount_points(rt, tuple(markers))
        self.files = _snapshot([p for p in markers if p not in WATCHED and p != "/proc/self"])

    def assert_untouched(self) -> None:
        assert _mount_points(self.rt, tuple(self.markers)) == self.mounts, "the host's mount table changed"
        assert _snapshot(list(self.files)) == self.files, "a host path named by a rootfs symlink changed"


def _run(rt, bundle):  # noqa: ANN001, ANN202
    bundle.write()
    return rt.run("run", "--bundle", bundle.path, bundle.cid)


def _clear_error(proc) -> None:  # noqa: ANN001
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr


def _replace_with_symlink(path: Path, target: str) -> None:
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(target)


@pytest.mark.parametrize("target", ["/", "..", "../../../../../../..", "/../.."])
def test_proc_symlinked_to_slash(rt, target: str) -> None:
    bundle = rt.bundle(["sh", "-c", "echo ran"], write=False)
    _replace_with_symlink(bundle.rootfs / "proc", target)
    watch = HostWatch(rt, ["/proc", "/proc/self"])
    proc = _run(rt, bundle)
    watch.assert_untouched()
    # Inside the rootfs the link names the rootfs's own root: covering it with proc is refused, by name.
    _clear_error(proc)
    if rt.is_simcon:
        assert "mounts[0] `/proc`" in proc.stderr and "root of the rootfs" in proc.stderr
    assert (bundle.rootfs / "bin" / "busybox").exists()


@pytest.mark.simcon_only("runc refuses a symlinked /dev outright; SimCon mounts it inside the rootfs")
def test_dev_symlinked_to_an_absolute_host_path(rt) -> None:
    marker = f"/tmp/simcon-hostile-{secrets.token_hex(4)}"
    bundle = rt.bundle(["sh", "-c", "ls /dev/ | grep -x null; stat -c %F /dev/null; "
                                    f"awk '$2 == \"{marker}\" {{print $3}}' /proc/mounts"], write=False)
    _replace_with_symlink(bundle.rootfs / "dev", marker)
    watch = HostWatch(rt, [marker, "/tmp"])
    proc = _run(rt, bundle)
    watch.assert_untouched()
    assert not os.path.lexists(marker), "the runtime created the symlink's target on the host"
    # The container gets its /dev, inside its rootfs, where the symlink points when read from inside.
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["null", "character special file", "tmpfs"]
    assert (bundle.rootfs / marker.lstrip("/")).is_dir()


@pytest.mark.simcon_only("runc refuses sysfs on anything but an ordinary directory; SimCon follows the link inside the rootfs")
def test_sys_symlinked_up_and_out(rt) -> None:
    bundle = rt.bundle(["sh", "-c", "test -d /sys/kernel && echo sysfs-inside"], write=False)
    _replace_with_symlink(bundle.rootfs / "sys", "../../../../../../../../sysfs-here")
    watch = HostWatch(rt, ["/sys", "/sysfs-here"])
    proc = _run(rt, bundle)
    watch.assert_untouched()
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "sysfs-inside\n"
    assert (bundle.rootfs / "sysfs-here").is_dir()


@pytest.mark.simcon_only("checks SimCon's message")
def test_sys_symlinked_to_itself_is_a_clear_error(rt) -> None:
    """`..` chains collapse at the rootfs's top, so this link names itself: a loop, reported as such."""
    bundle = rt.bundle(["true"], write=False)
    _replace_with_symlink(bundle.rootfs / "sys", "../../../../../../../../sys")
    watch = HostWatch(rt, ["/sys"])
    proc = _run(rt, bundle)
    watch.assert_untouched()
    _clear_error(proc)
    assert "mounts[5] `/sys`: " in proc.stderr and "symbolic links" in proc.stderr


@pytest.mark.parametrize("destination", ["/../../../../tmp/{name}", "/escape/tmp/{name}", "/abs/tmp/{name}"])
def test_bind_destination_climbing_out(rt, destination: str) -> None:
    name = f"simcon-hostile-{secrets.token_hex(4)}"
    marker = f"/tmp/{name}"
    source = rt.mkdir("bind-source")
    (source / "payload").write_text("bound\n")
    bundle = rt.bundle(["cat", f"/tmp/{name}/payload"], write=False)
    (bundle.rootfs / "escape").symlink_to("../../../../../../../../..")
    (bundle.rootfs / "abs").symlink_to("/")
    bundle.add_mount(destination.format(name=name), source)
    watch = HostWatch(rt, [marker, "/tmp"])
    proc = _run(rt, bundle)
    watch.assert_untouched()
    assert not os.path.lexists(marker)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "bound\n"


def test_file_destination_symlinked_to_a_host_file(rt) -> None:
    """/etc/hosts -> /etc/hostname: a bind of a file onto it must land on the rootfs's /etc/hostname."""
    source = rt.mkdir("files") / "hosts"
    source.write_text("10.0.0.1 bound\n")
    bundle = rt.bundle(["cat", "/etc/hostname"], write=False)
    _replace_with_symlink(bundle.rootfs / "etc" / "hosts", "/etc/hostname")
    bundle.add_mount("/etc/hosts", source, ["ro"])
    watch = HostWatch(rt, ["/etc/hostname", "/etc/hosts", "/etc"])
    host_hostname = Path("/etc/hostname").read_bytes() if os.path.exists("/etc/hostname") else None
    proc = _run(rt, bundle)
    watch.assert_untouched()
    if host_hostname is not None:
        assert Path("/etc/hostname").read_bytes() == host_hostname
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "10.0.0.1 bound\n"


def test_tmpfs_destination_symlinked_to_slash(rt) -> None:
    """A tmpfs whose destination is a symlink to `/` covers the rootfs itself, never the host's `/`."""
    bundle = rt.bundle(["true"], write=False)
    (bundle.rootfs / "scratch").symlink_to("/")
    bundle.add_mount("/scratch", "tmpfs", ["size=1m"], type_="tmpfs")
    watch = HostWatch(rt, ["/"])
    proc = _run(rt, bundle)
    watch.assert_untouched()
    _clear_error(proc)
    if rt.is_simcon:
        assert "mounts[6] `/scratch`" in proc.stderr and "root of the rootfs" in proc.stderr


def test_working_directory_through_escaping_symlink(rt) -> None:
    name = f"simcon-hostile-{secrets.token_hex(4)}"
    bundle = rt.bundle(["pwd"], write=False)
    (bundle.rootfs / "escape").symlink_to("../../../../../../..")
    bundle.config["process"]["cwd"] = f"/escape/tmp/{name}"
    watch = HostWatch(rt, [f"/tmp/{name}"])
    proc = _run(rt, bundle)
    watch.assert_untouched()
    assert proc.returncode == 0, rt.describe(proc)
    assert (bundle.rootfs / "tmp" / name).is_dir()


def test_device_path_through_escaping_symlink(rt) -> None:
    name = f"simcon-hostile-{secrets.token_hex(4)}"
    bundle = rt.bundle(["ls", f"/dev/up/tmp/{name}/mynull"], write=False)
    bundle.config["linux"]["devices"] = [
        {"path": f"/dev/up/tmp/{name}/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666}]
    # The symlink must exist inside the tmpfs /dev: make the tmpfs copy it up from the rootfs.
    (bundle.rootfs / "dev" / "up").symlink_to("../../../../../..")
    for mount in bundle.config["mounts"]:
        if mount["destination"] == "/dev":
            mount["options"].append("tmpcopyup")
    watch = HostWatch(rt, [f"/tmp/{name}"])
    proc = _run(rt, bundle)
    watch.assert_untouched()
    assert not os.path.lexists(f"/tmp/{name}")
    assert proc.returncode == 0, rt.describe(proc)


# --- a swap between resolving and mounting (the race of CVE-2021-30465), made deterministic -------------------


def _in_private_mount_namespace(action) -> dict:  # noqa: ANN001
    """Run ``action()`` in a forked child in a new, private mount namespace; its dict result comes back as JSON."""
    import json

    from simcon.linux import mount as m
    from simcon.linux import namespaces as ns

    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        result: dict
        try:
            ns.unshare(ns.CLONE_NEWNS)
            m.mount(None, "/", None, m.MS_PRIVATE | m.MS_REC)
            result = action()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            result = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write_end, json.dumps(result).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def _mount_points_here() -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split(" ")[4] for line in f]


def test_symlink_swapped_in_after_resolution_changes_nothing(tmp_path, monkeypatch) -> None:
    """The destination is replaced by a symlink to a host directory right after the runtime resolved it: the
    mount must still land on what was resolved (or fail), never on the symlink's target."""
    from simcon.init import rootfs as fs
    from simcon.runtime.plan import MountPlan

    rootfs = tmp_path / "rootfs"
    (rootfs / "data").mkdir(parents=True)
    outside = tmp_path / "host-dir"
    outside.mkdir()
    real_mountpoint = fs.mountpoint_in_root

    def resolve_then_swap(root_fd: int, destination: str, *, is_file: bool) -> int:
        fd = real_mountpoint(root_fd, destination, is_file=is_file)
        os.rename(rootfs / "data", rootfs / "data-resolved")
        os.symlink(str(outside), rootfs / "data")
        return fd

    def action() -> dict:
        monkeypatch.setattr(fs, "mountpoint_in_root", resolve_then_swap)
        root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY)
        plan = MountPlan(0, "tmpfs", "/data", "tmpfs", 0, [], "size=1m")
        error = None
        try:
            fs.mount_one(root_fd, plan, [], False)
        except OSError as exc:
            error = exc.strerror
        return {"points": _mount_points_here(), "error": error}

    result = _in_private_mount_namespace(action)
    assert "points" in result, result
    assert str(outside) not in result["points"], "the mount followed the swapped-in symlink out of the rootfs"
    assert str(rootfs / "data-resolved") in result["points"]
    assert str(outside) not in _mount_points_here()
