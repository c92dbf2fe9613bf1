"""DNS propagation: what every resolver and authoritative server answers for each moving record.

One reading per record (`dns:<name>`); each server's answer is classified "new" (the expected
set), "old" (the set being replaced), "other" (neither) or "error" (SERVFAIL, NXDOMAIN, REFUSED,
NODATA, timeout, truncated or malformed). Counts and converged_fraction are over resolvers only.

Status rules, first match wins:
- CRITICAL: any server answers "other" (a wrong answer is out there), or the authoritative
  servers answer "other" or none of them answers at all.
- UNKNOWN: no resolver answered at all (and no "old gone" time: silence promises nothing).
- WARN: a resolver is STUCK on the old answer (see dns_propagation; the "old gone" time then
  cannot be estimated), any resolver errors, or the TTL preflight fails (authoritative TTL
  above max_ttl_seconds).
- During a weighted split (see dns_propagation) old and new answers alike are expected: OK,
  or WARN when an authoritative server fails.
- WARN: answers are mixed (some old, some new), resolvers do not yet answer what the
  authoritative servers answer, or the authoritative servers fail or disagree.
- OK: every resolver answers what the authoritative servers answer: all new (converged) or all
  old (not switched yet); without authoritative servers, every resolver answers the same.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from cockpit.clock import Clock
from cockpit.config import DnsRecord, DnsSection, Resolver, parse_host_port
from cockpit.io.context import SourceContext
from cockpit.io.dns_ttl_low import LowSince, TtlSeen, drained_at, low_since
from cockpit.model import Reading, SignalKind, Status, Value
from cockpit.outside import outside_text
from cockpit.redact import Redactor, known_secrets
from cockpit.sources.base import Schedule, Source, make_reading
from cockpit.sources.dns_client import Ask, DnsAnswer, DnsClient, Server
from cockpit.sources.dns_propagation import (
    Judgement,
    RecordHistory,
    deciding_ttl,
    judged,
    observed,
    reference_chain,
)
from cockpit.sources.dns_values import (
    DnsValues,
    Match,
    ResolverAnswer,
    Role,
    iso_utc,
    record_key,
    signal_id,
)

# Each query may use this share of the poll's timeout, so a dead server never times out the poll.
QUERY_TIMEOUT_FRACTION = 0.8
MAX_NAMED_IN_DETAIL = 3
SAID_KEPT = 4096
"""Distinct answers kept sanitized and classified: every record's old, new and error texts."""


def signal_id_for(record: DnsRecord) -> str:
    return signal_id(record.name)


# --- classification (pure) ---------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def normalize_answer(record_type: str, answer: str) -> str:
    """One answer in the form compared: canonical IP text, or a lowercase name without the dot."""
    if record_type == "CNAME":
        return answer.strip().rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(answer.strip()))
    except ValueError:
        return answer.strip().lower()


@functools.lru_cache(maxsize=4096)
def answer_set(record_type: str, answers: tuple[str, ...]) -> frozenset[str]:
    """The answers as compared: normalized, order and duplicates gone."""
    return frozenset(normalize_answer(record_type, answer) for answer in answers)


def classify(record: DnsRecord, answer: DnsAnswer) -> Match:
    """Whether a server's answer is the new set, the old set, something else, or an error."""
    return match_of(record.type, record.expect, record.old, answer.answers, answer.error)


def match_of(
    record_type: str,
    expect: tuple[str, ...],
    old: tuple[str, ...],
    answers: tuple[str, ...],
    error: str | None,
) -> Match:
    """classify() on the parts it reads."""
    if error is not None:
        return "error"
    seen = answer_set(record_type, answers)
    if seen == answer_set(record_type, expect):
        return "new"
    if seen == answer_set(record_type, old):
        return "old"
    return "other"


@dataclass(frozen=True)
class Said:
    """What a server said for a record, made fit to show and classified: the same for every
    server, and every poll, that says the same, whatever TTL each counts down."""

    answers: tuple[str, ...]
    matches: Match
    error: str | None
    chain: tuple[str, ...]


