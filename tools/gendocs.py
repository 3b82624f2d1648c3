#!/usr/bin/env python3
"""Regenerate the parts of docs/ that come from the code (`make docs`): the settings reference table in
docs/configuration.md and the API reference in docs/api.md, each between its `<!-- generated:NAME -->`
markers. A unit test fails when either is stale."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "src"))

import inspect  # noqa: E402

from simcon import api, settings  # noqa: E402


def api_reference() -> str:
    """Every public class and method of simcon.api with its signature and docstring, as Markdown."""
    out = []
    for cls in (api.Runtime, api.Container):
        out.append(f"### `simcon.{cls.__name__}{_signature(cls)}`\n")
        out.append(inspect.cleandoc(cls.__doc__ or "") + "\n")
        for name, member in vars(cls).items():
            if name.startswith("_") or not callable(member):
                continue
            out.append(f"- `{name}{_signature(member)}`: " + " ".join(inspect.cleandoc(member.__doc__ or "").split()))
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def _signature(obj: object) -> str:
    target = obj.__init__ if inspect.isclass(obj) else obj  # type: ignore[misc]
    text = str(inspect.signature(target)).replace("'", "")
    if inspect.isclass(obj):
        text = text.removesuffix(" -> None")
    return text.replace("(self, ", "(").replace("(self)", "()")


def replace_between(path: Path, name: str, body: str) -> None:
    begin, end = f"<!-- generated:{name} -->", f"<!-- /generated:{name} -->"
    text = path.read_text()
    head, found, rest = text.partition(begin)
    if not found:
        raise SystemExit(f"{path}: no {begin} marker")
    _, _, tail = rest.partition(end)
    path.write_text(f"{head}{begin}\n{body}{end}{tail}")
    print(f"wrote {path.relative_to(REPO)}")


def main() -> int:
    replace_between(REPO / "docs" / "configuration.md", "settings", settings.reference_table())
    replace_between(REPO / "docs" / "api.md", "api", api_reference())
    return 0


if __name__ == "__main__":
    sys.exit(main())
