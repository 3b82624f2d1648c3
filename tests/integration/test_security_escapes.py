"""Known escape classes: host fds reachable through the init's /proc entries (CVE-2016-9962, CVE-2024-21626),
and the host's runtime binary reachable through /proc/self/exe (CVE-2019-5736)."""

from __future__ import annotations

import hashlib
import os
import sys

import pytest


def interpreter_digest() -> str:
    with open(os.path.realpath(sys.executable), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_exec_into_a_created_container_cannot_reach_the_init_s_host_fds(rt) -> None:
    """Before `start` the init still holds host resources (its state directory's fd among them); a process
    exec'd into the container meanwhile must not reach them through /proc/1/fd, /proc/1/cwd or /proc/1/exe."""
    bundle = rt.bundle(["sleep", "3600"])
    rt.ok("create", "--bundle", bundle.path, bundle.cid)
    before = interpreter_digest()
    script = ("for f in /proc/1/fd/*; do ls -a $f/ $f/../.. 2>&1; done; ls /proc/1/cwd/ 2>&1; "
              "head -c 4 /proc/1/exe 2>&1; echo >> /proc/1/exe 2>&1; echo done")
    proc = rt.run("exec", bundle.cid, "sh", "-c", script)
    assert proc.returncode == 0, rt.describe(proc)
    out = proc.stdout + proc.stderr
    assert "done" in out
    for host_name in ("state.json", "exec.fifo", bundle.cid):
        assert host_name not in out, out
    assert "ELF" not in out  # the host's interpreter binary, readable and then writable once it is not busy
    assert interpreter_digest() == before


def test_only_stdio_reaches_the_container_process_and_its_cwd_is_inside(rt) -> None:
    proc = rt.run_container(["sh", "-c", "exec ls /proc/self/fd; "])
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.split() == ["0", "1", "2", "3"]  # 3: the directory ls reads
    proc = rt.run_container(["sh", "-c", "readlink /proc/self/cwd; readlink /proc/1/cwd"])
    assert proc.returncode == 0, rt.describe(proc)
    assert proc.stdout.split() == ["/", "/"]


@pytest.mark.simcon_only("SimCon's trampoline refuses to be re-run by #!/proc/self/exe, with its message")
def test_proc_self_exe_entrypoint_does_not_run_the_host_interpreter(rt) -> None:
    """`#!/proc/self/exe` as the container's program: the kernel would run whatever the init's /proc/self/exe
    is at that execve, and SimCon's init is the host's interpreter until then. The init execs through a sealed
    trampoline, which refuses to be re-run this way. (This host's kernel already fails that interpreter lookup
    from inside a chroot with ENOENT; the trampoline covers kernels that do not.)"""
    stdlib = os.path.dirname(os.__file__)

    def edit(bundle) -> None:
        script = bundle.rootfs / "bin" / "evil"
        script.write_text("#!/proc/self/exe\nimport os\nprint('HOST-INTERPRETER', os.readlink('/proc/self/exe'))\n")
        script.chmod(0o755)
        bundle.add_mount(stdlib, stdlib, ["ro"])

    before = interpreter_digest()
    proc = rt.run_container(["/bin/evil"], edit=edit)
    assert "HOST-INTERPRETER" not in proc.stdout, rt.describe(proc)
    assert proc.returncode == 126, rt.describe(proc)
    assert "exec of the container process failed" in proc.stderr
    assert interpreter_digest() == before


@pytest.mark.simcon_only("SimCon's trampoline message")
def test_exec_of_a_proc_self_exe_script_does_not_run_the_host_interpreter(rt) -> None:
    bundle = rt.bundle(["sleep", "3600"], write=False)
    script = bundle.rootfs / "bin" / "evil"
    script.write_text("#!/proc/self/exe\nprint('HOST-INTERPRETER')\n")
    script.chmod(0o755)
    bundle.write()
    rt.ok("run", "-d", "--bundle", bundle.path, bundle.cid)
    proc = rt.run("exec", bundle.cid, "/bin/evil")
    assert "HOST-INTERPRETER" not in proc.stdout
    assert proc.returncode == 126, rt.describe(proc)
    assert "exec of the container process failed" in proc.stderr