@functools.lru_cache(maxsize=SAID_KEPT)
def said(
    record_type: str,
    expect: tuple[str, ...],
    old: tuple[str, ...],
    answers: tuple[str, ...],
    error: str | None,
    cname_chain: tuple[str, ...],
    secrets: Redactor,
) -> Said:
    """The answer's text sanitized and redacted, and its kind, once per distinct answer.

    `secrets` (the redactor `outside_text` applies) is part of the key, so an answer first
    seen before a secret was known is redacted again once it is.
    """
    del secrets
    return Said(
        answers=tuple(sorted(outside_text(text) for text in answers)),
        matches=match_of(record_type, expect, old, answers, error),
        error=None if error is None else outside_text(error),
        chain=tuple(outside_text(name.lower()) for name in cname_chain),
    )


@dataclass(frozen=True)
class ServerAnswer:
    """One server's answer for one record, classified."""

    label: str
    address: str
    role: Role
    answers: tuple[str, ...]
    ttl_seconds: int | None
    matches: Match
    error: str | None
    chain: tuple[str, ...] = ()
    hop_ttls: tuple[int, ...] = ()
    stuck_since: datetime | None = None

    @property
    def stuck(self) -> bool:
        return self.stuck_since is not None

    def row(self) -> ResolverAnswer:
        """The answer as the reading lists it."""
        return ResolverAnswer(
            resolver=self.label,
            address=self.address,
            role=self.role,
            answers=self.answers,
            ttl=self.ttl_seconds,
            matches=self.matches,
            error=self.error,
            chain=self.chain,
            stuck_since=None if self.stuck_since is None else iso_utc(self.stuck_since),
        )


def server_answer(
    label: str, address: str, role: Role, record: DnsRecord, answer: DnsAnswer
) -> ServerAnswer:
    """A client answer turned into what the reading shows for that server."""
    text = said(
        record.type,
        record.expect,
        record.old,
        answer.answers,
        answer.error,
        answer.cname_chain,
        known_secrets(),
    )
    return ServerAnswer(
        label=label,
        address=address,
        role=role,
        answers=text.answers,
        ttl_seconds=answer.ttl_seconds,
        matches=text.matches,
        error=text.error,
        chain=text.chain,
        hop_ttls=answer.hop_ttls,
    )


# --- convergence maths (pure) ------------------------------------------------------------------


def count(answers: Sequence[ServerAnswer], match: Match) -> int:
    return sum(1 for answer in answers if answer.matches == match)


def converged_fraction(resolvers: Sequence[ServerAnswer]) -> float | None:
    """Resolvers answering new over all resolvers; None when none answered (unknown, not 0)."""
    if not resolvers or count(resolvers, "error") == len(resolvers):
        return None
    return count(resolvers, "new") / len(resolvers)


def old_expires_in_seconds(resolvers: Sequence[ServerAnswer]) -> int | None:
    """The longest TTL left among resolvers answering old; 0 when none.

    None when it cannot be known: no resolver answered, or one is STUCK (its TTL lies).
    """
    if not resolvers or count(resolvers, "error") == len(resolvers):
        return None
    if any(answer.stuck for answer in resolvers):
        return None
    return max((a.ttl_seconds or 0 for a in resolvers if a.matches == "old"), default=0)


def old_gone_at(observed_at: datetime, resolvers: Sequence[ServerAnswer]) -> datetime | None:
    """When the last old answer has expired everywhere (whole seconds, rounded up)."""
    expires_in = old_expires_in_seconds(resolvers)
    if expires_in is None or count(resolvers, "old") == 0:
        return None
    gone = observed_at.astimezone(UTC) + timedelta(seconds=expires_in)
    return gone + timedelta(microseconds=1_000_000 - gone.microsecond) if gone.microsecond else gone


def authoritative_ttl_seconds(authoritative: Sequence[ServerAnswer]) -> int | None:
    """The (highest) TTL the authoritative servers answer with; None when none answered."""
    ttls = [a.ttl_seconds for a in authoritative if a.ttl_seconds is not None]
    return max(ttls, default=None)


def ttl_preflight_ok(ttl_seconds: int | None, max_ttl_seconds: int) -> bool | None:
    return None if ttl_seconds is None else ttl_seconds <= max_ttl_seconds


def authoritative_matches(authoritative: Sequence[ServerAnswer]) -> Match | None:
    """What the authoritative servers say together; "old" while any of them still says old."""
    if not authoritative:
        return None
    answered = {a.matches for a in authoritative if a.matches != "error"}
    if not answered:
        return "error"
    if "other" in answered:
        return "other"
    return "old" if "old" in answered else "new"


# --- one record's reading (pure) ---------------------------------------------------------------


