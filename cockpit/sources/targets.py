"""Target health: ELBv2 target groups and HTTP health URLs, one signal per group or URL.

Status rules for a target group (signal `targets:<name>`):
- OK: every registered target is healthy ("3/3 healthy");
- WARN: some targets are not healthy; initial, draining, unused and unavailable targets count
  as not healthy, and the detail names each (up to three) with its state and reason;
- CRITICAL: no targets registered, or none of them healthy;
- UNKNOWN: describe_target_health failed for this group (the detail says why); the other
  groups are read on their own and stay visible.

Status rules for an HTTP health URL (signal `targets:<name>`):
- OK: the answer's status equals expect_status ("HTTP 200 in 12 ms") and, when expect_body is
  set, the start of the body contains it;
- CRITICAL: any other status (a redirect is not followed and not healthy, as for an ALB), the
  right status with a body lacking expect_body, or no answer at all (connection refused,
  timeout, TLS error incl. a certificate not valid for tls_server_name); each URL stands on
  its own. host_header, tls_server_name and ca_file let a check reach the new side by its
  real name before DNS points there. Every probe sends PROBE_USER_AGENT.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from cockpit.config import HttpHealthCheck, TargetGroup, TargetsSection
from cockpit.io.context import SourceContext
from cockpit.io.failures import describe_failure
from cockpit.io.http import (
    BODY_READ_BYTES,
    HttpAnswer,
    HttpProbeOptions,
    display_url,
    fetch_http,
    printable_snippet,
)
from cockpit.model import Reading, SignalKind, Status, Value
from cockpit.sources.base import Schedule, Source, make_reading
from cockpit.sources.targets_values import TargetRow, TargetsValues, signal_id
from cockpit.units import latency_text

T = TypeVar("T")

# Each group's call or URL's GET gets this share of the poll's timeout, so a slow one becomes
# its own reading before the poller gives up on the whole source.
CALL_BUDGET_SHARE = 0.8
MAX_TARGETS_IN_DETAIL = 3

_STATE_NOTES = {
    "initial": "initial (registering, not healthy yet)",
    "draining": "draining (deregistering, not counted as healthy)",
}


@dataclass(frozen=True)
class TargetHealth:
    """One target's health: an id such as '10.0.1.7:80', its state, and why."""

    target_id: str
    state: str
    reason: str | None = None
    description: str | None = None

    @property
    def healthy(self) -> bool:
        return self.state == "healthy"

    def as_row(self) -> TargetRow:
        """The reading's row for this target."""
        return TargetRow(self.target_id, self.state, self.reason, self.description)

    def as_value(self) -> dict[str, Value]:
        """The reading's form: {"id", "state", "reason", "description"}."""
        return self.as_row().as_value()


@dataclass(frozen=True)
class Verdict:
    """A status and the sentence that explains it."""

    status: Status
    detail: str


def call_budget_seconds(schedule: Schedule) -> float:
    """How long one group's call or one URL's GET may take within a poll."""
    return schedule.timeout_seconds * CALL_BUDGET_SHARE


async def within(budget_seconds: float, work: Awaitable[T]) -> T:
    """`work`, or TimeoutError once `budget_seconds` have passed."""
    return await asyncio.wait_for(work, timeout=budget_seconds)


def health_of(targets: Sequence[TargetHealth], side: str) -> TargetsValues:
    """The values every target-health reading carries: counts, targets, side."""
    healthy = sum(1 for target in targets if target.healthy)
    return TargetsValues(
        side=side,
        healthy=healthy,
        unhealthy=len(targets) - healthy,
        total=len(targets),
        targets=tuple(target.as_row() for target in targets),
    )


def health_values(targets: Sequence[TargetHealth], side: str) -> dict[str, Value]:
    """The reading's values for these targets on `side`."""
    return health_of(targets, side).as_values()


def failed_values(side: str, reason: str) -> dict[str, Value]:
    """The values of a reading that could not be taken: no counts, never a made-up 0."""
    return TargetsValues(side=side, error=reason).as_values()


# --- ELBv2 target groups ----------------------------------------------------------------------


