"""The runbook panel and the event log drawn in a host app at 80x24 and 160x48, frozen clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widget import Widget

from cockpit.live.events import Event, events_from_changes
from cockpit.live.state import State, apply
from cockpit.model import Reading, SignalKind, Status
from cockpit.rules.runbook import StepCheck, StepState, evaluate_runbook
from tests.ui.samples import failed, moment_after, recorded_readings
from widgets.event_log import EventLogPanel
from widgets.runbook_panel import RunbookPanel

NARROW = (80, 24)
WIDE = (160, 48)
SIZES = [NARROW, WIDE]


class Host(App[None]):
    """The two widgets stacked, each half the screen, as a cockpit screen might place them."""

    def compose(self) -> ComposeResult:
        yield RunbookPanel()
        yield EventLogPanel()


def drawn(widget: Widget) -> list[str]:
    """The widget's lines as the terminal shows them, border and title included."""
    width, height = widget.region.size
    strips = widget.render_lines(Region(0, 0, width, height))
    return ["".join(segment.text for segment in strip) for strip in strips]


def content(widget: Widget) -> list[str]:
    """The drawn lines inside the border, without the padding, trailing blanks dropped."""
    inner = [line[2:-2].rstrip() for line in drawn(widget)[1:-1]]
    while inner and not inner[-1]:
        inner.pop()
    return inner


def busy() -> tuple[State, datetime]:
    """The recorded sandbox mid-cutover: lag building, 75/25 split, errors on new."""
    readings = recorded_readings()
    return apply(State(), readings)[0], moment_after(readings)


def checks_at(state: State, now: datetime) -> tuple[StepCheck, ...]:
    return evaluate_runbook(state, now)


def show_checks(pilot_app: App[None], checks: tuple[StepCheck, ...]) -> RunbookPanel:
    panel = pilot_app.query_one(RunbookPanel)
    panel.checks = checks
    return panel


def step_lines(panel: RunbookPanel) -> list[str]:
    return [line for line in content(panel) if "proven by:" not in line]


# --- runbook -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_runbook_waits_for_its_first_checks(size: tuple[int, int]) -> None:
    async with Host().run_test(size=size) as pilot:
        panel = pilot.app.query_one(RunbookPanel)
        await pilot.pause()
        assert content(panel) == ["waiting…"]
        assert drawn(panel)[0].startswith("╭─ RUNBOOK · … ")


async def test_runbook_not_configured() -> None:
    async with Host().run_test(size=NARROW) as pilot:
        panel = pilot.app.query_one(RunbookPanel)
        panel.configured = False
        await pilot.pause()
        assert content(panel) == ["not configured"]
        assert "RUNBOOK · OFF" in drawn(panel)[0]


@pytest.mark.parametrize("size", SIZES)
async def test_runbook_mid_cutover(size: tuple[int, int]) -> None:
    state, now = busy()
    checks = checks_at(state, now)
    async with Host().run_test(size=size) as pilot:
        panel = show_checks(pilot.app, checks)
        await pilot.pause()
        lines = step_lines(panel)
        words = [line[2:6].strip() for line in lines]
        assert words == ["DONE", "??", "TODO", "TODO", "DONE", "TODO", "TODO", "TODO"]
        for number, (line, check) in enumerate(zip(lines, checks, strict=True), start=1):
            assert f" {number} {check.step.title}" in line
            assert " — " in line
        assert "RUNBOOK · 2/8 done" in drawn(panel)[0]
        assert "old 75 % / new 25 %" in lines[5]
        assert "byte lag" in lines[2]


async def test_runbook_at_80_columns_cuts_long_evidence() -> None:
    state, now = busy()
    checks = checks_at(state, now)
    async with Host().run_test(size=NARROW) as pilot:
        panel = show_checks(pilot.app, checks)
        await pilot.pause()
        assert all(len(line) == 80 for line in drawn(panel))
        errors_line = step_lines(panel)[7]
        assert errors_line.startswith("  TODO 8 New side error rate OK — access_log:new CRITICAL")
        assert errors_line.endswith("…")
        assert not any("proven by:" in line for line in content(panel))


