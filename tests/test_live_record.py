"""One live record, headless: which journal a live session continues, the cutover lock, what the
journal says is unfinished, what rollback restores, drift, and the confirmation rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cockpit.actions.confirmation import Confirmation, confirmation_problem
from cockpit.actions.model import ActionId, Plan
from cockpit.actions.rollback import restore_targets
from cockpit.actions.session_log import SessionLog, fold_records
from cockpit.config import Config, parse_config
from cockpit.journal.opening import SessionBusy, latest_live_journal, open_session_journal
from cockpit.model import Reading, SignalKind, Status
from cockpit.rules.verdicts import GuardResult
from cockpit.session.drift import DriftWatch

T0 = datetime(2026, 11, 23, 1, 0, 0, tzinfo=UTC)
CONFIG_TEXT = '[cutover]\nname = "shop"\n'


def config(folder: Path) -> Config:
    text = f'{CONFIG_TEXT}[journal]\ndir = "{folder}"\n'
    return parse_config(text, source="test.toml", base_dir=folder)


def open_journal(folder: Path, mode: str, minutes: int = 0) -> Any:
    return open_session_journal(
        config(folder),
        config_text=CONFIG_TEXT,
        mode=mode,
        environ={"USER": "alice"},
        clock=lambda: T0 + timedelta(minutes=minutes),
    )


# --- which journal a live session continues -----------------------------------------------------


def test_a_live_session_skips_newer_dry_run_and_read_only_journals(tmp_path: Path) -> None:
    live = open_journal(tmp_path, "live")
    live.close()
    for mode in ("dry-run", "read-only"):
        open_journal(tmp_path, mode, minutes=1).close()

    assert latest_live_journal(tmp_path, "shop") == live.path
    again = open_journal(tmp_path, "live", minutes=2)
    again.close()
    assert again.path == live.path


def test_a_second_live_process_is_refused_before_any_journal_exists(tmp_path: Path) -> None:
    first = open_journal(tmp_path, "live")
    try:
        with pytest.raises(SessionBusy, match=r"run live by another cockpit process \(pid \d+\)"):
            open_journal(tmp_path, "live")
        open_journal(tmp_path, "dry-run").close()
    finally:
        first.close()
    open_journal(tmp_path, "live").close()


# --- what the journal says --------------------------------------------------------------------


def action(run: str, phase: str, name: str = "weight-up", **data: Any) -> tuple[str, Any, Any]:
    record = {"action": name, "run": run, "phase": phase, "actor": "alice@bastion", **data}
    return ("action", T0, record)


WEIGHT_PLAN = {"target": {"before": {"old": 100, "new": 0}, "after": {"old": 95, "new": 5}}}
WEIGHT_INVERSE = {
    "action": "weight-down",
    "description": "set weights back to old 100 % / new 0 %",
    "target": {"before": {"old": 95, "new": 5}, "after": {"old": 100, "new": 0}},
    "undoable": True,
}


def test_a_run_started_and_never_ended_is_unfinished_with_its_plan() -> None:
    log = fold_records(
        [
            ("header", T0, {"pid": 4242}),
            action("1", "planned", plan=WEIGHT_PLAN),
            action("1", "started"),
            action("1", "executed"),
            action("2", "planned", plan=WEIGHT_PLAN),
            action("2", "cancelled"),
            action("2", "completed", outcome="cancelled"),
        ]
    )
    [run] = log.unfinished
    assert (run.run_id, run.last_phase, run.pid) == ("1", "executed", 4242)
    assert run.plan == WEIGHT_PLAN
    assert log.expected_values() == {"weights": None}


def test_a_planned_run_that_never_started_is_not_a_loose_end() -> None:
    log = fold_records([action("1", "planned", plan=WEIGHT_PLAN)])
    assert log.unfinished == ()


def test_completed_runs_leave_what_they_set_and_an_unknown_outcome_keeps_its_inverse() -> None:
    log = fold_records(
        [
            action("1", "planned", plan=WEIGHT_PLAN),
            action("1", "started"),
            action("1", "completed", outcome="unknown", inverse=WEIGHT_INVERSE, reconciles=True),
            action("2", "planned", name="maintenance-on", plan={"target": {"on": True}}),
            action("2", "started", name="maintenance-on"),
            action("2", "completed", name="maintenance-on", outcome="succeeded", inverse=None),
        ]
    )
    assert log.unfinished == ()
    assert log.facts(None).undoable_changes == 1
    assert log.last_values == {"weights": None, "maintenance": True}


def test_rollback_restores_each_resource_to_before_its_first_change() -> None:
    later = replace_after(WEIGHT_INVERSE, {"old": 95, "new": 5})
    on_inverse = {"action": "maintenance-off", "description": "off", "target": {"on": False}}
    log = fold_records(
        [
            action("1", "completed", outcome="succeeded", inverse=WEIGHT_INVERSE),
            action("2", "completed", outcome="succeeded", inverse=later),
            action("3", "completed", outcome="succeeded", inverse=on_inverse),
        ]
    )
    assert restore_targets(log.inverses) == {
        "weights": {"old": 100, "new": 0},
        "maintenance": False,
    }
    undone = fold_records([("action", T0, {"phase": "undone", "resource": "weights"})])
    assert undone.inverses == ()
    after_weights = log.with_record("action", T0, {"phase": "undone", "resource": "weights"})
    assert [i.action_id for i in after_weights.inverses] == [ActionId.MAINTENANCE_OFF]


def replace_after(inverse: dict[str, Any], after: dict[str, int]) -> dict[str, Any]:
    return {**inverse, "target": {"before": {"old": 90, "new": 10}, "after": after}}


def test_a_drift_record_is_what_the_next_process_expects() -> None:
    log = SessionLog().with_record("drift", T0, {"resource": "weights", "after": {"old": 0}})
    assert log.expected_values() == {"weights": {"old": 0}}


# --- drift ------------------------------------------------------------------------------------


def traffic(old: int, new: int, seconds: float = 0.0) -> Reading:
    return Reading(
        signal_id="traffic",
        kind=SignalKind.TRAFFIC,
        status=Status.OK,
        observed_at=T0 + timedelta(seconds=seconds),
        values={"raw_weights": {"old": old, "new": new}},
    )


def test_a_change_seen_twice_in_a_row_is_drift_and_one_odd_reading_is_not() -> None:
    watch = DriftWatch()
    assert watch.observe([traffic(50, 50)], action_in_flight=False) == []
    assert watch.observe([traffic(100, 0, 1)], action_in_flight=False) == []
    assert watch.observe([traffic(50, 50, 2)], action_in_flight=False) == []
    assert watch.observe([traffic(0, 100, 3)], action_in_flight=False) == []
    [drift] = watch.observe([traffic(0, 100, 4)], action_in_flight=False)
    assert drift.text() == (
        "changed outside the cockpit: weights old 50 % / new 50 % → old 0 % / new 100 %"
    )
    assert watch.observe([traffic(0, 100, 5)], action_in_flight=False) == []


def test_our_own_change_is_not_drift() -> None:
    watch = DriftWatch(sightings=1)
    watch.seed({"weights": {"old": 100, "new": 0}})
    assert watch.observe([traffic(95, 5)], action_in_flight=True) == []
    watch.expect({"weights": {"old": 95, "new": 5}})
    assert watch.observe([traffic(95, 5, 1)], action_in_flight=False) == []


def test_a_seeded_value_catches_a_change_made_while_no_cockpit_ran() -> None:
    watch = DriftWatch(sightings=1)
    watch.seed({"weights": {"old": 95, "new": 5}, "maintenance": None})
    [drift] = watch.observe([traffic(50, 50)], action_in_flight=False)
    assert (drift.before, drift.after) == ({"old": 95, "new": 5}, {"old": 50, "new": 50})


# --- the confirmation rule --------------------------------------------------------------------

PLAN = Plan(ActionId.PROMOTE, "Promote", (), (), confirm_word="shop-db-replica")
BLOCKED = (GuardResult("primary-quiet", "Primary quiet", "writes seen"),)


@pytest.mark.parametrize(
    ("confirmation", "problem"),
    [
        (Confirmation("shop-db-replica", "OVERRIDE", "lag is a paused replay"), None),
        (Confirmation("shop-db", "OVERRIDE", "reason"), "type shop-db-replica exactly"),
        (Confirmation("shop-db-replica", "OVERRIDEQA check", "reason"), "type OVERRIDE"),
        (Confirmation("shop-db-replica", "override", "reason"), "type OVERRIDE"),
        (Confirmation("shop-db-replica", "OVERRIDE", "  "), "a reason is required"),
        (Confirmation("shop-db-replica", None, "reason"), "type OVERRIDE"),
    ],
)
def test_the_runner_rule_for_names_and_overrides(
    confirmation: Confirmation, problem: str | None
) -> None:
    found = confirmation_problem(PLAN, BLOCKED, confirmation)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_an_unblocked_reversible_plan_needs_no_words() -> None:
    plain = replace(PLAN, confirm_word=None)
    assert confirmation_problem(plain, (), Confirmation()) is None
