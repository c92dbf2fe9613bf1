"""RIPE Atlas as a world DNS service: its results decoded with ripe.atlas.sagan, and its credits.

A result is one probe's: {"prb_id", "timestamp", "msm_id", "fw", "type": "dns", "resultset":
[{"dst_addr": <the probe's resolver>, "time", "result": {"abuf": <base64 DNS wire message>,
"rt", ...}} or {"error": {"timeout": ms}}]}, one entry per resolver the probe has. sagan reads
the wire message; a probe's view is its first resolver that answered. Where a probe is comes
from /probes/ (country and AS), asked once per probe. Every string passes the sanitizer here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cockpit.config import DnsRecord, RipeAtlasDns
from cockpit.io.failures import SourceProblem
from cockpit.io.ripe_atlas import AtlasApi
from cockpit.io.world_http import ServiceRefusal
from cockpit.jsonvalue import JsonValue
from cockpit.sources.dns_client import DnsAnswer, failed_answer
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

BUDGET_UNIT = "credits"
FINAL_STATUSES = frozenset(
    {"Stopped", "Forced to stop", "No suitable probes", "Failed", "Archived", "Denied"}
)
"""A one-off measurement in one of these states gets no more results."""
SAGAN_MISSING = (
    "RIPE Atlas answers are read with ripe.atlas.sagan, which is not installed: "
    "pip install 'cutover-cockpit[atlas]'"
)


@dataclass(frozen=True)
class ProbePlace:
    """Where a probe is, as RIPE Atlas lists it."""

    country: str | None
    asn: int | None


def _object(value: JsonValue | object) -> Mapping[str, JsonValue]:
    return value if isinstance(value, dict) else {}


def _whole(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_places(body: JsonValue) -> dict[int, ProbePlace]:
    """Probe id -> country and AS, from a /probes/ page."""
    found = _object(body).get("results")
    places: dict[int, ProbePlace] = {}
    for item in found if isinstance(found, list) else []:
        entry = _object(item)
        probe_id = _whole(entry.get("id"))
        if probe_id is None:
            continue
        asn = _whole(entry.get("asn_v4"))
        asn = asn if asn is not None else _whole(entry.get("asn_v6"))
        asn = asn if asn is not None and 0 <= asn < 2**32 else None
        places[probe_id] = ProbePlace(place_text(entry.get("country_code"), 8), asn)
    return places


def measurement_state(body: JsonValue) -> tuple[str | None, int | None]:
    """The measurement's status name ('Ongoing', 'Stopped', ...) and the probes it asked for."""
    data = _object(body)
    status = _object(data.get("status")).get("name")
    return place_text(status, 40), _whole(data.get("probes_requested"))


def probe_ids(results: JsonValue) -> set[int]:
    items = results if isinstance(results, list) else []
    ids = (_whole(_object(item).get("prb_id")) for item in items)
    return {probe_id for probe_id in ids if probe_id is not None}


def _label(probe_id: int | None, place: ProbePlace | None) -> str:
    parts = [f"probe {probe_id}" if probe_id is not None else "probe ?"]
    if place is not None and place.country:
        parts.append(place.country)
    if place is not None and place.asn is not None:
        parts.append(f"AS{place.asn}")
    return ", ".join(parts)


def _value(answer: Any) -> str | None:
    for field in ("address", "target", "rdata"):
        value = getattr(answer, field, None)
        if isinstance(value, str) and value:
            return value
    return None


def _records(message: Any) -> list[DnsRecordSeen]:
    records = []
    for answer in getattr(message, "answers", None) or []:
        value, owner, kind = _value(answer), answer.name, answer.type
        if value is not None and isinstance(owner, str) and isinstance(kind, str):
            records.append(DnsRecordSeen(owner, kind, ttl_of(answer.ttl), value))
    return records


def _entry_failure(response: Any) -> str | None:
    """Why a resolver entry holds no answer: its own error (a timeout), else none."""
    error = _object(getattr(response, "raw_data", None)).get("error")
    if isinstance(error, dict) and "timeout" in error:
        return f"timeout after {place_text(error.get('timeout'), 12)} ms"
    if error:
        return place_text(error, 80) or "error"
    return None


def _message(response: Any) -> Any:
    if _entry_failure(response) is not None:
        return None
    try:
        return response.abuf
    except Exception:  # sagan reading a hostile buffer: no answer, not a crash
        return None


def _readable(message: Any) -> bool:
    """Whether sagan read the whole message, and it is a response."""
    header = getattr(message, "header", None)
    unread = "ERROR" in _object(getattr(message, "raw_data", None))
    return header is not None and bool(header.qr) and not unread


def _answer(message: Any, record: DnsRecord) -> DnsAnswer:
    """The wire answer as a DnsAnswer; one sagan could not read whole, or that is no response
    at all, is a malformed answer."""
    header = getattr(message, "header", None)
    if header is None or not _readable(message):
        return failed_answer("malformed answer")
    if header.tc:
        return failed_answer("truncated answer")
    rcode = place_text(header.return_code, 20) or "?"
    return answer_from_records(record.name, record.type, _records(message), rcode.upper())


def _answered_at(response: Any, created: datetime | None) -> datetime | None:
    moment = _whole(_object(getattr(response, "raw_data", None)).get("time"))
    if moment is not None and 0 < moment < 2**33:
        return datetime.fromtimestamp(moment, UTC)
    return created