NOT_JUDGED = Judgement(None, {}, weighted=False, split=False)


@dataclass(frozen=True)
class RecordView:
    """Everything one record's reading is computed from."""

    record: DnsRecord
    resolvers: tuple[ServerAnswer, ...]
    authoritative: tuple[ServerAnswer, ...]
    max_ttl_seconds: int
    observed_at: datetime
    judgement: Judgement = NOT_JUDGED
    soa_serial: int | None = None
    ttl_low: LowSince | None = None
    ttl_before_seconds: float | None = None

    @functools.cached_property
    def answered(self) -> tuple[ServerAnswer, ...]:
        return tuple(a for a in self.resolvers if a.matches != "error")

    @functools.cached_property
    def stuck(self) -> tuple[ServerAnswer, ...]:
        return tuple(a for a in self.resolvers if a.stuck)

    @functools.cached_property
    def resolver_counts(self) -> Counter[str]:
        """How many resolvers answer each kind, counted once however often it is asked."""
        return Counter(a.matches for a in self.resolvers)

    def count(self, match: Match) -> int:
        """How many resolvers answer `match`."""
        return self.resolver_counts[match]

    @property
    def split(self) -> bool:
        return self.judgement.split

    @property
    def authoritative_matches(self) -> Match | None:
        return authoritative_matches(self.authoritative)

    @property
    def preflight_ok(self) -> bool | None:
        return ttl_preflight_ok(authoritative_ttl_seconds(self.authoritative), self.max_ttl_seconds)


def old_expiry_unknown_reason(view: RecordView) -> str | None:
    """Why no "old gone" time is given although old answers may be out there; None if one is."""
    if not view.answered:
        return "no resolver answered"
    if view.stuck:
        return f"STUCK: {_named(view.stuck, _stuck_words)}"
    if view.split and view.count("old"):
        return "weighted split: the set still answers old"
    return None


def record_gone_at(view: RecordView) -> datetime | None:
    """When the last old answer has expired everywhere, when that can be known."""
    if old_expiry_unknown_reason(view) is not None:
        return None
    return old_gone_at(view.observed_at, view.resolvers)


def record_expires_in_seconds(view: RecordView) -> int | None:
    if old_expiry_unknown_reason(view) is not None:
        return None
    return old_expires_in_seconds(view.resolvers)


def record_dns_values(view: RecordView) -> DnsValues:
    """What the record's reading says, typed."""
    servers = (*view.resolvers, *view.authoritative)
    return DnsValues(
        record_type=view.record.type,
        new_answers=tuple(view.record.expect),
        old_answers=tuple(view.record.old),
        converged_fraction=converged_fraction(view.resolvers),
        resolvers=tuple(server.row() for server in servers),
        old_expires_in_seconds=record_expires_in_seconds(view),
        old_gone_at=record_gone_at(view),
        old_expiry_unknown_reason=old_expiry_unknown_reason(view),
        new_since=view.judgement.new_since,
        stuck_count=len(view.stuck),
        weighted=view.judgement.weighted,
        split=view.split,
        authoritative_ttl_seconds=authoritative_ttl_seconds(view.authoritative),
        ttl_preflight_ok=view.preflight_ok,
        soa_serial=view.soa_serial,
        ttl_low_since=None if view.ttl_low is None else view.ttl_low.since,
        ttl_low_basis=None if view.ttl_low is None else view.ttl_low.basis,
        ttl_before_seconds=view.ttl_before_seconds,
        ttl_drained_at=drained_at(view.ttl_low, view.ttl_before_seconds),
        max_ttl_seconds=view.max_ttl_seconds,
        authoritative_matches=view.authoritative_matches,
        new_count=view.count("new"),
        old_count=view.count("old"),
        other_count=view.count("other"),
        error_count=view.count("error"),
    )


def record_values(view: RecordView) -> dict[str, Value]:
    """The reading's values, under the names scripts rely on."""
    return record_dns_values(view).to_values()


def _wrong(view: RecordView) -> list[ServerAnswer]:
    return [a for a in (*view.resolvers, *view.authoritative) if a.matches == "other"]


def _resolvers_agree(view: RecordView) -> bool:
    """Every answering resolver says the same, and what the authoritative servers say."""
    kinds = {a.matches for a in view.answered}
    wanted = view.authoritative_matches
    return len(kinds) == 1 and (wanted is None or kinds == {wanted})


