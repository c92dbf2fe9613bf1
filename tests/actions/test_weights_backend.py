"""The traffic-weight backend against the sandbox's moto: read, write in one request, read back."""

from __future__ import annotations

from typing import Any

import dns.message
import dns.query
import dns.rdatatype
import pytest

from cockpit.config import Route53Traffic, TrafficSection, load_config
from cockpit.io.context import AwsClients
from cockpit.io.failures import ActionFailed
from cockpit.io.weights import (
    RawWeights,
    WeightsReader,
    WeightsWriter,
    describe_weights_target,
    planned_weight_calls,
    reweighted_actions,
    route53_upserts,
    weights_for_percent,
)
from cockpit.sandbox.lifecycle import SandboxHandle
from tests.sandbox.test_sandbox import aws_client

ACCOUNT_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012"
LISTENER_ARN = f"{ACCOUNT_ARN}:listener/app/web/abc/def"
OLD_GROUP_ARN = f"{ACCOUNT_ARN}:targetgroup/web-old/1111"
NEW_GROUP_ARN = f"{ACCOUNT_ARN}:targetgroup/web-new/2222"
DNS_DRAWS = 64


def route53_section(**overrides: str) -> TrafficSection:
    route53 = {
        "hosted_zone_id": "Z123",
        "record_name": "app.example.com",
        "old_set_identifier": "old",
        "new_set_identifier": "new",
    }
    return TrafficSection.model_validate({"route53": {**route53, **overrides}})


def alb_section(old: str = OLD_GROUP_ARN, new: str = NEW_GROUP_ARN) -> TrafficSection:
    alb = {"listener_arn": LISTENER_ARN, "old_target_group_arn": old, "new_target_group_arn": new}
    return TrafficSection.model_validate({"alb": alb})


def sandbox_traffic(sandbox: SandboxHandle) -> tuple[TrafficSection, AwsClients]:
    config = load_config(sandbox.config_path)
    assert config.traffic is not None and config.traffic.route53 is not None
    return config.traffic, AwsClients(config.aws, sandbox.env)


def sandbox_alb_config(sandbox: SandboxHandle) -> dict[str, str]:
    aws = sandbox.info["aws"]
    return {
        "listener_arn": aws["listener_arn"],
        "old_target_group_arn": aws["target_groups"]["old"],
        "new_target_group_arn": aws["target_groups"]["new"],
    }


def sandbox_alb_section(sandbox: SandboxHandle, **changes: str) -> TrafficSection:
    return TrafficSection.model_validate({"alb": {**sandbox_alb_config(sandbox), **changes}})


def with_route53(section: TrafficSection, **changes: str) -> TrafficSection:
    assert section.route53 is not None
    route53 = Route53Traffic.model_validate({**section.route53.model_dump(), **changes})
    return section.model_copy(update={"route53": route53})


def record_sets(sandbox: SandboxHandle) -> dict[str, dict[str, Any]]:
    aws = sandbox.info["aws"]
    listed = aws_client(sandbox, "route53").list_resource_record_sets(
        HostedZoneId=aws["hosted_zone_id"]
    )["ResourceRecordSets"]
    return {s["SetIdentifier"]: s for s in listed if s.get("SetIdentifier")}


def listener_forward(sandbox: SandboxHandle) -> dict[str, Any]:
    listener = aws_client(sandbox, "elbv2").describe_listeners(
        ListenerArns=[sandbox.info["aws"]["listener_arn"]]
    )["Listeners"][0]
    forward: dict[str, Any] = listener["DefaultActions"][0]
    return forward


def authoritative_answers(sandbox: SandboxHandle, draws: int) -> set[str]:
    host, port = sandbox.info["dns"]["authoritative"].rsplit(":", 1)
    seen: set[str] = set()
    for _ in range(draws):
        query = dns.message.make_query(sandbox.info["aws"]["record_name"], dns.rdatatype.A)
        response = dns.query.udp(query, host, port=int(port), timeout=2.0)
        seen |= {
            rdata.to_text()
            for rrset in response.answer
            if rrset.rdtype == dns.rdatatype.A
            for rdata in rrset
        }
    return seen


# --- pure ---------------------------------------------------------------------------------------


def test_weights_for_a_percent_sum_to_100() -> None:
    assert weights_for_percent(25) == RawWeights(old=75, new=25)
    assert weights_for_percent(0) == RawWeights(old=100, new=0)
    with pytest.raises(ValueError, match=r"0\.\.100"):
        weights_for_percent(101)


