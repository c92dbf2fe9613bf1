"""Nothing is clipped without a marker: every line of every panel is reachable at 80x24, 120x36
and 160x48, and enter on a row opens its whole text."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot

from cockpit.actions.runner import ActionRunner, Refresh
from cockpit.app import CockpitApp
from cockpit.clock import FrozenClock
from cockpit.config import Config, IntegritySection
from cockpit.io.backends import Backends
from cockpit.io.bucket_compare import BucketComparison
from cockpit.io.integrity_result import IntegrityRun, RowDifference, TableResult
from cockpit.live.events import Event
from cockpit.model import Reading, SignalKind, Status
from screens.cockpit_screen import PANELS
from screens.detail_screen import DetailScreen
from tests.key_timing import KeyClock, press_alone
from tests.ui.samples import moment_after, recorded_readings
from tests.ui.test_cockpit_app import sandbox_like_config
from widgets.actions_panel import ActionsPanel
from widgets.event_log import EventLogPanel
from widgets.panel import (
    ABOVE_MARK,
    BELOW_MARK,
    GUTTER,
    DetailLine,
    RowDetail,
    ScrollPanel,
    Window,
    visible_window,
)

SIZES = [(80, 24), (120, 36), (160, 48)]
NOTES = 40


def crowded_readings() -> list[Reading]:
    """The recorded busy moment plus more target groups and error backends than fit."""
    readings = list(recorded_readings())
    extra: list[Reading] = []
    for reading in readings:
        if reading.kind is SignalKind.TARGETS:
            extra += [replace(reading, signal_id=f"{reading.signal_id}-{n}") for n in range(3)]
        if reading.kind is SignalKind.ERRORS:
            _, backend, side = reading.signal_id.split(":")
            extra += [
                replace(reading, signal_id=f"errors:{other}:{side}")
                for other in ("prometheus", "access_log")
                if other != backend
            ]
    return readings + extra + integrity_readings(moment_after(readings))


def integrity_readings(at: datetime) -> list[Reading]:
    """A finished database check with tables that differ, and a bucket pair."""
    results = tuple(
        TableResult(
            f"public.table_{number}",
            "DIFFERENT" if number % 3 == 0 else "OK",
            at,
            1000,
            1000,
            (RowDifference(f"id={number}", "differs"),) if number % 3 == 0 else (),
        )
        for number in range(12)
    )
    run = IntegrityRun(at - timedelta(minutes=3), at, "old:5432, db shop", "new:5432", results)
    bucket = BucketComparison("uploads", "old-b", "new-b", "", at, 1000, 4, 4, 4, 4, 40, 40)
    database = {"running": True, "fraction_done": 0.4, "result": run.to_json()}
    return [
        Reading("integrity:database", SignalKind.INTEGRITY, Status.CRITICAL, at, database, "x", 10),
        Reading(
            "integrity:bucket:uploads",
            SignalKind.INTEGRITY,
            Status.OK,
            at,
            {"running": False, "result": bucket.to_json()},
            "OK: 4 objects",
            10,
        ),
    ]


def crowded_config() -> Config:
    integrity = IntegritySection(old_dsn="host=old dbname=shop", new_dsn="host=new dbname=shop")
    return sandbox_like_config().model_copy(update={"integrity": integrity})


def dry_run_actions(refresh: Refresh) -> ActionRunner:
    return ActionRunner(
        config=sandbox_like_config(),
        mode="dry-run",
        backends=Backends(None, None, None, None),
        refresh=refresh,
    )


def crowded_app() -> CockpitApp:
    return CockpitApp(
        config=crowded_config(),
        sources=[],
        clock=FrozenClock(moment_after(recorded_readings())),
        mode="DRY-RUN",
        operator="alice@bastion",
        poll=False,
        actions=dry_run_actions,
        key_clock=KeyClock(),
    )


async def press_enter(app: CockpitApp, pilot: Pilot[None]) -> None:
    """Enter on its own, as an operator opening a row presses it (typed fast, it is ignored)."""
    clock = app.keys.clock
    assert isinstance(clock, KeyClock)
    await press_alone(pilot, clock, "enter")


async def fill(app: CockpitApp, pilot: Pilot[None]) -> None:
    app.receive_readings(crowded_readings())
    for number in range(NOTES):
        app.session.add_note(f"operator note {number}")
    app.refresh_view()
    await pilot.pause()


def drawn(panel: ScrollPanel) -> list[str]:
    """The panel's lines on screen inside its frame, without the selection column."""
    return [line[GUTTER:].rstrip() for line in raw_lines(panel)]


