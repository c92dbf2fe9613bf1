"""Error-rate logic every backend shares: window maths, p95, and the status rules.

Status of one side's reading (old or new), over the window:
- UNKNOWN when there were no requests in the window (or the backend has no data): no data is
  never 0 %, so nothing can look healthy because nobody asked it anything.
- CRITICAL when the 5xx ratio is above the guard threshold (guards.weight_max_new_error_ratio).
- WARN when the 5xx ratio is above half that threshold, or when the p95 latency is above
  guards.weight_max_new_p95_ms (only when that is configured).
- OK otherwise. A p95 that is unavailable is said so in the detail; it never reads as fast.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cockpit.config import GuardsSection
from cockpit.model import Status, Value
from cockpit.sources.errors_values import ErrorRates, failure_values
from cockpit.units import latency_ms_text, ratio_percent_text


@dataclass(frozen=True)
class WindowStats:
    """What one side served in one window; None wherever the backend does not say."""

    requests: int | None
    errors_5xx: int | None
    error_ratio: float | None
    p95_seconds: float | None

    @classmethod
    def from_counts(
        cls, requests: int, errors_5xx: int, p95_seconds: float | None = None
    ) -> WindowStats:
        """Stats from counts: the ratio is None (no data), not 0, when nothing was requested."""
        return cls(requests, errors_5xx, error_ratio(requests, errors_5xx), p95_seconds)


@dataclass(frozen=True)
class Thresholds:
    """The guard limits a side's error rate and latency are judged against."""

    max_error_ratio: float
    max_p95_seconds: float | None = None

    @classmethod
    def from_guards(cls, guards: GuardsSection) -> Thresholds:
        p95_ms = guards.weight_max_new_p95_ms
        return cls(guards.weight_max_new_error_ratio, None if p95_ms is None else p95_ms / 1000)


def error_ratio(requests: int, errors_5xx: int) -> float | None:
    """errors / requests, capped at 1 (counts published apart can skew); None for no requests."""
    if requests <= 0:
        return None
    return min(1.0, max(0, errors_5xx) / requests)


def p95_nearest_rank(samples: Iterable[float]) -> float | None:
    """The 95th percentile by nearest rank (a value that was really observed); None if empty."""
    ordered = sorted(samples)
    if not ordered:
        return None
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def window_bounds(now: datetime, window_seconds: float) -> tuple[datetime, datetime]:
    """[now - window, now]: the span a reading taken at `now` describes."""
    return now - timedelta(seconds=window_seconds), now


def in_window(moment: datetime, start: datetime, end: datetime) -> bool:
    return start <= moment <= end


def classify(stats: WindowStats, thresholds: Thresholds) -> Status:
    """The side's status by the module's rules."""
    ratio = stats.error_ratio
    if ratio is None:
        return Status.UNKNOWN
    if ratio > thresholds.max_error_ratio:
        return Status.CRITICAL
    if ratio > thresholds.max_error_ratio / 2 or _p95_too_slow(stats, thresholds):
        return Status.WARN
    return Status.OK


def _p95_too_slow(stats: WindowStats, thresholds: Thresholds) -> bool:
    limit, p95 = thresholds.max_p95_seconds, stats.p95_seconds
    return limit is not None and p95 is not None and p95 > limit


def describe(
    stats: WindowStats,
    thresholds: Thresholds,
    window_text: str | None,
    *,
    p95_missing: str | None = None,
    no_data: str | None = None,
) -> str:
    """The detail line, e.g. "0.4 % 5xx (3 of 812 requests, last 60 s), p95 120 ms"."""
    if stats.error_ratio is None:
        return no_data or f"no requests in the {window_text or 'window'}"
    parts = [_ratio_text(stats, thresholds, window_text)]
    latency = _p95_text(stats, thresholds, p95_missing)
    return ", ".join(parts + ([latency] if latency else []))


def _ratio_text(stats: WindowStats, thresholds: Thresholds, window_text: str | None) -> str:
    assert stats.error_ratio is not None
    counted = [] if stats.requests is None else [f"{stats.errors_5xx} of {stats.requests} requests"]
    context = ", ".join(counted + ([window_text] if window_text else []))
    text = f"{ratio_percent_text(stats.error_ratio)} 5xx" + (f" ({context})" if context else "")
    limit = ratio_percent_text(thresholds.max_error_ratio)
    if stats.error_ratio > thresholds.max_error_ratio:
        return f"{text} over the {limit} limit"
    if stats.error_ratio > thresholds.max_error_ratio / 2:
        return f"{text} over half the {limit} limit"
    return text


def _p95_text(stats: WindowStats, thresholds: Thresholds, p95_missing: str | None) -> str | None:
    if stats.p95_seconds is None:
        return p95_missing
    text = f"p95 {latency_ms_text(stats.p95_seconds)}"
    if _p95_too_slow(stats, thresholds):
        assert thresholds.max_p95_seconds is not None
        return f"{text} over the {latency_ms_text(thresholds.max_p95_seconds)} limit"
    return text


def window_text(window_seconds: int | None) -> str | None:
    return None if window_seconds is None else f"last {window_seconds} s"


def error_values(
    stats: WindowStats,
    thresholds: Thresholds,
    window_seconds: int | None,
    extras: Mapping[str, Value] | None = None,
) -> dict[str, Value]:
    """The values every error reading carries, plus the backend's extras."""
    rates = ErrorRates(
        error_ratio=stats.error_ratio,
        requests=stats.requests,
        errors_5xx=stats.errors_5xx,
        p95_seconds=stats.p95_seconds,
        window_seconds=window_seconds,
        threshold_ratio=thresholds.max_error_ratio,
        threshold_p95_seconds=thresholds.max_p95_seconds,
    )
    return {**rates.to_values(), **(extras or {})}


def unknown_values(
    thresholds: Thresholds, window_seconds: int | None, reason: str
) -> dict[str, Value]:
    """The values of a side that could not be read: every measurement None, and why."""
    empty = WindowStats(None, None, None, None)
    return error_values(empty, thresholds, window_seconds, failure_values(reason))