async def test_runbook_at_160_columns_shows_full_evidence_and_the_proof() -> None:
    state, now = busy()
    checks = checks_at(state, now)
    async with Host().run_test(size=WIDE) as pilot:
        panel = show_checks(pilot.app, checks)
        await pilot.pause()
        lines = content(panel)
        assert lines[-1].endswith(checks[7].evidence)
        assert lines[2].strip() == f"proven by: {checks[1].step.proven_by}"
        assert lines[1].startswith("> ??   2 Maintenance on")


@pytest.mark.parametrize("size", SIZES)
async def test_runbook_highlights_the_first_step_not_done(size: tuple[int, int]) -> None:
    state, now = busy()
    async with Host().run_test(size=size) as pilot:
        panel = show_checks(pilot.app, checks_at(state, now))
        await pilot.pause()
        marked = [line for line in step_lines(panel) if line.startswith(">")]
        assert len(marked) == 1
        assert " 2 Maintenance on" in marked[0]
        row_of_step_2 = 2  # below the border and step 1
        strip = panel.render_lines(Region(0, row_of_step_2, panel.region.width, 1))[0]
        reversed_text = "".join(seg.text for seg in strip if seg.style and seg.style.reverse)
        assert reversed_text.startswith("> ??   2 Maintenance on")


@pytest.mark.parametrize("size", SIZES)
async def test_runbook_with_no_readings_is_all_unknown(size: tuple[int, int]) -> None:
    async with Host().run_test(size=size) as pilot:
        panel = show_checks(pilot.app, checks_at(State(), moment_after(recorded_readings())))
        await pilot.pause()
        lines = step_lines(panel)
        assert [line[2:6].strip() for line in lines] == ["??"] * 8
        assert "DONE" not in "\n".join(lines)
        assert lines[0].startswith("> ??   1 DNS TTL lowered        — no DNS reading")
        assert "RUNBOOK · 0/8 done" in drawn(panel)[0]
        assert not panel.has_class("-ok")


async def test_runbook_on_stale_readings_says_stale_never_done() -> None:
    state, now = busy()
    later = now + timedelta(minutes=5)
    async with Host().run_test(size=WIDE) as pilot:
        panel = show_checks(pilot.app, checks_at(state, later))
        await pilot.pause()
        lines = step_lines(panel)
        assert [line[2:6].strip() for line in lines] == ["??"] * 8
        assert "reading STALE, 5m01s old" in lines[0]
        assert "replication reading STALE" in lines[2]


def finished(now: datetime) -> tuple[StepCheck, ...]:
    """Every step done: what the panel shows when the cutover is over."""
    return tuple(
        StepCheck(check.step, StepState.DONE, "proven") for check in checks_at(State(), now)
    )


async def test_runbook_all_done_has_no_current_step_and_an_ok_border() -> None:
    async with Host().run_test(size=NARROW) as pilot:
        panel = show_checks(pilot.app, finished(moment_after(recorded_readings())))
        await pilot.pause()
        lines = step_lines(panel)
        assert all(line.startswith("  DONE") for line in lines)
        assert "RUNBOOK · 8/8 done" in drawn(panel)[0]
        assert panel.has_class("-ok")


async def test_runbook_failed_poll_reads_unknown_with_the_reason() -> None:
    state, now = busy()
    broken = failed("replication", SignalKind.REPLICATION, now, "replica: connection refused")
    state = apply(state, [broken])[0]
    async with Host().run_test(size=WIDE) as pilot:
        panel = show_checks(pilot.app, checks_at(state, now))
        await pilot.pause()
        lines = step_lines(panel)
        assert lines[2].startswith("  ??   3 Replication caught up")
        assert "replication UNKNOWN: replica: connection refused" in lines[2]
        assert lines[3].startswith("  ??   4 Replica promoted")


# --- event log ---------------------------------------------------------------------------------


