"""`cockpit act` against the sandbox: guards refuse with reasons, actions change real things,
read-backs prove it, rollback returns to the baseline, and the journal holds every step."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from cockpit.actions.model import ActionId
from cockpit.commands.check import run_check
from cockpit.config import load_config
from cockpit.sandbox.lifecycle import SandboxHandle
from tests.actions.support import (
    Act,
    action_records,
    journal_records,
    sandbox_environ,
    wait_until,
    write_config,
)
from tests.actions.test_weights_backend import authoritative_answers, listener_forward, record_sets

REPLICA = "shop-db-replica"


def front_door_status(sandbox: SandboxHandle) -> int:
    try:
        with urllib.request.urlopen(sandbox.info["http"]["front_door"] + "/", timeout=3) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as error:
        return error.code


def postgres(sandbox: SandboxHandle) -> dict[str, object]:
    status: dict[str, object] = sandbox.client.status()["postgres"]
    return status


def ready(sandbox: SandboxHandle, config_path: Path, action: ActionId) -> bool:
    """Whether `cockpit check` finds every guard of `action` passing right now."""
    config = load_config(config_path)
    result = run_check(config, sandbox_environ(sandbox))
    return any(g["action"] == action.value and g["ready"] for g in result.guards)


def route53_weights(sandbox: SandboxHandle) -> dict[str, int]:
    aws = sandbox.info["aws"]
    sets = record_sets(sandbox)
    return {
        "old": int(sets[aws["old_set_identifier"]]["Weight"]),
        "new": int(sets[aws["new_set_identifier"]]["Weight"]),
    }


def test_promotion_is_refused_with_reasons_then_done_and_verified(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    act = Act(sandbox, write_config(sandbox, tmp_path))
    sandbox.client.inject("lag-spike")
    wait_until(lambda: int(postgres(sandbox)["replay_lag_bytes"] or 0) > 0, "replication lag")

    assert act(ActionId.PROMOTE, confirm_name=REPLICA) == 1
    assert "maintenance is off: turn it on first" in act.text
    assert "byte lag" in act.text and "wait for 0 B" in act.text
    assert postgres(sandbox)["promoted"] is False

    assert act(ActionId.MAINTENANCE_ON, yes=True) == 0, act.text
    assert front_door_status(sandbox) == 503

    assert act(ActionId.PROMOTE, confirm_name=REPLICA) == 1
    assert "maintenance is off" not in act.text and "wait for 0 B" in act.text

    sandbox.client.inject("catch-up")
    wait_until(lambda: postgres(sandbox)["replay_lag_bytes"] == 0, "catch-up")
    assert act(ActionId.PROMOTE, confirm_name="shop-db") == 1
    assert "does not match" in act.text and postgres(sandbox)["promoted"] is False

    assert act(ActionId.PROMOTE, confirm_name=REPLICA) == 0, act.text
    assert postgres(sandbox)["promoted"] is True

    planned = action_records(tmp_path, ActionId.PROMOTE, "planned")[-1]
    facts = {f["label"]: f for g in planned["guards"] for f in g["facts"]}
    lag_fact = next(f for label, f in facts.items() if "lag" in label)
    assert lag_fact["value"] == "0 B" and lag_fact["age_seconds"] is not None
    rechecked = action_records(tmp_path, ActionId.PROMOTE, "rechecked")[-1]
    assert all(g["passed"] for g in rechecked["guards"])
    verified = action_records(tmp_path, ActionId.PROMOTE, "verified")[-1]
    assert verified["ok"] is True and verified["observed"] == {"in_recovery": False}
    refused = action_records(tmp_path, ActionId.PROMOTE, "refused")
    assert len(refused) == 2
    executed = action_records(tmp_path, ActionId.PROMOTE, "executed")[-1]
    assert any("pg_promote" in line for line in executed["evidence"])


def test_weight_steps_move_route53_and_the_authoritative_dns_follows(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    act = Act(sandbox, write_config(sandbox, tmp_path))
    assert act(ActionId.WEIGHT_UP, yes=True) == 0, act.text
    assert route53_weights(sandbox) == {"old": 95, "new": 5}
    verified = action_records(tmp_path, ActionId.WEIGHT_UP, "verified")[-1]
    assert verified["ok"] is True and verified["observed"] == {"old": 95, "new": 5}
    executed = action_records(tmp_path, ActionId.WEIGHT_UP, "executed")[-1]
    assert any("request id" in line for line in executed["evidence"])

    assert act(ActionId.WEIGHT_DOWN, yes=True) == 0, act.text
    assert route53_weights(sandbox) == {"old": 100, "new": 0}
    assert authoritative_answers(sandbox, 20) == set(sandbox.info["aws"]["old_answers"])


def test_a_full_step_to_new_is_what_the_authoritative_server_answers(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    act = Act(sandbox, write_config(sandbox, tmp_path, steps=[0, 100]))
    assert act(ActionId.WEIGHT_UP, yes=True) == 0, act.text
    assert route53_weights(sandbox) == {"old": 0, "new": 100}
    assert authoritative_answers(sandbox, 10) == set(sandbox.info["aws"]["new_answers"])


def test_an_alb_step_changes_the_listener_weights(sandbox: SandboxHandle, tmp_path: Path) -> None:
    act = Act(sandbox, write_config(sandbox, tmp_path, traffic_backend="alb"))
    assert act(ActionId.WEIGHT_UP, yes=True) == 0, act.text
    groups = listener_forward(sandbox)["ForwardConfig"]["TargetGroups"]
    by_arn = {g["TargetGroupArn"]: g["Weight"] for g in groups}
    arns = sandbox.info["aws"]["target_groups"]
    assert by_arn == {arns["old"]: 95, arns["new"]: 5}
    assert "elbv2 ModifyListener" in act.text


def test_rollback_after_several_changes_returns_to_the_baseline(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    act = Act(sandbox, write_config(sandbox, tmp_path))
    assert act(ActionId.ROLLBACK, yes=True) == 1
    assert "nothing to roll back" in act.text
    assert act(ActionId.WEIGHT_UP, yes=True) == 0, act.text
    wait_until(lambda: ready(sandbox, act.config_path, ActionId.WEIGHT_UP), "data from new at 5 %")
    assert act(ActionId.WEIGHT_UP, yes=True) == 0, act.text
    assert act(ActionId.MAINTENANCE_ON, yes=True) == 0, act.text
    assert route53_weights(sandbox) == {"old": 90, "new": 10}
    assert front_door_status(sandbox) == 503

    assert act(ActionId.ROLLBACK, yes=True) == 0, act.text
    assert route53_weights(sandbox) == {"old": 100, "new": 0}
    assert front_door_status(sandbox) == 200
    undone = action_records(tmp_path, ActionId.ROLLBACK, "undone")
    assert [u["resource"] for u in undone] == ["weights", "maintenance"]
    assert undone[0]["step"]["before"] == {"old": 90, "new": 10}
    assert undone[0]["step"]["after"] == {"old": 100, "new": 0}
    verified = action_records(tmp_path, ActionId.ROLLBACK, "verified")[-1]
    assert verified["ok"] is True
    assert len(list((tmp_path / "journal").glob("*.jsonl"))) == 1
    assert act(ActionId.ROLLBACK, yes=True) == 1 and "nothing to roll back" in act.text


def test_rollback_after_a_promotion_is_refused_as_split_brain_unless_overridden(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    act = Act(sandbox, write_config(sandbox, tmp_path, guards={"promote_quiet_seconds": 0.0}))
    assert act(ActionId.MAINTENANCE_ON, yes=True) == 0, act.text
    assert act(ActionId.PROMOTE, confirm_name=REPLICA) == 0, act.text
    before = sandbox.client.requests()

    assert act(ActionId.ROLLBACK, yes=True) == 1
    assert "the old primary is no longer the primary" in act.text
    assert "turn maintenance off" in act.text and "keep maintenance on" in act.text
    assert front_door_status(sandbox) == 503
    assert mutating_requests_since(sandbox, before) == []

    reason = "old app servers repointed to the promoted replica"
    assert act(ActionId.ROLLBACK, "OVERRIDEQA", yes=True, override_reason=reason) == 1
    assert "not overridden" in act.text and front_door_status(sandbox) == 503

    assert act(ActionId.ROLLBACK, "OVERRIDE", yes=True, override_reason=reason) == 0, act.text
    assert "NOT UNDONE: promotion of shop-db-replica cannot be undone" in act.text
    assert postgres(sandbox)["promoted"] is True
    assert front_door_status(sandbox) == 200
    override = action_records(tmp_path, ActionId.ROLLBACK, "override")[-1]
    assert override["reason"] == reason
    assert [g["guard"] for g in override["guards"]] == ["no-split-brain"]
    planned = action_records(tmp_path, ActionId.ROLLBACK, "planned")[-1]
    undone = action_records(tmp_path, ActionId.ROLLBACK, "undone")
    assert [u["step"] for u in undone] == planned["plan"]["target"]["steps"]


def test_dry_run_journals_the_plan_and_changes_nothing(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    act = Act(sandbox, write_config(sandbox, tmp_path))
    before = sandbox.client.requests()
    assert act(ActionId.MAINTENANCE_ON, yes=True, dry_run=True) == 0, act.text
    assert act(ActionId.WEIGHT_UP, yes=True, dry_run=True) == 0, act.text
    assert "DRY RUN" in act.text
    assert front_door_status(sandbox) == 200
    assert route53_weights(sandbox) == {"old": 100, "new": 0}
    planned = action_records(tmp_path, ActionId.WEIGHT_UP, "planned")[-1]
    assert planned["plan"]["target"]["after"] == {"old": 95, "new": 5}
    completed = action_records(tmp_path, ActionId.WEIGHT_UP, "completed")[-1]
    assert completed["outcome"] == "dry-run"
    assert not any(r.data.get("phase") == "started" for r in journal_records(tmp_path))
    assert mutating_requests_since(sandbox, before) == []


def test_act_journals_guard_transitions_as_the_screen_does(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    act = Act(sandbox, write_config(sandbox, tmp_path))
    assert act(ActionId.MAINTENANCE_ON, yes=True, dry_run=True) == 0, act.text
    guards = [r.data for r in journal_records(tmp_path) if r.kind == "guard"]
    assert {data["action"] for data in guards} == {action.value for action in ActionId}
    maintenance_on = [data for data in guards if data["action"] == ActionId.MAINTENANCE_ON.value]
    assert maintenance_on[0]["ready"] is True


def mutating_requests_since(sandbox: SandboxHandle, before: dict[str, object]) -> list[object]:
    """Mutating AWS requests sent after `before`, minus the sandbox's own metric publishing."""
    earlier = len(before["aws"])  # type: ignore[arg-type]
    now = sandbox.client.requests()["aws"][earlier:]
    return [r for r in now if r["mutating"] and r["action"] != "PutMetricData"]


