"""What probes around the world answered for one record, classified like the resolvers are.

Pure functions over the probe answers the service adapters parse: each probe's resolver's
answer becomes a DnsAnswer and is classified by dns.classify, so "new" means the same here as
on the resolvers' lines. A probe that failed or was offline answers nothing: it is counted
apart and never makes a share of 0 %.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from cockpit.config import DnsRecord
from cockpit.io.world_http import ServiceRefusal
from cockpit.outside import outside_text
from cockpit.sources.dns import classify, normalize_answer
from cockpit.sources.dns_client import DnsAnswer, failed_answer
from cockpit.sources.dns_values import Match
from cockpit.sources.dns_world_values import BudgetValues, ProbeRow, RegionShare, Service

MAX_CHAIN_LENGTH = 16
MAX_TTL_SECONDS = 2**31 - 1
"""RFC 2181: a TTL above this is read as none at all."""
MAX_PROBE_ROWS = 100
"""Probes listed in a reading (worst first); the counts cover every probe."""
SLOWEST_NAMED = 3
REGION_CHARS = 24
LABEL_CHARS = 60
UNKNOWN_REGION = "?"


@dataclass(frozen=True)
class DnsRecordSeen:
    """One resource record of a probe's answer, as the service reported it."""

    owner: str
    record_type: str
    ttl: int | None
    value: str


@dataclass(frozen=True)
class ProbeAnswer:
    """One probe's view: where it is, which resolver it asked, and what came back.

    answer is None when the probe gave no view at all (offline, failed, no result in time);
    `failure` then says why.
    """

    probe: str
    continent: str | None = None
    country: str | None = None
    asn: int | None = None
    network: str | None = None
    resolver: str | None = None
    answer: DnsAnswer | None = None
    failure: str | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True)
class Measurement:
    """A measurement of one record as last read: finished or still running."""

    measurement_id: str
    started_at: datetime
    read_at: datetime
    finished: bool
    probes_requested: int | None
    answers: tuple[ProbeAnswer, ...] = ()
    note: str | None = None


def place_text(text: object, limit: int = REGION_CHARS) -> str | None:
    """A place, network or resolver name from the service, fit to show; None when empty."""
    if text is None or isinstance(text, bool):
        return None
    shown = outside_text(str(text), limit)
    return shown or None


def ttl_of(value: object) -> int | None:
    """A TTL the service reported, when it is one (0 to 2^31 - 1 seconds)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= MAX_TTL_SECONDS else None


def _name(text: str) -> str:
    return text.strip().rstrip(".").lower()


def answer_from_records(
    qname: str, record_type: str, records: Sequence[DnsRecordSeen], rcode: str = "NOERROR"
) -> DnsAnswer:
    """The answer for (qname, type) the records give, following CNAMEs as a resolver does."""
    if rcode != "NOERROR":
        return failed_answer(rcode, rcode)
    rrsets: dict[tuple[str, str], list[DnsRecordSeen]] = {}
    for record in records:
        rrsets.setdefault((_name(record.owner), record.record_type.upper()), []).append(record)
    name, seen = _name(qname), {_name(qname)}
    chain: tuple[str, ...] = ()
    ttls: tuple[int, ...] = ()
    for _ in range(MAX_CHAIN_LENGTH):
        found = rrsets.get((name, record_type))
        if found:
            return _final(record_type, found, chain, ttls)
        cname = rrsets.get((name, "CNAME")) if record_type != "CNAME" else None
        if not cname:
            break
        name = _name(cname[0].value)
        chain, ttls = (*chain, name), (*ttls, _rrset_ttl(cname))
        if name in seen:
            return failed_answer(f"CNAME loop at {name}", "NOERROR", chain)
        seen.add(name)
    return failed_answer(f"no {record_type} record (NODATA)", "NOERROR", chain)


def _rrset_ttl(records: Sequence[DnsRecordSeen]) -> int:
    return min((record.ttl for record in records if record.ttl is not None), default=0)


def _final(
    record_type: str,
    records: Sequence[DnsRecordSeen],
    chain: tuple[str, ...],
    ttls: tuple[int, ...],
) -> DnsAnswer:
    answers = tuple(sorted({normalize_answer(record_type, r.value) for r in records}))
    hop_ttls = (*ttls, _rrset_ttl(records))
    return DnsAnswer("NOERROR", answers, max(hop_ttls), chain, None, hop_ttls)


@dataclass(frozen=True)
class Classified:
    """A probe's answer and what it means for the record (None: the probe gave no view)."""

    probe: ProbeAnswer
    matches: Match | None

    @property
    def ttl(self) -> int | None:
        answer = self.probe.answer
        return None if answer is None or answer.error else answer.ttl_seconds


def classified(record: DnsRecord, answers: Iterable[ProbeAnswer]) -> tuple[Classified, ...]:
    """Every probe's answer classified with the record's new and old answers."""
    return tuple(
        Classified(probe, None if probe.answer is None else classify(record, probe.answer))
        for probe in answers
    )


def count(probes: Sequence[Classified], match: Match | None) -> int:
    return sum(1 for probe in probes if probe.matches == match)


def answered(probes: Sequence[Classified]) -> tuple[Classified, ...]:
    return tuple(probe for probe in probes if probe.matches is not None)