def _authoritative_uneasy(view: RecordView) -> bool:
    """Some authoritative server fails, or they disagree among themselves."""
    kinds = {a.matches for a in view.authoritative}
    return "error" in kinds or len(kinds) > 1


def record_status(view: RecordView) -> Status:
    """The status rules of the module docstring."""
    if _wrong(view) or view.authoritative_matches in ("other", "error"):
        return Status.CRITICAL
    if not view.answered:
        return Status.UNKNOWN
    resolver_errors = view.count("error") > 0
    if view.stuck or resolver_errors or view.preflight_ok is False:
        return Status.WARN
    if view.split:
        return Status.WARN if "error" in {a.matches for a in view.authoritative} else Status.OK
    if _authoritative_uneasy(view):
        return Status.WARN
    return Status.OK if _resolvers_agree(view) else Status.WARN


# --- detail (pure) -----------------------------------------------------------------------------


def _errors(answer: ServerAnswer) -> str:
    return answer.error or "-"


def _answers(answer: ServerAnswer) -> str:
    return ", ".join(answer.answers) or "-"


def _stuck_words(answer: ServerAnswer) -> str:
    since = answer.stuck_since
    return "old" if since is None else f"old since {since.astimezone(UTC):%H:%M:%S}Z"


def _stuck_headline(view: RecordView) -> str:
    """'STUCK: cache-1: old since 01:02:40Z, past every TTL since new at 01:02:30Z; ...'."""
    total = len(view.resolvers)
    new_since = view.judgement.new_since
    since = "" if new_since is None else f" since new at {new_since.astimezone(UTC):%H:%M:%S}Z"
    return (
        f"STUCK: {_named(view.stuck, _stuck_words)}, past every TTL{since}; "
        f"{view.count('new')}/{total} new; old gone time cannot be estimated"
    )


def _split_headline(view: RecordView) -> str:
    """'weighted split: resolvers see 2 old, 3 new (both expected from the set)'."""
    old, new = view.count("old"), view.count("new")
    return f"weighted split: resolvers see {old} old, {new} new (both expected from the set)"


def _named(answers: Sequence[ServerAnswer], say: Callable[[ServerAnswer], str]) -> str:
    """'cache-1: timeout after 0.8 s, cache-2: SERVFAIL and 3 more'."""
    shown = ", ".join(f"{a.label}: {say(a)}" for a in answers[:MAX_NAMED_IN_DETAIL])
    hidden = len(answers) - MAX_NAMED_IN_DETAIL
    return f"{shown} and {hidden} more" if hidden > 0 else shown


def _new_thing(record: DnsRecord) -> str:
    if record.type == "CNAME":
        return "the new target"
    return "the new address" if len(record.expect) == 1 else "the new addresses"


def _propagating(view: RecordView) -> str:
    total = len(view.resolvers)
    new, old = view.count("new"), view.count("old")
    if view.authoritative_matches == "old" and new:
        return f"authoritative answers old but {new}/{total} resolvers answer new"
    gone_at = record_gone_at(view)
    when = ""
    if gone_at is not None:
        expires_in = record_expires_in_seconds(view)
        when = f" (last old answer expires in {expires_in} s, at {gone_at:%H:%M:%S}Z)"
    return f"propagating: {new}/{total} new, {old} old{when}"


def _headline(view: RecordView) -> str:
    total = len(view.resolvers)
    wrong = _wrong(view)
    if wrong:
        return f"wrong answer (neither old nor new): {_named(wrong, _answers)}"
    if view.authoritative_matches == "error":
        return f"authoritative servers not answering: {_named(view.authoritative, _errors)}"
    if not view.answered:
        return (
            f"no resolver answered: {_named(view.resolvers, _errors)}; "
            "old gone time cannot be estimated"
        )
    if view.stuck:
        return _stuck_headline(view)
    if view.split:
        return _split_headline(view)
    if not _resolvers_agree(view):
        return _propagating(view)
    new, old = view.count("new"), view.count("old")
    if new:
        prefix = "converged: " if new == total else ""
        return f"{prefix}{new}/{total} resolvers answer {_new_thing(view.record)}"
    who = "authoritative and " if view.authoritative else ""
    return f"not switched yet: {who}{old}/{total} resolvers answer old"