def test_a_change_the_stand_in_rejects_is_journaled_and_what_is_true_is_said(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    from tests.actions.test_weights_backend import aws_client

    elbv2 = aws_client(sandbox, "elbv2")
    aws = sandbox.info["aws"]
    elbv2.create_rule(
        ListenerArn=aws["listener_arn"],
        Priority=1,
        Conditions=[{"Field": "path-pattern", "Values": ["/nothing-here/*"]}],
        Actions=[{"Type": "forward", "TargetGroupArn": aws["target_groups"]["old"]}],
    )
    act = Act(sandbox, write_config(sandbox, tmp_path))
    assert act(ActionId.MAINTENANCE_ON, yes=True) == 1
    assert "FAILED" in act.text and "Now:" in act.text and "maintenance" in act.text
    failed = action_records(tmp_path, ActionId.MAINTENANCE_ON, "failed")[-1]
    assert "priority 1" in failed["error"]
    reread = action_records(tmp_path, ActionId.MAINTENANCE_ON, "reread")[-1]
    assert any(line.startswith("maintenance OK: off") for line in reread["now"])
    assert front_door_status(sandbox) == 200


def test_a_second_act_while_a_cockpit_holds_the_session_is_refused(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    from cockpit.config import read_config_text
    from cockpit.journal.opening import open_session_journal

    config_path = write_config(sandbox, tmp_path)
    config = load_config(config_path)
    holder = open_session_journal(
        config,
        config_text=read_config_text(config_path),
        mode="live",
        environ=sandbox_environ(sandbox),
    )
    try:
        act = Act(sandbox, config_path)
        assert act(ActionId.MAINTENANCE_ON, yes=True) == 1
        assert "another cockpit process" in act.text
        assert front_door_status(sandbox) == 200
    finally:
        holder.close()
