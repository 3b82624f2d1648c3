"""Whatever SimCon accepts really runs (issue 10, fuzzing): a sample of mutated configs through the real CLI.

Each example gives a fresh bundle a config.json with either well-typed random values in some fields (so that
many are accepted) or tests/hostile.py's mutations (types, ranges, unicode, NULs, nesting, huge values, unknown
and missing fields), and runs `create`:
- refused: exit 1, one line on stderr naming the container, no traceback, nothing left behind;
- accepted: nothing on create's stdout/stderr (the container's), `start` succeeds and the container runs.
Only fields whose effects stay inside the container or its own cgroup are mutated here (not mounts, namespaces,
sysctl, hooks or cgroupsPath, which could reach the shared host); tests/unit/test_fuzz_input.py mutates everything
in-process. `make test` runs a few examples, `make fuzz` many more."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("hypothesis", reason="a test dependency: `make setup` installs it")

from hypothesis import HealthCheck, event, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import hostile  # noqa: E402

pytestmark = pytest.mark.simcon_only("SimCon's own error lines")

SAFE = ("ociVersion", "hostname", "annotations", "root.readonly", "process.env", "process.cwd", "process.user",
        "process.rlimits", "process.capabilities", "process.noNewPrivileges", "process.oomScoreAdj",
        "process.terminal", "linux.maskedPaths", "linux.readonlyPaths", "linux.resources")
# Real containers are slow: a twelfth of the profile's examples (8 in `make test`, more in `make fuzz`).
EXAMPLES = max(4, settings.default.max_examples // 12)

_CAPS = ["CAP_KILL", "CAP_AUDIT_WRITE", "CAP_NET_BIND_SERVICE", "CAP_CHOWN", "CAP_SETUID", "CAP_SETGID",
         "CAP_SYS_ADMIN", "CAP_SYS_RESOURCE", "CAP_BPF"]
_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
# Well-typed values for some fields (half the examples): random values of the right type, so that a good share of
# the configs is accepted and the "it really runs" half of the property is exercised, not only refusals.
TYPED = {
    ("process", "env"): st.lists(st.tuples(_NAMES, hostile.text).map("=".join), max_size=4)
    .map(lambda extra: ["PATH=/bin:/usr/bin", *extra]),
    ("hostname",): st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True),
    ("annotations",): st.dictionaries(_NAMES, hostile.text, max_size=3),
    ("process", "user", "uid"): st.integers(0, 65535),
    ("process", "user", "gid"): st.integers(0, 65535),
    ("process", "user", "umask"): st.integers(0, 0o777),
    ("process", "user", "additionalGids"): st.lists(st.integers(0, 65535), max_size=3),
    ("process", "noNewPrivileges"): st.booleans(),
    ("process", "oomScoreAdj"): st.integers(-1000, 1000),
    ("process", "capabilities", "effective"): st.lists(st.sampled_from(_CAPS), max_size=4),
    ("process", "capabilities", "ambient"): st.lists(st.sampled_from(_CAPS), max_size=4),
    ("process", "rlimits"): st.integers(64, 1024).map(lambda n: [{"type": "RLIMIT_NOFILE", "soft": n, "hard": n}]),
    ("linux", "resources", "pids", "limit"): st.integers(10, 10000),
    ("linux", "resources", "cpu", "shares"): st.integers(2, 262144),
    ("linux", "resources", "memory", "limit"): st.integers(64 << 20, 1 << 40),
    ("linux", "maskedPaths"): st.lists(st.sampled_from(["/proc/kcore", "/etc/hostname", "/nonexistent", "/tmp"])),
    ("root", "readonly"): st.booleans(),
}


@st.composite
def typed_config(draw: st.DrawFn, base: dict) -> bytes:
    document = json.loads(json.dumps(base))
    for path in draw(st.lists(st.sampled_from(sorted(TYPED)), min_size=1, max_size=4, unique=True)):
        parent = document
        for step in path[:-1]:
            parent = parent.setdefault(step, {})
        parent[path[-1]] = draw(TYPED[path])
    return hostile.encode(document)


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
    config = typed_config(bundle.config) | hostile.mutated_bytes(bundle.config, max_mutations=2, allowed=SAFE)
    bundle.config_path.write_bytes(data.draw(config, label="config.json"))
    log_file = rt.tmp / f"{bundle.cid}.log"
    try:
        created = rt.run("--log", log_file, "create", "--bundle", bundle.path, bundle.cid)
        assert "Traceback" not in created.stderr, rt.describe(created)
        event("refused" if created.returncode else "accepted")  # counted by --hypothesis-show-statistics
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
