"""The world's view of DNS, typed: what sources/dns_world.py writes and every reader decodes.

One reading per measuring service and moved record (`dns-world:globalping:app.example.com`),
kept apart from the configured resolvers' `dns:<record>` readings. The keys are spelled here
only; the source encodes with WorldValues.to_values() and widgets, reports and `check --json`
readers decode with from_reading().
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cockpit.model import Reading, Value, aware_time
from cockpit.sources.dns_values import MATCHES, Match, iso_utc
from cockpit.sources.value_fields import (
    bool_field,
    mapping_field,
    number_field,
    rows_of,
    text_field,
    texts_field,
    whole_field,
)

Service = Literal["globalping", "atlas"]
SERVICES: tuple[Service, ...] = ("globalping", "atlas")
SERVICE_NAMES: Mapping[Service, str] = {"globalping": "Globalping", "atlas": "RIPE Atlas"}
Pace = Literal["normal", "slowed", "held", "rate-limited", "stopped"]
PACES: tuple[Pace, ...] = ("normal", "slowed", "held", "rate-limited", "stopped")
"""normal: measuring every measure_every_seconds; slowed: spaced out so the budget lasts;
held: not measuring until the budget allows; rate-limited: told to wait by the service;
stopped: the service refuses (no credits, a bad key) until someone acts."""

SIGNAL_PREFIX = "dns-world:"
NEW_FRACTION = "new_fraction"
"""The value charted as a record's share of probes answering new."""
OLD_GONE_AT = "old_gone_at"
ERROR = "error"


def signal_id(service: Service, record_name: str) -> str:
    """'dns-world:globalping:app.example.com' for the record 'app.example.com.'."""
    return f"{SIGNAL_PREFIX}{service}:{record_name.rstrip('.')}"


def is_world_signal(signal: str) -> bool:
    return signal.startswith(SIGNAL_PREFIX)


def record_name(signal: str) -> str:
    """'app.example.com' from 'dns-world:globalping:app.example.com'."""
    return signal.removeprefix(SIGNAL_PREFIX).partition(":")[2]


def _iso_or_none(at: datetime | None) -> str | None:
    return None if at is None else iso_utc(at)


def _service(value: Value) -> Service | None:
    return next((service for service in SERVICES if service == value), None)


def _pace(value: Value) -> Pace | None:
    return next((pace for pace in PACES if pace == value), None)


def _match(value: object) -> Match | None:
    return next((match for match in MATCHES if match == value), None)


@dataclass(frozen=True)
class RegionShare:
    """One continent's or country's probes: how many answered, how many of them new."""

    region: str
    answered: int
    new: int

    @property
    def new_fraction(self) -> float | None:
        return None if self.answered == 0 else self.new / self.answered

    def to_value(self) -> dict[str, Value]:
        return {
            "region": self.region,
            "answered": self.answered,
            "new": self.new,
            NEW_FRACTION: self.new_fraction,
        }

    @classmethod
    def from_value(cls, value: Mapping[str, object]) -> RegionShare | None:
        region, answered = text_field(value.get("region")), whole_field(value.get("answered"))
        new = whole_field(value.get("new"))
        if region is None or answered is None or new is None:
            return None
        return cls(region, answered, new)


@dataclass(frozen=True)
class ProbeRow:
    """One probe's answer as the reading lists it; every text came from the service."""

    probe: str
    continent: str | None
    country: str | None
    asn: int | None
    network: str | None
    resolver: str | None
    answers: tuple[str, ...]
    ttl: int | None
    matches: Match | None
    error: str | None

    def to_value(self) -> dict[str, Value]:
        return {
            "probe": self.probe,
            "continent": self.continent,
            "country": self.country,
            "asn": self.asn,
            "network": self.network,
            "resolver": self.resolver,
            "answers": self.answers,
            "ttl": self.ttl,
            "matches": self.matches,
            "error": self.error,
        }

    @classmethod
    def from_value(cls, value: Mapping[str, object]) -> ProbeRow:
        return cls(
            probe=text_field(value.get("probe")) or "?",
            continent=text_field(value.get("continent")),
            country=text_field(value.get("country")),
            asn=whole_field(value.get("asn")),
            network=text_field(value.get("network")),
            resolver=text_field(value.get("resolver")),
            answers=texts_field(value.get("answers")),
            ttl=whole_field(value.get("ttl")),
            matches=_match(value.get("matches")),
            error=text_field(value.get("error")),
        )


@dataclass(frozen=True)
class BudgetValues:
    """What the service lets us spend: in its own unit, until when, and what a round costs.

    remaining/limit: the rate limit's (Globalping, in tests per hour) or the credit balance
    (RIPE Atlas, no limit); reset_at: when the limit starts afresh; credits_remaining: a
    Globalping account's credits besides; round_cost: what one measurement of every record
    cost last time (None until seen).
    """

    unit: str | None = None
    remaining: int | None = None
    limit: int | None = None
    reset_at: datetime | None = None
    credits_remaining: int | None = None
    round_cost: int | None = None

    def to_value(self) -> dict[str, Value]:
        return {
            "unit": self.unit,
            "remaining": self.remaining,
            "limit": self.limit,
            "reset_at": _iso_or_none(self.reset_at),
            "credits_remaining": self.credits_remaining,
            "round_cost": self.round_cost,
        }

    @classmethod
    def from_value(cls, value: Mapping[str, object]) -> BudgetValues:
        return cls(
            unit=text_field(value.get("unit")),
            remaining=whole_field(value.get("remaining")),
            limit=whole_field(value.get("limit")),
            reset_at=aware_time(value.get("reset_at")),
            credits_remaining=whole_field(value.get("credits_remaining")),
            round_cost=whole_field(value.get("round_cost")),
        )


