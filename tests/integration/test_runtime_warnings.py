"""Runtime warnings never reach the container's stdio (issue 10, item 5).

`create`'s stdout and stderr are the container's: engines capture them as the container's log. SimCon writes its
warnings to the runtime log (`--log FILE`, in runc's logrus text format), or to stderr only with `--debug`. The
ambient capabilities of runc's own default spec (ambient without inheritable) are skipped without a warning.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.simcon_only("SimCon's warnings and where they go")

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"
RUNC_SPEC_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]


def _lacks_sys_resource() -> bool:
    own = int(next(line for line in open("/proc/self/status") if line.startswith("CapPrm:")).split()[1], 16)
    return not own & (1 << 24)


def _warning_config(bundle) -> list[str]:  # noqa: ANN001
    """Edit the bundle so each kind of warning create can give fires once; return a word from each."""
    expected = []
    bundle.config["ociVersion"] = "1.9.0"  # newer minor than SimCon knows: a validation warning
    expected.append("ociVersion")
    bundle.config["linux"]["seccomp"] = {  # a syscall name libseccomp does not know: skipped
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["no_such_syscall", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    }
    expected.append("no_such_syscall")
    bundle.config["linux"]["resources"] = {"memory": {"kernel": 1 << 20}}  # v1 kernel memory: ignored
    expected.append("linux.resources.memory.kernel")
    effective = list(RUNC_SPEC_CAPS)
    if _lacks_sys_resource():  # this host's root lacks CAP_SYS_RESOURCE: granting it is skipped with a warning
        effective.append("CAP_SYS_RESOURCE")
        expected.append("CAP_SYS_RESOURCE")
    bundle.config["process"]["capabilities"] = {"bounding": effective, "effective": effective,
                                                "permitted": RUNC_SPEC_CAPS, "ambient": RUNC_SPEC_CAPS}
    bundle.write()
    return expected


def test_create_writes_warnings_to_the_log_file_only(rt) -> None:
    bundle = rt.bundle(["sh", "-c", "echo out; echo err >&2"], write=False)
    expected = _warning_config(bundle)
    log_file = rt.tmp / "runtime.log"
    proc = rt.run("--log", log_file, "create", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    # Nothing from SimCon in what the engine captures as the container's output.
    assert (proc.stdout, proc.stderr) == ("", "")
    lines = log_file.read_text().splitlines()
    for line in lines:
        assert re.fullmatch(rf'time="{TIME}" level=warning msg=".*"', line), line
    for word in expected:
        assert sum(word in line for line in lines) == 1, (word, lines)
    # runc's default spec asks for ambient capabilities it does not make inheritable: not worth a warning.
    assert not any("ambient" in line for line in lines), lines
    assert len(lines) == len(expected), lines


def test_run_output_is_only_the_containers(rt) -> None:
    bundle = rt.bundle(["sh", "-c", "echo out; echo err >&2"], write=False)
    expected = _warning_config(bundle)
    log_file = rt.tmp / "runtime.json"
    proc = rt.run("--log", log_file, "--log-format", "json", "run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert (proc.stdout, proc.stderr) == ("out\n", "err\n")
    text = log_file.read_text()
    assert all(word in text for word in expected), text
    assert '"level":"warning"' in text


def test_debug_puts_warnings_on_stderr(rt) -> None:
    bundle = rt.bundle(["true"], write=False)
    expected = _warning_config(bundle)
    proc = rt.run("--debug", "create", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    warnings = [line for line in proc.stderr.splitlines() if line.startswith("simcon: warning: ")]
    assert len(warnings) == len(expected), proc.stderr
    assert proc.stdout == ""


def test_runc_default_spec_gives_no_warning(rt) -> None:
    bundle = rt.bundle(["true"], write=False)
    bundle.config["process"]["capabilities"] = {name: RUNC_SPEC_CAPS for name in
                                                ("bounding", "effective", "permitted", "ambient")}
    bundle.write()
    log_file = rt.tmp / "runtime.log"
    proc = rt.run("--log", log_file, "--debug", "run", "--bundle", bundle.path, bundle.cid)
    assert proc.returncode == 0, rt.describe(proc)
    assert "warning" not in proc.stderr
    assert "level=warning" not in (log_file.read_text() if log_file.exists() else "")
