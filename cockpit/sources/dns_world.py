"""The world's view of DNS: what resolvers on other continents answer, through measuring services.

The bastion can only ask the resolvers it is given; Globalping and RIPE Atlas ask from probes
all over the world, each probe through its own resolver. Every measure_every_seconds (stretched
when the budget runs low, see dns_world_budget) a round starts: one one-off measurement per moved
record. Every poll reads the measurements in flight; a reading per service and record
(`dns-world:<service>:<record>`) shows the newest finished one (the running one until a first
has finished), kept apart from the configured resolvers' `dns:<record>` readings.

Status rules, first match wins:
- UNKNOWN: the service stopped us (no credits, a refused key), or no measurement has results
  yet, or no probe's resolver answered: never a share of 0 % made from no data.
- OK: every answering probe answers new, or every one old (not switched yet), the measurement
  finished with no probe failing, and the pace is as configured.
- WARN: anything else: mixed answers, other answers or errors, failed or missing probes, a
  measurement that did not finish, or measuring slowed, held or rate-limited.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cockpit.clock import Clock
from cockpit.config import DnsRecord, DnsSection
from cockpit.io.context import SourceContext
from cockpit.io.failures import SourceProblem, describe_failure
from cockpit.io.lanes import Lane
from cockpit.io.world_http import ServiceRefusal
from cockpit.model import Reading, SignalKind, Status
from cockpit.sources.base import Schedule, Source, make_reading
from cockpit.sources.dns_world_budget import PaceDecision, next_round
from cockpit.sources.dns_world_results import (
    Classified,
    Measurement,
    Started,
    WorldService,
    classified,
    count,
    new_fraction,
    old_gone_at,
    old_ttl_max,
    probe_rows,
    regions,
    slowest,
    ttl_stats,
)
from cockpit.sources.dns_world_values import (
    SERVICE_NAMES,
    BudgetValues,
    Pace,
    Service,
    WorldValues,
    signal_id,
)
from cockpit.units import coarse_duration_text

FALLBACK_WAIT_SECONDS = 3600.0
"""How long to wait after a refusal that names no time: both services' limits are hourly."""
LANE_THREADS = 2
FIRST_SETTLE_SHARE = 0.5
"""Of the poll's timeout, how long the first round's results are waited for."""
SETTLE_STEP_SECONDS = 1.0
MIN_SETTLE_CALL_SECONDS = 0.5


@dataclass(frozen=True)
class InFlight:
    """A measurement started and not yet done with."""

    started: Started
    started_at: datetime
    latest: Measurement | None = None


@dataclass
class RecordState:
    """One record's measurements: the one in flight, the newest shown, the last problem."""

    record: DnsRecord
    in_flight: InFlight | None = None
    shown: Measurement | None = None
    problem: str | None = None


@dataclass(frozen=True)
class Pacing:
    """Where the rounds stand: when the next may start, how it is paced, and why."""

    pace: Pace = "normal"
    next_at: datetime | None = None
    reason: str | None = None


# --- one record's reading (pure) ---------------------------------------------------------------


def world_values(
    service: Service,
    region_kind: str,
    state: RecordState,
    budget: BudgetValues | None,
    pacing: Pacing,
) -> WorldValues:
    """What the record's reading says, typed."""
    base = WorldValues(
        service=service,
        service_name=SERVICE_NAMES[service],
        record_type=state.record.type,
        region_kind=region_kind,
        budget=budget,
        pace=pacing.pace,
        pace_reason=pacing.reason,
        next_measurement_at=pacing.next_at,
        problem=state.problem,
    )
    measurement = shown_measurement(state)
    if measurement is None:
        return base
    probes = classified(state.record, measurement.answers)
    shares = regions(probes, region_kind)
    ttl_max, ttl_median = ttl_stats(probes)
    rows, not_listed = probe_rows(probes)
    return replace(
        base,
        measurement_id=measurement.measurement_id,
        measured_at=measurement.read_at if measurement.finished else measurement.started_at,
        finished=measurement.finished,
        probes_requested=measurement.probes_requested,
        new_fraction=new_fraction(probes),
        new_count=count(probes, "new"),
        old_count=count(probes, "old"),
        other_count=count(probes, "other"),
        error_count=count(probes, "error"),
        failed_count=_failed(measurement, probes),
        regions=shares,
        slowest_regions=tuple(share.region for share in slowest(shares)),
        ttl_max_seconds=ttl_max,
        ttl_median_seconds=ttl_median,
        old_ttl_max_seconds=old_ttl_max(probes),
        old_gone_at=old_gone_at(probes, measurement.read_at),
        probes=rows,
        probes_not_listed=not_listed or None,
        problem=state.problem or measurement.note,
    )


