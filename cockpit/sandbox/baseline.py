"""Puts the AWS stand-in back to the state `seed` left it in, through its public API."""

from __future__ import annotations

from typing import Any

from cockpit.sandbox.aws import AwsSeed, AwsStandIn, shapes_record_sets
from cockpit.sandbox.shared import SIDES

SEED_WEIGHTS = {"old": 100, "new": 0}


def restore_seed_state(stand_in: AwsStandIn, seed: AwsSeed) -> None:
    """Weights back to old 100 / new 0 in Route 53 and on the listener; extra rules removed.

    The shapes zone gets every seeded member back at its seeded weight and loses any other.
    """
    set_weights(stand_in, seed, SEED_WEIGHTS)
    _remove_extra_rules(stand_in.client("elbv2"), seed)
    _restore_shapes(stand_in.client("route53"), seed)


def _restore_shapes(route53: Any, seed: AwsSeed) -> None:
    shapes = seed.shapes
    seeded = shapes_record_sets(shapes, seed.ttl, seed.answers, {"old": 100, "new": 0})
    wanted = {(rs["Name"], rs["SetIdentifier"]) for rs in seeded}
    listed = route53.list_resource_record_sets(HostedZoneId=shapes.hosted_zone_id)
    extra = [
        {"Action": "DELETE", "ResourceRecordSet": rs}
        for rs in listed["ResourceRecordSets"]
        if rs.get("SetIdentifier") is not None and (rs["Name"], rs["SetIdentifier"]) not in wanted
    ]
    upserts = [{"Action": "UPSERT", "ResourceRecordSet": rs} for rs in seeded]
    route53.change_resource_record_sets(
        HostedZoneId=shapes.hosted_zone_id,
        ChangeBatch={"Comment": "sandbox shapes", "Changes": extra + upserts},
    )


def set_weights(stand_in: AwsStandIn, seed: AwsSeed, weights: dict[str, int]) -> None:
    """The same old/new weights in Route 53 (one change batch) and on the listener."""
    _set_route53(stand_in.client("route53"), seed, weights)
    _set_listener(stand_in.client("elbv2"), seed, weights)


def _set_route53(route53: Any, seed: AwsSeed, weights: dict[str, int]) -> None:
    identifiers = {"old": seed.old_set_identifier, "new": seed.new_set_identifier}
    changes = [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": seed.record_name,
                "Type": "A",
                "SetIdentifier": identifiers[side],
                "Weight": weights[side],
                "TTL": seed.ttl,
                "ResourceRecords": [{"Value": value} for value in seed.answers[side]],
            },
        }
        for side in SIDES
    ]
    route53.change_resource_record_sets(
        HostedZoneId=seed.hosted_zone_id,
        ChangeBatch={"Comment": "sandbox weights", "Changes": changes},
    )


def _remove_extra_rules(elbv2: Any, seed: AwsSeed) -> None:
    for rule in elbv2.describe_rules(ListenerArn=seed.listener_arn)["Rules"]:
        if not rule.get("IsDefault"):
            elbv2.delete_rule(RuleArn=rule["RuleArn"])


def _set_listener(elbv2: Any, seed: AwsSeed, weights: dict[str, int]) -> None:
    forward = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": seed.target_groups[side], "Weight": weights[side]}
                for side in SIDES
            ]
        },
    }
    elbv2.modify_listener(ListenerArn=seed.listener_arn, DefaultActions=[forward])
