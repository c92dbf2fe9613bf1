"""Since when a record's authoritative TTL has been low, and whether that is long enough.

Lowering a TTL helps only once every cache has let go of the old, longer one: the runbook
says to lower it at least one old TTL before the switch. Three things can prove since when it
has been low, each a lower bound, and the earliest wins:
- earlier sessions' journals of this cutover, read at start (TtlSeen);
- this session's own readings;
- the zone's SOA serial, when it carries a date (YYYYMMDDnn) or a Unix time: the zone has not
  changed since, so neither has the TTL.
A TTL seen above the limit after one of those times cancels it: it was not low then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

DATE_SERIAL_MIN = 1990_01_01_00
DATE_SERIAL_MAX = 2099_12_31_99
UNIX_SERIAL_MIN = 1_000_000_000
LATEST_CHANGE_GRACE = timedelta(days=1)


@dataclass(frozen=True)
class TtlSeen:
    """What earlier journals showed for one record's authoritative TTL.

    last_high_at / last_high_ttl_seconds: the last reading with the TTL over the limit;
    low_since: the first reading after it with the TTL at or under the limit, None when the
    last reading was high or there is none.
    """

    last_high_at: datetime | None = None
    last_high_ttl_seconds: float | None = None
    low_since: datetime | None = None


@dataclass(frozen=True)
class LowSince:
    """The earliest proof that the TTL has been low, and what it rests on."""

    since: datetime
    basis: str


def serial_changed_by(serial: int, now: datetime) -> datetime | None:
    """The latest moment the zone can have changed, read from a date or Unix-time SOA serial.

    A date serial (2026120301) says the day: the change was before the next midnight. None
    for a plain counter (1, 2, 3...) or a serial that reads as a time still to come.
    """
    if DATE_SERIAL_MIN <= serial <= DATE_SERIAL_MAX:
        changed = _date_serial(serial)
    elif UNIX_SERIAL_MIN <= serial < DATE_SERIAL_MIN:
        changed = datetime.fromtimestamp(serial, UTC)
    else:
        return None
    if changed is None or changed > now + LATEST_CHANGE_GRACE:
        return None
    return min(changed, now)


def _date_serial(serial: int) -> datetime | None:
    day = serial // 100
    try:
        start = datetime(day // 10000, day // 100 % 100, day % 100, tzinfo=UTC)
    except ValueError:
        return None
    return start + timedelta(days=1)


def low_since(
    *,
    seen: TtlSeen | None,
    session_low_since: datetime | None,
    serial: int | None,
    now: datetime,
) -> LowSince | None:
    """The earliest time the TTL is proven to have been low since; None when nothing proves
    it. The caller knows the TTL is low now."""
    proofs: list[LowSince] = []
    if seen is not None and seen.low_since is not None:
        proofs.append(LowSince(seen.low_since, "an earlier session's readings"))
    if session_low_since is not None:
        proofs.append(LowSince(session_low_since, "this session's readings"))
    changed = None if serial is None else serial_changed_by(serial, now)
    if changed is not None:
        proofs.append(LowSince(changed, f"SOA serial {serial}: the zone is unchanged since"))
    last_high = None if seen is None else seen.last_high_at
    valid = [p for p in proofs if last_high is None or p.since > last_high]
    return min(valid, key=lambda proof: proof.since) if valid else None


def drained_at(since: LowSince | None, old_ttl_seconds: float | None) -> datetime | None:
    """When caches have let go of the old TTL: one old TTL after the TTL went low."""
    if since is None or old_ttl_seconds is None:
        return None
    return since.since + timedelta(seconds=old_ttl_seconds)