def shown_measurement(state: RecordState) -> Measurement | None:
    """The newest finished measurement; the running one until a first has finished."""
    if state.shown is not None:
        return state.shown
    return None if state.in_flight is None else state.in_flight.latest


def _failed(measurement: Measurement, probes: Sequence[Classified]) -> int:
    """Probes without a view: failed or offline, and (once finished) those never heard from."""
    failed = count(probes, None)
    if measurement.finished and measurement.probes_requested is not None:
        failed += max(0, measurement.probes_requested - len(probes))
    return failed


def world_status(values: WorldValues) -> Status:
    """The status rules of the module docstring."""
    if values.pace == "stopped" or not values.has_results or values.new_fraction is None:
        return Status.UNKNOWN
    answered = values.answered_count or 0
    consistent = values.new_count == answered or values.old_count == answered
    calm = values.finished is True and not values.failed_count and values.pace == "normal"
    return Status.OK if consistent and calm else Status.WARN


def _percent(fraction: float) -> str:
    return f"{round(fraction * 100)} %"


def _region_words(values: WorldValues) -> str:
    """'slowest: SA 0 % (4), AS 50 % (6)'."""
    named = dict.fromkeys(values.slowest_regions)
    shares = [share for share in values.regions if share.region in named]
    shares.sort(key=lambda share: values.slowest_regions.index(share.region))
    parts = [
        f"{share.region} {_percent(share.new_fraction or 0.0)} ({share.answered})"
        for share in shares
    ]
    return f"slowest: {', '.join(parts)}" if parts else ""


def _headline(values: WorldValues) -> str:
    """'62 % of 29 probes answer new (18 new, 9 old, 2 other)'."""
    answered = values.answered_count or 0
    if values.new_fraction is None:
        failed = values.failed_count or 0
        return f"no probe's resolver answered ({failed} failed)"
    counts = [
        f"{number} {word}"
        for number, word in (
            (values.new_count, "new"),
            (values.old_count, "old"),
            (values.other_count, "other"),
            (values.error_count, "errors"),
        )
        if number
    ]
    return f"{_percent(values.new_fraction)} of {answered} probes answer new ({', '.join(counts)})"


def _expiry_words(values: WorldValues) -> str:
    if values.old_gone_at is not None:
        return f"old gone by {values.old_gone_at:%H:%M:%S}Z"
    return "no old answers seen" if values.old_count == 0 else ""


def _ttl_words(values: WorldValues) -> str:
    if values.ttl_max_seconds is None:
        return ""
    median = values.ttl_median_seconds
    middle = "" if median is None else f", median {median:g} s"
    return f"TTLs up to {values.ttl_max_seconds} s{middle}"


def world_detail(values: WorldValues) -> str:
    """One line: where the world stands on this record, and how the measuring goes."""
    name = values.service_name or "world"
    if not values.has_results:
        why = values.pace_reason or values.problem or "the first measurement is running"
        return f"{name}: no measurement yet: {why}"
    parts = [f"{name}: {_headline(values)}"]
    parts += [_region_words(values), _ttl_words(values), _expiry_words(values)]
    if values.failed_count:
        parts.append(f"{values.failed_count} probes failed or did not answer")
    if values.finished is False:
        parts.append("measurement not finished")
    if values.measured_at is not None:
        parts.append(f"measured {values.measured_at:%H:%M:%S}Z")
    parts += [values.pace_reason or "", values.problem or ""]
    return "; ".join(part for part in parts if part)


