"""DNS propagation's reading values, typed: what sources/dns.py writes and every reader decodes.

The keys of a `dns:<record>` reading are spelled here only; the source encodes with
DnsValues.to_values() and widgets, guards, the runbook and reports decode with from_reading().
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from cockpit.model import Reading, Value, aware_time
from cockpit.sources.value_fields import (
    bool_field,
    number_field,
    said_text,
    text_field,
    texts_field,
    whole_field,
)

Match = Literal["new", "old", "other", "error"]
Role = Literal["resolver", "authoritative"]
MATCHES: tuple[Match, ...] = ("new", "old", "other", "error")
ROLES: tuple[Role, ...] = ("resolver", "authoritative")

SIGNAL_PREFIX = "dns:"
CONVERGED_FRACTION = "converged_fraction"
"""The value charted and sparklined as a record's convergence."""
OLD_EXPIRES_IN_SECONDS = "old_expires_in_seconds"
OLD_GONE_AT = "old_gone_at"
RESOLVERS = "resolvers"
RESOLVER_TTL = "ttl"
"""A resolver row's TTL left, which counts down by itself between polls."""
ERROR = "error"

COUNTDOWN_KEYS = frozenset({RESOLVER_TTL, OLD_EXPIRES_IN_SECONDS})
"""Values that count down by themselves, so a replay ages them instead of journaling each tick."""


def signal_id(record_name: str) -> str:
    """'dns:app.example.com' for the record 'app.example.com.'."""
    return f"{SIGNAL_PREFIX}{record_name.rstrip('.')}"


def is_dns_signal(signal: str) -> bool:
    return signal.startswith(SIGNAL_PREFIX)


def record_name(signal: str) -> str:
    """'app.example.com' from 'dns:app.example.com'."""
    return signal.removeprefix(SIGNAL_PREFIX)


def record_key(name: str) -> str:
    """A record's name as maps by record are keyed: lowercase, no final dot."""
    return name.rstrip(".").lower()


def iso_utc(at: datetime) -> str:
    """'2026-11-23T01:02:03Z': a moment as the reading keeps it, in whole seconds."""
    return at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _iso_or_none(at: datetime | None) -> str | None:
    return None if at is None else iso_utc(at)


def _match(value: Value) -> Match | None:
    return next((match for match in MATCHES if match == value), None)


def _role(value: Value) -> Role | None:
    return next((role for role in ROLES if role == value), None)


def _said(value: Value) -> str | None:
    """Any value present, as text."""
    return None if value is None else str(value)


@dataclass(frozen=True)
class ResolverAnswer:
    """One server's classified answer for one record, as the reading lists it."""

    resolver: str | None
    address: str | None
    role: Role | None
    answers: tuple[str, ...]
    ttl: int | None
    matches: Match | None
    error: str | None
    chain: tuple[str, ...] = ()
    stuck_since: str | None = None

    @property
    def label(self) -> str:
        """The server's name, else its address, else '?'."""
        return self.resolver or self.address or "?"

    @property
    def authoritative(self) -> bool:
        return self.role == "authoritative"

    @property
    def stuck(self) -> bool:
        """Whether it still answers old past every TTL."""
        return self.stuck_since is not None

    def to_value(self) -> dict[str, Value]:
        return {
            "resolver": self.resolver,
            "address": self.address,
            "role": self.role,
            "answers": self.answers,
            RESOLVER_TTL: self.ttl,
            "matches": self.matches,
            "error": self.error,
            "chain": self.chain,
            "stuck_since": self.stuck_since,
        }

    @classmethod
    def from_value(cls, value: Value) -> ResolverAnswer | None:
        """The row of one listed server; None when the entry is not a table."""
        if not isinstance(value, Mapping):
            return None
        return cls(
            resolver=said_text(value.get("resolver")),
            address=said_text(value.get("address")),
            role=_role(value.get("role")),
            answers=texts_field(value.get("answers")),
            ttl=whole_field(value.get(RESOLVER_TTL)),
            matches=_match(value.get("matches")),
            error=text_field(value.get("error")),
            chain=texts_field(value.get("chain")),
            stuck_since=text_field(value.get("stuck_since")),
        )


def _rows(value: Value) -> tuple[ResolverAnswer, ...]:
    if not isinstance(value, tuple):
        return ()
    rows = (ResolverAnswer.from_value(item) for item in value)
    return tuple(row for row in rows if row is not None)


