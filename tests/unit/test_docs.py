"""docs/ stays true: relative links resolve, every `simcon ...` command in a code block parses with SimCon's
own parser, and the generated parts (settings and API reference) are current."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from simcon.cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]
DOCS = sorted([*REPO.glob("docs/**/*.md"), REPO / "README.md"])
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
# Shell code blocks only (a TOML or YAML block may mention `simcon = [...]`).
FENCE = re.compile(r"^```(?:sh|bash|shell|console)\b[^\n]*\n(.*?)^```", re.M | re.S)


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for target in LINK.findall(doc.read_text()):
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            continue
        path = (doc.parent / target.split("#")[0]).resolve()
        if not path.exists():
            broken.append(target)
    assert broken == [], f"{rel(doc)}: links to missing files"


def simcon_commands(text: str) -> list[str]:
    """`simcon ...` command lines inside code blocks (comments and pipes cut off, line continuations joined)."""
    commands = []
    for block in FENCE.findall(text):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            for part in re.split(r"\s*(?:&&|\|\||;|\|)\s*", line):
                part = part.strip().removeprefix("$ ").removeprefix("sudo ")
                words = part.split()
                if words and words[0] in ("simcon", ".venv/bin/simcon", "/usr/local/bin/simcon"):
                    commands.append(part)
    return commands


def _without_redirections(argv: list[str]) -> list[str]:
    kept, skip = [], False
    for word in argv:
        if skip:
            skip = False
        elif word in (">", ">>", "<", "2>", "2>&1"):
            skip = word != "2>&1"
        elif not word.startswith((">", "<", "2>")):
            kept.append(word)
    return kept


@pytest.mark.parametrize("doc", DOCS, ids=rel)
def test_every_documented_command_line_parses(doc: Path) -> None:
    failures = []
    for command in simcon_commands(doc.read_text()):
        try:
            argv = shlex.split(command)[1:]
        except ValueError:
            continue
        argv = _without_redirections(argv)
        synopsis = any(a.startswith("[") or a.endswith("...") or a.isupper() for a in argv)
        if synopsis or any(a in ("-h", "--help") for a in argv) or any(c in command for c in "$`*"):
            continue
        parser, _ = build_parser()
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            if exc.code:
                failures.append(command)
    assert failures == [], f"{rel(doc)}: commands SimCon's parser refuses"


def test_man_pages_are_current_and_render_cleanly() -> None:
    """docs/man/ says what --help says (tools/genman.py --check), and groff finds nothing wrong in any page."""
    result = subprocess.run([sys.executable, str(REPO / "tools" / "genman.py"), "--check"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    pages = sorted((REPO / "docs" / "man").glob("*.1"))
    assert "simcon-run.1" in [p.name for p in pages]
    for page in pages:
        # -P-cbu: plain text from grotty (no overstriking), to look for the section heading.
        rendered = subprocess.run(["groff", "-man", "-ww", "-Tutf8", "-P-cbu", str(page)], capture_output=True,
                                  text=True)
        assert rendered.returncode == 0 and rendered.stderr == "", f"{page.name}: {rendered.stderr}"
        assert "\nOPTIONS\n" in rendered.stdout


def test_generated_docs_are_current(tmp_path: Path) -> None:
    before = {p: p.read_text() for p in (REPO / "docs" / "configuration.md", REPO / "docs" / "api.md")}
    result = subprocess.run([sys.executable, str(REPO / "tools" / "gendocs.py")], capture_output=True, text=True)
    after = {p: p.read_text() for p in before}
    for path, text in before.items():
        path.write_text(text)  # leave the tree as it was, whatever happened
    assert result.returncode == 0, result.stderr
    assert after == before, "docs are stale: run `make docs` and commit the result"
