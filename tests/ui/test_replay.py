"""`cockpit replay` and `--follow`: the cockpit screen driven by a journal, nothing runnable.

The journals are written by JournalWriter with a frozen clock; what the panels show after a
seek is checked against the journal's own records, not against numbers typed into the test.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Static

from cockpit.clock import FrozenClock, system_clock
from cockpit.commands.launch import run_replay
from cockpit.journal.chain import session_header
from cockpit.journal.reader import JournalRecord, read_journal
from cockpit.journal.writer import JournalWriter
from cockpit.jsonvalue import JsonValue
from cockpit.model import Reading, SignalKind, Status, Value, reading_to_json
from cockpit.redact import Redactor
from cockpit.rules.verdicts import GuardFact, GuardResult
from cockpit.units import percent_number
from screens.cockpit_screen import CockpitScreen
from screens.help_screen import HelpScreen
from screens.replay_app import ReplayApp
from screens.replay_seek import ReplaySeekScreen
from tests.ui.samples import recorded_readings
from widgets.actions_panel import ActionsPanel
from widgets.event_log import EventLogPanel
from widgets.formatting import bytes_text
from widgets.header_bar import HeaderBar
from widgets.replay_bar import ReplayBar

REPO = Path(__file__).resolve().parents[2]
STORY_START = datetime(2026, 11, 23, 0, 55, tzinfo=UTC)
OPERATOR = "alice@bastion"
NOTE_TEXT = "replica caught up, promoting now"
FOLLOW_NOTE = "hello from the other session"
STEPS: tuple[Value, ...] = (0, 5, 10, 25, 50, 75, 100)


# --- a journal with a story ----------------------------------------------------------------------


def replication(at: datetime, lag_bytes: int, status: Status, detail: str) -> Reading:
    values: dict[str, Value] = {
        "replay_lag_bytes": lag_bytes,
        "replay_lag_seconds": lag_bytes / 1_000_000,
        "state": "streaming",
        "in_recovery": True,
        "replay_paused": False,
        "promoted": False,
    }
    return Reading("replication", SignalKind.REPLICATION, status, at, values, detail, 8.0)


def traffic(at: datetime, old: float, new: float, step_index: int) -> Reading:
    values: dict[str, Value] = {
        "weights": {"old": old, "new": new},
        "raw_weights": {"old": int(old), "new": int(new)},
        "backend": "route53",
        "steps": STEPS,
        "step_index": step_index,
        "ttl_seconds": 30,
    }
    detail = f"old {percent_number(old)} % / new {percent_number(new)} %"
    return Reading("traffic", SignalKind.TRAFFIC, Status.OK, at, values, detail, 8.0)


def dns(at: datetime, converged_fraction: float) -> Reading:
    sample = next(r for r in recorded_readings() if r.kind is SignalKind.DNS)
    values = {**sample.values, "converged_fraction": converged_fraction}
    return Reading(sample.signal_id, SignalKind.DNS, Status.WARN, at, values, sample.detail, 30.0)


def guard(action: str, title: str, passed: bool, reason: str) -> dict[str, JsonValue]:
    """A guard record as the live cockpit journals an action's READY/BLOCKED transition."""
    fact = GuardFact("byte lag", "0 B" if passed else "2.0 MiB", "replication", 1.0)
    result = GuardResult(
        "replica-caught-up", "Replica caught up", None if passed else reason, (fact,)
    )
    return {
        "action": action,
        "title": title,
        "ready": passed,
        "blocked": [] if passed else [result.guard_id],
        "reasons": [] if passed else [reason],
        "guards": [result.to_json()],
    }


def action(name: str, phase: str, **extra: JsonValue) -> dict[str, JsonValue]:
    return {"action": name, "run": "1", "phase": phase, "actor": OPERATOR, "mode": "live", **extra}


