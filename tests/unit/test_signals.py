"""simcon.runtime.operations.parse_signal: the signal argument of `simcon kill`, as runc accepts it."""

from __future__ import annotations

import signal

import pytest

from simcon.runtime.operations import parse_signal

RTMIN = int(signal.SIGRTMIN)
RTMAX = int(signal.SIGRTMAX)


@pytest.mark.parametrize("value, expected", [
    ("KILL", 9), ("SIGKILL", 9), ("kill", 9), ("sigkill", 9), ("Kill", 9), ("9", 9),
    ("TERM", 15), ("SIGTERM", 15), ("15", 15),
    ("HUP", 1), ("1", 1), ("INT", 2), ("USR1", 10), ("SIGUSR2", 12), ("STOP", 19), ("CONT", 18),
    ("WINCH", 28), ("CHLD", 17),
    (" KILL ", 9), ("9\n", 9),
])
def test_names_and_numbers(value: str, expected: int) -> None:
    assert parse_signal(value) == expected


def test_result_is_a_plain_int() -> None:
    assert type(parse_signal("KILL")) is int
    assert type(parse_signal("9")) is int


@pytest.mark.parametrize("value, expected", [
    ("SIGRTMIN", RTMIN), ("RTMIN", RTMIN), ("SIGRTMAX", RTMAX),
    ("SIGRTMIN+1", RTMIN + 1), ("RTMIN+1", RTMIN + 1), ("sigrtmin+1", RTMIN + 1),
    ("SIGRTMIN+3", RTMIN + 3), ("SIGRTMAX-1", RTMAX - 1), ("RTMAX-2", RTMAX - 2),
    ("SIGRTMIN+0", RTMIN), (f"SIGRTMIN+{RTMAX - RTMIN}", RTMAX), (f"SIGRTMAX-{RTMAX - RTMIN}", RTMIN),
    (str(RTMAX), RTMAX), (str(RTMIN + 1), RTMIN + 1),
])
def test_realtime_signals(value: str, expected: int) -> None:
    assert parse_signal(value) == expected


@pytest.mark.parametrize("value", [
    "BOGUS", "SIGBOGUS", "", " ", "SIG", "SIGKIL", "KILLL", "-9", "+9", "9x", "1.5", "0x9", "SIG9",
    "SIGRTMIN+", "SIGRTMIN-1", "SIGRTMAX+1", "SIGRTMIN+x", "SIGRTMIN+-1",
    f"SIGRTMIN+{RTMAX - RTMIN + 1}", f"SIGRTMAX-{RTMAX - RTMIN + 1}", "SIGRTMIN+1000",
    "SIG_DFL", "SIG_IGN",
])
def test_bad_names_are_refused(value: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_signal(value)
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("value", [str(RTMAX + 1), "65", "128", "999", "99999999999999999999"])
def test_out_of_range_numbers_are_refused(value: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_signal(value)
    assert repr(value) in str(info.value)
    assert "range" in str(info.value)


def test_unknown_name_message() -> None:
    with pytest.raises(ValueError, match=r"^unknown signal 'BOGUS'$"):
        parse_signal("BOGUS")
