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

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from cockpit.config import AlbTraffic, Route53Traffic, TrafficSection
from cockpit.io.context import SourceContext
from cockpit.io.failures import describe_failure
from cockpit.io.traffic import (
    Backend,
    WeightedMember,
    WeightsReadBack,
    fetch_listener,
    fetch_route53_record_sets,
    fetch_rules,
    has_maintenance_rule,
    member_label,
    parse_alb_weights,
    parse_route53_weights,
    split_percent,
)
from cockpit.model import Reading, SignalKind, Status, Value
from cockpit.sources.base import Schedule, Source, make_reading
from cockpit.sources.traffic_values import (
    SIGNAL_ID,
    RawWeightsRow,
    SplitPercent,
    TrafficMember,
    TrafficValues,
)
from cockpit.units import percent_number

STEP_TOLERANCE_PERCENT = 1e-6


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
    values: dict[str, Value]


# --- pure: percentages and the step plan ------------------------------------------------------


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
    values = TrafficValues(
        weights=None if weights is None else SplitPercent(weights[0], weights[1]),
        raw_weights=raw_weights_of(read_back),
        members=members_of(read_back),
        backend=read_back.backend,
        steps=tuple(steps),
        step_index=position.index,
        next_step_percent=position.next_percent,
        previous_step_percent=position.previous_percent,
        ttl_seconds=read_back.ttl_seconds,
        maintenance_rule=read_back.maintenance_rule,
    )
    return TrafficVerdict(status, detail, values.as_values())


def raw_weights_of(read_back: WeightsReadBack) -> RawWeightsRow:
    """The weights as read: old, new, and the others' by name when the set has more members."""
    others = tuple((member.name, member.weight) for member in read_back.others)
    return RawWeightsRow(read_back.old, read_back.new, others)


def members_of(read_back: WeightsReadBack) -> tuple[TrafficMember, ...]:
    """Every member with its role, raw weight, true share (None: undefined) and target."""
    shares = member_shares(read_back.members, read_back.backend)
    return tuple(
        TrafficMember(
            name=member.name,
            label=member_label(member.name),
            role=member.role,
            weight=member.weight,
            share_percent=None if shares is None else shares[index],
            target=member.target,
        )
        for index, member in enumerate(read_back.members)
    )


# --- Route 53 ---------------------------------------------------------------------------------


# --- ALB --------------------------------------------------------------------------------------


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