@dataclass(frozen=True)
class DnsValues:
    """What one record's reading says: convergence, the old answer's expiry, TTL preflight.

    `resolvers` is None when the poll itself failed (the reading then holds only `error`).
    """

    record_type: str | None = None
    new_answers: tuple[str, ...] = ()
    old_answers: tuple[str, ...] = ()
    converged_fraction: float | None = None
    resolvers: tuple[ResolverAnswer, ...] | None = None
    old_expires_in_seconds: float | None = None
    old_gone_at: datetime | None = None
    old_expiry_unknown_reason: str | None = None
    new_since: datetime | None = None
    stuck_count: int | None = None
    weighted: bool | None = None
    split: bool | None = None
    authoritative_ttl_seconds: float | None = None
    ttl_preflight_ok: bool | None = None
    soa_serial: int | None = None
    ttl_low_since: datetime | None = None
    ttl_low_basis: str | None = None
    ttl_before_seconds: float | None = None
    ttl_drained_at: datetime | None = None
    max_ttl_seconds: float | None = None
    authoritative_matches: str | None = None
    new_count: int | None = None
    old_count: int | None = None
    other_count: int | None = None
    error_count: int | None = None
    error: str | None = None

    @property
    def poll_failed(self) -> bool:
        """True when the poll itself failed: no server's answer is listed."""
        return self.resolvers is None

    @property
    def servers(self) -> tuple[ResolverAnswer, ...]:
        """Every listed server, resolvers first, then authoritative, each in config order."""
        return tuple(sorted(self.resolvers or (), key=lambda row: row.authoritative))

    def to_values(self) -> dict[str, Value]:
        """The reading's values, under the names scripts rely on."""
        values: dict[str, Value] = {
            "record_type": self.record_type,
            "new_answers": self.new_answers,
            "old_answers": self.old_answers,
            CONVERGED_FRACTION: self.converged_fraction,
        }
        if self.resolvers is not None:
            values[RESOLVERS] = tuple(row.to_value() for row in self.resolvers)
        values |= {
            OLD_EXPIRES_IN_SECONDS: self.old_expires_in_seconds,
            OLD_GONE_AT: _iso_or_none(self.old_gone_at),
            "old_expiry_unknown_reason": self.old_expiry_unknown_reason,
            "new_since": _iso_or_none(self.new_since),
            "stuck_count": self.stuck_count,
            "weighted": self.weighted,
            "split": self.split,
            "authoritative_ttl_seconds": self.authoritative_ttl_seconds,
            "ttl_preflight_ok": self.ttl_preflight_ok,
            "soa_serial": self.soa_serial,
            "ttl_low_since": _iso_or_none(self.ttl_low_since),
            "ttl_low_basis": self.ttl_low_basis,
            "ttl_before_seconds": self.ttl_before_seconds,
            "ttl_drained_at": _iso_or_none(self.ttl_drained_at),
            "max_ttl_seconds": self.max_ttl_seconds,
            "authoritative_matches": self.authoritative_matches,
            "new_count": self.new_count,
            "old_count": self.old_count,
            "other_count": self.other_count,
            "error_count": self.error_count,
        }
        if self.error is not None:
            values[ERROR] = self.error
        return values

    @classmethod
    def from_values(cls, values: Mapping[str, Value]) -> DnsValues:
        """Tolerant: a missing or wrong-typed value reads as None (or empty), never as a guess."""
        listed = values.get(RESOLVERS)
        return cls(
            record_type=said_text(values.get("record_type")),
            new_answers=texts_field(values.get("new_answers")),
            old_answers=texts_field(values.get("old_answers")),
            converged_fraction=number_field(values.get(CONVERGED_FRACTION)),
            resolvers=None if RESOLVERS not in values else _rows(listed),
            old_expires_in_seconds=number_field(values.get(OLD_EXPIRES_IN_SECONDS)),
            old_gone_at=aware_time(values.get(OLD_GONE_AT)),
            old_expiry_unknown_reason=text_field(values.get("old_expiry_unknown_reason")),
            new_since=aware_time(values.get("new_since")),
            stuck_count=whole_field(values.get("stuck_count")),
            weighted=bool_field(values.get("weighted")),
            split=bool_field(values.get("split")),
            authoritative_ttl_seconds=number_field(values.get("authoritative_ttl_seconds")),
            ttl_preflight_ok=bool_field(values.get("ttl_preflight_ok")),
            soa_serial=whole_field(values.get("soa_serial")),
            ttl_low_since=aware_time(values.get("ttl_low_since")),
            ttl_low_basis=said_text(values.get("ttl_low_basis")),
            ttl_before_seconds=number_field(values.get("ttl_before_seconds")),
            ttl_drained_at=aware_time(values.get("ttl_drained_at")),
            max_ttl_seconds=number_field(values.get("max_ttl_seconds")),
            authoritative_matches=_said(values.get("authoritative_matches")),
            new_count=whole_field(values.get("new_count")),
            old_count=whole_field(values.get("old_count")),
            other_count=whole_field(values.get("other_count")),
            error_count=whole_field(values.get("error_count")),
            error=said_text(values.get(ERROR)),
        )


DECODED_KEPT = 64
"""Readings whose decoded values are remembered: the screen, the guards and the runbook each
decode the same few latest readings every second, a hundred server rows apiece."""

_decoded: dict[int, tuple[Mapping[str, Value], DnsValues]] = {}


def from_reading(reading: Reading) -> DnsValues:
    """The typed values of a DNS reading (or of any reading: what it lacks reads as None).

    A reading's values never change, so they are decoded once and the result is shared.
    """
    values = reading.values
    known = _decoded.get(id(values))
    if known is not None and known[0] is values:
        return known[1]
    if len(_decoded) >= DECODED_KEPT:
        _decoded.clear()
    decoded = DnsValues.from_values(values)
    _decoded[id(values)] = (values, decoded)
    return decoded