@dataclass(frozen=True)
class Story:
    """A written journal and the moments of its story."""

    path: Path
    start: datetime

    def at(self, seconds: float) -> datetime:
        return self.start + timedelta(seconds=seconds)


def write_story(directory: Path, start: datetime = STORY_START) -> Story:
    """Lag drains 9 MiB → 2 MiB → 0, maintenance goes on, a note, promote, traffic steps up."""
    clock = FrozenClock(start)
    header = session_header(
        cutover_name="night-cutover",
        config_digest="x",
        mode="live",
        environ={"USER": "alice"},
        started_at=start,
    )
    writer = JournalWriter.create(directory, header=header, redactor=Redactor(), clock=clock)
    story = Story(writer.path, start)

    def write(seconds: float, kind: str, data: Mapping[str, JsonValue]) -> None:
        clock.now = story.at(seconds)
        writer.append(kind, data)

    latest: dict[str, Reading] = {}

    def read(seconds: float, reading: Reading) -> None:
        latest[reading.signal_id] = reading
        write(seconds, "reading", reading_to_json(reading))

    read(1, replication(story.at(1), 9_584_640, Status.WARN, "9.1 MiB behind"))
    read(1, traffic(story.at(1), 100, 0, 0))
    read(1, dns(story.at(1), 0.0))
    write(2, "guard", guard("maintenance-on", "Maintenance on", True, ""))
    write(2, "guard", guard("promote", "Promote replica", False, "byte lag 9.1 MiB > 0"))
    read(60, replication(story.at(60), 2_097_152, Status.WARN, "2.0 MiB behind"))
    read(70, traffic(story.at(70), 95, 5, 1))
    write(120, "action", action("maintenance-on", "started"))
    write(121, "action", action("maintenance-on", "completed", outcome="succeeded", message="up"))
    write(180, "keyframe", {"readings": [reading_to_json(r) for r in latest.values()]})
    read(300, replication(story.at(300), 0, Status.OK, "caught up"))
    write(301, "guard", guard("promote", "Promote replica", True, ""))
    write(360, "note", {"text": NOTE_TEXT, "operator": OPERATOR})
    write(420, "action", action("promote", "started"))
    write(425, "action", action("promote", "completed", outcome="succeeded", message="promoted"))
    read(600, traffic(story.at(600), 75, 25, 5))
    read(600, dns(story.at(600), 0.5))
    read(660, replication(story.at(660), 1_048_576, Status.OK, "1.0 MiB behind"))
    clock.now = story.at(700)
    writer.close()
    return story


def break_chain(story: Story) -> int:
    """Edits the first reading of 2 MiB lag to 2 MiB + 1 B; returns the line the chain breaks at."""
    lines = story.path.read_text().splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if "2097152" in line)
    lines[index] = lines[index].replace("2097152", "2097153")
    story.path.write_text("".join(lines))
    return index + 2


# --- reading the journal back, as the expectation ---------------------------------------------


def latest_recorded(path: Path, signal_id: str, at: datetime) -> Mapping[str, JsonValue]:
    """The values of the newest reading (or keyframe entry) of `signal_id` journaled by `at`."""
    found: Mapping[str, JsonValue] | None = None
    for record in read_journal(path)[0]:
        if record.t > at:
            break
        for data in readings_in(record):
            if data.get("signal") == signal_id:
                values = data.get("values")
                assert isinstance(values, dict)
                found = values
    assert found is not None, f"no {signal_id} reading by {at}"
    return found


def later_recorded(path: Path, signal_id: str, at: datetime) -> list[Mapping[str, JsonValue]]:
    """The values of every reading of `signal_id` journaled after `at`."""
    later: list[Mapping[str, JsonValue]] = []
    for record in read_journal(path)[0]:
        for data in readings_in(record) if record.t > at else ():
            values = data.get("values")
            if data.get("signal") == signal_id and isinstance(values, dict):
                later.append(values)
    return later


