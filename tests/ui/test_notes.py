"""`n`: an operator's note lands in the journal (secrets removed) and the event log.

`n` writes to the journal, so it counts only after a pause: the key clock is scripted.
"""

from __future__ import annotations

from pathlib import Path

from cockpit.app import CockpitApp
from cockpit.clock import FrozenClock
from cockpit.journal.chain import session_header
from cockpit.journal.reader import read_journal
from cockpit.journal.writer import JournalWriter
from cockpit.redact import redactor_for
from screens.note_screen import NoteScreen
from tests.key_timing import SETTLED_SECONDS, KeyClock, press_alone, type_keys
from tests.ui.samples import moment_after, recorded_readings
from tests.ui.test_cockpit_app import sandbox_like_config


def app_with_journal(tmp_path: Path) -> tuple[CockpitApp, JournalWriter]:
    clock = FrozenClock(moment_after(recorded_readings()))
    header = session_header(
        cutover_name="night", config_digest="x", mode="live", environ={}, started_at=clock()
    )
    journal = JournalWriter.create(
        tmp_path, header=header, redactor=redactor_for(["hunter2"]), clock=clock
    )
    app = CockpitApp(
        config=sandbox_like_config(),
        sources=[],
        clock=clock,
        journal=journal,
        operator="alice@bastion",
        poll=False,
        redactor=redactor_for(["hunter2"]),
        key_clock=KeyClock(),
    )
    return app, journal


def key_clock(app: CockpitApp) -> KeyClock:
    clock = app.keys.clock
    assert isinstance(clock, KeyClock)
    return clock


def notes_in(journal: JournalWriter) -> list[object]:
    return [r.data for r in read_journal(journal.path)[0] if r.kind == "note"]


async def test_a_note_is_journaled_with_its_author_and_shown(tmp_path: Path) -> None:
    app, journal = app_with_journal(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        clock = key_clock(app)
        await press_alone(pilot, clock, "n")
        assert isinstance(app.screen, NoteScreen)
        clock.advance(SETTLED_SECONDS)
        await type_keys(pilot, clock, *"paused: db pw hunter2 rotated", "enter")
        await press_alone(pilot, clock, "n")
        assert isinstance(app.screen, NoteScreen)
        clock.advance(SETTLED_SECONDS)
        await type_keys(pilot, clock, *"dropped", "escape")
        assert not isinstance(app.screen, NoteScreen)
    journal.close()
    assert notes_in(journal) == [{"text": "paused: db pw *** rotated", "operator": "alice@bastion"}]
    texts = [event.text for event in app.session.event_log.latest(10)]
    assert "note: paused: db pw *** rotated" in texts
    assert not any("dropped" in text for text in texts)


async def test_n_right_after_another_key_opens_no_note_and_says_why(tmp_path: Path) -> None:
    app, journal = app_with_journal(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        clock = key_clock(app)
        await type_keys(pilot, clock, *"ls", "n")
        assert not isinstance(app.screen, NoteScreen)
        await type_keys(pilot, clock, *"ote", "enter")
    journal.close()
    assert notes_in(journal) == []
    notices = [str(notice.message) for notice in app._notifications]
    notices += [toast.message for toast in app.held_toasts]
    assert any("n ignored: keys are arriving like typing (3 in the last" in n for n in notices)


async def test_a_line_typed_after_a_pause_drops_the_note_it_opened(tmp_path: Path) -> None:
    app, journal = app_with_journal(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        clock = key_clock(app)
        await press_alone(pilot, clock, "n")
        assert isinstance(app.screen, NoteScreen)
        await type_keys(pilot, clock, *"slookup api.example.com", "enter")
        assert not isinstance(app.screen, NoteScreen)
        await press_alone(pilot, clock, "n")
        assert isinstance(app.screen, NoteScreen)
        clock.advance(SETTLED_SECONDS)
        await type_keys(pilot, clock, *"meant", "enter")
    journal.close()
    assert notes_in(journal) == [{"text": "meant", "operator": "alice@bastion"}]
    notices = [str(notice.message) for notice in app._notifications]
    assert any("note dropped" in notice for notice in notices)