def _notes(view: RecordView) -> list[str]:
    notes: list[str] = []
    errors = [a for a in view.resolvers if a.matches == "error"]
    if errors and view.answered:
        notes.append(f"{len(errors)} not answering ({_named(errors, _errors)})")
    failing = [a for a in view.authoritative if a.matches == "error"]
    if failing and view.authoritative_matches != "error":
        notes.append(f"authoritative {_named(failing, _errors)}")
    kinds = sorted({a.matches for a in view.authoritative if a.matches in ("new", "old")})
    if len(kinds) > 1 and not view.split:
        split = ", ".join(f"{count(view.authoritative, k)} {k}" for k in kinds)
        notes.append(f"authoritative servers disagree ({split})")
    if view.preflight_ok is False:
        ttl = authoritative_ttl_seconds(view.authoritative)
        notes.append(
            f"TTL preflight failed: authoritative TTL {ttl} s > max {view.max_ttl_seconds} s"
        )
    return notes


def record_detail(view: RecordView) -> str:
    """One line a tired person reads: where propagation stands and what is wrong."""
    return "; ".join([_headline(view), *_notes(view)])


# --- across polls (pure) ----------------------------------------------------------------------


def _judged_resolver(
    answer: ServerAnswer, chain: tuple[str, ...] | None, judgement: Judgement
) -> ServerAnswer:
    """The resolver's answer with the TTL of the record that decides, and whether it is stuck;
    the answer itself when that changes nothing (no CNAME chain, not stuck: most of them)."""
    ttl = answer.ttl_seconds
    if answer.hop_ttls:
        ttl = deciding_ttl(answer, chain)
    stuck_since = judgement.stuck_since.get(answer.label)
    if ttl == answer.ttl_seconds and stuck_since == answer.stuck_since:
        return answer
    return replace(answer, ttl_seconds=ttl, stuck_since=stuck_since)


def with_history(
    view: RecordView, history: RecordHistory, margin_seconds: float
) -> tuple[RecordView, RecordHistory]:
    """The view judged against the record's earlier polls, and the history including this one."""
    qname = view.record.name.rstrip(".").lower()
    authoritative, resolvers = view.authoritative, view.resolvers
    history = observed(history, qname, authoritative, resolvers, view.observed_at)
    history, judgement = judged(
        history,
        qname,
        authoritative,
        resolvers,
        view.observed_at,
        configured_weighted=view.record.weighted,
        margin_seconds=margin_seconds,
    )
    chain = reference_chain(authoritative, resolvers)
    judged_resolvers = tuple(_judged_resolver(a, chain, judgement) for a in view.resolvers)
    return replace(view, resolvers=judged_resolvers, judgement=judgement), history


# --- the source (I/O) --------------------------------------------------------------------------


def address_text(server: Server) -> str:
    host, port = server
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@dataclass(frozen=True)
class _Target:
    """A server to ask, as configured."""

    label: str
    server: Server
    role: Role
    address: str

    @classmethod
    def of(cls, resolver: Resolver, role: Role) -> _Target:
        server = parse_host_port(resolver.address)
        return cls(resolver.label, server, role, address_text(server))


@dataclass
class _TtlTrack:
    """One record's authoritative TTL as this session saw it: the last time over the limit,
    and since when it has been at or under it."""

    seen: TtlSeen
    session_low_since: datetime | None = None

    def saw(self, ttl: int | None, limit: int, at: datetime) -> None:
        if ttl is None:
            return
        if ttl > limit:
            self.seen = TtlSeen(at, ttl, None)
            self.session_low_since = None
        elif self.session_low_since is None:
            self.session_low_since = at

    def low(self, serial: int | None, now: datetime) -> LowSince | None:
        return low_since(
            seen=self.seen, session_low_since=self.session_low_since, serial=serial, now=now
        )


