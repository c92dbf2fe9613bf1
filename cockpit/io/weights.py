"""The traffic-weight backend: read and write the raw old/new weights in Route 53 or on an ALB.

A set with more members than old and new: a step sets old and new and every other member keeps
its absolute weight; the members are part of what is planned, so one that appears or disappears
between plan and run makes the run refuse instead of guessing.

Reading and writing are separate classes: in --read-only and --dry-run modes no writer is built,
so no code path can send a mutating request. Every method blocks (boto3); the runner calls
them in a thread.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cockpit.config import AlbTraffic, Route53Traffic, TrafficSection
from cockpit.io.context import AwsClients
from cockpit.io.failures import ActionFailed, describe_failure
from cockpit.io.traffic import (
    WeightedMember,
    WeightsReadBack,
    fetch_listener,
    fetch_route53_record_sets,
    member_label,
    member_name,
    normalized_name,
    parse_alb_weights,
    parse_route53_weights,
)
from cockpit.outside import outside_text

MAX_ROUTE53_WEIGHT = 255
MAX_ALB_WEIGHT = 999


@dataclass(frozen=True)
class RawWeights:
    """The raw weights the backend holds for the old and the new side, and for any other member.

    others: (set identifier or target group ARN, raw weight) of every member that is neither old
    nor new, sorted by name; empty for a plain two-member set.
    """

    old: int
    new: int
    others: tuple[tuple[str, int], ...] = ()

    @property
    def other_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.others)


@dataclass(frozen=True)
class WeightedSet:
    """The weights as read and every member behind them (for the plan's words)."""

    weights: RawWeights
    members: tuple[WeightedMember, ...]


def weights_for_percent(new_percent: int, others: tuple[tuple[str, int], ...] = ()) -> RawWeights:
    """Old and new summing to 100 with `new_percent` on new; the other members keep `others`."""
    if not 0 <= new_percent <= 100:
        raise ValueError(f"new_percent must be 0..100, not {new_percent}")
    return RawWeights(old=100 - new_percent, new=new_percent, others=others)


def others_of(members: tuple[WeightedMember, ...]) -> tuple[tuple[str, int], ...]:
    """The (name, weight) pairs of the members that are neither old nor new, sorted."""
    return tuple(sorted((m.name, m.weight) for m in members if m.role == "other"))


def member_changes(planned: RawWeights, found: frozenset[str]) -> str | None:
    """ "member 'canary' appeared, ..." when the other members are not the planned ones."""
    appeared = sorted(found - planned.other_names)
    gone = sorted(planned.other_names - found)
    parts = [f"member {member_label(name)!r} appeared" for name in appeared]
    parts += [f"member {member_label(name)!r} disappeared" for name in gone]
    return ", ".join(parts) or None


def _refuse_changed_members(planned: RawWeights, found: frozenset[str]) -> None:
    changes = member_changes(planned, found)
    if changes is not None:
        raise ActionFailed(
            f"the weighted set changed since the plan ({changes}): nothing was changed; "
            "read the traffic panel and plan again"
        )


# --- pure: what is touched and how --------------------------------------------------------------


def describe_weights_target(section: TrafficSection) -> str:
    """The record or listener whose weights change, as the confirm dialog names it."""
    if section.route53 is not None:
        config = section.route53
        return (
            f"Route 53 zone {_zone_id(config)}, record {normalized_name(config.record_name)} "
            f"{config.record_type} (sets {config.old_set_identifier!r} / "
            f"{config.new_set_identifier!r})"
        )
    alb = _alb(section)
    return (
        f"ALB listener {_arn_resource(alb.listener_arn, 'listener/')} (target groups "
        f"{_target_group_name(alb.old_target_group_arn)} / "
        f"{_target_group_name(alb.new_target_group_arn)})"
    )


def planned_weight_calls(
    section: TrafficSection, before: RawWeights, after: RawWeights
) -> tuple[str, ...]:
    """The exact mutating API call a weight change makes, in words, naming every member."""
    changed, kept = _other_changes(before, after)
    if section.route53 is not None:
        config = section.route53
        sets = [
            f"set {config.old_set_identifier!r} weight {before.old} → {after.old}",
            f"set {config.new_set_identifier!r} weight {before.new} → {after.new}",
            *(f"set {member_label(name)!r} weight {was} → {now}" for name, was, now in changed),
        ]
        kept_text = "".join(f"; set {member_label(name)!r} weight {w} kept" for name, w in kept)
        return (
            f"route53 ChangeResourceRecordSets on zone {_zone_id(config)}: one change batch of "
            f"{len(sets)} UPSERTs ({', '.join(sets)}{kept_text})",
        )
    alb = _alb(section)
    groups = [*(f"{member_label(name)} {was} → {now}" for name, was, now in changed)]
    groups += [f"{member_label(name)} {weight} kept" for name, weight in kept]
    rest = "".join(f", {group}" for group in groups)
    return (
        f"elbv2 ModifyListener on {alb.listener_arn}: forward weights "
        f"old {before.old} → {after.old}, new {before.new} → {after.new}{rest}",
    )


def _other_changes(
    before: RawWeights, after: RawWeights
) -> tuple[list[tuple[str, int, int]], list[tuple[str, int]]]:
    """(members whose weight changes: name, before, after), (members kept: name, weight)."""
    was = dict(before.others)
    changed = [(name, was.get(name, 0), w) for name, w in after.others if was.get(name) != w]
    kept = [(name, w) for name, w in after.others if was.get(name) == w]
    return changed, kept


def _zone_id(config: Route53Traffic) -> str:
    return config.hosted_zone_id.removeprefix("/hostedzone/")


def _alb(section: TrafficSection) -> AlbTraffic:
    if section.alb is None:
        raise ActionFailed("[traffic] has neither [traffic.route53] nor [traffic.alb]")
    return section.alb


def _arn_resource(arn: str, marker: str) -> str:
    """'app/web/abc/def' from a listener ARN (marker 'listener/'); the whole ARN otherwise."""
    resource = arn.split(":", 5)[-1]
    return resource.removeprefix(marker) if resource.startswith(marker) else arn


def _target_group_name(arn: str) -> str:
    """'web-old' from '...:targetgroup/web-old/2f1c...'."""
    return _arn_resource(arn, "targetgroup/").split("/", 1)[0]


# --- pure: the requests a write sends -----------------------------------------------------------


def route53_upserts(
    record_sets: Sequence[Mapping[str, Any]], config: Route53Traffic, target: RawWeights
) -> list[dict[str, Any]]:
    """UPSERTs copying each weighted set as read with only its Weight changed: old and new
    always, any other member only when its weight differs from the target.

    Refuses when the set's other members are not the ones planned.
    """
    weighted = {
        member_name(record_set): record_set
        for record_set in record_sets
        if record_set.get("SetIdentifier") is not None and record_set.get("Weight") is not None
    }
    sides = {config.old_set_identifier: target.old, config.new_set_identifier: target.new}
    for identifier in sides:
        if identifier not in weighted:
            raise ActionFailed(_missing_set_text(config, identifier))
    _refuse_changed_members(target, frozenset(weighted) - frozenset(sides))
    wanted = {**dict(target.others), **sides}
    return [
        {"Action": "UPSERT", "ResourceRecordSet": reweighted_record_set(weighted[name], weight)}
        for name, weight in wanted.items()
        if name in sides or int(weighted[name]["Weight"]) != weight
    ]


def _missing_set_text(config: Route53Traffic, identifier: str) -> str:
    where = f"{normalized_name(config.record_name)} {config.record_type}"
    return (
        f"weighted record set {outside_text(identifier)!r} not found ({where} in zone "
        f"{_zone_id(config)}): nothing was changed; check traffic.route53's set "
        "identifiers against the zone"
    )


def reweighted_record_set(record_set: Mapping[str, Any], weight: int) -> dict[str, Any]:
    """The record set as read with a new Weight; an alias stays an alias, no TTL or records."""
    copied = copy.deepcopy(dict(record_set))
    copied["Weight"] = weight
    if "AliasTarget" in copied:
        copied.pop("TTL", None)
        copied.pop("ResourceRecords", None)
    return copied


def reweighted_actions(
    actions: Sequence[Mapping[str, Any]], config: AlbTraffic, target: RawWeights
) -> list[dict[str, Any]]:
    """The listener's default actions with the first forward's old/new weights set.

    Every other action and ForwardConfig field (stickiness, other target groups) is kept.
    """
    forwards = [a for a in actions if a.get("Type") == "forward"]
    if not forwards:
        kinds = ", ".join(str(action.get("Type")) for action in actions) or "nothing"
        raise ActionFailed(
            f"the listener's default action is {kinds}, not a forward: nothing was changed; "
            "check traffic.alb.listener_arn"
        )
    first = min(forwards, key=lambda action: int(action.get("Order", 0)))
    return [
        _reweighted_forward(action, config, target) if action is first else _kept(action)
        for action in actions
    ]


def _reweighted_forward(
    action: Mapping[str, Any], config: AlbTraffic, target: RawWeights
) -> dict[str, Any]:
    """A forward to the old/new groups at the target weights (TargetGroupArn folded in)."""
    forward = copy.deepcopy(dict(action))
    single_arn = forward.pop("TargetGroupArn", None)
    forward_config = forward.setdefault("ForwardConfig", {})
    groups = forward_config.get("TargetGroups") or (
        [{"TargetGroupArn": single_arn, "Weight": 1}] if single_arn else []
    )
    sides = {config.old_target_group_arn: target.old, config.new_target_group_arn: target.new}
    found = {outside_text(str(group["TargetGroupArn"])): group for group in groups}
    _refuse_changed_members(target, frozenset(found) - frozenset(sides))
    others = {str(found[name]["TargetGroupArn"]): weight for name, weight in target.others}
    wanted = {**others, **sides}
    groups = [
        {**group, "Weight": wanted.pop(group["TargetGroupArn"])}
        if group["TargetGroupArn"] in wanted
        else group
        for group in groups
    ]
    groups += [
        {"TargetGroupArn": arn, "Weight": weight} for arn, weight in wanted.items() if arn in sides
    ]
    forward_config["TargetGroups"] = groups
    return forward


def _kept(action: Mapping[str, Any]) -> dict[str, Any]:
    """An action sent back as read; an OIDC secret AWS does not return is kept as it is."""
    kept = copy.deepcopy(dict(action))
    oidc = kept.get("AuthenticateOidcConfig")
    if isinstance(oidc, dict) and "ClientSecret" not in oidc:
        oidc["UseExistingClientSecret"] = True
    return kept


def _check_range(target: RawWeights, maximum: int, backend: str) -> None:
    named = [("old", target.old), ("new", target.new)]
    named += [(member_label(name), weight) for name, weight in target.others]
    for side, weight in named:
        if not 0 <= weight <= maximum:
            raise ActionFailed(
                f"the {side} weight {weight} is outside {backend}'s range 0..{maximum}: "
                "nothing was changed"
            )


def _request_id(response: Mapping[str, Any]) -> str:
    return str(response.get("ResponseMetadata", {}).get("RequestId") or "unknown")


# --- reading ------------------------------------------------------------------------------------


class WeightsReader:
    """Reads the raw old/new weights from Route 53 or the ALB listener."""

    def __init__(self, section: TrafficSection, aws: AwsClients) -> None:
        self._section = section
        self._aws = aws

    def read(self) -> RawWeights:
        """The weights now; ActionFailed (worded) when they cannot be read or are unusable."""
        return self.read_set().weights

    def read_set(self) -> WeightedSet:
        """The weights now and every member of the set (names, weights, what each answers)."""
        target = describe_weights_target(self._section)
        try:
            read_back = self._read_back()
        except ActionFailed:
            raise
        except Exception as error:
            raise ActionFailed(
                f"cannot read the weights of {target}: {describe_failure(error)}"
            ) from None
        if read_back.problem is not None or read_back.old is None or read_back.new is None:
            problem = read_back.problem or "weights missing"
            raise ActionFailed(
                f"the weights of {target} are not usable: {problem}; fix the [traffic] "
                "section or the resource before shifting traffic"
            )
        weights = RawWeights(read_back.old, read_back.new, others_of(read_back.members))
        return WeightedSet(weights, read_back.members)

    def _read_back(self) -> WeightsReadBack:
        if self._section.route53 is not None:
            config = self._section.route53
            record_sets = fetch_route53_record_sets(self._aws.client("route53"), config)
            return parse_route53_weights(record_sets, config)
        alb = _alb(self._section)
        listener = fetch_listener(self._aws.client("elbv2"), alb.listener_arn)
        return parse_alb_weights(listener, alb, None)


# --- writing ------------------------------------------------------------------------------------


class WeightsWriter:
    """Sets the raw old/new weights: one Route 53 change batch or one ALB ModifyListener."""

    def __init__(self, section: TrafficSection, aws: AwsClients) -> None:
        self._section = section
        self._aws = aws

    def write(self, target: RawWeights) -> tuple[str, ...]:
        """Performs the change; returns evidence lines with the AWS request ids."""
        where = describe_weights_target(self._section)
        try:
            if self._section.route53 is not None:
                return self._write_route53(self._section.route53, target)
            return self._write_alb(_alb(self._section), target)
        except ActionFailed:
            raise
        except Exception as error:
            raise ActionFailed(
                f"setting the weights of {where} to old {target.old} / new {target.new} failed: "
                f"{describe_failure(error)}; read the traffic panel to see what is in place "
                "before retrying"
            ) from None

    def _write_route53(self, config: Route53Traffic, target: RawWeights) -> tuple[str, ...]:
        _check_range(target, MAX_ROUTE53_WEIGHT, "Route 53")
        client = self._aws.client("route53")
        changes = route53_upserts(fetch_route53_record_sets(client, config), config, target)
        response = client.change_resource_record_sets(
            HostedZoneId=_zone_id(config),
            ChangeBatch={
                "Comment": f"cutover-cockpit: weights old {target.old} / new {target.new}",
                "Changes": changes,
            },
        )
        change = response.get("ChangeInfo", {})
        change_id = str(change.get("Id", "unknown")).removeprefix("/change/")
        return (
            f"route53 ChangeResourceRecordSets on zone {_zone_id(config)}: change {change_id} "
            f"{change.get('Status', 'unknown')}, request id {_request_id(response)}",
        )

    def _write_alb(self, config: AlbTraffic, target: RawWeights) -> tuple[str, ...]:
        _check_range(target, MAX_ALB_WEIGHT, "the ALB")
        client = self._aws.client("elbv2")
        listener = fetch_listener(client, config.listener_arn)
        actions = reweighted_actions(listener.get("DefaultActions", []), config, target)
        response = client.modify_listener(ListenerArn=config.listener_arn, DefaultActions=actions)
        return (
            f"elbv2 ModifyListener on {config.listener_arn}: forward weights old {target.old} / "
            f"new {target.new}, request id {_request_id(response)}",
        )
