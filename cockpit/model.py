"""Readings and statuses: the frozen facts that flow from sources to state, journal and screen."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias

from cockpit.jsonvalue import JsonValue

Scalar: TypeAlias = str | int | float | bool | None
# A reading value: a scalar, or (frozen) lists and string-keyed tables of values.
Value: TypeAlias = Scalar | tuple["Value", ...] | Mapping[str, "Value"]


class Status(StrEnum):
    """How a signal stands; unknown and stale are never shown as ok."""

    OK = "ok"
    WARN = "warn"
    CRITICAL = "critical"
    UNKNOWN = "unknown"
    STALE = "stale"

    @property
    def severity(self) -> int:
        """Ordering for 'worst of': not knowing is worse than a warning, better than critical."""
        return _SEVERITY[self]


_SEVERITY = {
    Status.OK: 0,
    Status.WARN: 1,
    Status.STALE: 2,
    Status.UNKNOWN: 2,
    Status.CRITICAL: 3,
}


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status; OK for none."""
    return max(statuses, key=lambda status: status.severity, default=Status.OK)


class SignalKind(StrEnum):
    """The signal families the cockpit watches."""

    REPLICATION = "replication"
    TARGETS = "targets"
    DNS = "dns"
    ERRORS = "errors"
    TRAFFIC = "traffic"
    MAINTENANCE = "maintenance"


def _frozen_value(value: object) -> Value:
    """Lists become tuples and dicts read-only mappings, so a reading cannot change."""
    if isinstance(value, list | tuple):
        return tuple(_frozen_value(item) for item in value)
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _frozen_value(v) for k, v in value.items()})
    return _frozen_scalar(value)


def _thawed(value: Value) -> JsonValue:
    """The JSON form of a frozen value."""
    if isinstance(value, tuple):
        return [_thawed(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _thawed(item) for key, item in value.items()}
    return value


def _frozen_scalar(value: object) -> Scalar:
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"reading values must be finite numbers, not {value!r}")
        return value
    raise TypeError(
        f"reading values must be JSON-like (str, number, bool, None), not {type(value)}"
    )


@dataclass(frozen=True)
class Reading:
    """One observation of one signal at one moment."""

    signal_id: str
    kind: SignalKind
    status: Status
    observed_at: datetime
    values: Mapping[str, Value] = field(default_factory=dict)
    detail: str = ""
    stale_after_seconds: float | None = None

    def __post_init__(self) -> None:
        if self.observed_at.tzinfo is None:
            raise ValueError(f"{self.signal_id}: observed_at must be timezone-aware")
        frozen = {str(key): _frozen_value(value) for key, value in self.values.items()}
        object.__setattr__(self, "values", MappingProxyType(frozen))

    def age_seconds(self, now: datetime) -> float:
        return (now - self.observed_at).total_seconds()

    def is_stale(self, now: datetime) -> bool:
        limit = self.stale_after_seconds
        return limit is not None and self.age_seconds(now) > limit

    def status_at(self, now: datetime) -> Status:
        """The status to show and to guard on at `now`: STALE once too old."""
        return Status.STALE if self.is_stale(now) else self.status

    def number(self, name: str) -> float | None:
        """A numeric value, or None when absent or not a number (never a made-up 0)."""
        value = self.values.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)


def reading_to_json(reading: Reading) -> dict[str, JsonValue]:
    """A reading as plain JSON for the journal; reading_from_json() reverses it."""
    values: dict[str, JsonValue] = {key: _thawed(value) for key, value in reading.values.items()}
    return {
        "signal": reading.signal_id,
        "kind": reading.kind.value,
        "status": reading.status.value,
        "observed_at": reading.observed_at.isoformat(),
        "values": values,
        "detail": reading.detail,
        "stale_after_seconds": reading.stale_after_seconds,
    }


def reading_from_json(data: Mapping[str, JsonValue]) -> Reading:
    """Rebuilds a journaled reading; raises ValueError (or KeyError) on a malformed one."""
    values = data.get("values") or {}
    stale_after = data.get("stale_after_seconds")
    if not isinstance(values, dict):
        raise ValueError("reading values must be an object")
    if stale_after is not None and not isinstance(stale_after, int | float):
        raise ValueError("stale_after_seconds must be a number")
    return Reading(
        signal_id=str(data["signal"]),
        kind=SignalKind(str(data["kind"])),
        status=Status(str(data["status"])),
        observed_at=datetime.fromisoformat(str(data["observed_at"])),
        values={key: _frozen_value(value) for key, value in values.items()},
        detail=str(data.get("detail") or ""),
        stale_after_seconds=None if stale_after is None else float(stale_after),
    )
