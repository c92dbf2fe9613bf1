"""Globalping as a world DNS service: its measurement JSON read into probe answers, and its budget.

A measurement reads {"status": "in-progress" | "finished", "probesCount": N, "results": [{"probe":
{"continent", "country", "city", "asn", "network", ...}, "result": {"status": "finished" |
"in-progress" | "failed" | "offline", "statusCodeName": "NOERROR", "resolver": ..., "answers":
[{"name", "type", "ttl", "class", "value"}], "rawOutput": ...}}]}. Every string in it is the
probe's or the service's and passes the sanitizer here; a probe still running is not counted
yet, one that failed or was offline is counted apart, with its reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from cockpit.config import DnsRecord, GlobalpingDns
from cockpit.io.globalping import GlobalpingApi
from cockpit.io.world_http import RateBudget, ServiceRefusal
from cockpit.jsonvalue import JsonValue
from cockpit.sources.dns_world_results import (
    LABEL_CHARS,
    DnsRecordSeen,
    Measurement,
    ProbeAnswer,
    Started,
    answer_from_records,
    place_text,
    ttl_of,
)
from cockpit.sources.dns_world_values import BudgetValues, Service

BUDGET_UNIT = "tests"
"""Globalping counts its limits in tests: one probe of one measurement is one test."""
EPOCH_SECONDS_FROM = 10**9
"""A reset header this large is a moment (Unix time), not a number of seconds to wait."""
FAILURE_CHARS = 80


def _object(value: JsonValue | object) -> Mapping[str, JsonValue]:
    return value if isinstance(value, dict) else {}


def _asn(value: JsonValue) -> int | None:
    """An AS number (0 to 2^32 - 1); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value < 2**32 else None


def probe_label(probe: Mapping[str, JsonValue]) -> str:
    """'Frankfurt, DE, AS3320': where the probe is, as far as the service says."""
    asn = _asn(probe.get("asn"))
    parts = [place_text(probe.get("city")), place_text(probe.get("country"))]
    parts.append(None if asn is None else f"AS{asn}")
    return ", ".join(part for part in parts if part) or "probe"


def _failure(status: JsonValue, result: Mapping[str, JsonValue]) -> str:
    """Why a probe gave no answer: offline, or the first line of what its tool printed."""
    if status == "offline":
        return "probe offline"
    raw = result.get("rawOutput")
    lines = [line.strip(" ;") for line in raw.splitlines()] if isinstance(raw, str) else []
    said = next((line for line in lines if line), None)
    reason = place_text(said, FAILURE_CHARS) if said else None
    word = place_text(status, 20) or "no result"
    return f"{word}: {reason}" if reason else word


def _records(result: Mapping[str, JsonValue]) -> list[DnsRecordSeen]:
    found = result.get("answers")
    records = []
    for item in found if isinstance(found, list) else []:
        entry = _object(item)
        owner, kind, value = entry.get("name"), entry.get("type"), entry.get("value")
        if isinstance(owner, str) and isinstance(kind, str) and isinstance(value, str):
            records.append(DnsRecordSeen(owner, kind, ttl_of(entry.get("ttl")), value))
    return records


def probe_answer(
    item: JsonValue, record: DnsRecord, measurement_finished: bool
) -> ProbeAnswer | None:
    """One result entry as a probe answer; None while the probe is still running."""
    entry = _object(item)
    probe, result = _object(entry.get("probe")), _object(entry.get("result"))
    status = result.get("status")
    if status == "in-progress" and not measurement_finished:
        return None
    answer, failure = None, None
    if status == "finished":
        code = result.get("statusCodeName")
        rcode = place_text(code.upper(), 20) if isinstance(code, str) and code else None
        answer = answer_from_records(record.name, record.type, _records(result), rcode or "NOERROR")
    else:
        failure = _failure(status, result)
    return ProbeAnswer(
        probe=probe_label(probe),
        continent=place_text(probe.get("continent"), 8),
        country=place_text(probe.get("country"), 8),
        asn=_asn(probe.get("asn")),
        network=place_text(probe.get("network"), LABEL_CHARS),
        resolver=place_text(result.get("resolver"), LABEL_CHARS),
        answer=answer,
        failure=failure,
    )


