"""`n`: an operator's note lands in the journal (secrets removed) and the event log."""

from __future__ import annotations

from pathlib import Path

from cockpit.app import CockpitApp
from cockpit.clock import FrozenClock
from cockpit.journal import JournalWriter, read_journal, session_header
from cockpit.redact import redactor_for
from screens.note_screen import NoteScreen
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
    )
    return app, journal


async def test_a_note_is_journaled_with_its_author_and_shown(tmp_path: Path) -> None:
    app, journal = app_with_journal(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, NoteScreen)
        await pilot.press(*"paused: db pw hunter2 rotated", "enter")
        await pilot.press("n", *"dropped", "escape")
        assert not isinstance(app.screen, NoteScreen)
    journal.close()
    notes = [r.data for r in read_journal(journal.path)[0] if r.kind == "note"]
    assert notes == [{"text": "paused: db pw *** rotated", "operator": "alice@bastion"}]
    texts = [event.text for event in app.event_log.latest(10)]
    assert "note: paused: db pw *** rotated" in texts
    assert not any("dropped" in text for text in texts)
