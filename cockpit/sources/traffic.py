"""Traffic weights: the old/new split as Route 53 or the ALB holds it, placed in the step plan.

A weighted set may hold more members than the configured old and new ones (a canary, a third
target group). Every member is read with its weight and its true share over all members; the
step plan places the new side's share of the old + new pool, since the others keep their weights.

Status rules (signal `traffic`):
- OK: both weights read back and the new side's percent is a planned step
  ("old 75 % / new 25 % (step 4 of 7: 25 %)"; counted from 1 in text, step_index is 0-based);
- WARN: the new percent lies between planned steps (or outside the plan); or both weights are
  0 (Route 53 then answers evenly, reported as 50/50; an ALB's split is then undefined);
- CRITICAL: a weighted record set is missing (or has no weight), or the listener's default
  action does not forward to the configured target groups, or also forwards elsewhere;
- UNKNOWN: the AWS call failed; read() raises and the poller says why (throttled, expired...).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from cockpit.config import AlbTraffic, Route53Traffic, TrafficSection
from cockpit.io.context import SourceContext
from cockpit.io.failures import describe_failure
from cockpit.model import Reading, SignalKind, Status
from cockpit.outside import outside_text
from cockpit.sources.base import Schedule, Source, make_reading
from cockpit.units import percent_number

SIGNAL_ID = "traffic"
MAX_PAGES = 20
STEP_TOLERANCE_PERCENT = 1e-6

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


@dataclass(frozen=True)
class StepPosition:
    """Where a new-side percent sits in the step plan."""

    index: int | None
    previous_percent: int | None
    next_percent: int | None


@dataclass(frozen=True)
class TrafficVerdict:
    """Status, the sentence explaining it, and the reading's values."""

    status: Status
    detail: str
    values: dict[str, Any]


# --- pure: percentages and the step plan ------------------------------------------------------


def split_percent(old: int, new: int) -> tuple[float, float]:
    """(old %, new %) from raw weights; both 0 splits evenly, as Route 53 answers then."""
    total = old + new
    if total == 0:
        return 50.0, 50.0
    new_percent = new / total * 100
    return 100.0 - new_percent, new_percent


def member_shares(members: Sequence[WeightedMember], backend: Backend) -> tuple[float, ...] | None:
    """Each member's true share in percent over all members; None when the split is undefined.

    All weights 0: Route 53 answers every member evenly; an ALB's split is undefined.
    """
    total = sum(member.weight for member in members)
    if not members or (total == 0 and backend == "alb"):
        return None
    if total == 0:
        return tuple(100.0 / len(members) for _ in members)
    return tuple(member.weight / total * 100 for member in members)


def member_label(name: str) -> str:
    """How a member is named on screen: its set identifier, or its target group's name."""
    if name.startswith("arn:") and ":targetgroup/" in name:
        name = name.split(":targetgroup/", 1)[1].split("/", 1)[0]
    return outside_text(name)


def shares_text(members: Sequence[WeightedMember], backend: Backend) -> str | None:
    """'old 81.8 % / new 9.1 % / canary 9.1 %': every member's true share; None if undefined."""
    shares = member_shares(members, backend)
    if shares is None:
        return None
    return " / ".join(
        f"{member_label(member.name)} {percent_number(share)} %"
        for member, share in zip(members, shares, strict=True)
    )


def step_position(steps: Sequence[int], new_percent: float) -> StepPosition:
    """The step equal to `new_percent` (if any) and the planned steps below and above it."""
    tolerance = STEP_TOLERANCE_PERCENT
    on_step = [i for i, step in enumerate(steps) if abs(step - new_percent) <= tolerance]
    below = [step for step in steps if step < new_percent - tolerance]
    above = [step for step in steps if step > new_percent + tolerance]
    index = on_step[0] if on_step else None
    return StepPosition(index, below[-1] if below else None, above[0] if above else None)


def describe_off_plan(new_percent: float, position: StepPosition) -> str:
    """'new 30 % is not a planned step (between 25 % and 50 %)'."""
    below, above = position.previous_percent, position.next_percent
    if below is not None and above is not None:
        where = f"between {below} % and {above} %"
    elif above is not None:
        where = f"below the first step, {above} %"
    else:
        where = f"above the last step, {below} %"
    return f"new {percent_number(new_percent)} % is not a planned step ({where})"


def classify_traffic(read_back: WeightsReadBack, steps: Sequence[int]) -> TrafficVerdict:
    """How the traffic split stands against the plan."""
    if read_back.problem is not None or read_back.old is None or read_back.new is None:
        problem = read_back.problem or "weights missing"
        return _verdict(read_back, steps, Status.CRITICAL, problem, None)
    if read_back.old == 0 and read_back.new == 0:
        return _both_zero(read_back, steps)
    weights = split_percent(read_back.old, read_back.new)
    position = step_position(steps, weights[1])
    if position.index is None:
        return _verdict(
            read_back, steps, Status.WARN, describe_off_plan(weights[1], position), weights
        )
    detail = (
        f"old {percent_number(weights[0])} % / new {percent_number(weights[1])} % "
        f"(step {position.index + 1} of {len(steps)}: {steps[position.index]} %)"
    )
    if read_back.others:
        detail = (
            f"{shares_text(read_back.members, read_back.backend)}; new is "
            f"{percent_number(weights[1])} % of old + new "
            f"(step {position.index + 1} of {len(steps)}: {steps[position.index]} %)"
        )
    return _verdict(read_back, steps, Status.OK, detail, weights)


