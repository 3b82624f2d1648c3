"""`simcon completion`: the scripts are generated from the parser and work in the real shells.

bash: the script is sourced in a real bash and its function asked, as readline would (COMP_WORDS/COMP_CWORD);
`complete -p simcon` shows it registered. Container ids come from `simcon list -q` of the --root given on the
line, so a state dir with one stopped container's record is enough (no root needed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
SIMCON = str(BIN / "simcon")


def script(shell: str) -> str:
    result = subprocess.run([SIMCON, "completion", shell], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def complete(tmp_path: Path, words: list[str]) -> list[str]:
    """What bash offers for ``words`` (the last one is being typed)."""
    (tmp_path / "simcon.bash").write_text(script("bash"))
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (f"source {tmp_path}/simcon.bash; complete -p simcon >&2; COMP_WORDS=({quoted}); "
               f"COMP_CWORD={len(words) - 1}; _simcon; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")
    result = subprocess.run(["bash", "-c", program], capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "complete -F _simcon simcon" in result.stderr
    return sorted(line for line in result.stdout.splitlines() if line)


def test_verbs_and_aliases(tmp_path: Path) -> None:
    assert complete(tmp_path, ["simcon", "de"]) == ["delete"]
    assert "rm" in complete(tmp_path, ["simcon", "r"])


def test_options_of_a_verb(tmp_path: Path) -> None:
    assert complete(tmp_path, ["simcon", "kill", "--a"]) == ["--all"]
    assert complete(tmp_path, ["simcon", "--log-format", "j"]) == ["json"]
    assert complete(tmp_path, ["simcon", "list", "--format", ""]) == ["json", "table"]


def test_container_ids_from_the_root_on_the_line(tmp_path: Path) -> None:
    for cid in ("web", "db"):
        (tmp_path / "state" / cid).mkdir(parents=True)
        (tmp_path / "state" / cid / "state.json").write_text(f'{{"id": "{cid}", "pid": 0}}')
    assert complete(tmp_path, ["simcon", "--root", str(tmp_path / "state"), "delete", ""]) == ["db", "web"]
    assert complete(tmp_path, ["simcon", "--root", str(tmp_path / "state"), "rm", "-f", "w"]) == ["web"]


def test_signal_names_after_the_id(tmp_path: Path) -> None:
    offered = complete(tmp_path, ["simcon", "--root", str(tmp_path), "kill", "web", "TE"])
    assert offered == ["TERM"]


def test_zsh_script_wraps_the_bash_function() -> None:
    text = script("zsh")
    assert text.startswith("#compdef simcon") and "bashcompinit" in text and "complete -F _simcon simcon" in text


def test_fish_script_completes_in_fish(tmp_path: Path) -> None:
    """fish is a test dependency (scripts/install-deps.sh): the script is loaded by a real fish."""
    (tmp_path / "simcon.fish").write_text(script("fish"))
    fish = shutil.which("fish")
    assert fish, "fish is not installed: run `make setup`"
    env = dict(os.environ, PATH=f"{BIN}:{os.environ['PATH']}")

    def offered(line: str) -> list[str]:
        result = subprocess.run([fish, "-c", f"source {tmp_path}/simcon.fish; complete -C '{line}'"],
                                capture_output=True, text=True, timeout=60, env=env)
        return [row.split("\t")[0] for row in result.stdout.splitlines()]

    assert offered("simcon del") == ["delete"]
    assert offered("simcon kill --a") == ["--all"]


def test_help_ends_with_examples_for_every_verb() -> None:
    from simcon.cli.main import build_parser

    parser, _ = build_parser()
    missing = [name for name, sub in parser.subcommands().items() if not sub.examples]
    assert missing == []
    help_text = subprocess.run([SIMCON, "delete", "--help"], capture_output=True, text=True, timeout=60).stdout
    assert help_text.rstrip().splitlines()[-2:] == ["  simcon delete web", "  simcon delete --force web"]
