"""5xx ratio and p95 latency per side from a Prometheus server's instant queries.

Status rules: see cockpit.sources.errors_common (no data -> UNKNOWN, ratio over the guard
threshold -> CRITICAL, over half of it or p95 over its limit -> WARN, else OK). An empty
vector or NaN (0/0 from a ratio of rates) is no data, never 0 %; a ratio outside 0..1 is a
query mistake and reads UNKNOWN. Prometheus gives a ratio, not counts: requests and errors_5xx
are None. The window is the range the queries state (e.g. [1m]); None when they do not agree.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urlsplit

from cockpit.config import ErrorsSection, PrometheusErrors
from cockpit.io.context import SourceContext
from cockpit.io.failures import describe_failure
from cockpit.model import Reading, SignalKind, Status
from cockpit.sources.base import Schedule, make_reading
from cockpit.sources.errors_common import (
    Thresholds,
    WindowStats,
    classify,
    describe,
    error_values,
    unknown_values,
    window_text,
)
from cockpit.sources.errors_values import PROMETHEUS, SIDES, PrometheusExtras
from cockpit.sources.errors_values import signal_id as errors_signal_id

MAX_ANSWER_BYTES = 1_000_000
_RANGE = re.compile(r"\[((?:\d+(?:ms|[smhdwy]))+)(?::[^\]]*)?\]")
_DURATION_PART = re.compile(r"(\d+)(ms|[smhdwy])")
_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
    "y": 31536000,
}


@dataclass(frozen=True)
class PromAnswer:
    """One instant query's answer: a number, or no data and why, or an error and why."""

    value: float | None = None
    no_data: str | None = None
    error: str | None = None
    series_count: int = 1


def parse_answer(status_code: int, body: bytes) -> PromAnswer:
    """The number in a /api/v1/query answer (first sample of a vector, or a scalar)."""
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        return PromAnswer(error=_not_json(status_code))
    if answer.get("status") != "success":
        return PromAnswer(error=_api_error(status_code, answer))
    data = answer.get("data")
    if not isinstance(data, dict):
        return PromAnswer(error=f"malformed answer (HTTP {status_code}): no data")
    return _parse_data(data)


def _not_json(status_code: int) -> str:
    if status_code in (401, 403):
        return f"authentication failed (HTTP {status_code}): check the bearer token"
    return f"malformed answer (HTTP {status_code})"


def _api_error(status_code: int, answer: Mapping[str, Any]) -> str:
    kind, message = answer.get("errorType"), answer.get("error")
    if not message:
        return f"Prometheus answered HTTP {status_code} without an error message"
    return f"Prometheus error ({kind}): {message}" if kind else f"Prometheus error: {message}"


def _parse_data(data: Mapping[str, Any]) -> PromAnswer:
    result_type, result = data.get("resultType"), data.get("result")
    if result_type == "scalar":
        return _sample_answer(result, series_count=1)
    if result_type != "vector":
        return PromAnswer(error=f"the query returned a {result_type}, not one number")
    if not isinstance(result, list):
        return PromAnswer(error="malformed answer: the vector is not a list")
    if not result:
        return PromAnswer(no_data="the query returned no series", series_count=0)
    first = result[0]
    sample = first.get("value") if isinstance(first, dict) else None
    return _sample_answer(sample, series_count=len(result))


def _sample_answer(sample: object, *, series_count: int) -> PromAnswer:
    """A [timestamp, "value"] pair as an answer; NaN and infinities are no data."""
    if not isinstance(sample, list) or len(sample) != 2:
        return PromAnswer(error="malformed answer: a sample is not [time, value]")
    try:
        number = float(sample[1])
    except (TypeError, ValueError):
        return PromAnswer(error=f"malformed answer: {sample[1]!r} is not a number")
    if not math.isfinite(number):
        return PromAnswer(no_data=f"the query returned {sample[1]}", series_count=series_count)
    return PromAnswer(value=number, series_count=series_count)


def query_window_seconds(query: str) -> int | None:
    """The range every selector in the query states ("[1m]" -> 60); None if none or several."""
    ranges = {_duration_seconds(match) for match in _RANGE.findall(query)}
    if len(ranges) != 1:
        return None
    return round(ranges.pop())


def _duration_seconds(text: str) -> float:
    return sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))


def query_url_path(base_url: str, query: str) -> str:
    """The path and query string of an instant query under the server's URL (prefix kept)."""
    prefix = urlsplit(base_url).path.rstrip("/")
    return f"{prefix}/api/v1/query?{urlencode({'query': query})}"


