"""runtime.console.Relay: finishing a relay that never started (a `run` whose `start` failed) does not wait for
output that cannot come, and still closes the master."""

from __future__ import annotations

import os
import sys

from simcon.runtime.console import Relay


def test_finish_without_start_closes_the_master_without_waiting(monkeypatch) -> None:  # noqa: ANN001
    master, slave = os.openpty()
    devnull = open(os.devnull, "r+")  # noqa: SIM115 - closed below; the relay reads our stdio's fds
    monkeypatch.setattr(sys, "stdin", devnull)
    monkeypatch.setattr(sys, "stdout", devnull)
    try:
        relay = Relay(master)
        waits: list[float] = []
        monkeypatch.setattr(relay._done, "wait", lambda timeout=None: waits.append(timeout))
        relay.finish()
        assert waits == []  # nothing was started, so there is no last output to let through
        try:
            os.fstat(master)
            closed = False
        except OSError:
            closed = True
        assert closed
    finally:
        os.close(slave)
        devnull.close()
