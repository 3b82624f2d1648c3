"""A failure while undoing a failed step is reported next to the original error, never instead of it."""

from __future__ import annotations

from simcon.errors import ConfigError, InitError


def test_cleanup_failures_join_the_original_line() -> None:
    error = InitError("mount mounts[3] `/data`", "permission denied")
    original = str(error)
    error.add_cleanup_failures(["kill 42: No such process", "remove /run/simcon/web: Device or resource busy"])
    assert str(error) == (f"{original} (cleanup also failed: kill 42: No such process; "
                          "remove /run/simcon/web: Device or resource busy)")
    assert error.args == (str(error),)


def test_no_cleanup_failure_leaves_the_message_alone() -> None:
    error = ConfigError("/b/config.json", "process.args", "must not be empty")
    error.add_cleanup_failures([])
    assert str(error) == "/b/config.json: process.args: must not be empty"
