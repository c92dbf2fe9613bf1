"""Every action event in the log names its action, however the action ended."""

from __future__ import annotations

from pathlib import Path

from cockpit.actions.model import ActionId, Plan
from cockpit.actions.registry import action
from cockpit.actions.runner import Outcome, Prepared
from cockpit.live.events import Event
from tests.test_journal import create_writer
from tests.test_live_session import FrozenClock, live_session


def action_events(events: tuple[Event, ...]) -> list[str]:
    return [event.text for event in events if event.kind == "action"]


def test_a_cancelled_press_names_the_action_in_the_log_and_the_notice(tmp_path: Path) -> None:
    session = live_session(create_writer(tmp_path / "journals", clock=FrozenClock()))
    assert session.runner is not None
    spec = action(ActionId.MAINTENANCE_ON)
    plan = Plan(ActionId.MAINTENANCE_ON, "turn maintenance on", (), ())
    prepared = Prepared(spec, "run-1", (), plan, "alice@bastion")
    outcome = session.runner.cancel(prepared)
    notice = session.told(outcome)
    expected = f"{spec.title} cancelled: cancelled at the confirm screen"
    assert outcome.message == expected
    assert action_events(session.event_log.latest(100)) == [expected]
    assert notice.text == expected


def test_an_outcome_that_does_not_name_its_action_is_led_by_the_title(tmp_path: Path) -> None:
    session = live_session(create_writer(tmp_path / "journals", clock=FrozenClock()))
    title = session.title_of(ActionId.PROMOTE)
    bare = Outcome(ActionId.PROMOTE, "aborted", "guards changed since the plan: lag 4 MiB")
    named = Outcome(ActionId.PROMOTE, "failed", f"{title} FAILED: timeout")
    session.told(bare)
    session.told(named)
    assert action_events(session.event_log.latest(100)) == [
        f"{title}: guards changed since the plan: lag 4 MiB",
        f"{title} FAILED: timeout",
    ]
