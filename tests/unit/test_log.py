"""simcon.log: stderr lines, and the --log file in runc's (logrus) text and JSON formats."""

from __future__ import annotations

import json
import re

import pytest

from simcon import log

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"


@pytest.fixture(autouse=True)
def reset_log():  # noqa: ANN201
    yield
    log.configure(None, "text", False)


def lines(path) -> list[str]:  # noqa: ANN001
    return path.read_text().splitlines()


def test_json_error_line_is_exactly_level_msg_time(tmp_path, capsys) -> None:
    log_file = tmp_path / "log.json"
    log.configure(str(log_file), "json", False)
    log.error("create `web`: mount `/proc`: permission denied")
    [line] = lines(log_file)
    entry = json.loads(line)
    assert list(entry) == ["level", "msg", "time"]
    assert entry["level"] == "error"
    assert entry["msg"] == "create `web`: mount `/proc`: permission denied"
    assert re.fullmatch(TIME, entry["time"])
    # containerd's shim greps for this exact spelling
    assert '"level": "error"' in line or '"level":"error"' in line
    assert capsys.readouterr().err == "simcon: create `web`: mount `/proc`: permission denied\n"


def test_json_lines_are_appended(tmp_path) -> None:
    log_file = tmp_path / "log.json"
    log_file.write_text('{"level":"info","msg":"earlier","time":"2024-01-01T00:00:00Z"}\n')
    log.configure(str(log_file), "json", False)
    log.error("one")
    log.warning("two")
    entries = [json.loads(line) for line in lines(log_file)]
    assert [(e["level"], e["msg"]) for e in entries] == [("info", "earlier"), ("error", "one"), ("warning", "two")]


def test_json_escapes_quotes_and_newlines(tmp_path) -> None:
    log_file = tmp_path / "log.json"
    log.configure(str(log_file), "json", False)
    log.error('bad "value"\nsecond line')
    [line] = lines(log_file)
    assert json.loads(line)["msg"] == 'bad "value"\nsecond line'


def test_text_format(tmp_path, capsys) -> None:
    log_file = tmp_path / "log.txt"
    log.configure(str(log_file), "text", False)
    log.error("state `web`: container does not exist")
    [line] = lines(log_file)
    assert re.fullmatch(rf'time="{TIME}" level=error msg="state `web`: container does not exist"', line)
    assert capsys.readouterr().err == "simcon: state `web`: container does not exist\n"


def test_text_format_quotes_the_message(tmp_path) -> None:
    log_file = tmp_path / "log.txt"
    log.configure(str(log_file), "text", False)
    log.error('say "hi"')
    [line] = lines(log_file)
    assert line.endswith(r' level=error msg="say \"hi\""')


def test_warning_goes_to_the_log_file_and_not_to_stderr(tmp_path, capsys) -> None:
    # stderr of `create` is the container's stderr: a warning there would land in the container's log.
    log_file = tmp_path / "log.json"
    log.configure(str(log_file), "json", False)
    log.warning("seccomp is ignored")
    assert json.loads(lines(log_file)[0])["level"] == "warning"
    assert capsys.readouterr().err == ""


def test_warning_without_a_log_file_is_silent(capsys) -> None:
    log.configure(None, "text", False)
    log.warning("seccomp is ignored")
    assert capsys.readouterr() == ("", "")


def test_warning_on_stderr_with_debug(tmp_path, capsys) -> None:
    log_file = tmp_path / "log.txt"
    log.configure(str(log_file), "text", True)
    log.warning("seccomp is ignored")
    assert re.fullmatch(rf'time="{TIME}" level=warning msg="seccomp is ignored"', lines(log_file)[0])
    assert capsys.readouterr().err == "simcon: warning: seccomp is ignored\n"


def test_notice_is_a_warning_that_always_reaches_stderr(tmp_path, capsys) -> None:
    log_file = tmp_path / "log.json"
    log.configure(str(log_file), "json", False)
    log.notice("`x`: corrupt state")
    assert json.loads(lines(log_file)[0])["level"] == "warning"
    assert capsys.readouterr().err == "simcon: warning: `x`: corrupt state\n"


def test_debug_is_silent_unless_enabled(tmp_path, capsys) -> None:
    log_file = tmp_path / "log.json"
    log.configure(str(log_file), "json", False)
    assert log.debug_enabled() is False
    log.debug("details")
    assert not log_file.exists()
    assert capsys.readouterr().err == ""

    log.configure(str(log_file), "json", True)
    assert log.debug_enabled() is True
    log.debug("details")
    assert json.loads(lines(log_file)[0]) | {"time": "t"} == {"level": "debug", "msg": "details", "time": "t"}
    assert capsys.readouterr().err == "simcon: debug: details\n"


@pytest.mark.parametrize("log_file", [None, ""])
def test_without_a_log_file_only_stderr(tmp_path, capsys, monkeypatch, log_file) -> None:
    monkeypatch.chdir(tmp_path)
    log.configure(log_file, "json", False)
    log.error("boom")
    assert capsys.readouterr().err == "simcon: boom\n"
    assert list(tmp_path.iterdir()) == []


def test_unwritable_log_file_is_reported_on_stderr(tmp_path, capsys) -> None:
    missing = tmp_path / "no-such-dir" / "log.json"
    log.configure(str(missing), "json", False)
    log.error("boom")
    err = capsys.readouterr().err
    assert f"simcon: cannot write log file {missing}" in err
    assert "simcon: boom\n" in err


def test_closed_stderr_does_not_raise(monkeypatch) -> None:
    class Closed:
        def write(self, text: str) -> int:
            raise ValueError("I/O operation on closed file")

        def flush(self) -> None:
            raise ValueError("I/O operation on closed file")

    monkeypatch.setattr("sys.stderr", Closed())
    log.configure(None, "text", False)
    log.error("boom")
