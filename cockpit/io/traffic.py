"""Weighted sets as Route 53 and the ALB hold them: fetched, and parsed into members and weights.

Shared by the traffic source (reading the split) and the weights backend (changing it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from cockpit.config import AlbTraffic, Route53Traffic
from cockpit.outside import outside_text

MAX_PAGES = 20

Backend = Literal["route53", "alb"]
MemberRole = Literal["old", "new", "other"]


@dataclass(frozen=True)
class WeightedMember:
    """One member of the weighted set as read: who it is, its raw weight and what it points at.

    name: the Route 53 set identifier, or the target group ARN on an ALB.
    """

    name: str
    role: MemberRole
    weight: int
    target: str = ""


@dataclass(frozen=True)
class WeightsReadBack:
    """The raw old/new weights the backend holds, or the problem that makes them unusable."""

    backend: Backend
    old: int | None
    new: int | None
    problem: str | None = None
    ttl_seconds: int | None = None
    maintenance_rule: bool | None = None
    note: str | None = None
    members: tuple[WeightedMember, ...] = ()

    @property
    def others(self) -> tuple[WeightedMember, ...]:
        """The members that are neither the old nor the new side."""
        return tuple(member for member in self.members if member.role == "other")


def split_percent(old: int, new: int) -> tuple[float, float]:
    """(old %, new %) from raw weights; both 0 splits evenly, as Route 53 answers then."""
    total = old + new
    if total == 0:
        return 50.0, 50.0
    new_percent = new / total * 100
    return 100.0 - new_percent, new_percent


def member_label(name: str) -> str:
    """How a member is named on screen: its set identifier, or its target group's name."""
    if name.startswith("arn:") and ":targetgroup/" in name:
        name = name.split(":targetgroup/", 1)[1].split("/", 1)[0]
    return outside_text(name)


def normalized_name(name: str) -> str:
    """A DNS name as Route 53 compares it: lower case, no final dot, '\\052' read as '*'."""
    return name.replace("\\052", "*").rstrip(".").lower()


def is_configured_record(record_set: Mapping[str, Any], config: Route53Traffic) -> bool:
    """Whether a listed record set has the configured name and type."""
    same_name = normalized_name(str(record_set.get("Name", ""))) == normalized_name(
        config.record_name
    )
    return same_name and record_set.get("Type") == config.record_type


def fetch_route53_record_sets(client: Any, config: Route53Traffic) -> list[Mapping[str, Any]]:
    """Every record set of the configured name and type, paging while they still match."""
    request: dict[str, str] = {
        "HostedZoneId": config.hosted_zone_id,
        "StartRecordName": config.record_name,
        "StartRecordType": config.record_type,
    }
    found: list[Mapping[str, Any]] = []
    for _ in range(MAX_PAGES):
        page = client.list_resource_record_sets(**request)
        listed = page.get("ResourceRecordSets", [])
        matching = [record_set for record_set in listed if is_configured_record(record_set, config)]
        found.extend(matching)
        following = _next_page_request(page, request)
        if following is None or len(matching) < len(listed):
            break
        request = following
    return found


def _next_page_request(page: Mapping[str, Any], request: dict[str, str]) -> dict[str, str] | None:
    """The request for the following page; None at the end or when it would not move on."""
    if not page.get("IsTruncated") or "NextRecordName" not in page:
        return None
    following = {
        "HostedZoneId": request["HostedZoneId"],
        "StartRecordName": str(page["NextRecordName"]),
        "StartRecordType": str(page.get("NextRecordType", request["StartRecordType"])),
    }
    if page.get("NextRecordIdentifier"):
        following["StartRecordIdentifier"] = str(page["NextRecordIdentifier"])
    return None if following == request else following


def parse_route53_weights(
    record_sets: Sequence[Mapping[str, Any]], config: Route53Traffic
) -> WeightsReadBack:
    """The old/new weights and TTL from the configured name's record sets."""
    by_identifier = {record_set.get("SetIdentifier"): record_set for record_set in record_sets}
    sides = (("old", config.old_set_identifier), ("new", config.new_set_identifier))
    weights = {side: _weight(by_identifier.get(identifier)) for side, identifier in sides}
    problems = [
        _record_set_problem(by_identifier.get(identifier), identifier, side, config)
        for side, identifier in sides
        if weights[side] is None
    ]
    found = [by_identifier[identifier] for _, identifier in sides if identifier in by_identifier]
    return WeightsReadBack(
        backend="route53",
        old=weights["old"],
        new=weights["new"],
        problem="; ".join(problems) or None,
        ttl_seconds=longest_ttl(found),
        members=route53_members(record_sets, config),
    )


def route53_members(
    record_sets: Sequence[Mapping[str, Any]], config: Route53Traffic
) -> tuple[WeightedMember, ...]:
    """Every weighted record set of the name: old and new first, the others by identifier."""
    roles: dict[str, MemberRole] = {
        config.old_set_identifier: "old",
        config.new_set_identifier: "new",
    }
    members = [
        WeightedMember(
            name=member_name(record_set),
            role=roles.get(member_name(record_set), "other"),
            weight=int(record_set["Weight"]),
            target=record_target(record_set),
        )
        for record_set in record_sets
        if record_set.get("SetIdentifier") is not None and record_set.get("Weight") is not None
    ]
    return tuple(sorted(members, key=_member_order))


def member_name(record_set: Mapping[str, Any]) -> str:
    """A weighted record set's identifier as the cockpit names and matches it."""
    return outside_text(str(record_set.get("SetIdentifier", "")))


def _member_order(member: WeightedMember) -> tuple[int, str]:
    return ({"old": 0, "new": 1}.get(member.role, 2), member.name)


