"""Whatever SimCon accepts really runs (issue 10, fuzzing): a sample of mutated configs through the real CLI.

Each example mutates a fresh bundle's config.json with tests/hostile.py (types, ranges, unicode, NULs, nesting,
huge values, unknown and missing fields) and runs `create`:
- refused: exit 1, one line on stderr naming the container, no traceback, nothing left behind;
- accepted: nothing on create's stdout/stderr (the container's), `start` succeeds and the container runs.
Only fields whose effects stay inside the container or its own cgroup are mutated here (not mounts, namespaces,
sysctl, hooks or cgroupsPath, which could reach the shared host); tests/unit/test_fuzz_input.py mutates everything
in-process. `make test` runs a few examples, `make fuzz` many more."""

from __future__ import annotations

import pytest

pytest.importorskip("hypothesis", reason="a test dependency: `make setup` installs it")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import hostile  # noqa: E402

pytestmark = pytest.mark.simcon_only("SimCon's own error lines")

SAFE = ("ociVersion", "hostname", "annotations", "root.readonly", "process.env", "process.cwd", "process.user",
        "process.rlimits", "process.capabilities", "process.noNewPrivileges", "process.oomScoreAdj",
        "process.terminal", "linux.maskedPaths", "linux.readonlyPaths", "linux.resources")
# Real containers are slow: a twelfth of the profile's examples (8 in `make test`, more in `make fuzz`).
EXAMPLES = max(4, settings.default.max_examples // 12)


def _base(bundle) -> None:  # noqa: ANN001
    caps = ["CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE"]
    bundle.config["process"]["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
    bundle.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
    bundle.config["process"]["user"].update(umask=18, additionalGids=[1])
    bundle.config["linux"]["resources"] = {"memory": {"limit": 256 << 20}, "pids": {"limit": 100},
                                           "cpu": {"shares": 512}}
    bundle.config["annotations"] = {"org.example": "x"}


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_accepted_configs_run_and_refused_ones_leave_nothing(rt, data) -> None:  # noqa: ANN001
    bundle = rt.bundle(["sh", "-c", "echo fuzz-ok"], write=False)
    _base(bundle)
    bundle.config_path.write_bytes(data.draw(hostile.mutated_bytes(bundle.config, max_mutations=2, allowed=SAFE),
                                             label="config.json"))
    log_file = rt.tmp / f"{bundle.cid}.log"
    try:
        created = rt.run("--log", log_file, "create", "--bundle", bundle.path, bundle.cid)
        assert "Traceback" not in created.stderr, rt.describe(created)
        if created.returncode != 0:
            assert created.returncode == 1, rt.describe(created)
            [line] = created.stderr.splitlines()
            assert line.startswith(f"simcon: create `{bundle.cid}`: "), line
            assert len(line) < 2500
            assert bundle.cid not in rt.root_entries()
            assert rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid)) == []
            return
        assert (created.stdout, created.stderr) == ("", ""), rt.describe(created)
        started = rt.run("--log", log_file, "start", bundle.cid)
        assert started.returncode == 0, rt.describe(started)
        assert rt.status(bundle.cid) in ("running", "stopped")
    finally:
        rt.run("delete", "--force", bundle.cid)
    assert bundle.cid not in rt.root_entries()
    assert rt.existing_cgroup_dirs(rt.cgroup_path(bundle.cid)) == []