def check_markers(panel: ScrollPanel, lines: list[str]) -> None:
    above, below = panel.hidden_counts()
    assert (lines[0] == f"{ABOVE_MARK} {above} more") == bool(above), lines
    if below:
        assert lines[-1] == f"{BELOW_MARK} {below} more", lines
    else:
        assert not lines[-1].startswith(BELOW_MARK), lines


async def page_through(pilot: Pilot[None], panel: ScrollPanel) -> list[str]:
    """Every content line drawn while paging from the top to the bottom, markers checked."""
    while panel.hidden_counts()[0]:
        await pilot.press("pageup")
    seen: list[str] = []
    for _ in range(200):
        lines = drawn(panel)
        check_markers(panel, lines)
        seen += [line for line in lines if not line.startswith((ABOVE_MARK, BELOW_MARK))]
        if not panel.hidden_counts()[1]:
            return seen
        await pilot.press("pagedown")
    raise AssertionError("paging never reached the end")


@pytest.mark.parametrize("size", SIZES)
async def test_every_line_of_every_panel_is_reachable_and_hidden_lines_are_marked(
    size: tuple[int, int],
) -> None:
    app = crowded_app()
    async with app.run_test(size=size) as pilot:
        await fill(app, pilot)
        clipped = []
        for spec in PANELS:
            await pilot.press(spec.key)
            panel = app.cockpit.query_one(f"#{spec.panel_id}", ScrollPanel)
            assert app.cockpit.focused is panel
            whole = [line.plain.rstrip() for line in panel.content_lines()]
            assert whole, f"{spec.panel_id} has nothing to show"
            if len(whole) > panel.size.height:
                clipped.append(spec.panel_id)
            seen = await page_through(pilot, panel)
            missing = [line for line in whole if line not in seen]
            assert not missing, f"{spec.panel_id} at {size}: never shown: {missing}"
        assert {"events", "targets"} <= set(clipped), "the test must overflow panels"


@pytest.mark.parametrize("size", SIZES)
async def test_up_and_down_reach_every_row_that_opens(size: tuple[int, int]) -> None:
    app = crowded_app()
    async with app.run_test(size=size) as pilot:
        await fill(app, pilot)
        for spec in PANELS:
            await pilot.press(spec.key)
            panel = app.cockpit.query_one(f"#{spec.panel_id}", ScrollPanel)
            selected = set()
            steps = len(panel.content_lines()) + 2
            for key in ["up"] * steps + ["down"] * steps:
                await pilot.press(key)
                row = panel.selected_row()
                assert row is not None, spec.panel_id
                selected.add(row.key)
                assert any(line.startswith("▌") for line in raw_lines(panel))
            openable = {row.key for row in panel.panel_rows() if row.detail is not None}
            assert selected == openable, spec.panel_id


def raw_lines(panel: ScrollPanel) -> list[str]:
    """The panel's lines inside its frame (border and padding, if any), selection column kept."""
    width, height = panel.region.size
    strips = panel.render_lines(Region(0, 0, width, height))
    lines = ["".join(segment.text for segment in strip) for strip in strips]
    frame = panel.styles.gutter
    inside = lines[frame.top : height - frame.bottom]
    return [line[frame.left : width - frame.right] for line in inside]


@pytest.mark.parametrize("size", SIZES)
async def test_enter_on_a_blocked_action_shows_every_guard_whole(size: tuple[int, int]) -> None:
    app = crowded_app()
    async with app.run_test(size=size) as pilot:
        await fill(app, pilot)
        await pilot.press("8")
        panel = app.cockpit.query_one(ActionsPanel)
        promote = next(row for row in panel.rows if row.key_label == "P")
        assert promote.blocked, "the recorded moment must block promotion"
        for _ in range(len(panel.rows)):
            await pilot.press("down")
            row = panel.selected_row()
            if row is not None and row.key == "P":
                break
        await press_enter(app, pilot)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        shown = screen.shown_text()
        assert shown.startswith("[P] Promote replica")
        for guard in promote.guards:
            assert guard.title in shown
            if guard.reason is not None:
                assert f"reason: {guard.reason}" in shown
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.cockpit


