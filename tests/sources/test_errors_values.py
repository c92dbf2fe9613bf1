"""Error-rate reading values: sources encode through the typed blocks, readers decode them all."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.clock import FrozenClock
from cockpit.model import Reading, SignalKind, Status, reading_from_json, reading_to_json
from cockpit.sources import errors_values
from cockpit.sources.errors_values import (
    CloudWatchExtras,
    ErrorRates,
    ErrorValues,
    LogFollowing,
    LogWindow,
    PrometheusExtras,
    ResponseTimes,
    failure_values,
)
from tests.sources.test_errors import (
    BOTH_SIDES_ANSWERED,
    TOKEN,
    FakePrometheus,
    access_log_config,
    access_log_source,
    append,
    log_line,
    poll,
    prometheus,
    prometheus_source,
)

__all__ = ["prometheus"]  # the fixture, used by name below

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
RATES = ErrorRates(0.1, 40, 4, 0.38, 60, 0.01, 0.5)
TIMES = ResponseTimes(0.2, 0.4)


def error_reading(values: dict[str, object], signal: str = "errors:cloudwatch:new") -> Reading:
    return Reading(signal, SignalKind.ERRORS, Status.OK, NOW, values)  # type: ignore[arg-type]


def decoded(values: dict[str, object]) -> ErrorValues:
    """The values decoded after a trip through the journal's JSON."""
    raw = json.loads(json.dumps(reading_to_json(error_reading(values))))
    return errors_values.from_reading(reading_from_json(raw))


def rates_of(values: ErrorValues) -> ErrorRates:
    return ErrorRates(
        values.error_ratio,
        values.requests,
        values.errors_5xx,
        values.p95_seconds,
        values.window_seconds,
        values.threshold_ratio,
        values.threshold_p95_seconds,
    )


def times_of(values: ErrorValues) -> ResponseTimes:
    return ResponseTimes(values.avg_response_seconds, values.max_response_seconds)


def log_window_of(values: ErrorValues) -> LogWindow:
    return LogWindow(
        times_of(values),
        values.window_complete,
        values.lines_not_understood,
        values.probe_lines_excluded,
        values.format,
        values.latency_logged,
    )


def test_cloudwatch_values_round_trip() -> None:
    extras = CloudWatchExtras(TIMES, 60, "CloudWatch failed the p95 query (HTTP 503)")
    values = decoded({**RATES.to_values(), **extras.to_values()})
    assert rates_of(values) == RATES and values.error is None
    assert (
        CloudWatchExtras(times_of(values), values.period_seconds, values.p95_unavailable_reason)
        == extras
    )


def test_prometheus_values_round_trip() -> None:
    extras = PrometheusExtras(2, "p95 query: no data", "bad_data: parse error")
    values = decoded({**RATES.to_values(), **extras.to_values()})
    assert rates_of(values) == RATES
    assert (
        PrometheusExtras(values.series_count, values.p95_unavailable_reason, values.error) == extras
    )


def test_access_log_values_round_trip() -> None:
    window = LogWindow(TIMES, True, 2, 3, "combined", True)
    following = LogFollowing(1, 4096, ("/var/log/nginx/access.log",))
    values = decoded({**RATES.to_values(), **window.to_values(), **following.to_values()})
    assert rates_of(values) == RATES and log_window_of(values) == window
    assert LogFollowing(values.unparsed_lines, values.backlog_bytes, values.paths) == following


def test_a_side_that_could_not_be_read_round_trips_its_reason() -> None:
    empty = ErrorRates(None, None, None, None, 60, 0.01)
    values = decoded({**empty.to_values(), **failure_values("AccessDenied")})
    assert rates_of(values) == empty and values.error == "AccessDenied"
    assert not values.counted_no_requests


async def test_an_access_log_reading_decodes_every_value_it_carries(tmp_path: Path) -> None:
    config = access_log_config(tmp_path, ("new",))
    lines = [log_line(NOW - timedelta(seconds=i), 500 if i == 1 else 200, i / 10) for i in (1, 2)]
    append(tmp_path / "new.log", *lines, "not a log line\n")
    reading = (await poll(access_log_source(config, FrozenClock(NOW))))["errors:access_log:new"]
    values = errors_values.from_reading(reading)
    following = LogFollowing(values.unparsed_lines, values.backlog_bytes, values.paths)
    encoded = {**rates_of(values).to_values(), **log_window_of(values).to_values()}
    assert {**encoded, **following.to_values()} == dict(reading.values)
    assert (values.requests, values.errors_5xx, values.error_ratio) == (2, 1, 0.5)
    assert values.window_complete is True and values.unparsed_lines == 1
    assert values.paths == (str(tmp_path / "new.log"),) and values.error is None


async def test_a_prometheus_reading_decodes_every_value_it_carries(
    tmp_path: Path, prometheus: FakePrometheus
) -> None:
    prometheus.answers = dict(BOTH_SIDES_ANSWERED)
    source = prometheus_source(tmp_path, prometheus.start(), {"PROM_TOKEN": TOKEN})
    reading = (await poll(source))["errors:prometheus:new"]
    values = errors_values.from_reading(reading)
    extras = PrometheusExtras(values.series_count, values.p95_unavailable_reason, values.error)
    assert {**rates_of(values).to_values(), **extras.to_values()} == dict(reading.values)
    assert (values.error_ratio, values.p95_seconds, values.series_count) == (0.05, 0.8, 1)


def test_wrong_typed_values_read_as_not_known() -> None:
    values = errors_values.from_reading(
        error_reading(
            {
                "error_ratio": "5 %",
                "requests": True,
                "p95_seconds": [0.2],
                "p95_unavailable_reason": "",
                "window_complete": "yes",
                "paths": ["/a.log", 3],
            }
        )
    )
    assert values.error_ratio is None and values.requests is None and values.p95_seconds is None
    assert values.p95_unavailable_reason is None, "an empty reason says nothing"
    assert values.window_complete is None and values.paths == ("/a.log",)


def test_any_error_present_means_the_side_was_not_counted() -> None:
    assert errors_values.from_reading(error_reading({"requests": 0})).counted_no_requests
    failed = errors_values.from_reading(error_reading({"requests": 0, "error": None}))
    assert failed.error == "" and not failed.counted_no_requests


def test_signal_ids_are_built_and_read_in_one_place() -> None:
    signal = errors_values.signal_id("access_log", "new")
    assert signal == "errors:access_log:new"
    assert errors_values.backend_and_side(signal) == ("access_log", "new")
    assert errors_values.is_errors_signal(signal) and errors_values.is_new_side(signal)
    assert not errors_values.is_new_side("errors:cloudwatch:old")
    assert not errors_values.is_errors_signal("dns:app.example.com")
