"""A journal that cannot be written (disk full) must not take the screen down: the operator is
told loudly, in the header, the event log and a notice, and the cockpit keeps drawing.

The failing disk is faked at our own boundary, JournalWriter.append: a real full disk cannot be
made here without privileges."""

from __future__ import annotations

import errno
from collections.abc import Mapping
from pathlib import Path

from cockpit.app import CockpitApp
from cockpit.clock import FrozenClock
from cockpit.journal.chain import session_header
from cockpit.journal.writer import JournalWriter
from cockpit.jsonvalue import JsonValue
from cockpit.redact import Redactor
from tests.key_timing import SETTLED_SECONDS, KeyClock, press_alone, type_keys
from tests.ui.samples import moment_after, recorded_readings
from tests.ui.test_cockpit_app import sandbox_like_config
from widgets.header_bar import HeaderBar


class FullDiskJournal(JournalWriter):
    """A journal whose disk fills up after its header."""

    def append(self, kind: str, data: Mapping[str, JsonValue], *, sync: bool = False) -> int:
        if kind == "header":
            return super().append(kind, data, sync=sync)
        raise OSError(errno.ENOSPC, "No space left on device")


def app_on_a_full_disk(tmp_path: Path) -> CockpitApp:
    clock = FrozenClock(moment_after(recorded_readings()))
    header = session_header(
        cutover_name="night", config_digest="x", mode="live", environ={}, started_at=clock()
    )
    journal = FullDiskJournal.create(tmp_path, header=header, redactor=Redactor(), clock=clock)
    return CockpitApp(
        config=sandbox_like_config(),
        sources=[],
        clock=clock,
        journal=journal,
        operator="alice@bastion",
        poll=False,
        key_clock=KeyClock(),
    )


async def test_a_full_disk_is_said_and_the_screen_stays_up(tmp_path: Path) -> None:
    app = app_on_a_full_disk(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.receive_readings(list(recorded_readings()))
        await pilot.pause()
        app.receive_readings(list(recorded_readings()))
        clock = app.keys.clock
        assert isinstance(clock, KeyClock)
        await press_alone(pilot, clock, "n")
        clock.advance(SETTLED_SECONDS)
        await type_keys(pilot, clock, *"still here", "enter")
        await pilot.pause()
        assert app.is_running
        header = app.cockpit.query_one(HeaderBar)
        assert header.journal_path.startswith("NOT RECORDING: journal write failed")
        assert "space" in header.journal_path.lower()
        notices = [str(notice.message) for notice in app._notifications]
        assert sum("NOT RECORDING" in notice for notice in notices) == 1
        texts = [event.text for event in app.session.event_log.latest(50)]
        assert any(text.startswith("NOT RECORDING") for text in texts)
        assert "note: still here (NOT journaled: the write failed)" in texts
        assert app.session.state.latest("replication") is not None
