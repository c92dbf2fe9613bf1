"""Error rates' reading values, typed: what the errors_* sources write and every reader decodes.

Every error reading carries the rates block (ErrorRates); each backend adds its own block
(CloudWatchExtras, PrometheusExtras, AccessLogExtras), and a side that could not be read says
why under `error`. The keys are spelled here only; readers decode all of it with from_reading().
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cockpit.model import Reading, Value
from cockpit.sources.value_fields import (
    bool_field,
    number_field,
    said_text,
    text_field,
    texts_field,
    whole_field,
)

SIGNAL_PREFIX = "errors:"
CLOUDWATCH, PROMETHEUS, ACCESS_LOG = "cloudwatch", "prometheus", "access_log"
BACKENDS = (CLOUDWATCH, PROMETHEUS, ACCESS_LOG)
"""The backends that measure error rates, in the order they are shown."""
NEW_SIDE = "new"
SIDES = ("old", NEW_SIDE)
ERROR_RATIO = "error_ratio"
MAX_RESPONSE_SECONDS = "max_response_seconds"
"""The slowest request of the window: one request moves it; the p95 says what it means."""
REQUESTS = "requests"
ERRORS_5XX = "errors_5xx"
COUNT_KEYS = frozenset({REQUESTS, ERRORS_5XX})
"""The window's counts, which move with every request; the error ratio says what they mean."""
"""The value charted and sparklined as a side's 5xx ratio."""
ERROR = "error"
THRESHOLD_P95_SECONDS = "threshold_p95_seconds"


def signal_id(backend: str, side: str) -> str:
    """'errors:cloudwatch:new' for the new side as CloudWatch measures it."""
    return f"{SIGNAL_PREFIX}{backend}:{side}"


def is_errors_signal(signal: str) -> bool:
    return signal.startswith(SIGNAL_PREFIX)


def is_new_side(signal: str) -> bool:
    """Whether the error signal measures the new side."""
    return signal.endswith(f":{NEW_SIDE}")


def backend_and_side(signal: str) -> tuple[str, str]:
    """('cloudwatch', 'old') from 'errors:cloudwatch:old'."""
    body = signal.removeprefix(SIGNAL_PREFIX)
    backend, _, side = body.rpartition(":")
    return (backend or body), side


@dataclass(frozen=True)
class ErrorRates:
    """What every error reading carries: the window's counts, ratio and p95, and the limits."""

    error_ratio: float | None
    requests: float | None
    errors_5xx: float | None
    p95_seconds: float | None
    window_seconds: float | None
    threshold_ratio: float | None
    threshold_p95_seconds: float | None = None

    def to_values(self) -> dict[str, Value]:
        values: dict[str, Value] = {
            ERROR_RATIO: self.error_ratio,
            REQUESTS: self.requests,
            ERRORS_5XX: self.errors_5xx,
            "p95_seconds": self.p95_seconds,
            "window_seconds": self.window_seconds,
            "threshold_ratio": self.threshold_ratio,
        }
        if self.threshold_p95_seconds is not None:
            values[THRESHOLD_P95_SECONDS] = self.threshold_p95_seconds
        return values


@dataclass(frozen=True)
class ResponseTimes:
    """Average and maximum response time of the window (shown beside, never as, the p95)."""

    avg_response_seconds: float | None
    max_response_seconds: float | None

    def to_values(self) -> dict[str, Value]:
        return {
            "avg_response_seconds": self.avg_response_seconds,
            MAX_RESPONSE_SECONDS: self.max_response_seconds,
        }


@dataclass(frozen=True)
class CloudWatchExtras:
    """What CloudWatch adds: response times, its period, and why the p95 is missing."""

    times: ResponseTimes
    period_seconds: float | None
    p95_unavailable_reason: str | None

    def to_values(self) -> dict[str, Value]:
        return {
            **self.times.to_values(),
            "period_seconds": self.period_seconds,
            "p95_unavailable_reason": self.p95_unavailable_reason,
        }


@dataclass(frozen=True)
class PrometheusExtras:
    """What Prometheus adds: how many series answered, and why the p95 or the ratio is missing."""

    series_count: int | None
    p95_unavailable_reason: str | None
    error: str | None = None

    def to_values(self) -> dict[str, Value]:
        values: dict[str, Value] = {
            "series_count": self.series_count,
            "p95_unavailable_reason": self.p95_unavailable_reason,
        }
        if self.error is not None:
            values[ERROR] = self.error
        return values


