"""Weighted sets beyond a plain pair, against the sandbox's moto over HTTP: a canary member,
alias records and a third target group. Every reading is compared with the test's own read."""

from __future__ import annotations

import os
from typing import Any

import pytest

from cockpit.actions.context import StepContext
from cockpit.actions.model import Plan
from cockpit.actions.rollback import execute_rollback, plan_rollback, verify_rollback
from cockpit.actions.session_log import SessionLog
from cockpit.actions.weights import (
    execute_weights,
    inverse_weights,
    plan_weight_step,
    verify_weights,
)
from cockpit.config import Config, TrafficSection, load_config
from cockpit.io.backends import LIVE, build_backends
from cockpit.io.context import AwsClients, SourceContext
from cockpit.io.failures import ActionFailed
from cockpit.io.weights import RawWeights, WeightsReader
from cockpit.model import Reading
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sources.traffic import TrafficSource
from tests.sandbox.test_sandbox import aws_client
from tests.sources.test_targets_traffic import poll, until


def shapes(sandbox: SandboxHandle) -> dict[str, Any]:
    shapes_info: dict[str, Any] = sandbox.info["aws"]["shapes"]
    return shapes_info


def shapes_section(sandbox: SandboxHandle, record: str) -> TrafficSection:
    route53 = {
        "hosted_zone_id": shapes(sandbox)["hosted_zone_id"],
        "record_name": shapes(sandbox)[record].rstrip("."),
        "old_set_identifier": "old",
        "new_set_identifier": "new",
    }
    return TrafficSection.model_validate({"route53": route53, "steps": (0, 5, 10, 25, 50, 100)})


def alb_section(sandbox: SandboxHandle) -> TrafficSection:
    aws = sandbox.info["aws"]
    alb = {
        "listener_arn": aws["listener_arn"],
        "old_target_group_arn": aws["target_groups"]["old"],
        "new_target_group_arn": aws["target_groups"]["new"],
    }
    return TrafficSection.model_validate({"alb": alb, "steps": (0, 5, 10, 25, 50, 100)})


def config_with(sandbox: SandboxHandle, section: TrafficSection) -> Config:
    return load_config(sandbox.config_path).model_copy(update={"traffic": section})


def context_with(sandbox: SandboxHandle, section: TrafficSection) -> StepContext:
    config = config_with(sandbox, section)
    aws = AwsClients(config.aws, sandbox.env)
    backends = build_backends(config, sandbox.env, aws, mode=LIVE)
    return StepContext(config, backends, SessionLog())


def reader(sandbox: SandboxHandle, section: TrafficSection) -> WeightsReader:
    return WeightsReader(section, AwsClients(config_with(sandbox, section).aws, sandbox.env))


def listed_sets(sandbox: SandboxHandle, record: str) -> dict[str, dict[str, Any]]:
    """The test's own read: the record's weighted sets by SetIdentifier."""
    name = shapes(sandbox)[record]
    listed = aws_client(sandbox, "route53").list_resource_record_sets(
        HostedZoneId=shapes(sandbox)["hosted_zone_id"]
    )["ResourceRecordSets"]
    return {s["SetIdentifier"]: s for s in listed if s["Name"] == name and "SetIdentifier" in s}


def listed_weights(sandbox: SandboxHandle, record: str) -> dict[str, int]:
    return {sid: int(s["Weight"]) for sid, s in listed_sets(sandbox, record).items()}


def true_shares(weights: dict[str, int]) -> dict[str, float]:
    total = sum(weights.values())
    return {name: weight / total * 100 for name, weight in weights.items()}


def forward_groups(sandbox: SandboxHandle) -> dict[str, int]:
    """The test's own read of the listener's forward weights, by target group ARN."""
    listener = aws_client(sandbox, "elbv2").describe_listeners(
        ListenerArns=[sandbox.info["aws"]["listener_arn"]]
    )["Listeners"][0]
    groups = listener["DefaultActions"][0]["ForwardConfig"]["TargetGroups"]
    return {g["TargetGroupArn"]: int(g["Weight"]) for g in groups}


def step_up(context: StepContext) -> Plan:
    plan = plan_weight_step(context, up=True)
    execute_weights(context, plan)
    verification = verify_weights(context, plan)
    assert verification.ok, verification.detail
    return plan


def add_member(sandbox: SandboxHandle, identifier: str, weight: int) -> None:
    record = {
        "Name": shapes(sandbox)["canary_record_name"],
        "Type": "A",
        "TTL": 30,
        "SetIdentifier": identifier,
        "Weight": weight,
        "ResourceRecords": [{"Value": "127.0.9.11"}],
    }
    aws_client(sandbox, "route53").change_resource_record_sets(
        HostedZoneId=shapes(sandbox)["hosted_zone_id"],
        ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": record}]},
    )


# --- a canary member --------------------------------------------------------------------------


async def test_a_three_member_set_is_read_with_its_true_shares(sandbox: SandboxHandle) -> None:
    section = shapes_section(sandbox, "canary_record_name")
    truth = listed_weights(sandbox, "canary_record_name")
    assert truth == {"old": 100, "new": 0, "canary": 10}
    context = SourceContext(config_with(sandbox, section), environ={**os.environ, **sandbox.env})

    source = TrafficSource(section, context)

    async def read_members() -> Reading | None:
        """A busy machine can time a poll out; the members come with the first one that answers."""
        reading = (await poll(source))["traffic"]
        return reading if "members" in reading.values else None

    reading = await until(read_members, within=120.0)

    shares = {m["label"]: m["share_percent"] for m in reading.values["members"]}
    assert shares == pytest.approx(true_shares(truth))
    assert {m["label"]: m["weight"] for m in reading.values["members"]} == truth
    assert reading.values["raw_weights"] == {"old": 100, "new": 0, "others": {"canary": 10}}
    assert reading.detail.startswith("old 90.9 % / new 0 % / canary 9.1 %")
    canary = next(m for m in reading.values["members"] if m["label"] == "canary")
    assert canary["target"] == ", ".join(shapes(sandbox)["canary_answers"])


