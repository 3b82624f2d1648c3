"""The container's root filesystem and mounts: read-only root, --no-pivot, bind mounts."""

from __future__ import annotations


def _readonly_root(bundle) -> None:
    bundle.config["root"]["readonly"] = True
    bundle.add_mount("/tmp", "tmpfs", ["nosuid", "nodev", "mode=1777"], type_="tmpfs")


def test_readonly_root(rt) -> None:
    script = (
        "touch /cannot-write 2>/dev/null && echo root-writable || echo root-readonly;"
        "touch /tmp/can-write && echo tmp-writable;"
        "awk '$2 == \"/\" {print $4}' /proc/mounts | tr , '\\n' | grep -x ro"
    )
    proc = rt.run_container(["sh", "-c", script], edit=_readonly_root)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["root-readonly", "tmp-writable", "ro"]


def test_readonly_root_leaves_bundle_rootfs_untouched(rt) -> None:
    bundle = rt.bundle(["sh", "-c", "touch /tmp/inside; true"], write=False)
    _readonly_root(bundle)
    bundle.write()
    rt.ok("run", "--bundle", bundle.path, bundle.cid)
    assert not (bundle.rootfs / "tmp" / "inside").exists(), "the tmpfs write reached the bundle's rootfs"


def test_writable_root_by_default(rt) -> None:
    bundle = rt.bundle(["sh", "-c", "echo data > /written"])
    rt.ok("run", "--bundle", bundle.path, bundle.cid)
    assert (bundle.rootfs / "written").read_text() == "data\n"


def test_no_pivot(rt) -> None:
    proc = rt.run_container(["sh", "-c", "cat /etc/hostname; ls /bin/busybox"], run_args=("--no-pivot",))
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["simcon", "/bin/busybox"]


def test_root_is_the_bundle_rootfs(rt) -> None:
    bundle = rt.bundle(["cat", "/only-in-this-bundle"])
    (bundle.rootfs / "only-in-this-bundle").write_text("yes\n")
    proc = rt.run("run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "yes\n"


def test_bind_mount_read_write(rt) -> None:
    shared = rt.mkdir("shared-rw")
    (shared / "from-host").write_text("host data\n")

    def bind(bundle) -> None:
        bundle.add_mount("/data", shared)

    proc = rt.run_container(["sh", "-c", "cat /data/from-host; echo back > /data/from-container"], edit=bind)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout == "host data\n"
    assert (shared / "from-container").read_text() == "back\n"


def test_bind_mount_read_only(rt) -> None:
    shared = rt.mkdir("shared-ro")
    (shared / "from-host").write_text("host data\n")

    def bind(bundle) -> None:
        bundle.add_mount("/data", shared, ["ro"])

    script = "cat /data/from-host; touch /data/new 2>/dev/null && echo writable || echo readonly"
    proc = rt.run_container(["sh", "-c", script], edit=bind)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["host data", "readonly"]
    assert not (shared / "new").exists()
    assert sorted(p.name for p in shared.iterdir()) == ["from-host"]


def test_tmpfs_mount(rt) -> None:
    def tmpfs(bundle) -> None:
        bundle.add_mount("/scratch", "tmpfs", ["size=1m", "mode=700"], type_="tmpfs")

    proc = rt.run_container(["sh", "-c", "awk '$2 == \"/scratch\" {print $3}' /proc/mounts; stat -c %a /scratch"],
                            edit=tmpfs)
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["tmpfs", "700"]


def test_masked_and_readonly_paths(rt) -> None:
    script = (
        "test -s /proc/kcore && echo kcore-visible || echo kcore-masked;"
        "echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo procsys-writable || echo procsys-readonly"
    )
    proc = rt.run_container(["sh", "-c", script])
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.splitlines() == ["kcore-masked", "procsys-readonly"]