def history() -> tuple[tuple[Event, ...], datetime]:
    """First sightings of the recorded readings, then every signal changing status once."""
    readings = recorded_readings()
    state, first = apply(State(), readings)
    later = moment_after(readings, 10.0)
    flipped = [flip(reading, later) for reading in readings]
    _, changed = apply(state, flipped)
    return tuple(events_from_changes(first) + events_from_changes(changed)), later


def flip(reading: Reading, at: datetime) -> Reading:
    """The reading turned to a different status, to make a change event."""
    after = Status.UNKNOWN if reading.status is Status.OK else Status.OK
    return replace(reading, status=after, observed_at=at, detail=f"now {after.value}")


def note(at: datetime, text: str) -> Event:
    return Event(at, "", "note", None, text)


def show_events(pilot_app: App[None], events: Sequence[Event]) -> EventLogPanel:
    panel = pilot_app.query_one(EventLogPanel)
    panel.events = tuple(events)
    return panel


@pytest.mark.parametrize("size", SIZES)
async def test_event_log_empty(size: tuple[int, int]) -> None:
    async with Host().run_test(size=size) as pilot:
        panel = pilot.app.query_one(EventLogPanel)
        await pilot.pause()
        assert content(panel) == ["no events yet"]
        assert drawn(panel)[0].startswith("╭─ EVENTS · all ─")


@pytest.mark.parametrize("size", SIZES)
async def test_event_log_shows_the_newest_that_fit_newest_at_the_bottom_under_a_marker(
    size: tuple[int, int],
) -> None:
    events, later = history()
    events = (*events, note(later + timedelta(seconds=1), "operator: starting the shift"))
    async with Host().run_test(size=size) as pilot:
        panel = show_events(pilot.app, events)
        await pilot.pause()
        lines = content(panel)
        rows = panel.size.height
        assert len(lines) == min(rows, len(events))
        assert lines[0] == f"▲ {len(events) - rows + 1} more"
        lines = lines[1:]
        assert lines[-1].startswith(
            f"{(later + timedelta(seconds=1)):%H:%M:%S}Z NOTE    operator: starting the shift"
        )
        shown = events[-len(lines) :]
        for line, event in zip(lines, shown, strict=True):
            assert line.startswith(f"{event.at:%H:%M:%S}Z ")
        assert len(events) > rows, "the test must show that older events drop off"


@pytest.mark.parametrize("size", SIZES)
async def test_event_log_spells_every_status_as_a_word(size: tuple[int, int]) -> None:
    readings = recorded_readings()
    at = moment_after(readings)
    events = [
        Event(at, f"replication-{status.value}", "status", status, f"replication: {status.value}")
        for status in Status
    ]
    async with Host().run_test(size=size) as pilot:
        panel = show_events(pilot.app, events)
        await pilot.pause()
        words = [line.split()[1] for line in content(panel)]
        assert words == ["OK", "WARN", "CRIT", "UNKNOWN", "STALE"]


async def test_event_log_at_80_columns_cuts_long_lines() -> None:
    events, _ = history()
    async with Host().run_test(size=NARROW) as pilot:
        panel = show_events(pilot.app, events[:3])
        await pilot.pause()
        lines = content(panel)
        assert lines[0].startswith(f"{events[0].at:%H:%M:%S}Z WARN    dns:app.cutover.test: warn")
        assert lines[0].endswith("…")
        assert all(len(line) == 80 for line in drawn(panel))


async def test_event_log_at_160_columns_shows_the_whole_line() -> None:
    events, _ = history()
    fitting = [event for event in events if len(event.text) < 100][:3]
    async with Host().run_test(size=WIDE) as pilot:
        panel = show_events(pilot.app, fitting)
        await pilot.pause()
        lines = content(panel)
        for line, event in zip(lines, fitting, strict=True):
            assert line.startswith(f"{event.at:%H:%M:%S}Z ")
            assert line.endswith(event.text)
        assert any("(first reading)" in line for line in lines)