async def test_enter_on_a_signal_shows_its_whole_detail() -> None:
    app = crowded_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(app, pilot)
        await pilot.press("1")
        await press_enter(app, pilot)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        replication = next(r for r in recorded_readings() if r.kind is SignalKind.REPLICATION)
        shown = screen.shown_text()
        assert f"detail: {replication.detail}" in shown
        assert "replay lag bytes: " in shown


async def test_the_event_log_filter_key_cycles_and_the_title_says_which() -> None:
    app = crowded_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await fill(app, pilot)
        await pilot.press("7")
        log = app.cockpit.query_one(EventLogPanel)
        total = len(log.events)
        assert str(log.border_title) == "EVENTS · all"
        titles = []
        for _ in range(5):
            await pilot.press("f")
            titles.append(str(log.border_title))
        assert titles[0] == "EVENTS · actions 0 of " + str(total)
        assert titles[1].startswith("EVENTS · guards ")
        assert titles[2].startswith("EVENTS · signals ")
        assert titles[3] == f"EVENTS · notes {NOTES} of {total}"
        assert titles[4] == "EVENTS · all"
        await pilot.press("f", "f", "f", "f")
        lines = drawn(log)
        assert lines[-1].endswith(f"NOTE    note: operator note {NOTES - 1}")
        assert all("note: operator note" in line for line in lines[1:])


@pytest.mark.parametrize(
    ("top", "total", "height", "expected"),
    [
        (0, 5, 10, Window(0, 5, 0, 0)),
        (0, 20, 10, Window(0, 9, 0, 11)),
        (5, 20, 10, Window(5, 8, 5, 7)),
        (99, 20, 10, Window(11, 9, 11, 0)),
        (3, 20, 2, Window(3, 2, 3, 15)),
    ],
)
def test_the_window_keeps_a_row_for_each_marker(
    top: int, total: int, height: int, expected: Window
) -> None:
    assert visible_window(top, total, height) == expected


class LogHost(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.opened: list[RowDetail] = []

    def compose(self) -> ComposeResult:
        yield EventLogPanel()

    def on_scroll_panel_row_opened(self, message: ScrollPanel.RowOpened) -> None:
        self.opened.append(message.detail)


async def test_the_log_folds_a_flapping_signal_and_its_detail_lists_every_change() -> None:
    start = moment_after(recorded_readings())
    states = (Status.WARN, Status.OK)
    flaps = [
        Event(start + timedelta(seconds=25 * n), "dns:app", "status", states[n % 2], f"flap {n}")
        for n in range(12)
    ]
    note = Event(start + timedelta(seconds=400), "note", "note", None, "note: after")
    app = LogHost()
    async with app.run_test(size=(80, 24)) as pilot:
        log = app.query_one(EventLogPanel)
        log.events = (*flaps, note)
        log.focus()
        await pilot.pause()
        lines = drawn(log)
        assert lines[0].endswith("OK      dns:app WARN⇄OK 12× in 4m")
        assert lines[1].endswith("note: after")
        await pilot.press("up", "up", "enter")
        await pilot.pause()
        detail = app.opened[-1]
        assert detail.title == "dns:app WARN⇄OK 12× in 4m"
        assert [line.text.split(" ", 1)[1] for line in detail.lines] == [
            f"flap {n}" for n in range(12)
        ]


async def test_the_detail_screen_draws_hostile_text_as_text() -> None:
    hostile = "[bold red]not markup[/] [@click=app.quit]x[/]"
    detail = RowDetail(hostile, (DetailLine("reason", hostile),))
    app = App[None]()
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(DetailScreen(detail))
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DetailScreen)
        assert screen.shown_text() == f"{hostile}\nreason: {hostile}"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DetailScreen)


async def test_the_mouse_wheel_scrolls_a_panel_and_the_markers_follow() -> None:
    app = crowded_app()
    async with app.run_test(size=(120, 36)) as pilot:
        await fill(app, pilot)
        panel = app.cockpit.query_one("#targets", ScrollPanel)
        assert panel.hidden_counts()[0] == 0 and panel.hidden_counts()[1] > 0
        panel.post_message(events.MouseScrollDown(panel, 1, 1, 0, 1, 0, False, False, False))
        await pilot.pause()
        above, _ = panel.hidden_counts()
        assert above > 0
        assert drawn(panel)[0] == f"{ABOVE_MARK} {above} more"
        panel.post_message(events.MouseScrollUp(panel, 1, 1, 0, -1, 0, False, False, False))
        await pilot.pause()
        assert panel.hidden_counts()[0] == 0
