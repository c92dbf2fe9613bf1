"""Layout pinned at 80x24 and 160x48: recorded sandbox readings, a frozen clock, UTC."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from cockpit.app import CockpitApp
from cockpit.clock import FrozenClock
from tests.ui.samples import moment_after, recorded_readings
from tests.ui.test_cockpit_app import make_app


@pytest.fixture(autouse=True)
def utc_local_time() -> Iterator[None]:
    """The header shows local time too; pin it so the snapshot is the same everywhere."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def busy_app() -> tuple[CockpitApp, Any]:
    readings = recorded_readings()
    app = make_app(FrozenClock(moment_after(readings)))

    async def feed(pilot: Pilot[None]) -> None:
        app.receive_readings(list(readings))
        await pilot.pause()

    return app, feed


def test_cockpit_at_80x24(snap_compare: Any) -> None:
    app, feed = busy_app()
    assert snap_compare(app, terminal_size=(80, 24), run_before=feed)


def test_cockpit_at_80x24_dns_panel(snap_compare: Any) -> None:
    app, feed = busy_app()

    async def feed_and_show_dns(pilot: Pilot[None]) -> None:
        await feed(pilot)
        await pilot.press("3")

    assert snap_compare(app, terminal_size=(80, 24), run_before=feed_and_show_dns)


def test_cockpit_at_160x48(snap_compare: Any) -> None:
    app, feed = busy_app()
    assert snap_compare(app, terminal_size=(160, 48), run_before=feed)