@dataclass(frozen=True)
class WorldValues:
    """What one record's world reading says: the newest measurement, and the budget behind it.

    new_fraction is over the probes whose resolver answered (an error such as SERVFAIL is an
    answer; a probe that failed or was offline is not); None when none answered, never 0.
    """

    service: Service | None = None
    service_name: str | None = None
    record_type: str | None = None
    measurement_id: str | None = None
    measured_at: datetime | None = None
    finished: bool | None = None
    probes_requested: int | None = None
    new_fraction: float | None = None
    new_count: int | None = None
    old_count: int | None = None
    other_count: int | None = None
    error_count: int | None = None
    failed_count: int | None = None
    region_kind: str | None = None
    regions: tuple[RegionShare, ...] = ()
    slowest_regions: tuple[str, ...] = ()
    ttl_max_seconds: int | None = None
    ttl_median_seconds: float | None = None
    old_ttl_max_seconds: int | None = None
    old_gone_at: datetime | None = None
    budget: BudgetValues | None = None
    pace: Pace | None = None
    pace_reason: str | None = None
    next_measurement_at: datetime | None = None
    probes: tuple[ProbeRow, ...] = ()
    probes_not_listed: int | None = None
    problem: str | None = None
    error: str | None = None

    @property
    def answered_count(self) -> int | None:
        counts = (self.new_count, self.old_count, self.other_count, self.error_count)
        return None if None in counts else sum(count or 0 for count in counts)

    @property
    def has_results(self) -> bool:
        return self.measurement_id is not None and self.measured_at is not None

    def to_values(self) -> dict[str, Value]:
        """The reading's values, under the names scripts rely on."""
        values: dict[str, Value] = {
            "service": self.service,
            "service_name": self.service_name,
            "record_type": self.record_type,
            "measurement_id": self.measurement_id,
            "measured_at": _iso_or_none(self.measured_at),
            "finished": self.finished,
            "probes_requested": self.probes_requested,
            NEW_FRACTION: self.new_fraction,
            "new_count": self.new_count,
            "old_count": self.old_count,
            "other_count": self.other_count,
            "error_count": self.error_count,
            "failed_count": self.failed_count,
            "region_kind": self.region_kind,
            "regions": tuple(region.to_value() for region in self.regions),
            "slowest_regions": self.slowest_regions,
            "ttl_max_seconds": self.ttl_max_seconds,
            "ttl_median_seconds": self.ttl_median_seconds,
            "old_ttl_max_seconds": self.old_ttl_max_seconds,
            OLD_GONE_AT: _iso_or_none(self.old_gone_at),
            "budget": None if self.budget is None else self.budget.to_value(),
            "pace": self.pace,
            "pace_reason": self.pace_reason,
            "next_measurement_at": _iso_or_none(self.next_measurement_at),
            "probes": tuple(row.to_value() for row in self.probes),
            "probes_not_listed": self.probes_not_listed,
            "problem": self.problem,
        }
        if self.error is not None:
            values[ERROR] = self.error
        return values

    @classmethod
    def from_values(cls, values: Mapping[str, Value]) -> WorldValues:
        """Tolerant: a missing or wrong-typed value reads as None (or empty), never as a guess."""
        budget = mapping_field(values.get("budget"))
        regions = (RegionShare.from_value(row) for row in rows_of(values.get("regions")))
        return cls(
            service=_service(values.get("service")),
            service_name=text_field(values.get("service_name")),
            record_type=text_field(values.get("record_type")),
            measurement_id=text_field(values.get("measurement_id")),
            measured_at=aware_time(values.get("measured_at")),
            finished=bool_field(values.get("finished")),
            probes_requested=whole_field(values.get("probes_requested")),
            new_fraction=number_field(values.get(NEW_FRACTION)),
            new_count=whole_field(values.get("new_count")),
            old_count=whole_field(values.get("old_count")),
            other_count=whole_field(values.get("other_count")),
            error_count=whole_field(values.get("error_count")),
            failed_count=whole_field(values.get("failed_count")),
            region_kind=text_field(values.get("region_kind")),
            regions=tuple(region for region in regions if region is not None),
            slowest_regions=texts_field(values.get("slowest_regions")),
            ttl_max_seconds=whole_field(values.get("ttl_max_seconds")),
            ttl_median_seconds=number_field(values.get("ttl_median_seconds")),
            old_ttl_max_seconds=whole_field(values.get("old_ttl_max_seconds")),
            old_gone_at=aware_time(values.get(OLD_GONE_AT)),
            budget=None if budget is None else BudgetValues.from_value(budget),
            pace=_pace(values.get("pace")),
            pace_reason=text_field(values.get("pace_reason")),
            next_measurement_at=aware_time(values.get("next_measurement_at")),
            probes=tuple(ProbeRow.from_value(row) for row in rows_of(values.get("probes"))),
            probes_not_listed=whole_field(values.get("probes_not_listed")),
            problem=text_field(values.get("problem")),
            error=text_field(values.get(ERROR)),
        )


def from_reading(reading: Reading) -> WorldValues:
    """The typed values of a world reading (or of any reading: what it lacks reads as None)."""
    return WorldValues.from_values(reading.values)
