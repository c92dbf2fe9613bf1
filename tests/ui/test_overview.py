"""The go/no-go overview, the status strip and the header on screen at 80x24, 120x36 and 160x48.

The app runs on readings recorded from the sandbox, with a dry-run runner judging the guards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot

from cockpit.app import CockpitApp
from cockpit.clock import FrozenClock
from cockpit.model import SignalKind, Status
from cockpit.session.overview import FamilyLine, Go, NextStep, Overview
from screens.screen_text import screen_text
from tests.test_live_session import dry_runner
from tests.ui.samples import moment_after, recorded_readings
from tests.ui.test_cockpit_app import sandbox_like_config
from widgets.formatting import STATUS_WORDS
from widgets.header_bar import HeaderBar
from widgets.overview_panel import OverviewPanel, overview_lines
from widgets.status_strip import StatusStrip

SIZES = [(80, 24), (120, 36), (160, 48)]


def dry_run_app(clock: FrozenClock) -> CockpitApp:
    config = sandbox_like_config()
    return CockpitApp(
        config=config,
        sources=[],
        clock=clock,
        mode="DRY-RUN",
        operator="alice@bastion",
        poll=False,
        actions=dry_runner(config, clock),  # type: ignore[arg-type]
    )


@asynccontextmanager
async def running(size: tuple[int, int]) -> AsyncIterator[tuple[CockpitApp, Pilot[None]]]:
    """The dry-run cockpit at `size`, the recorded readings received and drawn."""
    readings = recorded_readings()
    app = dry_run_app(FrozenClock(moment_after(readings)))
    async with app.run_test(size=size) as pilot:
        app.receive_readings(list(readings))
        await pilot.pause()
        yield app, pilot


def drawn_lines(app: App[None], panel: OverviewPanel, overview: Overview) -> list[str]:
    """The overview's lines as the panel lays them out at its width."""
    lines = overview_lines(overview, panel.row_width(), app.console)
    return [line.plain.rstrip() for line in lines]


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_the_overview_is_shown_whole(size: tuple[int, int]) -> None:
    async with running(size) as (app, _pilot):
        view = app.session.view(app.clock())
        panel = app.cockpit.query_one(OverviewPanel)
        screen = screen_text(app)
        lines = drawn_lines(app, panel, view.overview)
        assert panel.display
        assert len(lines) <= panel.content_size.height
        assert all(line in screen for line in lines)
        assert panel.hidden_counts() == (0, 0)
    families = {family.name: family.key_number for family in view.overview.families}
    assert families["replication"] == "lag 9.1 MiB / 13.9 s"
    assert families["targets"] == "new 2/2 healthy, old 2/2"
    step = view.overview.next_step
    assert (step.title, step.verdict) == ("Maintenance on", Go.NO_GO)
    assert step.reasons == ("no maintenance reading yet: wait for its first poll",)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_the_strip_and_the_header_lose_nothing(size: tuple[int, int]) -> None:
    async with running(size) as (app, _pilot):
        screen = screen_text(app)
        entries = app.cockpit.query_one(StatusStrip).entries
        view = app.session.view(app.clock())
    assert [entry[0] for entry in entries] == [str(key) for key in range(10)]
    for key, name, status, word in entries:
        shown = word or (STATUS_WORDS[status] if status else "…")
        assert f"{key} {name} {shown}" in screen
    assert "0 GO NO-GO" in screen
    assert f"phase: {view.phase}" in screen
    assert app.clock().strftime("%H:%M:%SZ") in screen
    assert "shop: datacenter -> AWS" in screen


async def test_the_overview_is_the_first_panel_at_80x24_and_a_strip_when_large() -> None:
    async with running((80, 24)) as (app, pilot):
        panel = app.cockpit.query_one(OverviewPanel)
        assert panel.display and str(panel.border_title) == "GO/NO-GO · NO-GO"
        await pilot.press("2")
        assert not panel.display
        assert app.cockpit.query_one("#targets").display
        await pilot.press("0")
        assert panel.display
        await pilot.resize_terminal(120, 36)
        await pilot.pause()
        lines = drawn_lines(app, panel, app.session.view(app.clock()).overview)
        assert panel.has_class("-strip")
        assert panel.size.height == len(lines) == 4
        assert all(child.display for child in app.cockpit.query("#panels > *"))