@dataclass(frozen=True)
class LogWindow:
    """What an access log's window adds: response times and how far its lines can be trusted."""

    times: ResponseTimes
    window_complete: bool | None
    lines_not_understood: int | None
    probe_lines_excluded: int | None
    format: str | None
    latency_logged: bool | None

    def to_values(self) -> dict[str, Value]:
        return {
            **self.times.to_values(),
            "window_complete": self.window_complete,
            "lines_not_understood": self.lines_not_understood,
            "probe_lines_excluded": self.probe_lines_excluded,
            "format": self.format,
            "latency_logged": self.latency_logged,
        }


@dataclass(frozen=True)
class LogFollowing:
    """How the reading of the side's access logs stands: lines not parsed, bytes behind, files."""

    unparsed_lines: int | None
    backlog_bytes: int | None
    paths: tuple[str, ...]

    def to_values(self) -> dict[str, Value]:
        return {
            "unparsed_lines": self.unparsed_lines,
            "backlog_bytes": self.backlog_bytes,
            "paths": self.paths,
        }


def failure_values(reason: str) -> dict[str, Value]:
    """Why a side could not be read."""
    return {ERROR: reason}


@dataclass(frozen=True)
class ErrorValues:
    """Everything an error reading may say, whichever backend wrote it; None where it does not.

    `error` is why the side (or the whole poll) could not be read.
    """

    error_ratio: float | None = None
    requests: float | None = None
    errors_5xx: float | None = None
    p95_seconds: float | None = None
    window_seconds: float | None = None
    threshold_ratio: float | None = None
    threshold_p95_seconds: float | None = None
    avg_response_seconds: float | None = None
    max_response_seconds: float | None = None
    p95_unavailable_reason: str | None = None
    period_seconds: float | None = None
    series_count: int | None = None
    window_complete: bool | None = None
    lines_not_understood: int | None = None
    probe_lines_excluded: int | None = None
    format: str | None = None
    latency_logged: bool | None = None
    unparsed_lines: int | None = None
    backlog_bytes: int | None = None
    paths: tuple[str, ...] = ()
    error: str | None = None

    @property
    def counted_no_requests(self) -> bool:
        """Whether the side was read and counted zero requests (nothing failed, no traffic)."""
        return self.requests == 0 and self.error is None

    @classmethod
    def from_values(cls, values: Mapping[str, Value]) -> ErrorValues:
        """Tolerant: a missing or wrong-typed value reads as None (or empty), never as a guess."""
        return cls(
            error_ratio=number_field(values.get(ERROR_RATIO)),
            requests=number_field(values.get(REQUESTS)),
            errors_5xx=number_field(values.get(ERRORS_5XX)),
            p95_seconds=number_field(values.get("p95_seconds")),
            window_seconds=number_field(values.get("window_seconds")),
            threshold_ratio=number_field(values.get("threshold_ratio")),
            threshold_p95_seconds=number_field(values.get(THRESHOLD_P95_SECONDS)),
            avg_response_seconds=number_field(values.get("avg_response_seconds")),
            max_response_seconds=number_field(values.get(MAX_RESPONSE_SECONDS)),
            p95_unavailable_reason=said_text(values.get("p95_unavailable_reason")),
            period_seconds=number_field(values.get("period_seconds")),
            series_count=whole_field(values.get("series_count")),
            window_complete=bool_field(values.get("window_complete")),
            lines_not_understood=whole_field(values.get("lines_not_understood")),
            probe_lines_excluded=whole_field(values.get("probe_lines_excluded")),
            format=text_field(values.get("format")),
            latency_logged=bool_field(values.get("latency_logged")),
            unparsed_lines=whole_field(values.get("unparsed_lines")),
            backlog_bytes=whole_field(values.get("backlog_bytes")),
            paths=texts_field(values.get("paths")),
            error=_error(values),
        )


def _error(values: Mapping[str, Value]) -> str | None:
    """Why the side could not be read: any value under the key counts, even an empty one."""
    return None if ERROR not in values else str(values[ERROR] or "")


def from_reading(reading: Reading) -> ErrorValues:
    """The typed values of an error-rate reading (of any reading: what it lacks reads as None)."""
    return ErrorValues.from_values(reading.values)
