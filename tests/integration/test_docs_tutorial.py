"""The `sh runnable` blocks of docs/tutorial.md, run for real, in order, as a reader would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUNNABLE = re.compile(r"^```sh runnable\n(.*?)^```", re.M | re.S)

pytestmark = pytest.mark.simcon_only("runs SimCon's own tutorial")


def test_tutorial_runs(tmp_path: Path) -> None:
    blocks = RUNNABLE.findall((REPO / "docs" / "tutorial.md").read_text())
    assert len(blocks) >= 4
    script = "set -euo pipefail\n" + "\n".join(blocks)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
               SIMCON_ROOT=str(tmp_path / "state"))
    try:
        result = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, env=env,
                                timeout=300, stdin=subprocess.DEVNULL)
        assert result.returncode == 0, f"tutorial failed:\n{result.stdout}\n{result.stderr}"
        out = result.stdout
        assert "I am 0 on " in out and "hello from " in out and "exit status: 3" in out
        assert re.search(r"^tutorial-web\s+\d+\s+created\s", out, re.M), out
        # logs --follow: stdout to stdout, stderr to stderr, as docker does; then --stream stderr --timestamps
        assert "line 1\nline 2\nline 3\n" in out, out
        errors = result.stderr.splitlines()
        assert "oops" in errors, result.stderr
        assert any(re.fullmatch(r"\d{4}-\d\d-\d\dT[0-9:.]+Z oops", line) for line in errors), result.stderr
    finally:
        for cid in ("tutorial-web", "tutorial-hello", "tutorial-logs"):
            subprocess.run(["simcon", "delete", "--force", cid], env=env, capture_output=True, timeout=60)
    assert not (tmp_path / "state").exists() or list((tmp_path / "state").iterdir()) == []
    assert not any(Path("/sys/fs/cgroup").glob("*/simcon/tutorial-*"))