def _both_zero(read_back: WeightsReadBack, steps: Sequence[int]) -> TrafficVerdict:
    if read_back.backend == "route53":
        detail = "both weights are 0: Route 53 answers evenly, old 50 % / new 50 %"
        return _verdict(read_back, steps, Status.WARN, detail, (50.0, 50.0))
    detail = "both target group weights are 0: the ALB's split is undefined"
    return _verdict(read_back, steps, Status.WARN, detail, None)


def _verdict(
    read_back: WeightsReadBack,
    steps: Sequence[int],
    status: Status,
    detail: str,
    weights: tuple[float, float] | None,
) -> TrafficVerdict:
    position = (
        StepPosition(None, None, None) if weights is None else step_position(steps, weights[1])
    )
    if read_back.others and status is not Status.OK:
        shares = shares_text(read_back.members, read_back.backend) or "undefined"
        detail += f"; true shares {shares}"
    if read_back.maintenance_rule:
        detail += "; a fixed-response rule sits in front of the forward (maintenance on?)"
    if read_back.note:
        detail += f"; {read_back.note}"
    values = {
        "weights": None if weights is None else {"old": weights[0], "new": weights[1]},
        "raw_weights": raw_weights_value(read_back),
        "members": members_value(read_back),
        "backend": read_back.backend,
        "steps": list(steps),
        "step_index": position.index,
        "next_step_percent": position.next_percent,
        "previous_step_percent": position.previous_percent,
        "ttl_seconds": read_back.ttl_seconds,
        "maintenance_rule": read_back.maintenance_rule,
    }
    return TrafficVerdict(status, detail, values)


def raw_weights_value(read_back: WeightsReadBack) -> dict[str, Any]:
    """{"old": 90, "new": 10}, plus "others": {name: weight} when the set has more members."""
    raw: dict[str, Any] = {"old": read_back.old, "new": read_back.new}
    if read_back.others:
        raw["others"] = {member.name: member.weight for member in read_back.others}
    return raw


def members_value(read_back: WeightsReadBack) -> list[dict[str, Any]]:
    """Every member with its role, raw weight, true share (None: undefined) and target."""
    shares = member_shares(read_back.members, read_back.backend)
    return [
        {
            "name": member.name,
            "label": member_label(member.name),
            "role": member.role,
            "weight": member.weight,
            "share_percent": None if shares is None else shares[index],
            "target": member.target,
        }
        for index, member in enumerate(read_back.members)
    ]


# --- Route 53 ---------------------------------------------------------------------------------


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


# --- ALB --------------------------------------------------------------------------------------


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


# --- the source -------------------------------------------------------------------------------


class TrafficSource:
    """The weighted split, read from Route 53 or the ALB listener, against the step plan."""

    def __init__(self, section: TrafficSection, context: SourceContext) -> None:
        self._section = section
        self._schedule = Schedule.from_config(section)
        self._context = context
        self._backend: Backend = "route53" if section.route53 is not None else "alb"
        self.name = f"traffic ({self._backend})"
        self.kind = SignalKind.TRAFFIC
        self.schedule = self._schedule
        self.signal_ids = (SIGNAL_ID,)

    async def read(self) -> list[Reading]:
        service = "route53" if self._section.route53 is not None else "elbv2"
        budget = self._schedule.call_budget_seconds
        read_back = await self._context.run_aws(service, self._read_back, within_seconds=budget)
        verdict = classify_traffic(read_back, self._section.steps)
        now = self._context.clock()
        return [make_reading(self, SIGNAL_ID, verdict.status, now, verdict.detail, verdict.values)]

    def _read_back(self) -> WeightsReadBack:
        """Blocking: the boto3 calls, run in the service's lane of threads."""
        if self._section.route53 is not None:
            return self._read_route53(self._section.route53)
        assert self._section.alb is not None
        return self._read_alb(self._section.alb)

    def _read_route53(self, config: Route53Traffic) -> WeightsReadBack:
        client = self._context.aws.client("route53")
        return parse_route53_weights(fetch_route53_record_sets(client, config), config)

    def _read_alb(self, config: AlbTraffic) -> WeightsReadBack:
        client = self._context.aws.client("elbv2")
        listener = fetch_listener(client, config.listener_arn)
        maintenance_rule, note = _maintenance_rule(client, config.listener_arn)
        return replace(parse_alb_weights(listener, config, maintenance_rule), note=note)


def _maintenance_rule(client: Any, listener_arn: str) -> tuple[bool | None, str | None]:
    """(whether a fixed-response rule exists, None) or (None, why the rules are unreadable)."""
    try:
        return has_maintenance_rule(fetch_rules(client, listener_arn)), None
    except Exception as error:
        return None, f"maintenance rule unknown: {describe_failure(error)}"


def build_traffic_sources(context: SourceContext) -> list[Source]:
    """The traffic source, when [traffic] is configured."""
    section = context.config.traffic
    return [] if section is None else [TrafficSource(section, context)]