def readings_in(record: JournalRecord) -> list[Mapping[str, JsonValue]]:
    if record.kind == "reading":
        return [record.data]
    readings = record.data.get("readings")
    if record.kind != "keyframe" or not isinstance(readings, list):
        return []
    return [item for item in readings if isinstance(item, dict)]


def lag_pattern(values: Mapping[str, JsonValue]) -> re.Pattern[str]:
    """'byte lag' and the lag as the replication panel formats it, in its grid's spacing."""
    lag = values.get("replay_lag_bytes")
    assert isinstance(lag, int)
    return re.compile(rf"byte lag\s+{re.escape(bytes_text(lag))}\s")


def split_text(values: Mapping[str, JsonValue]) -> str:
    weights = values.get("weights")
    assert isinstance(weights, dict)
    old, new = weights.get("old"), weights.get("new")
    assert isinstance(old, int | float) and isinstance(new, int | float)
    return f"old {percent_number(float(old))} % | new {percent_number(float(new))} %"


# --- the screen as text ------------------------------------------------------------------------


def drawn(widget: Widget) -> str:
    """What the widget draws, as plain text."""
    console = Console(width=max(widget.size.width, 100), record=True, file=io.StringIO())
    renderable = widget.render()
    console.print(renderable)
    return console.export_text()


def panel_text(app: ReplayApp, panel_id: str) -> str:
    return drawn(app.cockpit.query_one(f"#{panel_id}", Widget))


def bar_text(app: ReplayApp) -> str:
    return drawn(app.cockpit.query_one(ReplayBar))


def events_text(app: ReplayApp) -> str:
    return drawn(app.cockpit.query_one(EventLogPanel))


def position(app: ReplayApp) -> datetime:
    return app.controller.playback.position


async def seek(pilot: Pilot[None], typed: str) -> None:
    await pilot.press("g")
    assert isinstance(pilot.app.screen, ReplaySeekScreen)
    await pilot.press(*typed, "enter")
    await pilot.pause()


def replay_app(story: Story) -> ReplayApp:
    """A replay of the story on a clock that never moves, so the position moves only by keys."""
    return ReplayApp(story.path, clock=FrozenClock(datetime(2030, 1, 1, tzinfo=UTC)))


# --- replay ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_seek_shows_the_values_that_were_live_at_that_moment(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    story = write_story(tmp_path)
    target = story.at(90)
    app = replay_app(story)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        await seek(pilot, "00:56:30")
        assert position(app) == target
        assert app.cockpit.query_one(HeaderBar).now == target
        replication_now = latest_recorded(story.path, "replication", target)
        traffic_now = latest_recorded(story.path, "traffic", target)
        replication_shown = panel_text(app, "replication")
        traffic_shown = panel_text(app, "traffic")
        assert lag_pattern(replication_now).search(replication_shown)
        assert split_text(traffic_now) in traffic_shown
        for later in later_recorded(story.path, "replication", target):
            if later != replication_now:
                assert not lag_pattern(later).search(replication_shown)
        for later in later_recorded(story.path, "traffic", target):
            if later != traffic_now:
                assert split_text(later) not in traffic_shown
        assert "00:56:30Z" in bar_text(app)


async def test_seek_later_moves_the_panels_on_with_the_journal(tmp_path: Path) -> None:
    story = write_story(tmp_path)
    target = story.at(630)
    app = replay_app(story)
    async with app.run_test(size=(160, 48)) as pilot:
        await seek(pilot, "01:05:30")
        assert lag_pattern(latest_recorded(story.path, "replication", target)).search(
            panel_text(app, "replication")
        )
        assert "0 B" in panel_text(app, "replication")
        assert "old 75 % | new 25 %" in panel_text(app, "traffic")
        assert "50 % converged" in panel_text(app, "dns")
        shown_events = events_text(app)
        assert f"note: {NOTE_TEXT}" in shown_events
        assert "promote by alice@bastion: SUCCEEDED" in shown_events