async def test_the_strip_grows_and_shrinks_with_its_lines_not_with_its_ages() -> None:
    """Its ages change every second without a new layout; a change in lines gets one."""
    async with running((120, 36)) as (app, pilot):
        panel = app.cockpit.query_one(OverviewPanel)
        family = FamilyLine(SignalKind.REPLICATION, "replication", Status.OK, "lag 0 B", 1.0)
        step = NextStep(4, "Replica promoted", Go.NO_GO, ("one reason",), "P", "Promote replica")
        app.cockpit.query_one(OverviewPanel).overview = Overview((family,), step)
        await pilot.pause()
        short = panel.size.height
        reasons = tuple(f"guard {n} blocks for a reason long enough to wrap" for n in range(3))
        panel.overview = Overview((family,), NextStep(4, "Replica promoted", Go.NO_GO, reasons))
        await pilot.pause()
        tall = panel.size.height
        older = FamilyLine(SignalKind.REPLICATION, "replication", Status.OK, "lag 0 B", 2.0)
        layouts: list[bool] = []
        refresh = panel.refresh

        def spied(*regions: Any, layout: bool = False, **options: Any) -> Any:
            layouts.append(layout)
            return refresh(*regions, layout=layout, **options)

        panel.refresh = spied  # type: ignore[method-assign]
        panel.overview = Overview((older,), NextStep(4, "Replica promoted", Go.NO_GO, reasons))
        await pilot.pause()
        assert tall == panel.size.height and layouts and not any(layouts)
        panel.overview = Overview((older,), step)
        await pilot.pause()
        expected = len(drawn_lines(app, panel, panel.overview))
        assert tall > short == panel.size.height == expected


class OverviewAlone(App[None]):
    """One overview panel, 80 columns by 7 rows, given a next step with many reasons."""

    def compose(self) -> ComposeResult:
        yield OverviewPanel()

    def on_mount(self) -> None:
        family = FamilyLine(SignalKind.REPLICATION, "replication", Status.OK, "lag 0 B", 1.0)
        reasons = tuple(f"guard {n} blocks for a reason long enough to wrap" for n in range(8))
        step = NextStep(4, "Replica promoted", Go.NO_GO, reasons, "P", "Promote replica")
        self.query_one(OverviewPanel).overview = Overview((family,), step)


async def test_an_overview_too_long_for_its_panel_says_how_much_more_there_is() -> None:
    app = OverviewAlone()
    async with app.run_test(size=(80, 7)) as pilot:
        await pilot.pause()
        panel = app.query_one(OverviewPanel)
        lines = drawn_lines(app, panel, panel.overview)
        screen = screen_text(app)
        shown = panel.content_size.height
        hidden = panel.hidden_counts()
    assert len(lines) > shown
    assert hidden == (0, len(lines) - shown + 1)
    assert f"▼ {len(lines) - shown + 1} more" in screen
    assert lines[shown - 2] in screen


class HeaderAndStrip(App[None]):
    """The header and the status strip alone, with a long cutover name and every word long."""

    def compose(self) -> ComposeResult:
        header = HeaderBar()
        header.cutover_name = "shop: the old datacenter in Frankfurt -> AWS eu-central-1"
        header.mode, header.phase = "READ-ONLY", "maintenance on: waiting for lag 0"
        yield header
        yield StatusStrip()

    def on_mount(self) -> None:
        entries = [(str(n), f"P{n}", Status.UNKNOWN, "") for n in range(8)]
        self.query_one(StatusStrip).entries = (*entries, ("8", "ACT", None, "read-only"))


async def test_a_long_name_gives_way_to_the_phase_and_no_strip_entry_is_split() -> None:
    app = HeaderAndStrip()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = screen_text(app).splitlines()
        strip_height = app.query_one(StatusStrip).size.height
    assert screen[0].startswith("  READ-ONLY  shop: the old datacent")
    assert screen[0].endswith("…  phase: maintenance on: waiting for lag 0")
    strip = screen[2 : 2 + strip_height]
    assert strip_height == 2
    assert all(len(line) <= 80 for line in strip)
    said = "  ".join(line.strip() for line in strip)
    assert said == "  ".join([*(f"{n} P{n} UNKNOWN" for n in range(8)), "8 ACT read-only"])
