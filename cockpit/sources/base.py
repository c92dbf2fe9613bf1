"""What every signal source is: an async read() of one or more signals, on its own schedule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from cockpit.clock import Clock
from cockpit.config import Polled
from cockpit.model import Reading, SignalKind, Status, Value

# A blocking call gets this share of its source's timeout: its own reason (throttled, no answer
# from the endpoint) then arrives before the poller's plain "timeout after N s".
CALL_BUDGET_SHARE = 0.8


@dataclass(frozen=True)
class Schedule:
    """How often a source polls, how long one poll may take, and when its data turns stale."""

    interval_seconds: float
    timeout_seconds: float
    stale_after_seconds: float

    @classmethod
    def from_config(cls, polled: Polled) -> Schedule:
        return cls(polled.interval_seconds, polled.timeout_seconds, polled.stale_after)

    @property
    def call_budget_seconds(self) -> float:
        """How long one blocking call may take, so the source says why before the poll times out."""
        return self.timeout_seconds * CALL_BUDGET_SHARE


class Source(Protocol):
    """A family of signals read together: one poll, one or more readings."""

    @property
    def name(self) -> str:
        """Short label for logs and failure readings, e.g. 'replication (postgres)'."""
        ...

    @property
    def kind(self) -> SignalKind: ...

    @property
    def schedule(self) -> Schedule: ...

    @property
    def signal_ids(self) -> tuple[str, ...]:
        """Every signal this source produces, known before the first poll (for failures)."""
        ...

    async def read(self) -> list[Reading]:
        """One poll. May raise: the poller turns any exception into failure readings."""
        ...


def make_reading(
    source: Source,
    signal_id: str,
    status: Status,
    observed_at: datetime,
    detail: str,
    values: Mapping[str, Any] | None = None,
) -> Reading:
    """A reading stamped with the source's kind and staleness limit."""
    return Reading(
        signal_id=signal_id,
        kind=source.kind,
        status=status,
        observed_at=observed_at,
        values=cast(Mapping[str, Value], values or {}),
        detail=detail,
        stale_after_seconds=source.schedule.stale_after_seconds,
    )


def failure_readings(source: Source, reason: str, clock: Clock) -> list[Reading]:
    """What a failed poll means for each of the source's signals: unknown, and why."""
    now = clock()
    return [
        make_reading(source, signal_id, Status.UNKNOWN, now, reason, {"error": reason})
        for signal_id in source.signal_ids
    ]
