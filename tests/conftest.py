"""Shared pytest setup for all SimCon tests.

Puts `tools/` on sys.path so tests can import `mkbundle` (the busybox bundle builder) the same way
`make demo` and the benchmarks use it.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLS_DIR = REPO_ROOT / "tools"

if str(TOOLS_DIR) not in sys.path:
    sys.path.insert(0, str(TOOLS_DIR))