async def test_a_bad_time_is_said_in_the_modal_and_a_time_past_the_end_is_clamped(
    tmp_path: Path,
) -> None:
    story = write_story(tmp_path)
    app = replay_app(story)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("g", *"25:99", "enter")
        modal = app.screen
        assert isinstance(modal, ReplaySeekScreen)
        assert "not a time of day" in modal.problem
        await pilot.press(*"\b" * 5)
        await pilot.press("escape")
        assert app.screen is app.cockpit
        assert position(app) == story.start
        await seek(pilot, "23:59")
        assert position(app) == story.at(700)
        assert "end of journal" in bar_text(app)


async def test_jumps_land_on_the_action_and_note_times(tmp_path: Path) -> None:
    story = write_story(tmp_path)
    app = replay_app(story)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("right_square_bracket")
        assert position(app) == story.at(121), "maintenance-on completed"
        await pilot.press("right_square_bracket")
        assert position(app) == story.at(360), "the note"
        assert f"note: {NOTE_TEXT}" in events_text(app)
        await pilot.press("right_square_bracket")
        assert position(app) == story.at(425), "promote completed"
        await pilot.press("left_square_bracket")
        assert position(app) == story.at(360)
        assert not app.controller.playback.playing
        assert "] 01:02:05Z promote by" in bar_text(app)


async def test_playback_moves_with_the_clock_and_stops_at_the_end(tmp_path: Path) -> None:
    story = write_story(tmp_path)
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=UTC))
    app = ReplayApp(story.path, clock=clock, speed=2.0)
    async with app.run_test(size=(80, 24)) as pilot:
        assert "▶ PLAYING 2x" in bar_text(app)
        clock.advance(30)
        app.tick()
        assert position(app) == story.at(60)
        await pilot.press("greater_than_sign")
        assert app.controller.playback.speed == 5.0
        await pilot.press("space")
        clock.advance(100)
        app.tick()
        assert position(app) == story.at(60)
        assert "⏸ PAUSED 5x" in bar_text(app)
        await pilot.press("space")
        clock.advance(1000)
        app.tick()
        await pilot.pause()
        assert position(app) == story.at(700)
        assert "end of journal" in bar_text(app)
        await pilot.press("home")
        assert position(app) == story.start
        await pilot.press("right", "right", "shift+right")
        assert position(app) == story.at(80)


async def test_header_says_replay_with_the_journal_and_its_operator(tmp_path: Path) -> None:
    story = write_story(tmp_path)
    app = replay_app(story)
    async with app.run_test(size=(80, 24)):
        header = app.cockpit.query_one(HeaderBar)
        assert header.mode == "REPLAY"
        assert header.journal_path == str(story.path)
        assert OPERATOR in header.operator and header.cutover_name == "night-cutover"
        assert "REPLAY" in str(header.render())


async def test_guards_show_as_journaled_and_the_bar_says_nothing_runs(tmp_path: Path) -> None:
    story = write_story(tmp_path)
    app = replay_app(story)
    async with app.run_test(size=(160, 48)) as pilot:
        await seek(pilot, "00:56:00")
        actions = panel_text(app, "actions")
        assert "REPLAY: nothing can run from here" in actions
        assert "Maintenance on" in actions and "READY" in actions
        assert "BLOCKED: byte lag 9.1 MiB > 0" in actions
        action_bar = str(app.cockpit.query_one("#action-bar", Static).content)
        assert action_bar.startswith("REPLAY (nothing runs): ")
        await seek(pilot, "01:00:05")
        assert "BLOCKED" not in panel_text(app, "actions")
        assert app.cockpit.query_one(ActionsPanel).rows[1].title == "Promote replica"