def target_label(target_id: str, port: int | None) -> str:
    """'10.0.1.7:80', 'i-0abc:80', '[2001:db8::7]:80', or a Lambda ARN (no port)."""
    if port is None:
        return target_id
    host = f"[{target_id}]" if ":" in target_id and not target_id.startswith("arn:") else target_id
    return f"{host}:{port}"


def parse_target_health(response: Mapping[str, Any]) -> list[TargetHealth]:
    """The targets of one describe_target_health answer."""
    return [_parse_description(item) for item in response.get("TargetHealthDescriptions", [])]


def _parse_description(description: Mapping[str, Any]) -> TargetHealth:
    target = description.get("Target", {})
    health = description.get("TargetHealth", {})
    port = target.get("Port")
    return TargetHealth(
        target_id=target_label(str(target.get("Id", "?")), None if port is None else int(port)),
        state=str(health.get("State") or "unavailable"),
        reason=health.get("Reason") or None,
        description=health.get("Description") or None,
    )


def describe_target(target: TargetHealth) -> str:
    """'10.0.1.7:80 unhealthy: Target.Timeout (Request timed out)'."""
    text = f"{target.target_id} {_STATE_NOTES.get(target.state, target.state)}"
    if target.reason:
        text += f": {target.reason}"
    if target.description:
        text += f" ({target.description})"
    return text


def classify_target_group(targets: Sequence[TargetHealth]) -> Verdict:
    """How a target group stands, from its targets' states."""
    if not targets:
        return Verdict(Status.CRITICAL, "no targets registered")
    healthy = sum(1 for target in targets if target.healthy)
    summary = f"{healthy}/{len(targets)} healthy"
    if healthy == len(targets):
        return Verdict(Status.OK, summary)
    status = Status.CRITICAL if healthy == 0 else Status.WARN
    return Verdict(status, f"{summary}; {_describe_not_healthy(targets)}")


def _describe_not_healthy(targets: Sequence[TargetHealth]) -> str:
    not_healthy = [target for target in targets if not target.healthy]
    shown = [describe_target(target) for target in not_healthy[:MAX_TARGETS_IN_DETAIL]]
    hidden = len(not_healthy) - len(shown)
    if hidden:
        shown.append(f"and {hidden} more not healthy")
    return "; ".join(shown)


class TargetGroupsSource:
    """Every configured ELBv2 target group, read concurrently; one reading per group."""

    def __init__(
        self, groups: Sequence[TargetGroup], schedule: Schedule, context: SourceContext
    ) -> None:
        self._groups = tuple(groups)
        self._schedule = schedule
        self._context = context
        self.name = "targets (elbv2)"
        self.kind = SignalKind.TARGETS
        self.schedule = self._schedule
        self.signal_ids = tuple(signal_id(group.name) for group in self._groups)

    async def read(self) -> list[Reading]:
        return list(await asyncio.gather(*(self._read_group(g) for g in self._groups)))

    async def _read_group(self, group: TargetGroup) -> Reading:
        budget = call_budget_seconds(self._schedule)
        try:
            response = await self._context.run_aws(
                "elbv2", self._describe_target_health, group.arn, within_seconds=budget
            )
        except Exception as error:
            reason = describe_failure(error, timeout_seconds=budget)
            failed = failed_values(group.side, reason)
            return self._reading(group, Status.UNKNOWN, reason, failed)
        targets = parse_target_health(response)
        verdict = classify_target_group(targets)
        values = health_values(targets, group.side)
        return self._reading(group, verdict.status, verdict.detail, values)

    def _describe_target_health(self, arn: str) -> Any:
        """Blocking: one describe_target_health call, run in the elbv2 lane."""
        return self._context.aws.client("elbv2").describe_target_health(TargetGroupArn=arn)

    def _reading(
        self, group: TargetGroup, status: Status, detail: str, values: Mapping[str, Value]
    ) -> Reading:
        now = self._context.clock()
        return make_reading(self, signal_id(group.name), status, now, detail, values)


# --- HTTP health URLs -------------------------------------------------------------------------


