#!/usr/bin/env python3
"""Regenerate the parts of docs/ that come from the code (`make docs`): the settings reference table in
docs/configuration.md, between its `<!-- generated:settings -->` markers. A unit test fails when it is stale."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

from simcon import settings  # noqa: E402

BEGIN, END = "<!-- generated:settings -->", "<!-- /generated:settings -->"


def main() -> int:
    path = REPO / "docs" / "configuration.md"
    text = path.read_text()
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{BEGIN}\n{settings.reference_table()}{END}{tail}")
    print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