async def test_before_any_guard_record_the_actions_panel_is_read_only(tmp_path: Path) -> None:
    story = write_story(tmp_path)
    app = replay_app(story)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.press("space")
        assert position(app) == story.start
        assert "REPLAY: nothing can run from here" in panel_text(app, "actions")
        assert app.cockpit.query_one(ActionsPanel).read_only_reason is not None


async def test_no_action_key_runs_anything_and_the_journal_is_unchanged(tmp_path: Path) -> None:
    story = write_story(tmp_path)
    before = story.path.read_bytes()
    app = replay_app(story)
    async with app.run_test(size=(80, 24)) as pilot:
        bound = set(app.active_bindings)
        assert not bound & {"m", "M", "P", "plus", "minus", "R", "n"}
        await seek(pilot, "01:00:05")
        for key in ("m", "M", "P", "plus", "minus", "R", "n"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is app.cockpit, f"{key} opened {app.screen!r}"
        assert position(app) == story.at(305)
    assert story.path.read_bytes() == before


async def test_help_lists_the_replay_keys(tmp_path: Path) -> None:
    story = write_story(tmp_path)
    app = replay_app(story)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.screen.keys)
        for key in ("Space", "g", "]", "[", ">", "<", "Home", "End", "→", "Shift+←", "q"):
            assert key in keys, key
        await pilot.press("escape")
        assert isinstance(app.screen, CockpitScreen)


async def test_a_broken_chain_is_replayed_with_a_warning(tmp_path: Path) -> None:
    story = write_story(tmp_path)
    line = break_chain(story)
    app = replay_app(story)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert f"hash chain broken at line {line}" in bar_text(app)
        assert (
            app.problem == f"hash chain broken at line {line}: records after it cannot be trusted"
        )
        await seek(pilot, "00:56:30")
        assert "2.0 MiB" in panel_text(app, "replication"), "the edited journal is still shown"