def classify_http_answer(
    answer: HttpAnswer, expect_status: int, url: str, expect_body: str | None = None
) -> tuple[Verdict, TargetHealth]:
    """How a health URL stands from its answer; the target entry says why in its reason."""
    code = answer.status_code
    if code == expect_status:
        took = latency_text(answer.latency_seconds)
        if expect_body is not None and expect_body.encode() not in answer.body_start:
            return _unexpected_body(answer, expect_body, url, took)
        return Verdict(Status.OK, f"HTTP {code} in {took}"), TargetHealth(url, "healthy")
    if 300 <= code < 400:
        location = printable_snippet(answer.location.encode()) if answer.location else None
        where = f"to {location}" if location else "without a Location"
        reason = f"redirect (HTTP {code} {where}) is not healthy"
        return Verdict(Status.CRITICAL, reason), TargetHealth(url, "unhealthy", reason)
    head = f"HTTP {code}" + (f" (expected {expect_status})" if 200 <= code < 300 else "")
    snippet = printable_snippet(answer.body_start) or None
    detail = f"{head}: {snippet}" if snippet else head
    return Verdict(Status.CRITICAL, detail), TargetHealth(url, "unhealthy", head, snippet)


def _unexpected_body(
    answer: HttpAnswer, expect_body: str, url: str, took: str
) -> tuple[Verdict, TargetHealth]:
    """A right status with the wrong body (another app, a default page) is not healthy."""
    wanted = printable_snippet(expect_body.encode())
    looked = (
        f" (first {BODY_READ_BYTES} bytes)" if len(answer.body_start) >= BODY_READ_BYTES else ""
    )
    reason = f'HTTP {answer.status_code} in {took} but the body{looked} lacks "{wanted}"'
    snippet = printable_snippet(answer.body_start) or "(empty body)"
    verdict = Verdict(Status.CRITICAL, f"{reason}: {snippet}")
    return verdict, TargetHealth(url, "unhealthy", reason, snippet)


def classify_http_failure(reason: str, url: str) -> tuple[Verdict, TargetHealth]:
    """A health URL that did not answer at all is not healthy."""
    return Verdict(Status.CRITICAL, reason), TargetHealth(url, "unhealthy", reason)


class HttpChecksSource:
    """Every configured HTTP health URL, fetched concurrently; one reading per URL."""

    def __init__(
        self, checks: Sequence[HttpHealthCheck], schedule: Schedule, context: SourceContext
    ) -> None:
        self._checks = tuple(checks)
        self._schedule = schedule
        self._context = context
        self.name = "targets (http)"
        self.kind = SignalKind.TARGETS
        self.schedule = self._schedule
        self.signal_ids = tuple(signal_id(check.name) for check in self._checks)

    async def read(self) -> list[Reading]:
        return list(await asyncio.gather(*(self._check(check) for check in self._checks)))

    async def _check(self, check: HttpHealthCheck) -> Reading:
        verdict, target, answer = await self._probe(check)
        values = replace(
            health_of([target], check.side),
            is_http_check=True,
            status_code=None if answer is None else answer.status_code,
            latency_seconds=None if answer is None else answer.latency_seconds,
        )
        now = self._context.clock()
        return make_reading(
            self, signal_id(check.name), verdict.status, now, verdict.detail, values.as_values()
        )

    async def _probe(
        self, check: HttpHealthCheck
    ) -> tuple[Verdict, TargetHealth, HttpAnswer | None]:
        budget = call_budget_seconds(self._schedule)
        fetch = asyncio.to_thread(fetch_http, check.url, budget, HttpProbeOptions.of(check))
        try:
            answer = await within(budget, fetch)
        except Exception as error:
            reason = printable_snippet(
                describe_failure(error, timeout_seconds=budget).encode(), 300
            )
            return (*classify_http_failure(reason, display_url(check.url)), None)
        url = display_url(check.url)
        return (*classify_http_answer(answer, check.expect_status, url, check.expect_body), answer)


def build_target_sources(context: SourceContext) -> list[Source]:
    """One source for the target groups and one for the HTTP checks, those configured."""
    section: TargetsSection | None = context.config.targets
    if section is None:
        return []
    schedule = Schedule.from_config(section)
    sources: list[Source] = []
    if section.target_groups:
        sources.append(TargetGroupsSource(section.target_groups, schedule, context))
    if section.http:
        sources.append(HttpChecksSource(section.http, schedule, context))
    return sources
