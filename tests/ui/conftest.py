"""Fixtures for the tests that drive a real terminal."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.ui.test_demo_tmux import Tmux


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    """A private tmux server (its own socket), killed when the test is done."""
    server = Tmux(f"cockpit-test-{os.getpid()}")
    try:
        yield server
    finally:
        server.run("kill-server")