def _sagan_result(raw: JsonValue) -> Any:
    try:
        from ripe.atlas.sagan import DnsResult
    except ImportError:
        raise SourceProblem(SAGAN_MISSING) from None
    ignore = DnsResult.ACTION_IGNORE
    try:
        return DnsResult(raw, on_error=ignore, on_malformation=ignore)
    except Exception:  # sagan refuses what is no Atlas result (or chokes on it)
        return None


def probe_answer(
    raw: JsonValue, record: DnsRecord, places: Mapping[int, ProbePlace]
) -> ProbeAnswer:
    """One probe's result as its view: the first of its resolvers that answered."""
    result = _sagan_result(raw)
    if result is None:
        return ProbeAnswer(probe="probe ?", failure="unreadable result")
    probe_id = _whole(result.probe_id)
    place = places.get(probe_id) if probe_id is not None else None
    created = result.created.astimezone(UTC) if isinstance(result.created, datetime) else None
    responses = list(result.responses)
    messages = [(response, _message(response)) for response in responses]
    chosen = next(((r, m) for r, m in messages if _readable(m)), None)
    chosen = chosen or next(((r, m) for r, m in messages if m is not None), None)
    where = ProbeAnswer(
        probe=_label(probe_id, place),
        country=None if place is None else place.country,
        asn=None if place is None else place.asn,
        answered_at=created,
    )
    if chosen is None:
        failure = next((f for f in map(_entry_failure, responses) if f), None)
        reason = failure or place_text(result.error_message, 80) or "no answer"
        resolver = place_text(responses[0].destination_address) if responses else None
        return replace(where, resolver=resolver, failure=reason)
    response, message = chosen
    return replace(
        where,
        resolver=place_text(response.destination_address, LABEL_CHARS),
        answer=_answer(message, record),
        answered_at=_answered_at(response, created),
    )


def parse_results(
    results: JsonValue, record: DnsRecord, places: Mapping[int, ProbePlace]
) -> tuple[ProbeAnswer, ...]:
    """Every probe's view in a /results/ list (one per probe: a repeated probe counts once)."""
    items = results if isinstance(results, list) else []
    seen: set[int] = set()
    answers = []
    for item in items:
        probe_id = _whole(_object(item).get("prb_id"))
        if probe_id is not None and probe_id in seen:
            continue
        if probe_id is not None:
            seen.add(probe_id)
        answers.append(probe_answer(item, record, places))
    return tuple(answers)


class AtlasService:
    """RIPE Atlas driven for one [dns.ripe_atlas] section: its probes, key and reserve."""

    def __init__(
        self, section: RipeAtlasDns, environ: Mapping[str, str], api: AtlasApi | None = None
    ) -> None:
        self._section = section
        self._has_key = bool(environ.get(section.key_env))
        key = environ.get(section.key_env) or None
        self._api = api or AtlasApi(section.base_url, key, section.timeout_seconds)
        self.service: Service = "atlas"
        self.label = self._api.label
        self.region_kind = "country"
        self.every_seconds = section.measure_every_seconds
        self._places: dict[int, ProbePlace] = {}
        self._balance: int | None = None
        self._balance_at_round: int | None = None
        self._round_cost: int | None = None

    @property
    def known_budget(self) -> BudgetValues | None:
        if self._balance is None:
            return None
        return BudgetValues(unit=BUDGET_UNIT, remaining=self._balance, round_cost=self._round_cost)

    def read_budget(self, now: datetime) -> BudgetValues | None:
        """The credit balance, read now; a round's cost learned from how much it fell since
        the last round began (all the account's spending counts, so it errs on the high side)."""
        if not self._has_key:
            return None
        balance = _whole(_object(self._api.credits()).get("current_balance"))
        if balance is None:
            return self.known_budget
        spent = None if self._balance_at_round is None else self._balance_at_round - balance
        if spent is not None and spent > 0:
            self._round_cost = spent
        self._balance = balance
        return self.known_budget

    def reserve(self, budget: BudgetValues) -> int:
        return self._section.reserve_credits

    def start(self, record: DnsRecord, now: datetime) -> Started:
        section = self._section
        if not self._has_key:
            message = f"${section.key_env} is not set: RIPE Atlas needs a key to measure"
            raise ServiceRefusal("unauthorized", message)
        if self._balance is not None:
            self._balance_at_round = self._balance
        measurement_id = self._api.create(
            record.name, record.type, section.probes, section.probes_per_spec
        )
        return Started(measurement_id, len(section.probes) * section.probes_per_spec)

    def refused(self, refusal: ServiceRefusal, now: datetime) -> None:
        return None

    def collect(
        self, started: Started, started_at: datetime, record: DnsRecord, now: datetime
    ) -> Measurement:
        status, requested = measurement_state(self._api.measurement(started.measurement_id))
        results = self._api.results(started.measurement_id)
        self._learn_places(probe_ids(results))
        note = None if status in (None, "Ongoing", "Stopped") else f"RIPE Atlas: {status}"
        return Measurement(
            measurement_id=started.measurement_id,
            started_at=started_at,
            read_at=now,
            finished=status in FINAL_STATUSES,
            probes_requested=requested if requested is not None else started.probes_requested,
            answers=parse_results(results, record, self._places),
            note=note,
        )

    def _learn_places(self, ids: Iterable[int]) -> None:
        """Where each new probe is; a failure leaves them placed nowhere, never stops a read."""
        missing: Sequence[int] = sorted(set(ids) - set(self._places))
        if not missing:
            return
        try:
            self._places.update(parse_places(self._api.probes(missing)))
        except (ServiceRefusal, OSError, ValueError):
            return

    def done(self, measurement_id: str) -> None:
        return None
