"""The live session, headless: scripted readings and a frozen clock in, journal records out."""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cockpit.actions.model import ActionId
from cockpit.actions.runner import ActionRunner, Outcome, Refresh
from cockpit.config import Config
from cockpit.io.backends import Backends
from cockpit.journal.reader import read_journal
from cockpit.journal.writer import JournalWriter
from cockpit.jsonvalue import JsonValue
from cockpit.live.state import State
from cockpit.model import Reading
from cockpit.redact import Redactor
from cockpit.session.live import LiveSession, ShiftBack
from cockpit.session.view import SPARKLINE_VALUES
from tests.test_guards import CONFIG, GOOD, MAINTENANCE_OFF_READING, NOW, config
from tests.test_journal import create_writer
from widgets.errors_panel import ErrorsPanel
from widgets.replication_panel import ReplicationPanel

HOLD_SECONDS = 30.0
AUTO_ABORT_CONFIG = config(
    "[guards.auto_abort]",
    "enabled = true",
    "max_error_ratio = 0.05",
    f"hold_seconds = {HOLD_SECONDS}",
)


@dataclass
class FrozenClock:
    """A clock that moves only when told."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def dry_runner(cfg: Config, clock: FrozenClock) -> Callable[[Refresh], ActionRunner]:
    def build(refresh: Refresh) -> ActionRunner:
        return ActionRunner(
            config=cfg,
            mode="dry-run",
            backends=Backends(None, None, None, None),
            refresh=refresh,
            clock=clock,
        )

    return build


async def no_refresh() -> State:
    raise AssertionError("nothing here polls")


def live_session(
    journal: JournalWriter, cfg: Config = CONFIG, clock: FrozenClock | None = None
) -> LiveSession:
    clock = clock or FrozenClock()
    return LiveSession(
        config=cfg,
        clock=clock,
        journal=journal,
        redactor=Redactor(),
        operator="alice@bastion",
        actions=dry_runner(cfg, clock),
        refresh=no_refresh,
    )


def good_readings(*changed: Reading) -> list[Reading]:
    return list({**GOOD, **{reading.signal_id: reading for reading in changed}}.values())


def records_of(journal: JournalWriter, kind: str) -> list[dict[str, JsonValue]]:
    return [record.data for record in read_journal(journal.path)[0] if record.kind == kind]


def guard_records(journal: JournalWriter, action: ActionId) -> list[dict[str, JsonValue]]:
    return [data for data in records_of(journal, "guard") if data["action"] == action.value]


@pytest.fixture
def journal(tmp_path: Path) -> JournalWriter:
    return create_writer(tmp_path / "journals", clock=FrozenClock())


def test_a_guard_that_starts_blocking_is_journaled_once(journal: JournalWriter) -> None:
    session = live_session(journal)
    session.receive(good_readings(MAINTENANCE_OFF_READING))
    session.refresh()
    assert [data["ready"] for data in guard_records(journal, ActionId.MAINTENANCE_ON)] == [True]

    session.receive(good_readings())
    session.refresh()
    session.refresh()

    records = guard_records(journal, ActionId.MAINTENANCE_ON)
    assert [data["ready"] for data in records] == [True, False]
    assert records[-1]["reasons"] == ["maintenance is already on: nothing to turn on"]
    guard_events = [
        event
        for event in session.event_log.latest(100)
        if event.kind == "guard" and event.signal_id == ActionId.MAINTENANCE_ON.value
    ]
    assert len(guard_events) == 2


def test_a_repeated_refresh_journals_no_guard(journal: JournalWriter) -> None:
    session = live_session(journal)
    session.receive(good_readings())
    session.refresh()
    before = len(records_of(journal, "guard"))
    session.refresh()
    session.refresh()
    assert before == len(ActionId) and len(records_of(journal, "guard")) == before


def test_a_failed_journal_write_is_a_notice_not_an_exception(
    journal: JournalWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(kind: str, data: Mapping[str, JsonValue], *, sync: bool = False) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal, "append", disk_full)
    session = live_session(journal)
    session.receive(good_readings())
    session.refresh()
    session.add_note("still here")

    notices = session.take_notices()
    assert [notice.severity for notice in notices] == ["error"]
    assert "NOT RECORDING" in notices[0].text and "No space left on device" in notices[0].text
    assert session.recording_problem is not None
    assert any("NOT journaled" in event.text for event in session.event_log.latest(100))
    assert session.take_notices() == ()


def test_a_note_is_journaled_after_what_the_screen_showed_when_it_was_written(
    journal: JournalWriter,
) -> None:
    clock = FrozenClock()
    session = live_session(journal, CONFIG, clock)
    session.receive(good_readings())
    lag = GOOD["replication"]
    clock.advance(1)
    moved_values = {**lag.values, "replay_lag_bytes": 9_000_000}
    moved = replace(lag, observed_at=clock.now, values=moved_values)
    session.receive([moved])
    kinds = [(record.kind, record.data.get("signal")) for record in read_journal(journal.path)[0]]
    assert kinds[-1] != ("reading", "replication"), "held back by the value spacing"

    session.add_note("lag jumped")
    records = read_journal(journal.path)[0]
    assert [record.kind for record in records[-2:]] == ["reading", "note"]
    assert records[-2].data["values"]["replay_lag_bytes"] == 9_000_000  # type: ignore[index, call-overload]


def errors_over_limit(at: datetime) -> Reading:
    errors = GOOD["errors:cloudwatch:new"]
    return replace(errors, observed_at=at, values={**errors.values, "error_ratio": 0.2})


def test_auto_abort_fires_after_the_held_seconds_over_the_limit_and_not_before(
    journal: JournalWriter,
) -> None:
    clock = FrozenClock()
    session = live_session(journal, AUTO_ABORT_CONFIG, clock)
    session.after(Outcome(ActionId.WEIGHT_UP, "succeeded", "new side at 50 %"))
    orders: list[ShiftBack | None] = []
    for _ in range(int(HOLD_SECONDS)):
        session.receive([errors_over_limit(clock())])
        orders.append(session.refresh())
        clock.advance(1)
    assert orders == [None] * int(HOLD_SECONDS)
    assert "auto-abort" in session.auto_abort_line

    session.receive([errors_over_limit(clock())])
    order = session.refresh()
    assert order is not None
    assert order.facts["new_error_ratio"] == 0.2 and order.facts["over_for_seconds"] == HOLD_SECONDS


def test_auto_abort_is_not_armed_without_a_step_up(journal: JournalWriter) -> None:
    clock = FrozenClock()
    session = live_session(journal, AUTO_ABORT_CONFIG, clock)
    for _ in range(3):
        session.receive([errors_over_limit(clock())])
        assert session.refresh() is None
        clock.advance(HOLD_SECONDS)


def test_the_view_draws_every_sparkline_a_panel_asks_for() -> None:
    panels = {*ReplicationPanel.sparkline_values, *ErrorsPanel.sparkline_values}
    assert panels == SPARKLINE_VALUES