def test_the_target_is_named_as_the_operator_knows_it() -> None:
    assert describe_weights_target(route53_section()) == (
        "Route 53 zone Z123, record app.example.com A (sets 'old' / 'new')"
    )
    assert describe_weights_target(alb_section()) == (
        "ALB listener app/web/abc/def (target groups web-old / web-new)"
    )


def test_planned_calls_name_the_exact_api_call_and_every_weight() -> None:
    before, after = RawWeights(75, 25), RawWeights(50, 50)

    assert planned_weight_calls(route53_section(), before, after) == (
        "route53 ChangeResourceRecordSets on zone Z123: one change batch of 2 UPSERTs "
        "(set 'old' weight 75 → 50, set 'new' weight 25 → 50)",
    )
    assert planned_weight_calls(alb_section(), before, after) == (
        f"elbv2 ModifyListener on {LISTENER_ARN}: forward weights old 75 → 50, new 25 → 50",
    )


def test_upserts_copy_each_set_whole_and_change_only_its_weight() -> None:
    alias = {"HostedZoneId": "Z2", "DNSName": "new-lb.example.com.", "EvaluateTargetHealth": True}
    listed = [
        {"Name": "app.example.com.", "Type": "A", "SetIdentifier": "old", "Weight": 100,
         "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.1"}], "HealthCheckId": "hc-1"},
        {"Name": "app.example.com.", "Type": "A", "SetIdentifier": "new", "Weight": 0,
         "AliasTarget": alias},
    ]  # fmt: skip
    config = route53_section().route53
    assert config is not None

    changes = route53_upserts(listed, config, RawWeights(90, 10))

    assert [c["Action"] for c in changes] == ["UPSERT", "UPSERT"]
    assert changes[0]["ResourceRecordSet"] == {**listed[0], "Weight": 90}
    assert changes[1]["ResourceRecordSet"] == {**listed[1], "Weight": 10}
    assert listed[0]["Weight"] == 100


def test_reweighting_keeps_stickiness_other_groups_and_other_actions() -> None:
    other_group = f"{ACCOUNT_ARN}:targetgroup/canary/3333"
    stickiness = {"Enabled": True, "DurationSeconds": 300}
    oidc = {"Type": "authenticate-oidc", "Order": 1, "AuthenticateOidcConfig": {"Issuer": "x"}}
    forward = {
        "Type": "forward",
        "Order": 2,
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": OLD_GROUP_ARN, "Weight": 100},
                {"TargetGroupArn": other_group, "Weight": 0},
            ],
            "TargetGroupStickinessConfig": stickiness,
        },
    }
    config = alb_section().alb
    assert config is not None

    actions = reweighted_actions([oidc, forward], config, RawWeights(60, 40, ((other_group, 0),)))
    with pytest.raises(ActionFailed, match="member 'canary' appeared"):
        reweighted_actions([oidc, forward], config, RawWeights(60, 40))

    assert actions[0]["AuthenticateOidcConfig"] == {"Issuer": "x", "UseExistingClientSecret": True}
    assert actions[1]["ForwardConfig"] == {
        "TargetGroups": [
            {"TargetGroupArn": OLD_GROUP_ARN, "Weight": 60},
            {"TargetGroupArn": other_group, "Weight": 0},
            {"TargetGroupArn": NEW_GROUP_ARN, "Weight": 40},
        ],
        "TargetGroupStickinessConfig": stickiness,
    }
    assert forward["ForwardConfig"]["TargetGroups"][0]["Weight"] == 100


def test_a_plain_forward_becomes_a_weighted_one() -> None:
    config = alb_section().alb
    assert config is not None
    plain = {"Type": "forward", "TargetGroupArn": OLD_GROUP_ARN}

    (action,) = reweighted_actions([plain], config, RawWeights(95, 5))

    assert "TargetGroupArn" not in action
    assert action["ForwardConfig"]["TargetGroups"] == [
        {"TargetGroupArn": OLD_GROUP_ARN, "Weight": 95},
        {"TargetGroupArn": NEW_GROUP_ARN, "Weight": 5},
    ]