def test_run_replay_refuses_a_missing_or_damaged_journal_in_words(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_replay(tmp_path / "nope.jsonl", speed=1.0, follow=False) == 3
    missing = capsys.readouterr().err
    assert "nope.jsonl does not exist" in missing and "journal.dir" in missing
    story = write_story(tmp_path)
    with story.path.open("ab") as stream:
        stream.write(b"this is not json\n")
        stream.write(b'{"seq": 99}\n')
    assert run_replay(story.path, speed=1.0, follow=False) == 3
    damaged = capsys.readouterr().err
    assert "is damaged at line" in damaged and "cockpit verify" in damaged
    assert "Traceback" not in damaged
    assert run_replay(story.path, speed=0.0, follow=False) == 3
    assert "--speed must be a positive number" in capsys.readouterr().err


def test_run_replay_will_not_follow_a_broken_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    story = write_story(tmp_path)
    line = break_chain(story)
    assert run_replay(story.path, speed=1.0, follow=True) == 3
    said = capsys.readouterr().err
    assert "cannot follow" in said and f"hash chain broken at line {line}" in said
    assert "without --follow" in said


# --- follow ---------------------------------------------------------------------------------------

WRITER_PROGRAM = """
import sys
from pathlib import Path
from cockpit.journal.writer import JournalWriter
from cockpit.redact import Redactor

writer = JournalWriter.resume(
    Path(sys.argv[1]), data={"operator": "bob@bastion", "mode": "live"}, redactor=Redactor()
)
writer.append("note", {"text": sys.argv[2], "operator": "bob@bastion"}, sync=True)
print("appended", flush=True)
sys.stdin.readline()
writer.close()
print("closed", flush=True)
"""


def other_session(path: Path, text: str) -> subprocess.Popen[str]:
    """A second process that resumes the journal, appends a note, and closes when told."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER_PROGRAM, str(path), text],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )


async def line_from(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    return await asyncio.to_thread(process.stdout.readline)


async def shown_within(pilot: Pilot[None], seconds: float, check: Callable[[], bool]) -> bool:
    """Whether `check()` comes true within `seconds`, looking every few milliseconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        await pilot.pause(0.02)
    return check()


def recent_story(directory: Path) -> Story:
    """The story, set in the recent past so the follower's real clock is after it."""
    start = system_clock().replace(microsecond=0) - timedelta(minutes=30)
    return write_story(directory, start)


async def test_follow_shows_a_note_another_process_appends_within_a_second(
    tmp_path: Path,
) -> None:
    story = recent_story(tmp_path)
    app = ReplayApp(story.path, follow=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("7")
        await pilot.pause()
        assert app.cockpit.query_one(HeaderBar).mode == "FOLLOW"
        assert "SESSION ENDED" in bar_text(app)
        assert FOLLOW_NOTE not in events_text(app)
        writer = other_session(story.path, FOLLOW_NOTE)
        try:
            assert await line_from(writer) == "appended\n"
            assert await shown_within(pilot, 1.0, lambda: FOLLOW_NOTE in events_text(app))
            assert "FOLLOWING live" in bar_text(app)
            assert "bob@bastion" in app.cockpit.query_one(HeaderBar).operator
            assert writer.stdin is not None
            writer.stdin.write("close\n")
            writer.stdin.flush()
            assert await line_from(writer) == "closed\n"
            assert await shown_within(pilot, 1.0, lambda: "SESSION ENDED" in bar_text(app))
            assert FOLLOW_NOTE in events_text(app)
        finally:
            writer.kill()
            writer.wait()


async def test_follow_stops_on_a_damaged_line_and_keeps_what_it_read(tmp_path: Path) -> None:
    story = recent_story(tmp_path)
    app = ReplayApp(story.path, follow=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("7")
        await pilot.pause()
        assert f"note: {NOTE_TEXT}" in events_text(app)
        with story.path.open("ab") as stream:
            stream.write(b"garbage written over the journal\n")
        assert await shown_within(pilot, 2.0, lambda: "FOLLOW STOPPED" in bar_text(app))
        assert "damaged at line" in app.problem
        assert f"note: {NOTE_TEXT}" in events_text(app)
        assert position(app) == story.at(700)


async def test_follow_never_takes_the_writers_lock(tmp_path: Path) -> None:
    story = recent_story(tmp_path)
    app = ReplayApp(story.path, follow=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        writer = JournalWriter.resume(story.path, data={"operator": "carol"}, redactor=Redactor())
        writer.append("note", {"text": "carol was here", "operator": "carol"}, sync=True)
        await pilot.press("7")
        assert await shown_within(pilot, 2.0, lambda: "carol was here" in events_text(app))
        writer.close()


CRASHING_WRITER = """
import os, socket, sys, time
from pathlib import Path
from cockpit.journal.writer import JournalWriter
from cockpit.redact import Redactor

writer = JournalWriter.resume(
    Path(sys.argv[1]),
    data={"operator": f"dave@{socket.gethostname()}", "mode": "live", "pid": os.getpid()},
    redactor=Redactor(),
)
writer.append("note", {"text": "about to vanish", "operator": "dave"}, sync=True)
print("appended", flush=True)
time.sleep(60)
"""


async def test_follow_says_when_the_writer_died_without_closing_the_journal(
    tmp_path: Path,
) -> None:
    story = recent_story(tmp_path)
    app = ReplayApp(story.path, follow=True)
    async with app.run_test(size=(80, 24)) as pilot:
        writer = subprocess.Popen(
            [sys.executable, "-c", CRASHING_WRITER, str(story.path)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        try:
            assert await line_from(writer) == "appended\n"
            assert await shown_within(pilot, 1.0, lambda: "FOLLOWING live" in bar_text(app))
        finally:
            writer.kill()
            writer.wait()
        assert await shown_within(pilot, 2.0, lambda: "WRITER GONE" in bar_text(app))
        await pilot.pause(0.3)
        assert position(app) == app.timeline.end, "a dead writer's readings are not current"
