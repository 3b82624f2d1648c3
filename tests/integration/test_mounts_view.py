"""The container's filesystem view as a whole: masked and read-only paths, devices, /dev/console, /dev/shm and
/dev/mqueue, a read-only root that keeps the mounts' own flags, and — with pivot_root and with --no-pivot — a mount
table that holds exactly the rootfs and the config's mounts, nothing of the host's.
"""

from __future__ import annotations

import array
import os
import select
import socket
import time
import pytest


def parse_mountinfo(text: str) -> dict[str, dict]:
    """mount point -> {options, optional, fstype, super, root}; the last (topmost) mount wins."""
    result: dict[str, dict] = {}
    for line in text.splitlines():
        before, _, after = line.partition(" - ")
        fields = before.split(" ")
        fstype, _source, super_opts = (after.split(" ") + ["", "", ""])[:3]
        result[fields[4]] = {"options": set(fields[5].split(",")), "optional": fields[6:], "fstype": fstype,
                             "super": set(super_opts.split(",")), "root": fields[3]}
    return result


def test_missing_masked_and_readonly_paths_are_skipped_silently(rt) -> None:
    def edit(bundle) -> None:  # noqa: ANN001
        bundle.config["linux"]["maskedPaths"] += ["/proc/simcon-nope", "/no/such/dir", "/etc/missing-file"]
        bundle.config["linux"]["readonlyPaths"] += ["/proc/simcon-nope", "/nowhere/at/all"]

    proc = rt.run_container(["sh", "-c", "echo ran; ls /no /nowhere 2>&1 | grep -c 'No such'"], edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.split() == ["ran", "2"]
    assert proc.stderr == ""


def test_masked_file_is_null_and_masked_dir_is_empty_read_only(rt) -> None:
    def edit(bundle) -> None:  # noqa: ANN001
        (bundle.rootfs / "secret-dir").mkdir()
        (bundle.rootfs / "secret-dir" / "key").write_text("k\n")
        (bundle.rootfs / "secret-file").write_text("s\n")
        bundle.config["linux"]["maskedPaths"] += ["/secret-dir", "/secret-file"]

    script = ("cat /secret-file | wc -c; ls -A /secret-dir | wc -l; touch /secret-dir/x 2>/dev/null && echo rw "
              "|| echo ro; stat -c %t:%T /secret-file")
    proc = rt.run_container(["sh", "-c", script], edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.split() == ["0", "0", "ro", "1:3"]


def test_readonly_path_is_read_only_and_rest_writable(rt) -> None:
    def edit(bundle) -> None:  # noqa: ANN001
        (bundle.rootfs / "locked").mkdir()
        bundle.config["linux"]["readonlyPaths"] += ["/locked"]

    proc = rt.run_container(["sh", "-c", "touch /locked/x 2>/dev/null && echo rw || echo ro; touch /free && echo ok"],
                            edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.split() == ["ro", "ok"]


def test_devices_with_type_numbers_mode_and_owner(rt) -> None:
    def edit(bundle) -> None:  # noqa: ANN001
        bundle.config["linux"]["devices"] = [
            {"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 1000, "gid": 44},
            {"path": "/dev/sub/dir/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 0o600},
            {"path": "/dev/myblock", "type": "b", "major": 7, "minor": 200, "fileMode": 0o660, "gid": 6},
            {"path": "/dev/myfifo", "type": "p", "fileMode": 0o622},
        ]

    script = "stat -c '%n %F %t:%T %a %u:%g' /dev/mynull /dev/sub/dir/zero /dev/myblock /dev/myfifo"
    proc = rt.run_container(["sh", "-c", script], edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == [
        "/dev/mynull character special file 1:3 640 1000:44",
        "/dev/sub/dir/zero character special file 1:5 600 0:0",
        "/dev/myblock block special file 7:c8 660 0:6",
        "/dev/myfifo fifo 0:0 622 0:0",
    ]


def test_default_devices_and_links(rt) -> None:
    script = ("for d in null zero full random urandom tty; do stat -c '%n %t:%T %a' /dev/$d; done;"
              "for l in fd stdin stdout stderr ptmx; do echo $l $(readlink /dev/$l); done")
    proc = rt.run_container(["sh", "-c", script])
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == [
        "/dev/null 1:3 666", "/dev/zero 1:5 666", "/dev/full 1:7 666", "/dev/random 1:8 666",
        "/dev/urandom 1:9 666", "/dev/tty 5:0 666",
        "fd /proc/self/fd", "stdin /proc/self/fd/0", "stdout /proc/self/fd/1", "stderr /proc/self/fd/2",
        "ptmx pts/ptmx",
    ]


def test_dev_shm_and_mqueue_as_runc_sets_them(rt) -> None:
    script = "cat /proc/self/mountinfo; echo ---; stat -c %a /dev/shm; touch /dev/shm/x && echo shm-writable"
    proc = rt.run_container(["sh", "-c", script])
    assert proc.returncode == 0, rt.describe(proc)
    info, _, rest = proc.stdout.partition("---\n")
    mounts = parse_mountinfo(info)
    shm, mqueue = mounts["/dev/shm"], mounts["/dev/mqueue"]
    assert shm["fstype"] == "tmpfs" and {"nosuid", "nodev", "noexec"} <= shm["options"]
    assert "size=65536k" in shm["super"]
    assert mqueue["fstype"] == "mqueue" and {"nosuid", "nodev", "noexec"} <= mqueue["options"]
    assert rest.split() == ["1777", "shm-writable"]


def test_readonly_root_keeps_the_mounts_own_flags(rt) -> None:
    def edit(bundle) -> None:  # noqa: ANN001
        bundle.config["root"]["readonly"] = True
        bundle.add_mount("/scratch", "tmpfs", ["nosuid", "noexec", "mode=1777"], type_="tmpfs")

    script = ("cat /proc/self/mountinfo; echo ---; touch /scratch/x && echo scratch-rw;"
              "touch /x 2>/dev/null || echo root-ro")
    proc = rt.run_container(["sh", "-c", script], edit=edit)
    assert proc.returncode == 0, rt.describe(proc)
    info, _, rest = proc.stdout.partition("---\n")
    mounts = parse_mountinfo(info)
    assert "ro" in mounts["/"]["options"]
    assert {"rw", "nosuid", "noexec"} <= mounts["/scratch"]["options"]
    assert {"rw", "nosuid", "noexec", "nodev"} <= mounts["/dev/shm"]["options"]
    assert {"ro", "nosuid", "noexec", "nodev"} <= mounts["/sys"]["options"]
    assert rest.split() == ["scratch-rw", "root-ro"]


# --- nothing of the host's mount table ---------------------------------------------------------------------------


def _expected_points(config: dict) -> set[str]:
    linux = config["linux"]
    expected = {"/"} | {m["destination"] for m in config["mounts"]}
    # Masks and read-only paths are mounts too, where the path exists.
    expected |= {p for p in linux["readonlyPaths"] + linux["maskedPaths"]
                 if p not in ("/proc/kcore", "/proc/keys", "/proc/timer_list") or os.path.exists(p)}
    return expected


@pytest.mark.parametrize("run_args", [(), ("--no-pivot",)], ids=["pivot_root", "no-pivot"])
def test_mount_table_is_only_the_configs(rt, run_args: tuple[str, ...]) -> None:
    bundle = rt.bundle(["cat", "/proc/self/mountinfo"])
    proc = rt.run("run", *run_args, "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    mounts = parse_mountinfo(proc.stdout)
    points = [line.split(" ")[4] for line in proc.stdout.splitlines()]
    assert len(points) == len(set(points)), "a mount point appears twice: something is stacked"
    assert set(mounts) <= _expected_points(bundle.config), sorted(set(mounts) - _expected_points(bundle.config))
    assert {m["destination"] for m in bundle.config["mounts"]} <= set(mounts)
    # The root is the bundle's rootfs, and no host path is reachable to list.
    assert mounts["/"]["root"].endswith(str(bundle.rootfs).split("/", 2)[-1])


@pytest.mark.parametrize("run_args", [(), ("--no-pivot",)], ids=["pivot_root", "no-pivot"])
def test_old_root_is_not_reachable(rt, run_args: tuple[str, ...]) -> None:
    marker = rt.mkdir("host-only") / "marker"
    marker.write_text("host\n")
    script = f"ls {marker} 2>/dev/null && echo visible || echo hidden; cat /proc/1/mountinfo | grep -c {rt.tmp.name}"
    bundle = rt.bundle(["sh", "-c", script])
    proc = rt.run("run", *run_args, "--bundle", bundle.path, bundle.cid)
    assert proc.returncode in (0, 1), rt.describe(proc)
    lines = proc.stdout.split()
    assert lines[0] == "hidden"
    # Only the rootfs mount may name the test's tmp dir (its root), nothing else of the host.
    assert int(lines[1]) <= 1


# --- /dev/console ------------------------------------------------------------------------------------------------


def _receive_master(listener: socket.socket, timeout: float = 30.0) -> int:
    listener.settimeout(timeout)
    conn, _ = listener.accept()
    with conn:
        fds = array.array("i")
        msg, ancdata, _, _ = conn.recvmsg(1024, socket.CMSG_LEN(fds.itemsize))
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.frombytes(data[: len(data) - (len(data) % fds.itemsize)])
    assert len(fds) == 1
    return fds[0]


def _read_all(fd: int, timeout: float = 30.0) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the slave side is gone
            break
        if not chunk:
            break
        out += chunk
    return out


def test_dev_console_is_the_terminal(rt) -> None:
    sock_path = rt.tmp / "console.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(sock_path))
    listener.listen(1)
    bundle = rt.bundle(["sh", "-c", "stat -c '%t:%T' /dev/console; tty; "
                                    "awk '$5 == \"/dev/console\" {print $4}' /proc/self/mountinfo"], write=False)
    bundle.config["process"]["terminal"] = True
    bundle.write()
    master = -1
    try:
        proc = rt.popen("create", "--bundle", bundle.path, "--console-socket", sock_path, bundle.cid)
        master = _receive_master(listener)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        rt.ok("start", bundle.cid)
        output = _read_all(master).decode().replace("\r", "").split()
    finally:
        listener.close()
        if master >= 0:
            os.close(master)
    major_minor, tty, root = output[:3]
    assert major_minor.split(":")[0] == "88"  # a pty slave (Unix98 pty major 136 = 0x88)
    assert tty.startswith("/dev/pts/")
    assert root == "/" + tty.split("/dev/pts/")[1]  # /dev/console is a bind of exactly that pty


def test_no_dev_console_without_terminal(rt) -> None:
    proc = rt.run_container(["sh", "-c", "test -e /dev/console && echo present || echo absent"])
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "absent\n"