def fetch_answer(base_url: str, query: str, token: str | None, timeout: float) -> PromAnswer:
    """GET one instant query (bearer token when given) and parse what comes back."""
    parts = urlsplit(base_url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request("GET", query_url_path(base_url, query), headers=headers)
        response = connection.getresponse()
        body = response.read(MAX_ANSWER_BYTES + 1)
    finally:
        connection.close()
    if len(body) > MAX_ANSWER_BYTES:
        return PromAnswer(error=f"the answer is over {MAX_ANSWER_BYTES} bytes: not one number")
    return parse_answer(response.status, body)


def ratio_problem(answer: PromAnswer, window: str | None) -> str | None:
    """Why a ratio answer gives no usable ratio (the detail to show), or None when it does."""
    if answer.error:
        return answer.error
    if answer.value is None:
        return f"no requests in the {window or 'window'} ({answer.no_data})"
    if not 0 <= answer.value <= 1:
        return f"the ratio query returned {answer.value:g}, not a ratio between 0 and 1"
    return None


def p95_text(answer: PromAnswer | None) -> str | None:
    """What the detail says instead of a p95 number; None when there is none to say."""
    if answer is None or answer.value is not None:
        return None
    return f"p95 unavailable: {answer.error or answer.no_data}"


class PrometheusErrorsSource:
    """Old and new sides' 5xx ratio (and p95 when configured) from instant queries."""

    def __init__(
        self, context: SourceContext, section: ErrorsSection, prometheus: PrometheusErrors
    ) -> None:
        self._context = context
        self._settings = prometheus
        self._schedule = Schedule.from_config(section)
        self._thresholds = Thresholds.from_guards(context.config.guards)
        self._queries = {
            ("old", "ratio"): prometheus.old_error_ratio_query,
            ("new", "ratio"): prometheus.new_error_ratio_query,
            ("old", "p95"): prometheus.old_p95_seconds_query,
            ("new", "p95"): prometheus.new_p95_seconds_query,
        }
        self.name = "errors (prometheus)"
        self.kind = SignalKind.ERRORS
        self.schedule = self._schedule
        self.signal_ids = tuple(errors_signal_id(PROMETHEUS, side) for side in SIDES)

    async def read(self) -> list[Reading]:
        now = self._context.clock()
        token_env = self._settings.token_env
        token = self._context.environ.get(token_env) if token_env else None
        if token_env and not token:
            reason = f"the bearer token env var {token_env} is not set"
            return [self._unknown(side, reason, now) for side in SIDES]
        answers = await self._ask_all(token)
        return [self._reading(side, answers, now) for side in SIDES]

    async def _ask_all(self, token: str | None) -> dict[tuple[str, str], PromAnswer]:
        """Every configured query at once; raises only when every one of them failed to connect."""
        asked = {key: query for key, query in self._queries.items() if query}
        timeout = self._schedule.timeout_seconds
        outcomes = await asyncio.gather(
            *(
                asyncio.to_thread(fetch_answer, self._settings.url, query, token, timeout)
                for query in asked.values()
            ),
            return_exceptions=True,
        )
        failures = [o for o in outcomes if isinstance(o, Exception)]
        if failures and len(failures) == len(outcomes):
            raise failures[0]
        return {key: _as_answer(outcome) for key, outcome in zip(asked, outcomes, strict=True)}

    def _reading(
        self, side: str, answers: Mapping[tuple[str, str], PromAnswer], now: datetime
    ) -> Reading:
        ratio = answers[(side, "ratio")]
        window_seconds = query_window_seconds(self._queries[(side, "ratio")] or "")
        problem = ratio_problem(ratio, window_text(window_seconds))
        p95 = answers.get((side, "p95"))
        stats = WindowStats(
            None, None, None if problem else ratio.value, p95.value if p95 else None
        )
        extras = PrometheusExtras(ratio.series_count, p95_text(p95), ratio.error or None)
        values = error_values(stats, self._thresholds, window_seconds, extras.to_values())
        detail = describe(
            stats,
            self._thresholds,
            window_text(window_seconds),
            p95_missing=p95_text(p95),
            no_data=problem,
        )
        if ratio.series_count > 1 and not problem:
            detail += f"; first of {ratio.series_count} series (aggregate the query with sum)"
        status = Status.UNKNOWN if problem else classify(stats, self._thresholds)
        return make_reading(self, errors_signal_id(PROMETHEUS, side), status, now, detail, values)

    def _unknown(self, side: str, reason: str, now: datetime) -> Reading:
        window_seconds = query_window_seconds(self._queries[(side, "ratio")] or "")
        values = unknown_values(self._thresholds, window_seconds, reason)
        signal_id = errors_signal_id(PROMETHEUS, side)
        return make_reading(self, signal_id, Status.UNKNOWN, now, reason, values)


def _as_answer(outcome: PromAnswer | BaseException) -> PromAnswer:
    if isinstance(outcome, BaseException):
        return PromAnswer(error=describe_failure(outcome))
    return outcome


def build_prometheus_sources(context: SourceContext) -> list[PrometheusErrorsSource]:
    """The Prometheus error source, or [] when [errors.prometheus] is absent."""
    section = context.config.errors
    if section is None or section.prometheus is None:
        return []
    return [PrometheusErrorsSource(context, section, section.prometheus)]
