"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simcon import log


@pytest.fixture
def warnings_on_stderr() -> Iterator[None]:
    """Warnings reach stderr only with --debug (stderr may be the container's): turn it on for tests that read
    warnings from capsys, and back off afterwards."""
    log.configure(None, "text", True)
    yield
    log.configure(None, "text", False)