def new_fraction(probes: Sequence[Classified]) -> float | None:
    """Probes answering new over probes whose resolver answered; None when none answered."""
    views = answered(probes)
    return count(views, "new") / len(views) if views else None


def region_of(probe: ProbeAnswer, region_kind: str) -> str:
    """The probe's continent or country code, '?' when the service did not say."""
    region = probe.continent if region_kind == "continent" else probe.country
    return region or UNKNOWN_REGION


def regions(probes: Sequence[Classified], region_kind: str) -> tuple[RegionShare, ...]:
    """Per continent or country: probes that answered and how many of them new, by name."""
    shares: dict[str, tuple[int, int]] = {}
    for probe in answered(probes):
        region = region_of(probe.probe, region_kind)
        seen, new = shares.get(region, (0, 0))
        shares[region] = (seen + 1, new + (probe.matches == "new"))
    return tuple(RegionShare(name, seen, new) for name, (seen, new) in sorted(shares.items()))


def slowest(shares: Sequence[RegionShare], named: int = SLOWEST_NAMED) -> tuple[RegionShare, ...]:
    """The regions furthest from all new (lowest share first, then the most probes)."""
    behind = [share for share in shares if share.new < share.answered]
    behind.sort(key=lambda share: (share.new / share.answered, -share.answered, share.region))
    return tuple(behind[:named])


def ttl_stats(probes: Sequence[Classified]) -> tuple[int | None, float | None]:
    """The longest and the median TTL the answering probes reported."""
    ttls = [probe.ttl for probe in answered(probes) if probe.ttl is not None]
    if not ttls:
        return None, None
    return max(ttls), float(statistics.median(ttls))


def old_ttl_max(probes: Sequence[Classified]) -> int | None:
    """The longest TTL left on an old answer; None when no probe answers old."""
    ttls = [probe.ttl or 0 for probe in probes if probe.matches == "old"]
    return max(ttls) if ttls else None


def old_gone_at(probes: Sequence[Classified], read_at: datetime) -> datetime | None:
    """When the last old answer a probe saw has expired (its TTL from when it was seen)."""
    moments = [
        (probe.probe.answered_at or read_at) + timedelta(seconds=probe.ttl or 0)
        for probe in probes
        if probe.matches == "old"
    ]
    if not moments:
        return None
    gone = max(moments).astimezone(UTC)
    return gone + timedelta(microseconds=1_000_000 - gone.microsecond) if gone.microsecond else gone


_ROW_ORDER = {"other": 0, "error": 1, "old": 2, None: 3, "new": 4}


def probe_rows(probes: Sequence[Classified]) -> tuple[tuple[ProbeRow, ...], int]:
    """The probes as the reading lists them, worst first, at most MAX_PROBE_ROWS; and how many
    were left out."""
    ordered = sorted(probes, key=lambda probe: _ROW_ORDER.get(probe.matches, 3))
    rows = tuple(_row(probe) for probe in ordered[:MAX_PROBE_ROWS])
    return rows, max(0, len(probes) - MAX_PROBE_ROWS)


def _row(probe: Classified) -> ProbeRow:
    seen, answer = probe.probe, probe.probe.answer
    error = seen.failure if answer is None else answer.error
    return ProbeRow(
        probe=seen.probe,
        continent=seen.continent,
        country=seen.country,
        asn=seen.asn,
        network=seen.network,
        resolver=seen.resolver,
        answers=() if answer is None else tuple(outside_text(a) for a in answer.answers),
        ttl=probe.ttl,
        matches=probe.matches,
        error=None if error is None else outside_text(error),
    )


# --- what a service adapter does (blocking; the source runs it in its own lane) ---------------


@dataclass(frozen=True)
class Started:
    """A measurement a service accepted, what it asked for, and what it cost if it said."""

    measurement_id: str
    probes_requested: int | None
    cost: int | None = None


class WorldService(Protocol):
    """One measuring service as the world DNS source drives it."""

    @property
    def service(self) -> Service: ...

    @property
    def label(self) -> str:
        """'Globalping at https://api.globalping.io/v1', for problems and failure readings."""
        ...

    @property
    def region_kind(self) -> str:
        """'continent' or 'country': how probes are grouped."""
        ...

    @property
    def every_seconds(self) -> float:
        """The usual spacing between two rounds of measurements."""
        ...

    @property
    def known_budget(self) -> BudgetValues | None:
        """What is left to spend as last heard (no call); None when never heard."""
        ...

    def read_budget(self, now: datetime) -> BudgetValues | None:
        """What is left to spend now: asks the service where it has a way to, else as known."""
        ...

    def reserve(self, budget: BudgetValues) -> int:
        """How much of the budget is never spent."""
        ...

    def start(self, record: DnsRecord, now: datetime) -> Started:
        """A new one-off measurement of the record; ServiceRefusal when the service says no."""
        ...

    def refused(self, refusal: ServiceRefusal, now: datetime) -> None:
        """Takes note of what a refusal says about the budget."""
        ...

    def collect(
        self, started: Started, started_at: datetime, record: DnsRecord, now: datetime
    ) -> Measurement:
        """The measurement as it stands now: finished or not, every probe answer in so far."""
        ...

    def done(self, measurement_id: str) -> None:
        """Forgets a measurement that will not be read again."""
        ...
