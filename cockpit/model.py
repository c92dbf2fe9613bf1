"""Readings and statuses: the frozen facts that flow from sources to state, journal and screen."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias, cast

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
    WORLD_DNS = "world_dns"
    ERRORS = "errors"
    TRAFFIC = "traffic"
    MAINTENANCE = "maintenance"
    INTEGRITY = "integrity"


_IMMUTABLE_SCALARS = frozenset({str, int, bool, type(None)})
"""Exact types whose values are kept as they are (a float is checked to be finite first)."""


def _frozen_value(value: object) -> Value:
    """Lists become tuples and dicts read-only mappings, so a reading cannot change.

    Plain scalars, and tuples holding only those, are already frozen and kept as they are;
    text is interned, so the labels, addresses and answers every poll repeats are held once
    however many readings the history keeps.
    """
    kind = type(value)
    if kind is str:
        return sys.intern(cast(str, value))
    if kind in _IMMUTABLE_SCALARS:
        return cast(Scalar, value)
    if kind is tuple and all(_kept(item) for item in cast(tuple[object, ...], value)):
        return cast(Value, value)
    if isinstance(value, list | tuple):
        return tuple(_frozen_value(item) for item in value)
    if isinstance(value, Mapping):
        return MappingProxyType({sys.intern(str(k)): _frozen_value(v) for k, v in value.items()})
    return _frozen_scalar(value)


def _kept(item: object) -> bool:
    """Whether an item of a tuple is frozen as it is: a plain scalar, text already interned."""
    kind = type(item)
    if kind is str:
        return sys.intern(cast(str, item)) is item
    return kind in _IMMUTABLE_SCALARS


def thawed(value: Value) -> JsonValue:
    """The JSON form of a frozen value (lists and dicts again), for parsers of journaled JSON."""
    if isinstance(value, tuple):
        return [thawed(item) for item in value]
    if isinstance(value, Mapping):
        return {key: thawed(item) for key, item in value.items()}
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
        try:
            return float(value)
        except OverflowError:
            return None


def reading_to_json(reading: Reading) -> dict[str, JsonValue]:
    """A reading as plain JSON for the journal; reading_from_json() reverses it."""
    values: dict[str, JsonValue] = {key: thawed(value) for key, value in reading.values.items()}
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
    """Rebuilds a journaled reading; ValueError (only) when it is not one.

    A journal read back may hold anything, so every field is checked: a status no version
    knows reads as UNKNOWN, an odd detail or staleness limit as absent.
    """
    values = data.get("values")
    if values is not None and not isinstance(values, dict):
        raise ValueError("reading values must be an object")
    if values and not _within_float_range(values):
        raise ValueError("a reading value is a number too large for any signal")
    return Reading(
        signal_id=_signal_id(data.get("signal")),
        kind=_signal_kind(data.get("kind")),
        status=status_from_json(data.get("status")),
        observed_at=_aware_time(data.get("observed_at")),
        values={key: _frozen_value(value) for key, value in (values or {}).items()},
        detail=_text_or_empty(data.get("detail")),
        stale_after_seconds=_seconds_or_none(data.get("stale_after_seconds")),
    )


_KIND_NAMES = frozenset(kind.value for kind in SignalKind)
_LARGEST_FLOAT = sys.float_info.max
_STATUS_NAMES = frozenset(status.value for status in Status)


def _within_float_range(value: JsonValue) -> bool:
    """Whether every integer inside converts to a float, as every reader of a value expects."""
    if isinstance(value, dict):
        return all(_within_float_range(item) for item in value.values())
    if isinstance(value, list):
        return all(_within_float_range(item) for item in value)
    return not isinstance(value, int) or abs(value) <= _LARGEST_FLOAT


def _signal_id(value: JsonValue) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"a reading's signal must be a name, not {_shown(value)}")
    return value


def _signal_kind(value: JsonValue) -> SignalKind:
    if isinstance(value, str) and value in _KIND_NAMES:
        return SignalKind(value)
    raise ValueError(f"{_shown(value)} is not a signal kind")


def status_from_json(value: JsonValue) -> Status:
    """A recorded status; UNKNOWN when it is none this version knows (or not even text)."""
    if isinstance(value, str) and value in _STATUS_NAMES:
        return Status(value)
    return Status.UNKNOWN


def _aware_time(value: JsonValue) -> datetime:
    moment = aware_time(value)
    if moment is None:
        raise ValueError(
            f"a reading's observed_at must be a time with its zone, not {_shown(value)}"
        )
    return moment


def aware_time(value: object) -> datetime | None:
    """An ISO time with its zone, as journaled or kept in a reading's values; None otherwise."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _text_or_empty(value: JsonValue) -> str:
    return value if isinstance(value, str) else ""


def _seconds_or_none(value: JsonValue) -> float | None:
    """A non-negative, finite number of seconds; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        seconds = float(value)
    except OverflowError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _shown(value: JsonValue) -> str:
    """A short description of a value for an error message."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"