# --- the source (I/O) --------------------------------------------------------------------------


class WorldDnsSource:
    """One measuring service's rounds over every moved record, and a reading per record.

    Every call to the service runs in the source's own lane of threads, so a service that
    hangs stalls only its own lines, never the screen.
    """

    def __init__(
        self,
        service: WorldService,
        records: Sequence[DnsRecord],
        schedule: Schedule,
        clock: Clock,
        lane: Lane | None = None,
        settle_seconds: float | None = None,
    ) -> None:
        self._service = service
        self._clock = clock
        self._lane = lane or Lane(service.label, LANE_THREADS)
        default_settle = schedule.timeout_seconds * FIRST_SETTLE_SHARE
        self._settle_seconds = default_settle if settle_seconds is None else settle_seconds
        self._states = [RecordState(record) for record in records]
        self._last_round_at: datetime | None = None
        self._waiting: Pacing | None = None
        self._pacing = Pacing()
        self.name = f"world DNS ({SERVICE_NAMES[service.service]})"
        self.kind = SignalKind.WORLD_DNS
        self.schedule = schedule
        self.signal_ids = tuple(signal_id(service.service, r.name) for r in records)

    async def read(self) -> list[Reading]:
        started = time.monotonic()
        now = self._clock()
        await self._collect_all(now)
        if not any(state.in_flight for state in self._states):
            await self._maybe_start_round(now)
            await self._settle_first(started)
        observed_at = self._clock()
        return [self._reading(state, observed_at) for state in self._states]

    async def _collect_all(self, now: datetime, within: float | None = None) -> None:
        within = self.schedule.call_budget_seconds if within is None else within
        await asyncio.gather(*(self._collect(state, now, within) for state in self._states))

    async def _settle_first(self, started: float) -> None:
        """The very first round is read again for a while, so a one-shot `cockpit check`
        reports the world's answers rather than "running"; each read again gets only what is
        left of the poll's call budget, so a slow service never overruns the poll."""
        if any(state.shown for state in self._states):
            return
        deadline = started + self._settle_seconds
        poll_end = started + self.schedule.call_budget_seconds
        while any(state.in_flight for state in self._states):
            if time.monotonic() + SETTLE_STEP_SECONDS > deadline:
                return
            await asyncio.sleep(SETTLE_STEP_SECONDS)
            within = poll_end - time.monotonic()
            if within < MIN_SETTLE_CALL_SECONDS:
                return
            await self._collect_all(self._clock(), within)

    def _failure(self, error: BaseException) -> str:
        if isinstance(error, SourceProblem | ServiceRefusal):
            return str(error)
        return describe_failure(error, timeout_seconds=self.schedule.call_budget_seconds)

    async def _collect(self, state: RecordState, now: datetime, within: float) -> None:
        flight = state.in_flight
        if flight is None:
            return
        try:
            measurement = await self._lane.run(
                self._service.collect,
                flight.started,
                flight.started_at,
                state.record,
                now,
                within_seconds=within,
            )
        except Exception as error:
            state.problem = f"reading the measurement: {self._failure(error)}"
            return
        state.problem = None
        overdue = now - flight.started_at >= timedelta(seconds=self._service.every_seconds)
        if measurement.finished or overdue:
            state.shown, state.in_flight = measurement, None
            self._service.done(flight.started.measurement_id)
        else:
            state.in_flight = replace(flight, latest=measurement)

    async def _maybe_start_round(self, now: datetime) -> None:
        """Starts a round when the pacing allows; else notes when and why not."""
        waiting = self._waiting
        if waiting is not None and waiting.next_at is not None and now < waiting.next_at:
            self._pacing = waiting
            return
        self._waiting = None
        decision = await self._decide(now)
        self._pacing = Pacing(decision.pace, decision.measure_at, decision.reason)
        if decision.measure_at > now:
            return
        self._last_round_at = now
        for state in self._states:
            if not await self._start(state, now):
                return
        after = self._next_round(self._service.known_budget, now)
        self._pacing = Pacing(after.pace, after.measure_at, after.reason)

    def _next_round(self, budget: BudgetValues | None, now: datetime) -> PaceDecision:
        reserve = 0 if budget is None else self._service.reserve(budget)
        every = self._service.every_seconds
        return next_round(budget, reserve, self._last_round_at, every, now)

    async def _decide(self, now: datetime) -> PaceDecision:
        """The pacing on the budget as the service tells it now (as last known if it cannot)."""
        budget = self._service.known_budget
        try:
            budget = await self._lane.run(
                self._service.read_budget, now, within_seconds=self.schedule.call_budget_seconds
            )
        except Exception as error:
            for state in self._states:
                state.problem = f"budget not readable: {self._failure(error)}"
        return self._next_round(budget, now)

    async def _start(self, state: RecordState, now: datetime) -> bool:
        """Starts the record's measurement; False when the service said to stop asking."""
        try:
            started = await self._lane.run(
                self._service.start,
                state.record,
                now,
                within_seconds=self.schedule.call_budget_seconds,
            )
        except ServiceRefusal as refusal:
            return self._refused(state, refusal, now)
        except Exception as error:
            state.problem = f"starting a measurement: {self._failure(error)}"
            return True
        state.in_flight, state.problem = InFlight(started, now), None
        return True

    def _refused(self, state: RecordState, refusal: ServiceRefusal, now: datetime) -> bool:
        """Notes a refusal: a rejected request is the record's problem; anything else stops
        the round and waits (rate limit, outage) or stops measuring (credits, key)."""
        self._service.refused(refusal, now)
        if refusal.kind == "rejected":
            state.problem = refusal.message
            return True
        wait = refusal.retry_after_seconds
        until = now + timedelta(seconds=FALLBACK_WAIT_SECONDS if wait is None else wait)
        waits = refusal.kind in ("rate-limited", "unavailable")
        pace: Pace = "rate-limited" if waits else "stopped"
        verb = "waiting" if waits else "stopped measuring"
        left = coarse_duration_text((until - now).total_seconds())
        reason = f"{refusal.message}; {verb} until {until:%H:%M:%S}Z ({left})"
        self._waiting = self._pacing = Pacing(pace, until, reason)
        return False

    def _reading(self, state: RecordState, observed_at: datetime) -> Reading:
        service = self._service
        budget = service.known_budget
        values = world_values(service.service, service.region_kind, state, budget, self._pacing)
        return make_reading(
            self,
            signal_id(service.service, state.record.name),
            world_status(values),
            observed_at,
            world_detail(values),
            values.to_values(),
        )


def build_world_dns_sources(context: SourceContext) -> list[Source]:
    """A source per configured measuring service ([dns.globalping], [dns.ripe_atlas])."""
    from cockpit.sources.dns_world_atlas import AtlasService
    from cockpit.sources.dns_world_globalping import GlobalpingService

    section: DnsSection | None = context.config.dns
    if section is None:
        return []
    sources: list[Source] = []
    if section.globalping is not None:
        service = GlobalpingService(section.globalping, context.environ)
        schedule = Schedule.from_config(section.globalping)
        sources.append(WorldDnsSource(service, section.records, schedule, context.clock))
    if section.ripe_atlas is not None:
        atlas = AtlasService(section.ripe_atlas, context.environ)
        schedule = Schedule.from_config(section.ripe_atlas)
        sources.append(WorldDnsSource(atlas, section.records, schedule, context.clock))
    return sources