def test_a_step_moves_old_and_new_and_leaves_the_canary(sandbox: SandboxHandle) -> None:
    context = context_with(sandbox, shapes_section(sandbox, "canary_record_name"))

    plan = step_up(context)

    assert listed_weights(sandbox, "canary_record_name") == {"old": 95, "new": 5, "canary": 10}
    assert "set 'canary' weight 10 kept" in plan.calls[0]
    assert "2 UPSERTs" in plan.calls[0]
    assert plan.changes[0].before == "old 90.9 % / new 0 % / canary 9.1 %"
    assert plan.changes[0].after == "old 86.4 % / new 4.5 % / canary 9.1 %"
    assert any("keep their weights" in note for note in plan.notes)


def test_rollback_restores_every_member(sandbox: SandboxHandle) -> None:
    context = context_with(sandbox, shapes_section(sandbox, "canary_record_name"))
    first = step_up(context)
    context = context_with(sandbox, shapes_section(sandbox, "canary_record_name"))
    session = SessionLog(inverses=(inverse_weights(context, first),))
    second = step_up(StepContext(context.config, context.backends, session))
    session = SessionLog(inverses=(*session.inverses, inverse_weights(context, second)))
    assert listed_weights(sandbox, "canary_record_name") == {"old": 90, "new": 10, "canary": 10}
    rolling_back = StepContext(context.config, context.backends, session)

    plan = plan_rollback(rolling_back)
    execute_rollback(rolling_back, plan)

    assert verify_rollback(rolling_back, plan).ok
    assert listed_weights(sandbox, "canary_record_name") == {"old": 100, "new": 0, "canary": 10}


def test_a_member_added_between_plan_and_run_makes_the_run_refuse(
    sandbox: SandboxHandle,
) -> None:
    context = context_with(sandbox, shapes_section(sandbox, "canary_record_name"))
    plan = plan_weight_step(context, up=True)
    add_member(sandbox, "late", 5)

    with pytest.raises(ActionFailed, match="member 'late' appeared"):
        execute_weights(context, plan)

    assert listed_weights(sandbox, "canary_record_name") == {
        "old": 100,
        "new": 0,
        "canary": 10,
        "late": 5,
    }


def test_rollback_refuses_when_a_member_appeared_since_the_first_change(
    sandbox: SandboxHandle,
) -> None:
    context = context_with(sandbox, shapes_section(sandbox, "canary_record_name"))
    session = SessionLog(inverses=(inverse_weights(context, step_up(context)),))
    add_member(sandbox, "late", 5)

    with pytest.raises(ActionFailed, match="member 'late' appeared"):
        plan_rollback(StepContext(context.config, context.backends, session))


# --- alias records ----------------------------------------------------------------------------


def test_an_alias_set_is_read_and_a_step_keeps_its_alias_targets(sandbox: SandboxHandle) -> None:
    section = shapes_section(sandbox, "alias_record_name")
    before = listed_sets(sandbox, "alias_record_name")
    context = context_with(sandbox, section)
    weighted_set = reader(sandbox, section).read_set()
    assert weighted_set.weights == RawWeights(100, 0)
    targets = {m.name: m.target for m in weighted_set.members}
    for side in ("old", "new"):
        alias = before[side]["AliasTarget"]
        assert targets[side] == (
            f"alias {alias['DNSName']} (zone {alias['HostedZoneId']}, evaluate target health yes)"
        )

    plan = step_up(context)

    after = listed_sets(sandbox, "alias_record_name")
    for side, weight in (("old", 95), ("new", 5)):
        assert after[side]["AliasTarget"] == before[side]["AliasTarget"]
        assert after[side]["AliasTarget"]["EvaluateTargetHealth"] is True
        assert "ResourceRecords" not in after[side] and "TTL" not in after[side]
        assert after[side] == {**before[side], "Weight": weight}
    assert any(before["new"]["AliasTarget"]["DNSName"] in note for note in plan.notes)


# --- a third target group ---------------------------------------------------------------------


def test_a_third_target_group_is_read_and_kept_by_a_step(sandbox: SandboxHandle) -> None:
    aws = sandbox.info["aws"]
    canary = aws["shapes"]["canary_target_group"]
    groups = [
        {"TargetGroupArn": aws["target_groups"]["old"], "Weight": 90},
        {"TargetGroupArn": aws["target_groups"]["new"], "Weight": 10},
        {"TargetGroupArn": canary, "Weight": 20},
    ]
    aws_client(sandbox, "elbv2").modify_listener(
        ListenerArn=aws["listener_arn"],
        DefaultActions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": groups}}],
    )
    context = context_with(sandbox, alb_section(sandbox))

    assert reader(sandbox, alb_section(sandbox)).read() == RawWeights(90, 10, ((canary, 20),))
    plan = step_up(context)

    assert forward_groups(sandbox) == {
        aws["target_groups"]["old"]: 75,
        aws["target_groups"]["new"]: 25,
        canary: 20,
    }
    assert "cutover-canary 20 kept" in plan.calls[0]
