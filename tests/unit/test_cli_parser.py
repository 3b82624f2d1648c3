"""simcon.cli.main: runc-style command lines as engines send them, and the one place errors become output.

Only commands that fail before touching a container (or touch an empty --root) are run here; real containers are
the integration tests' job.
"""

from __future__ import annotations

import json

import pytest

from simcon import OCI_VERSION, __version__, log
from simcon.cli.main import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, VERBS, build_parser, main


@pytest.fixture(autouse=True)
def reset_log():  # noqa: ANN201
    yield
    log.configure(None, "text", False)


def parse(argv: list[str]):  # noqa: ANN201
    parser, _modules = build_parser()
    return parser.parse_args(argv)


# --- parsing ---------------------------------------------------------------------------------------------------


def test_every_verb_has_a_module_with_the_verb_interface() -> None:
    parser, modules = build_parser()
    assert set(parser.subcommands()) == set(VERBS)  # listing them makes them all
    assert set(modules) == set(VERBS)
    for verb, module in modules.items():
        assert isinstance(module.HELP, str) and module.HELP, verb
        assert callable(module.configure) and callable(module.run), verb


def test_only_the_named_verb_is_built() -> None:
    """`simcon state ID` imports and configures `state` alone (and an alias its verb): half of a `state`'s own time
    went into building all the verbs' parsers."""
    parser, modules = build_parser()
    args = parser.parse_args(["--root", "/r", "state", "web"])
    assert (args.command, args.container_id, list(modules)) == ("state", "web", ["state"])
    parser, modules = build_parser()
    assert parser.parse_args(["rm", "-f", "web"]).force and list(modules) == ["delete"]


