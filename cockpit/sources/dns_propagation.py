"""What one DNS poll cannot tell alone: since when the switch holds, and who is stuck or split.

A record's history, folded poll by poll, remembers when the authoritative servers (or, without
any configured, the resolvers) first answered new after their last old answer, the longest
TTL each name in the chain was seen with, and when their answer turned between old and new.

From that:
- In a CNAME chain the record that changed decides: an old answer expires with the first
  RRset where the resolver's chain parts from the new one (the final records' TTL when only
  they changed, a CNAME's when it now points elsewhere).
- A resolver is STUCK when it still answers old once every TTL it could have cached has run
  out: later than new_since + the longest TTL seen for the changed name + the margin.
- A weighted set (configured, or recognised when the authoritative answer turned between old
  and new WEIGHTED_MIN_FLIPS times within the quiet stretch) is split while it is seen handing
  out both old and new within the quiet stretch, SPLIT_QUIET_FACTOR x (longest TTL + margin):
  by an authoritative answer, or by a resolver whose answer just changed (a fresh fetch from
  the set). Mixed answers are then expected, and nobody is called STUCK.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Literal, Protocol

TruthKind = Literal["old", "new", "both"]

SPLIT_QUIET_FACTOR = 10
WEIGHTED_MIN_FLIPS = 3


class Answered(Protocol):
    """The part of one server's answer the history needs: kind, chain and each RRset's TTL."""

    @property
    def label(self) -> str: ...

    @property
    def matches(self) -> str: ...

    @property
    def chain(self) -> tuple[str, ...]: ...

    @property
    def hop_ttls(self) -> tuple[int, ...]: ...


@dataclass(frozen=True)
class ChainAnswer:
    """An answer as the history needs it, on its own (the source hands its own answers)."""

    label: str
    matches: str
    chain: tuple[str, ...]
    hop_ttls: tuple[int, ...]


def changed_hop(old_chain: Sequence[str], new_chain: Sequence[str]) -> int:
    """Index of the first RRset that differs between two chains; len(chain) is the final one."""
    for index, (old, new) in enumerate(zip(old_chain, new_chain, strict=False)):
        if old != new:
            return index
    return min(len(old_chain), len(new_chain))


def hop_owners(qname: str, chain: Sequence[str]) -> tuple[str, ...]:
    """The owner name of each RRset of an answer: the name asked, then each CNAME target."""
    return (qname, *chain)


def deciding_hop(answer: Answered, reference_chain: Sequence[str] | None) -> int | None:
    """Which of the answer's RRsets decides when it changes; None when that is unknown."""
    if not answer.hop_ttls or reference_chain is None:
        return None
    return min(changed_hop(answer.chain, reference_chain), len(answer.hop_ttls) - 1)


def deciding_ttl(answer: Answered, reference_chain: Sequence[str] | None) -> int | None:
    """The TTL left on the RRset that decides; the longest in the answer when that is unknown."""
    hop = deciding_hop(answer, reference_chain)
    if hop is None:
        return max(answer.hop_ttls, default=None)
    return answer.hop_ttls[hop]


def reference_chain(
    authoritative: Sequence[Answered], resolvers: Sequence[Answered]
) -> tuple[str, ...] | None:
    """The chain of the new answer: as the authoritative servers give it, else a resolver."""
    for answer in (*authoritative, *resolvers):
        if answer.matches == "new":
            return answer.chain
    return None


def truth_kind(
    authoritative: Sequence[Answered], resolvers: Sequence[Answered]
) -> TruthKind | None:
    """What the source of truth answers now: the authoritative servers, else any resolver new."""
    if authoritative:
        kinds = {a.matches for a in authoritative if a.matches in ("old", "new")}
    else:
        kinds = {"new"} if any(a.matches == "new" for a in resolvers) else set()
    if len(kinds) == 2:
        return "both"
    return "old" if kinds == {"old"} else "new" if kinds == {"new"} else None


@dataclass(frozen=True)
class RecordHistory:
    """One record's earlier polls, as far as judging stuck resolvers and splits needs them."""

    last_kind: Literal["old", "new"] | None = None
    old_seen_at: datetime | None = None
    new_since: datetime | None = None
    flips: tuple[datetime, ...] = ()
    set_old_seen_at: datetime | None = None
    set_new_seen_at: datetime | None = None
    resolver_kinds: Mapping[str, str] = field(default_factory=dict)
    longest_ttls: Mapping[str, int] = field(default_factory=dict)
    stuck_since: Mapping[str, datetime] = field(default_factory=dict)

    def longest_ttl(self, owner: str | None = None) -> int:
        """The longest TTL seen for `owner` (for any name when None or never seen)."""
        if owner is not None and owner in self.longest_ttls:
            return self.longest_ttls[owner]
        return max(self.longest_ttls.values(), default=0)


def _longest_ttls(
    known: Mapping[str, int], qname: str, answers: Iterable[Answered]
) -> Mapping[str, int]:
    """The longest TTL seen per owner name; `known` itself when no answer adds to it, as is
    usual poll after poll, so a poll that changes nothing copies nothing."""
    longest: dict[str, int] | None = None
    for answer in answers:
        for owner, ttl in zip(hop_owners(qname, answer.chain), answer.hop_ttls, strict=False):
            seen = (known if longest is None else longest).get(owner)
            if seen is None or ttl > seen:
                longest = dict(known) if longest is None else longest
                longest[owner] = max(ttl, 0) if seen is None else ttl
    return known if longest is None else longest


