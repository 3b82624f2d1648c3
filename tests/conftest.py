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
# tests/hostile.py: the hypothesis strategies the unit and integration fuzz tests share.
if str(REPO_ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "tests"))

try:
    from hypothesis import HealthCheck, settings
except ImportError:  # a venv from before hypothesis was a test dependency: `make setup` installs it
    pass
else:
    # `make test`: a few hundred fixed examples (derandomized: the same ones every run, so CI stays stable).
    # `make fuzz` (--hypothesis-profile=fuzz): many more, new ones each run. Never a deadline: no timings in tests.
    _common = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large,
                                                           HealthCheck.filter_too_much]}
    settings.register_profile("simcon", max_examples=100, derandomize=True, database=None, **_common)
    settings.register_profile("fuzz", max_examples=2000, print_blob=True, **_common)
    settings.load_profile("simcon")
