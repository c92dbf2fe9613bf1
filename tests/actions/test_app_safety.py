"""The live cockpit on the sandbox keeps one record of every live change: what another process
left unfinished, and what was changed behind its back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cockpit.actions.model import ActionId
from cockpit.model import Status
from cockpit.sandbox.lifecycle import SandboxHandle
from tests.actions.support import Act, action_records, journal_records, write_config
from tests.actions.test_act_sandbox import (
    REPLICA,
    front_door_status,
    mutating_requests_since,
    route53_weights,
)
from tests.actions.test_app_actions import (
    SIZE,
    cockpit,
    confirm_screen,
    key_clock,
    notices,
    settle_until,
)
from tests.actions.test_safety_sandbox import (
    FIRST_STEP,
    kill_weight_up_after_executed,
    record_config,
)
from tests.key_timing import press_alone
from tests.sandbox.test_sandbox import upsert_weights


def drift_events(app: object) -> list[str]:
    events = app.session.event_log.latest(500)  # type: ignore[attr-defined]
    return [event.text for event in events if event.kind == "drift"]


async def test_a_weight_change_behind_the_cockpits_back_is_an_event_and_a_record(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    app, journal = cockpit(sandbox, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle_until(
                pilot, lambda: app.session.state.latest("traffic") is not None, "weights"
            )
            assert drift_events(app) == []
            upsert_weights(sandbox, 50, 50)
            await settle_until(pilot, lambda: bool(drift_events(app)), "the drift event")
    finally:
        journal.close()
    said = "changed outside the cockpit: weights old 100 % / new 0 % → old 50 % / new 50 %"
    assert drift_events(app) == [said]
    drifts = [r.data for r in journal_records(tmp_path) if r.kind == "drift"]
    assert [d["text"] for d in drifts] == [said]


async def test_the_cockpit_reconciles_an_action_a_killed_process_left_unfinished(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    kill_weight_up_after_executed(sandbox, record_config(sandbox, tmp_path), tmp_path)

    app, journal = cockpit(sandbox, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle_until(
                pilot,
                lambda: bool(action_records(tmp_path, ActionId.WEIGHT_UP, "completed")),
                "the unfinished weight-up reconciled",
            )
            await settle_until(
                pilot, lambda: app.session.state.latest("traffic") is not None, "weights"
            )
            events = [e for e in app.session.event_log.latest(500) if e.kind == "action"]
            assert app.session.runner is not None
            undoable = app.session.runner.session.facts(None).undoable_changes
    finally:
        journal.close()
    [completed] = action_records(tmp_path, ActionId.WEIGHT_UP, "completed")
    assert completed["outcome"] == "unknown"
    assert "old 95 % / new 5 %" in completed["message"]
    assert any("OUTCOME UNKNOWN" in e.text and e.status is Status.CRITICAL for e in events)
    assert undoable == 1
    assert route53_weights(sandbox) == FIRST_STEP
    assert drift_events(app) == []


async def test_r_after_a_promotion_is_refused_with_the_split_brain_reason(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    quick = {"promote_quiet_seconds": 0.0}
    act = Act(sandbox, write_config(sandbox, tmp_path, guards=quick))
    assert await asyncio.to_thread(act, ActionId.MAINTENANCE_ON, yes=True) == 0, act.text
    assert await asyncio.to_thread(act, ActionId.PROMOTE, confirm_name=REPLICA) == 0, act.text
    before = sandbox.client.requests()

    app, journal = cockpit(sandbox, tmp_path, guards=quick)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle_until(
                pilot, lambda: app.session.state.latest("replication") is not None, "poll"
            )
            await settle_until(
                pilot, lambda: app.session.state.latest("maintenance") is not None, "poll"
            )
            await press_alone(pilot, key_clock(app), "R")
            await settle_until(pilot, lambda: "split-brain" in notices(app), "the refusal")
            assert confirm_screen(app) is None
    finally:
        journal.close()
    refused = action_records(tmp_path, ActionId.ROLLBACK, "refused")[-1]
    blocked = [g["guard"] for g in refused["guards"] if not g["passed"]]
    assert blocked == ["no-split-brain"]
    assert front_door_status(sandbox) == 503
    assert mutating_requests_since(sandbox, before) == []
