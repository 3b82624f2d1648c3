"""simcon.toml, SIMCON_* variables and flags: precedence, errors naming file/line/key, and the CLI around them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from simcon import settings
from simcon.settings import SettingsError

SIMCON = str(Path(sys.executable).parent / "simcon")


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_defaults_without_files_or_environment(tmp_path: Path) -> None:
    loaded = settings.load(environ={"HOME": str(tmp_path)}, euid=1000)
    assert loaded.get("log_format") == "text"
    assert loaded.get("cni_plugin_dirs") == ["/usr/lib/cni", "/opt/cni/bin"]
    assert set(loaded.sources.values()) == {"default"}


def test_precedence_user_file_then_named_file_then_environment(tmp_path: Path) -> None:
    user = write(tmp_path / "xdg" / "simcon" / "simcon.toml", 'log_format = "json"\nstart_timeout = 30\ninit = true\n')
    named = write(tmp_path / "named.toml", "start_timeout = 45\n")
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "SIMCON_CONFIG": named, "SIMCON_INIT": "false"}
    loaded = settings.load(environ=environ, euid=1000)
    assert (loaded.get("log_format"), loaded.sources["log_format"]) == ("json", user)
    assert (loaded.get("start_timeout"), loaded.sources["start_timeout"]) == (45.0, named)
    assert (loaded.get("init"), loaded.sources["init"]) == (False, "SIMCON_INIT")


def test_the_user_file_is_not_read_for_root(tmp_path: Path) -> None:
    write(tmp_path / "xdg" / "simcon" / "simcon.toml", 'log_format = "json"\n')
    loaded = settings.load(environ={"XDG_CONFIG_HOME": str(tmp_path / "xdg")}, euid=0)
    assert loaded.get("log_format") == "text"


@pytest.mark.parametrize(("text", "expected"), [
    ('log_formt = "json"\n', ":1: log_formt: unknown key (did you mean `log_format`?)"),
    ('\n\nstart_timeout = "soon"\n', ":3: start_timeout: expected a number, got a string"),
    ('log_format = "yaml"\n', ":1: log_format: expected one of text, json, got 'yaml'"),
    ("init = 1\n", ":1: init: expected true or false, got an integer"),
    ('cni_plugin_dirs = "/opt"\n', ":1: cni_plugin_dirs: expected a list of strings, got a string"),
    ("start_timeout = -1\n", ":1: start_timeout: expected a positive number, got -1"),
])
def test_bad_keys_name_the_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(SettingsError) as info:
        settings.read_file(path)
    assert str(info.value) == path + expected


def test_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.toml", 'root = "/x"\nlog = \n')
    with pytest.raises(SettingsError, match=r"bad.toml: invalid TOML: .*line 2"):
        settings.read_file(path)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    with pytest.raises(SettingsError, match="not a regular file"):
        settings.read_file(str(fifo))


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^\$SIMCON_START_TIMEOUT: expected a number, got 'x'$"):
        settings.load(environ={"SIMCON_START_TIMEOUT": "x"}, euid=0)


def test_container_defaults_are_not_applied_to_engine_calls(tmp_path: Path) -> None:
    loaded = settings.load(environ={"SIMCON_SECCOMP_PROFILE": "unconfined", "SIMCON_INIT": "1"}, euid=0)
    assert loaded.container_default("seccomp_profile", engine_call=False) == "unconfined"
    assert loaded.container_default("seccomp_profile", engine_call=True) is None
    assert loaded.container_default("init", engine_call=True) is False


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SIMCON_")}
    environ.update(env or {})
    return subprocess.run([SIMCON, *args], capture_output=True, text=True, env=environ, timeout=60)


def test_config_show_prints_every_key_with_its_source(tmp_path: Path) -> None:
    named = write(tmp_path / "s.toml", 'log_format = "json"\n')
    result = run_cli("--log-format", "text", "config", "show", "--format", "json",
                     env={"SIMCON_CONFIG": named, "SIMCON_START_TIMEOUT": "7"})
    assert result.returncode == 0, result.stderr
    import json

    shown = json.loads(result.stdout)
    assert set(shown) == {s.key for s in settings.SETTINGS}
    assert shown["log_format"] == {"value": "text", "source": "flag"}
    assert shown["start_timeout"] == {"value": 7.0, "source": "SIMCON_START_TIMEOUT"}


def test_config_validate_reports_one_line(tmp_path: Path) -> None:
    good = write(tmp_path / "good.toml", 'root = "/run/x"\n')
    bad = write(tmp_path / "bad.toml", 'root = "/run/x"\nnetwrok = "bridge"\n')
    ok = run_cli("config", "validate", good)
    assert (ok.returncode, ok.stdout.strip()) == (0, f"{good}: ok (1 key)")
    failed = run_cli("config", "validate", bad)
    assert failed.returncode == 1
    assert failed.stderr.strip().splitlines() == [
        f"simcon: config: {bad}:2: netwrok: unknown key (did you mean `network`?)"]


def test_a_broken_config_file_fails_every_verb_with_one_line(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.toml", "root = [\n")
    result = run_cli("list", env={"SIMCON_CONFIG": bad})
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr and bad in result.stderr


def test_root_from_the_environment_is_used(tmp_path: Path) -> None:
    """A stopped container's record under $SIMCON_ROOT is what `list` shows; --root still wins."""
    write(tmp_path / "state" / "old" / "state.json", '{"id": "old", "pid": 0, "status": "stopped"}')
    result = run_cli("list", "-q", env={"SIMCON_ROOT": str(tmp_path / "state")})
    assert (result.returncode, result.stdout, result.stderr) == (0, "old\n", "")
    other = run_cli("--root", str(tmp_path / "other"), "list", "-q", env={"SIMCON_ROOT": str(tmp_path / "state")})
    assert (other.returncode, other.stdout) == (0, "")


def test_generated_reference_is_current() -> None:
    """docs/configuration.md carries the table generated from SETTINGS: it cannot drift from the code."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text()
    assert settings.reference_table() in doc, "run `make docs` to regenerate docs/configuration.md"