def test_create_as_containerd_sends_it() -> None:
    args = parse(["--root", "/run/r", "--log", "/b/log.json", "--log-format", "json",
                  "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "web"])
    assert (args.root, args.log, args.log_format) == ("/run/r", "/b/log.json", "json")
    assert args.command == "create"
    assert (args.bundle, args.pid_file, args.container_id) == ("/b", "/b/init.pid", "web")
    assert args.console_socket is None
    assert args.no_pivot is False and args.no_new_keyring is False
    assert args.preserve_fds == 0
    assert args.systemd_cgroup is False and args.debug is False


def test_create_with_every_option() -> None:
    args = parse(["create", "-b", "/b", "--console-socket", "/s.sock", "--no-pivot", "--no-new-keyring",
                  "--preserve-fds", "2", "web"])
    assert (args.bundle, args.console_socket, args.no_pivot, args.no_new_keyring, args.preserve_fds) == (
        "/b", "/s.sock", True, True, 2)


def test_create_bundle_defaults_to_cwd() -> None:
    assert parse(["create", "web"]).bundle == "."


def test_systemd_cgroup_global_flag() -> None:
    args = parse(["--systemd-cgroup", "create", "--bundle", "/b", "web"])
    assert args.systemd_cgroup is True
    assert args.command == "create" and args.container_id == "web"


def test_kill_with_signal_name() -> None:
    args = parse(["kill", "web", "KILL"])
    assert (args.command, args.container_id, args.signal, args.all) == ("kill", "web", "KILL", False)


def test_kill_all_with_number() -> None:
    args = parse(["kill", "--all", "web", "9"])
    assert (args.container_id, args.signal, args.all) == ("web", "9", True)
    assert parse(["kill", "-a", "web", "9"]).all is True


def test_kill_default_signal_is_sigterm() -> None:
    assert parse(["kill", "web"]).signal == "SIGTERM"


def test_delete_force() -> None:
    args = parse(["delete", "--force", "web"])
    assert (args.command, args.force, args.container_id) == ("delete", True, "web")
    assert parse(["delete", "-f", "web"]).force is True
    assert parse(["delete", "web"]).force is False


def test_list_quiet() -> None:
    args = parse(["list", "-q"])
    assert (args.command, args.quiet, args.format) == ("list", True, "table")


def test_list_format_json() -> None:
    args = parse(["list", "--format", "json"])
    assert (args.format, args.quiet) == ("json", False)
    assert parse(["list", "-f", "json"]).format == "json"


def test_run_detached() -> None:
    args = parse(["run", "-d", "-b", "/b", "web"])
    assert (args.command, args.detach, args.bundle, args.container_id, args.keep) == ("run", True, "/b", "web", False)


def test_state_start_and_global_flags() -> None:
    assert parse(["state", "web"]).container_id == "web"
    assert parse(["start", "web"]).container_id == "web"
    args = parse(["--debug", "--rootless", "true", "--criu", "x", "state", "web"])
    assert (args.debug, args.rootless) == (True, "true")


@pytest.mark.parametrize("argv", [
    ["create"],  # no id
    ["kill"],
    ["--log-format", "xml", "state", "web"],
    ["list", "--format", "yaml"],
    ["frobnicate", "web"],
    ["create", "--preserve-fds", "many", "web"],
])
def test_bad_command_lines_are_usage_errors(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == EXIT_USAGE
    assert "usage:" in capsys.readouterr().err


# --- main: output and exit codes -------------------------------------------------------------------------------


def test_version(capsys) -> None:
    assert main(["--version"]) == EXIT_OK
    out = capsys.readouterr().out
    assert f"simcon version {__version__}" in out
    assert f"spec: {OCI_VERSION}" in out
    assert "spec: 1.2" in out


def test_no_command_prints_help_and_is_a_usage_error(capsys) -> None:
    assert main([]) == EXIT_USAGE
    assert "usage:" in capsys.readouterr().err


def test_state_of_missing_container(tmp_path, capsys) -> None:
    assert main(["--root", str(tmp_path), "state", "nope"]) == EXIT_FAILURE
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "container does not exist" in captured.err
    assert "Traceback" not in captured.err
    assert captured.err == "simcon: state `nope`: container does not exist\n"


def test_error_goes_to_the_json_log(tmp_path, capsys) -> None:
    log_file = tmp_path / "log.json"
    assert main(["--root", str(tmp_path / "root"), "--log", str(log_file), "--log-format", "json",
                 "state", "nope"]) == EXIT_FAILURE
    [line] = log_file.read_text().splitlines()
    entry = json.loads(line)
    assert entry["level"] == "error"
    assert "container does not exist" in entry["msg"]
    assert "Traceback" not in capsys.readouterr().err


def test_debug_shows_the_traceback(tmp_path, capsys) -> None:
    assert main(["--root", str(tmp_path), "--debug", "state", "nope"]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert "Traceback" in err
    assert "container does not exist" in err


def test_delete_force_of_missing_container_succeeds(tmp_path, capsys) -> None:
    assert main(["--root", str(tmp_path), "delete", "--force", "missing"]) == EXIT_OK
    assert capsys.readouterr().err == ""


def test_delete_of_missing_container_fails(tmp_path, capsys) -> None:
    assert main(["--root", str(tmp_path), "delete", "missing"]) == EXIT_FAILURE
    assert "container does not exist" in capsys.readouterr().err


def test_kill_with_unknown_signal(tmp_path, capsys) -> None:
    assert main(["--root", str(tmp_path), "kill", "web", "BOGUS"]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert "unknown signal" in err
    assert "BOGUS" in err
    assert "Traceback" not in err


def test_kill_of_missing_container(tmp_path, capsys) -> None:
    assert main(["--root", str(tmp_path), "kill", "nope", "KILL"]) == EXIT_FAILURE
    assert "container does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("verb", [["state"], ["delete"], ["delete", "--force"], ["kill"], ["start"]])
def test_invalid_id_is_refused_clearly(tmp_path, capsys, verb: list[str]) -> None:
    assert main(["--root", str(tmp_path), *verb, "../x"]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert "invalid container id '../x'" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_create_with_invalid_id_touches_nothing(tmp_path, capsys) -> None:
    root = tmp_path / "root"
    assert main(["--root", str(root), "create", "--bundle", str(tmp_path), "../x"]) == EXIT_FAILURE
    assert "invalid container id" in capsys.readouterr().err
    assert not root.exists()


def test_create_with_missing_bundle_names_the_config(tmp_path, capsys) -> None:
    root = tmp_path / "root"
    bundle = tmp_path / "no-bundle"
    assert main(["--root", str(root), "create", "--bundle", str(bundle), "web"]) == EXIT_FAILURE
    err = capsys.readouterr().err
    assert str(bundle / "config.json") in err
    assert "Traceback" not in err
    assert not root.exists()


def test_list_of_empty_root(tmp_path, capsys) -> None:
    assert main(["--root", str(tmp_path / "none"), "list", "-q"]) == EXIT_OK
    assert capsys.readouterr().out == ""
    assert main(["--root", str(tmp_path / "none"), "list", "--format", "json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out) == []
    assert main(["--root", str(tmp_path / "none"), "list"]) == EXIT_OK
    assert capsys.readouterr().out.split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