def test_a_listener_without_a_forward_is_refused_before_any_call() -> None:
    config = alb_section().alb
    assert config is not None
    fixed = {"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "503"}}
    with pytest.raises(ActionFailed, match="fixed-response, not a forward: nothing was changed"):
        reweighted_actions([fixed], config, RawWeights(50, 50))


# --- against the sandbox ------------------------------------------------------------------------


def test_reads_the_seed_weights_and_sends_no_mutating_request(sandbox: SandboxHandle) -> None:
    section, aws = sandbox_traffic(sandbox)

    assert WeightsReader(section, aws).read() == RawWeights(old=100, new=0)
    assert WeightsReader(sandbox_alb_section(sandbox), aws).read() == RawWeights(100, 0)

    sent = [r for r in sandbox.client.requests()["aws"] if r["sender"] == "client"]
    assert {r["action"] for r in sent if not r["mutating"]} >= {"DescribeListeners"}
    assert [r for r in sent if r["mutating"]] == []


def test_route53_write_is_one_batch_read_back_equal_and_answered_by_dns(
    sandbox: SandboxHandle,
) -> None:
    section, aws = sandbox_traffic(sandbox)
    seeded = record_sets(sandbox)

    evidence = WeightsWriter(section, aws).write(RawWeights(50, 50))

    assert len(evidence) == 1
    assert "route53 ChangeResourceRecordSets on zone" in evidence[0]
    assert "INSYNC" in evidence[0] and "request id " in evidence[0]
    assert "request id unknown" not in evidence[0]
    assert WeightsReader(section, aws).read() == RawWeights(50, 50)
    now = record_sets(sandbox)
    for identifier in ("old", "new"):
        assert now[identifier] == {**seeded[identifier], "Weight": 50}
    mutating = [
        r for r in sandbox.client.requests()["aws"] if r["sender"] == "client" and r["mutating"]
    ]
    assert [r["method"] for r in mutating] == ["POST"]
    assert mutating[0]["path"].endswith("/rrset/")
    new_address = sandbox.info["aws"]["new_answers"][0]
    assert new_address in authoritative_answers(sandbox, DNS_DRAWS)


def test_before_the_write_dns_never_answers_the_new_side(sandbox: SandboxHandle) -> None:
    new_address = sandbox.info["aws"]["new_answers"][0]
    assert new_address not in authoritative_answers(sandbox, 16)


def test_alb_write_sets_the_forward_weights_and_keeps_its_stickiness(
    sandbox: SandboxHandle,
) -> None:
    _, aws = sandbox_traffic(sandbox)
    section = sandbox_alb_section(sandbox)
    stickiness_before = listener_forward(sandbox)["ForwardConfig"]["TargetGroupStickinessConfig"]

    evidence = WeightsWriter(section, aws).write(RawWeights(75, 25))

    assert evidence[0].startswith(f"elbv2 ModifyListener on {sandbox.info['aws']['listener_arn']}")
    assert "request id unknown" not in evidence[0]
    assert WeightsReader(section, aws).read() == RawWeights(75, 25)
    forward_config = listener_forward(sandbox)["ForwardConfig"]
    assert forward_config["TargetGroupStickinessConfig"] == stickiness_before
    assert {r["SetIdentifier"]: r["Weight"] for r in record_sets(sandbox).values()} == {
        "old": 100,
        "new": 0,
    }


def test_a_missing_set_identifier_fails_worded_and_changes_nothing(
    sandbox: SandboxHandle,
) -> None:
    section, aws = sandbox_traffic(sandbox)
    wrong = with_route53(section, new_set_identifier="blue")

    with pytest.raises(ActionFailed) as failed_write:
        WeightsWriter(wrong, aws).write(RawWeights(50, 50))
    with pytest.raises(ActionFailed) as failed_read:
        WeightsReader(wrong, aws).read()

    assert "weighted record set 'blue' not found" in str(failed_write.value)
    assert "nothing was changed" in str(failed_write.value)
    assert "'blue'" in str(failed_read.value) and "not usable" in str(failed_read.value)
    assert WeightsReader(section, aws).read() == RawWeights(100, 0)


def test_a_write_the_stand_in_rejects_is_worded_without_a_traceback(
    sandbox: SandboxHandle,
) -> None:
    _, aws = sandbox_traffic(sandbox)
    gone = sandbox.info["aws"]["listener_arn"].rsplit("/", 1)[0] + "/0000000000000000"
    section = sandbox_alb_section(sandbox, listener_arn=gone)

    with pytest.raises(ActionFailed) as failed:
        WeightsWriter(section, aws).write(RawWeights(50, 50))

    message = str(failed.value)
    assert message.startswith("setting the weights of ALB listener ")
    assert "to old 50 / new 50 failed: AWS error ListenerNotFound" in message
    assert "Traceback" not in message and "testing" not in message
    assert WeightsReader(sandbox_alb_section(sandbox), aws).read() == RawWeights(100, 0)


def test_an_unknown_zone_is_a_worded_read_failure(sandbox: SandboxHandle) -> None:
    section, aws = sandbox_traffic(sandbox)
    missing_zone = with_route53(section, hosted_zone_id="ZNOSUCHZONE1")

    with pytest.raises(ActionFailed, match="cannot read the weights of Route 53 zone ZNOSUCHZONE1"):
        WeightsReader(missing_zone, aws).read()