def _after_kind(history: RecordHistory, kind: TruthKind | None, now: datetime) -> RecordHistory:
    """The history once the truth answered `kind` at `now` (None: nobody said)."""
    if kind is None:
        return history
    if kind in ("old", "both"):
        history = replace(history, old_seen_at=now, new_since=None)
    if kind == "new" and history.new_since is None:
        history = replace(history, new_since=now)
    if kind == "both":
        return history
    flipped = history.last_kind is not None and history.last_kind != kind
    flips = (*history.flips, now) if flipped else history.flips
    return replace(history, last_kind=kind, flips=flips[-WEIGHTED_MIN_FLIPS:])


def fresh_draws(
    history: RecordHistory, authoritative: Sequence[Answered], resolvers: Sequence[Answered]
) -> set[str]:
    """The kinds this poll shows being handed out now: every authoritative answer, and each
    resolver answer seen first or changed since its last poll (a fetch, not a cache held on)."""
    kinds = {a.matches for a in authoritative}
    for answer in resolvers:
        if history.resolver_kinds.get(answer.label) != answer.matches:
            kinds.add(answer.matches)
    return kinds & {"old", "new"}


def _after_draws(history: RecordHistory, kinds: set[str], now: datetime) -> RecordHistory:
    if "old" in kinds:
        history = replace(history, set_old_seen_at=now)
    if "new" in kinds:
        history = replace(history, set_new_seen_at=now)
    return history


def observed(
    history: RecordHistory,
    qname: str,
    authoritative: Sequence[Answered],
    resolvers: Sequence[Answered],
    now: datetime,
) -> RecordHistory:
    """The history with one more poll folded in (stuck resolvers aside: see judged())."""
    answered = [a for a in (*authoritative, *resolvers) if a.matches in ("old", "new")]
    history = _after_draws(history, fresh_draws(history, authoritative, resolvers), now)
    known = history.resolver_kinds
    kinds = {
        a.label: a.matches
        for a in resolvers
        if a.matches in ("old", "new") and known.get(a.label) != a.matches
    }
    history = replace(
        history,
        longest_ttls=_longest_ttls(history.longest_ttls, qname, answered),
        resolver_kinds={**known, **kinds} if kinds else known,
    )
    return _after_kind(history, truth_kind(authoritative, resolvers), now)


@dataclass(frozen=True)
class Judgement:
    """What the history says about this poll: who is stuck since when, and whether it is split."""

    new_since: datetime | None
    stuck_since: Mapping[str, datetime]
    weighted: bool
    split: bool


def quiet_seconds(history: RecordHistory, margin_seconds: float) -> float:
    """How long the truth must answer only new before a weighted set counts as fully new."""
    return SPLIT_QUIET_FACTOR * (history.longest_ttl() + margin_seconds)


def is_weighted(
    history: RecordHistory, configured: bool, now: datetime, margin_seconds: float
) -> bool:
    """Configured as weighted, or its answer turned between old and new often and lately."""
    if configured:
        return True
    window_start = now - timedelta(seconds=quiet_seconds(history, margin_seconds))
    return len([at for at in history.flips if at >= window_start]) >= WEIGHTED_MIN_FLIPS


def is_split(history: RecordHistory, weighted: bool, now: datetime, margin_seconds: float) -> bool:
    """A weighted set seen handing out both old and new within the quiet stretch.

    Only fresh draws count (see fresh_draws), so a resolver stuck on old keeps no split alive.
    """
    if not weighted or history.set_old_seen_at is None or history.set_new_seen_at is None:
        return False
    quiet = timedelta(seconds=quiet_seconds(history, margin_seconds))
    return now - history.set_old_seen_at < quiet and now - history.set_new_seen_at < quiet


def stuck_after(
    history: RecordHistory,
    qname: str,
    answer: Answered,
    chain: Sequence[str] | None,
    margin_seconds: float,
) -> datetime | None:
    """When every TTL the resolver could have cached its old answer with has run out."""
    if history.new_since is None:
        return None
    hop = deciding_hop(answer, chain)
    owner = None if hop is None else hop_owners(qname, answer.chain)[hop]
    ttl = history.longest_ttl(owner)
    return history.new_since + timedelta(seconds=ttl + margin_seconds)


def judged(
    history: RecordHistory,
    qname: str,
    authoritative: Sequence[Answered],
    resolvers: Sequence[Answered],
    now: datetime,
    *,
    configured_weighted: bool,
    margin_seconds: float,
) -> tuple[RecordHistory, Judgement]:
    """Who is stuck (and since when) and whether a weighted split goes on, after observed()."""
    weighted = is_weighted(history, configured_weighted, now, margin_seconds)
    split = is_split(history, weighted, now, margin_seconds)
    chain = reference_chain(authoritative, resolvers)
    stuck: dict[str, datetime] = {}
    old = () if split or history.new_since is None else resolvers
    for answer in (answer for answer in old if answer.matches == "old"):
        deadline = stuck_after(history, qname, answer, chain, margin_seconds)
        if deadline is not None and now > deadline:
            stuck[answer.label] = history.stuck_since.get(answer.label, now)
    history = replace(history, stuck_since=stuck)
    return history, Judgement(history.new_since, stuck, weighted, split)