def parse_measurement(
    body: JsonValue,
    record: DnsRecord,
    started: Started,
    started_at: datetime,
    read_at: datetime,
) -> Measurement:
    """A Globalping measurement as it stands: finished or not, the answers in so far."""
    data = _object(body)
    finished = data.get("status") == "finished"
    results = data.get("results")
    items = results if isinstance(results, list) else []
    parsed = (probe_answer(item, record, finished) for item in items)
    count = data.get("probesCount")
    requested = count if isinstance(count, int) and not isinstance(count, bool) else None
    return Measurement(
        measurement_id=started.measurement_id,
        started_at=started_at,
        read_at=read_at,
        finished=finished,
        probes_requested=requested if requested is not None else started.probes_requested,
        answers=tuple(answer for answer in parsed if answer is not None),
    )


def reset_at(now: datetime, seconds: float | None) -> datetime | None:
    """When a limit resets, from the header's seconds (or, when that large, its Unix time)."""
    if seconds is None:
        return None
    if seconds >= EPOCH_SECONDS_FROM:
        return datetime.fromtimestamp(seconds, now.tzinfo)
    return now + timedelta(seconds=seconds)


def budget_values(
    budget: RateBudget, now: datetime, round_cost: int | None, before: BudgetValues | None
) -> BudgetValues:
    """The budget a reply's headers tell, what a header left out kept from before."""
    kept = before or BudgetValues(unit=BUDGET_UNIT)
    return BudgetValues(
        unit=BUDGET_UNIT,
        remaining=budget.remaining if budget.remaining is not None else kept.remaining,
        limit=budget.limit if budget.limit is not None else kept.limit,
        reset_at=reset_at(now, budget.reset_after_seconds) or kept.reset_at,
        credits_remaining=(
            budget.credits_remaining
            if budget.credits_remaining is not None
            else kept.credits_remaining
        ),
        round_cost=round_cost if round_cost is not None else kept.round_cost,
    )


class GlobalpingService:
    """Globalping driven for one [dns.globalping] section: its locations, limit and token."""

    def __init__(
        self, section: GlobalpingDns, environ: Mapping[str, str], api: GlobalpingApi | None = None
    ) -> None:
        token = environ.get(section.token_env) if section.token_env else None
        self._section = section
        self._api = api or GlobalpingApi(section.base_url, token or None, section.timeout_seconds)
        self.service: Service = "globalping"
        self.label = self._api.label
        self.region_kind: str = section.group_by
        self.every_seconds = section.measure_every_seconds
        self._budget: BudgetValues | None = None
        self._round_costs: dict[str, int] = {}

    @property
    def known_budget(self) -> BudgetValues | None:
        return self._budget

    def read_budget(self, now: datetime) -> BudgetValues | None:
        """As the last reply's headers told: Globalping tells it with every measurement."""
        return self._budget

    def reserve(self, budget: BudgetValues) -> int:
        """The configured share of the limit (nothing while the limit is not known)."""
        return 0 if budget.limit is None else math.ceil(budget.limit * self._section.reserve)

    def start(self, record: DnsRecord, now: datetime) -> Started:
        section = self._section
        created = self._api.create(record.name, record.type, section.locations, section.limit)
        requested = created.probes_count if created.probes_count is not None else section.limit
        cost = requested
        if created.budget is not None and created.budget.request_cost is not None:
            cost = created.budget.request_cost
        self._round_costs[record.name] = cost
        round_cost = sum(self._round_costs.values())
        if created.budget is not None:
            self._budget = budget_values(created.budget, now, round_cost, self._budget)
        elif self._budget is not None:
            self._budget = replace(self._budget, round_cost=round_cost)
        return Started(created.measurement_id, requested, cost)

    def refused(self, refusal: ServiceRefusal, now: datetime) -> None:
        if refusal.budget is not None:
            self._budget = budget_values(refusal.budget, now, None, self._budget)

    def collect(
        self, started: Started, started_at: datetime, record: DnsRecord, now: datetime
    ) -> Measurement:
        body = self._api.measurement(started.measurement_id)
        return parse_measurement(body, record, started, started_at, now)

    def done(self, measurement_id: str) -> None:
        self._api.done_with(measurement_id)