class DnsSource:
    """Asks every resolver and authoritative server for every record, all at once."""

    def __init__(
        self, section: DnsSection, clock: Clock, ttl_seen: Mapping[str, TtlSeen] | None = None
    ) -> None:
        self._section = section
        self._clock = clock
        self._schedule = Schedule.from_config(section)
        self._resolvers = tuple(_Target.of(r, "resolver") for r in section.resolvers)
        self._authoritative = tuple(_Target.of(r, "authoritative") for r in section.authoritative)
        self._query_timeout_seconds = round(section.timeout_seconds * QUERY_TIMEOUT_FRACTION, 3)
        self.name = "dns propagation"
        self.kind = SignalKind.DNS
        self.schedule = self._schedule
        self.signal_ids = tuple(signal_id_for(record) for record in self._section.records)
        self._histories: dict[tuple[str, str], RecordHistory] = {}
        self._ttl_tracks = {
            record.name: _TtlTrack((ttl_seen or {}).get(record_key(record.name), TtlSeen()))
            for record in section.records
        }

    async def read(self) -> list[Reading]:
        deadline = asyncio.get_running_loop().time() + self._query_timeout_seconds
        records = self._section.records
        async with DnsClient() as client:
            per_record, serials = await asyncio.gather(
                self._ask_all(client, deadline),
                asyncio.gather(*(self._serial(client, r, deadline) for r in records)),
            )
        observed_at = self._clock()
        return [
            self._reading(record, answers, serial, observed_at)
            for record, answers, serial in zip(records, per_record, serials, strict=True)
        ]

    async def _ask_all(self, client: DnsClient, deadline: float) -> list[list[ServerAnswer]]:
        """Every server's answer for every record, asked all at once; a list per record."""
        records = self._section.records
        asked = [(i, target) for i, r in enumerate(records) for target in self._targets(r)]
        answers = await client.query_many(
            [self._ask(target, records[i]) for i, target in asked],
            timeout_seconds=self._query_timeout_seconds,
            deadline=deadline,
        )
        per_record: list[list[ServerAnswer]] = [[] for _ in records]
        for (i, to), answer in zip(asked, answers, strict=True):
            per_record[i].append(server_answer(to.label, to.address, to.role, records[i], answer))
        return per_record

    async def _serial(self, client: DnsClient, record: DnsRecord, deadline: float) -> int | None:
        """The zone's SOA serial from the record's first authoritative server (None without
        one): a date or Unix-time serial says since when the zone, and so its TTL, is as now."""
        targets = self._authoritative_for(record)
        if not targets:
            return None
        return await client.zone_serial(
            targets[0].server,
            record.name,
            timeout_seconds=self._query_timeout_seconds,
            deadline=deadline,
        )

    def _targets(self, record: DnsRecord) -> tuple[_Target, ...]:
        """The servers asked for `record`: every resolver, then its authoritative servers."""
        return (*self._resolvers, *self._authoritative_for(record))

    def _authoritative_for(self, record: DnsRecord) -> tuple[_Target, ...]:
        """The record's own authoritative servers when configured, else the section's."""
        if record.authoritative is None:
            return self._authoritative
        return tuple(_Target.of(r, "authoritative") for r in record.authoritative)

    @staticmethod
    def _ask(target: _Target, record: DnsRecord) -> Ask:
        """The question for `target`: recursion is asked of resolvers only."""
        return Ask(target.server, record.name, record.type, target.role == "resolver")

    def _reading(
        self,
        record: DnsRecord,
        answers: list[ServerAnswer],
        serial: int | None,
        observed_at: datetime,
    ) -> Reading:
        view = RecordView(
            record=record,
            resolvers=tuple(a for a in answers if a.role == "resolver"),
            authoritative=tuple(a for a in answers if a.role == "authoritative"),
            max_ttl_seconds=self._section.max_ttl_seconds,
            observed_at=observed_at,
            soa_serial=serial,
        )
        view = self._with_ttl_low(view)
        key = (record.name, record.type)
        history = self._histories.get(key, RecordHistory())
        view, self._histories[key] = with_history(view, history, self._section.stuck_margin_seconds)
        return make_reading(
            self,
            signal_id_for(record),
            record_status(view),
            observed_at,
            record_detail(view),
            record_values(view),
        )

    def _with_ttl_low(self, view: RecordView) -> RecordView:
        """The view with since when its TTL has been low (while it is) and the TTL before."""
        track = self._ttl_tracks[view.record.name]
        track.saw(
            authoritative_ttl_seconds(view.authoritative), view.max_ttl_seconds, view.observed_at
        )
        before = track.seen.last_high_ttl_seconds
        if view.preflight_ok is not True:
            return replace(view, ttl_before_seconds=before)
        low = track.low(view.soa_serial, view.observed_at)
        return replace(view, ttl_low=low, ttl_before_seconds=before)


def build_dns_sources(context: SourceContext) -> list[Source]:
    """One source for the whole [dns] section (a reading per record), or none without it."""
    section = context.config.dns
    if section is None:
        return []
    return [DnsSource(section, context.clock, context.dns_ttl_seen)]