def record_target(record_set: Mapping[str, Any]) -> str:
    """What a record set answers: its values, or 'alias <name> (zone Z…, evaluate health yes)'."""
    alias = record_set.get("AliasTarget")
    if isinstance(alias, Mapping):
        evaluate = "yes" if alias.get("EvaluateTargetHealth") else "no"
        text = (
            f"alias {alias.get('DNSName', '?')} (zone {alias.get('HostedZoneId', '?')}, "
            f"evaluate target health {evaluate})"
        )
    else:
        values = [str(record.get("Value", "")) for record in record_set.get("ResourceRecords", [])]
        text = ", ".join(values)
    return outside_text(text)


def longest_ttl(record_sets: Sequence[Mapping[str, Any]]) -> int | None:
    """The longest TTL among the sets (what a resolver may still hold); None for alias sets."""
    ttls = [int(record_set["TTL"]) for record_set in record_sets if "TTL" in record_set]
    return max(ttls) if ttls else None


def _weight(record_set: Mapping[str, Any] | None) -> int | None:
    if record_set is None or record_set.get("Weight") is None:
        return None
    return int(record_set["Weight"])


def _record_set_problem(
    record_set: Mapping[str, Any] | None, identifier: str, side: str, config: Route53Traffic
) -> str:
    label = f"{identifier!r}" + ("" if identifier == side else f" (the {side} side)")
    record = f"{normalized_name(config.record_name)} {config.record_type}"
    where = f"{record} in zone {config.hosted_zone_id}"
    if record_set is None:
        return f"weighted record set {label} not found ({where})"
    return f"record set {label} has no weight: not a weighted record ({where})"


def fetch_listener(client: Any, listener_arn: str) -> Mapping[str, Any]:
    """The listener as describe_listeners reports it."""
    listeners = client.describe_listeners(ListenerArns=[listener_arn]).get("Listeners", [])
    if not listeners:
        raise LookupError(f"listener {listener_arn} not found")
    return dict(listeners[0])


def fetch_rules(client: Any, listener_arn: str) -> list[Mapping[str, Any]]:
    """Every rule of the listener, following NextMarker."""
    rules: list[Mapping[str, Any]] = []
    request: dict[str, str] = {"ListenerArn": listener_arn}
    for _ in range(MAX_PAGES):
        page = client.describe_rules(**request)
        rules.extend(page.get("Rules", []))
        marker = page.get("NextMarker")
        if not marker:
            break
        request = {"ListenerArn": listener_arn, "Marker": str(marker)}
    return rules


def forward_weights(actions: Sequence[Mapping[str, Any]]) -> dict[str, int] | None:
    """Target group ARN -> raw weight of the first forward action; None without one.

    A plain TargetGroupArn forward sends everything to that group (AWS reports it as weight 1).
    """
    forwards = [action for action in _in_order(actions) if action.get("Type") == "forward"]
    if not forwards:
        return None
    groups = forwards[0].get("ForwardConfig", {}).get("TargetGroups")
    if groups:
        return {str(g["TargetGroupArn"]): int(g.get("Weight", 1)) for g in groups}
    arn = forwards[0].get("TargetGroupArn")
    return {str(arn): 1} if arn else {}


def _in_order(actions: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return sorted(actions, key=lambda action: int(action.get("Order", 0)))


def has_maintenance_rule(rules: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a non-default rule answers with a fixed response (it wins over the forward)."""
    return any(
        not rule.get("IsDefault")
        and any(a.get("Type") == "fixed-response" for a in rule.get("Actions", []))
        for rule in rules
    )


def parse_alb_weights(
    listener: Mapping[str, Any], config: AlbTraffic, maintenance_rule: bool | None
) -> WeightsReadBack:
    """The old/new weights of the listener's default forward, or why they are unusable."""
    actions = listener.get("DefaultActions", [])
    by_arn = forward_weights(actions)
    configured = (config.old_target_group_arn, config.new_target_group_arn)
    problem = _forward_problem(actions, by_arn, configured)
    if by_arn is None or not set(configured) & set(by_arn):
        return WeightsReadBack("alb", None, None, problem, maintenance_rule=maintenance_rule)
    return WeightsReadBack(
        backend="alb",
        old=by_arn.get(config.old_target_group_arn, 0),
        new=by_arn.get(config.new_target_group_arn, 0),
        problem=problem,
        maintenance_rule=maintenance_rule,
        members=alb_members(by_arn, config),
    )


def alb_members(by_arn: Mapping[str, int], config: AlbTraffic) -> tuple[WeightedMember, ...]:
    """Every target group of the forward (old and new even when left out of it, at weight 0)."""
    weights = {config.old_target_group_arn: 0, config.new_target_group_arn: 0, **by_arn}
    roles: dict[str, MemberRole] = {
        config.old_target_group_arn: "old",
        config.new_target_group_arn: "new",
    }
    members = [
        WeightedMember(
            outside_text(arn), roles.get(arn, "other"), weight, outside_text(_short_arn(arn))
        )
        for arn, weight in weights.items()
    ]
    return tuple(sorted(members, key=_member_order))


def _forward_problem(
    actions: Sequence[Mapping[str, Any]],
    by_arn: Mapping[str, int] | None,
    configured: tuple[str, str],
) -> str | None:
    """Why the forward's weights do not describe the old/new split; None when they do."""
    if by_arn is None:
        kinds = ", ".join(str(action.get("Type")) for action in actions) or "nothing"
        return f"the listener's default action is {kinds}, not a forward"
    if not set(configured) & set(by_arn):
        return "the listener forwards to neither configured target group"
    return None


def _short_arn(arn: str) -> str:
    """'targetgroup/web-new/2f1c...' from a full target group ARN."""
    return arn.split(":", 5)[-1]
