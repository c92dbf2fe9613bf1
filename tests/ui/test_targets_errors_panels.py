"""The Targets and Error-rates panels, drawn from recorded sandbox readings at two widths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rich.console import Console
from textual.app import App, ComposeResult

from cockpit.jsonvalue import JsonValue
from cockpit.model import Reading, SignalKind, Status, reading_from_json
from tests.ui.samples import without_gutter
from widgets.errors_panel import ErrorsPanel, count_text, ratio_text
from widgets.panel import SignalPanel
from widgets.targets_panel import TargetsPanel

# Recorded with `cockpit check --json` against the sandbox, with target-unhealthy and
# error-burst injected on it, plus a missing target group and an unreachable health URL.
RECORDED_TARGETS: list[dict[str, JsonValue]] = [
    {
        "signal": "targets:app-new",
        "kind": "targets",
        "status": "critical",
        "observed_at": "2026-11-23T00:57:16.903283+00:00",
        "values": {
            "healthy": 0,
            "unhealthy": 1,
            "total": 1,
            "targets": [
                {
                    "id": "http://127.0.20.1:40579/health",
                    "state": "unhealthy",
                    "reason": "HTTP 503",
                    "description": "injected fault",
                }
            ],
            "side": "new",
            "status_code": 503,
            "latency_seconds": 0.034513893000621465,
        },
        "detail": "HTTP 503: injected fault",
        "stale_after_seconds": 8.0,
    },
    {
        "signal": "targets:app-new-down",
        "kind": "targets",
        "status": "critical",
        "observed_at": "2026-11-23T00:57:16.882083+00:00",
        "values": {
            "healthy": 0,
            "unhealthy": 1,
            "total": 1,
            "targets": [
                {
                    "id": "http://127.0.20.9:1/health",
                    "state": "unhealthy",
                    "reason": "connection refused",
                    "description": None,
                }
            ],
            "side": "new",
            "status_code": None,
            "latency_seconds": None,
        },
        "detail": "connection refused",
        "stale_after_seconds": 8.0,
    },
    {
        "signal": "targets:app-old",
        "kind": "targets",
        "status": "ok",
        "observed_at": "2026-11-23T00:57:16.907718+00:00",
        "values": {
            "healthy": 1,
            "unhealthy": 0,
            "total": 1,
            "targets": [
                {
                    "id": "http://127.0.10.1:59187/health",
                    "state": "healthy",
                    "reason": None,
                    "description": None,
                }
            ],
            "side": "old",
            "status_code": 200,
            "latency_seconds": 0.06484030400042684,
        },
        "detail": "HTTP 200 in 65 ms",
        "stale_after_seconds": 8.0,
    },
    {
        "signal": "targets:tg-missing",
        "kind": "targets",
        "status": "unknown",
        "observed_at": "2026-11-23T00:57:17.065458+00:00",
        "values": {
            "side": "new",
            "error": "AWS error TargetGroupNotFound: One or more target groups not found",
        },
        "detail": "AWS error TargetGroupNotFound: One or more target groups not found",
        "stale_after_seconds": 8.0,
    },
    {
        "signal": "targets:tg-new",
        "kind": "targets",
        "status": "critical",
        "observed_at": "2026-11-23T00:57:16.954912+00:00",
        "values": {
            "healthy": 0,
            "unhealthy": 1,
            "total": 1,
            "targets": [
                {
                    "id": "127.0.20.1:40579",
                    "state": "unhealthy",
                    "reason": "Target.ResponseCodeMismatch",
                    "description": "Health checks failed with these codes: [503]",
                }
            ],
            "side": "new",
        },
        "detail": (
            "0/1 healthy; 127.0.20.1:40579 unhealthy: Target.ResponseCodeMismatch "
            "(Health checks failed with these codes: [503])"
        ),
        "stale_after_seconds": 8.0,
    },
    {
        "signal": "targets:tg-old",
        "kind": "targets",
        "status": "ok",
        "observed_at": "2026-11-23T00:57:16.936238+00:00",
        "values": {
            "healthy": 1,
            "unhealthy": 0,
            "total": 1,
            "targets": [
                {"id": "127.0.10.1:59187", "state": "healthy", "reason": None, "description": None}
            ],
            "side": "old",
        },
        "detail": "1/1 healthy",
        "stale_after_seconds": 8.0,
    },
]

RECORDED_ERRORS_CRITICAL: list[dict[str, JsonValue]] = [
    {
        "signal": "errors:access_log:new",
        "kind": "errors",
        "status": "ok",
        "observed_at": "2026-11-23T00:56:06.963446+00:00",
        "values": {
            "error_ratio": 0.0,
            "requests": 2,
            "errors_5xx": 0,
            "p95_seconds": 0.004,
            "window_seconds": 60,
            "threshold_ratio": 0.01,
            "avg_response_seconds": 0.002,
            "max_response_seconds": 0.004,
            "window_complete": True,
            "unparsed_lines": 0,
            "backlog_bytes": 0,
            "paths": ["logs/new-access.log"],
        },
        "detail": "0 % 5xx (0 of 2 requests, last 60 s), p95 4.0 ms",
        "stale_after_seconds": 20.0,
    },
    {
        "signal": "errors:access_log:old",
        "kind": "errors",
        "status": "critical",
        "observed_at": "2026-11-23T00:56:06.963446+00:00",
        "values": {
            "error_ratio": 0.01864406779661017,
            "requests": 590,
            "errors_5xx": 11,
            "p95_seconds": 0.001,
            "window_seconds": 60,
            "threshold_ratio": 0.01,
            "avg_response_seconds": 0.00046610169491525453,
            "max_response_seconds": 0.011,
            "window_complete": True,
            "unparsed_lines": 0,
            "backlog_bytes": 0,
            "paths": ["logs/old-access.log"],
        },
        "detail": "1.9 % 5xx (11 of 590 requests, last 60 s) over the 1 % limit, p95 1.0 ms",
        "stale_after_seconds": 20.0,
    },
    {
        "signal": "errors:cloudwatch:new",
        "kind": "errors",
        "status": "unknown",
        "observed_at": "2026-11-23T00:56:05.939325+00:00",
        "values": {
            "error_ratio": None,
            "requests": 0,
            "errors_5xx": 0,
            "p95_seconds": None,
            "window_seconds": 60,
            "threshold_ratio": 0.01,
            "avg_response_seconds": None,
            "max_response_seconds": None,
            "period_seconds": 10,
            "p95_unavailable_reason": "CloudWatch failed the p95 query (HTTP 500)",
        },
        "detail": "no requests in the last 60 s",
        "stale_after_seconds": 20.0,
    },
    {
        "signal": "errors:cloudwatch:old",
        "kind": "errors",
        "status": "critical",
        "observed_at": "2026-11-23T00:56:05.939325+00:00",
        "values": {
            "error_ratio": 0.01768172888015717,
            "requests": 509,
            "errors_5xx": 9,
            "p95_seconds": None,
            "window_seconds": 60,
            "threshold_ratio": 0.01,
            "avg_response_seconds": 0.002740534455791616,
            "max_response_seconds": 0.09081094800058054,
            "period_seconds": 10,
            "p95_unavailable_reason": "CloudWatch failed the p95 query (HTTP 500)",
        },
        "detail": (
            "1.8 % 5xx (9 of 509 requests, last 60 s) over the 1 % limit, p95 "
            "unavailable (avg 2.7 ms, max 91 ms)"
        ),
        "stale_after_seconds": 20.0,
    },
]

RECORDED_ERRORS_WARN: list[dict[str, JsonValue]] = [
    {
        "signal": "errors:access_log:new",
        "kind": "errors",
        "status": "unknown",
        "observed_at": "2026-11-23T00:57:16.794503+00:00",
        "values": {
            "error_ratio": None,
            "requests": 0,
            "errors_5xx": 0,
            "p95_seconds": None,
            "window_seconds": 60,
            "threshold_ratio": 0.01,
            "avg_response_seconds": None,
            "max_response_seconds": None,
            "window_complete": True,
            "unparsed_lines": 0,
            "backlog_bytes": 0,
            "paths": ["logs/new-access.log"],
        },
        "detail": "no requests in the last 60 s",
        "stale_after_seconds": 20.0,
    },
    {
        "signal": "errors:access_log:old",
        "kind": "errors",
        "status": "warn",
        "observed_at": "2026-11-23T00:57:16.794503+00:00",
        "values": {
            "error_ratio": 0.007556675062972292,
            "requests": 1191,
            "errors_5xx": 9,
            "p95_seconds": 0.001,
            "window_seconds": 60,
            "threshold_ratio": 0.01,
            "avg_response_seconds": 0.0007153652392947108,
            "max_response_seconds": 0.258,
            "window_complete": True,
            "unparsed_lines": 0,
            "backlog_bytes": 0,
            "paths": ["logs/old-access.log"],
        },
        "detail": "0.8 % 5xx (9 of 1191 requests, last 60 s) over half the 1 % limit, p95 1.0 ms",
        "stale_after_seconds": 20.0,
    },
    {
        "signal": "errors:cloudwatch:new",
        "kind": "errors",
        "status": "unknown",
        "observed_at": "2026-11-23T00:57:16.440790+00:00",
        "values": {
            "error_ratio": None,
            "requests": 0,
            "errors_5xx": 0,
            "p95_seconds": None,
            "window_seconds": 60,
            "threshold_ratio": 0.01,
            "avg_response_seconds": None,
            "max_response_seconds": None,
            "period_seconds": 10,
            "p95_unavailable_reason": "CloudWatch failed the p95 query (HTTP 500)",
        },
        "detail": "no requests in the last 60 s",
        "stale_after_seconds": 20.0,
    },
    {
        "signal": "errors:cloudwatch:old",
        "kind": "errors",
        "status": "warn",
        "observed_at": "2026-11-23T00:57:16.440790+00:00",
        "values": {
            "error_ratio": 0.008264462809917356,
            "requests": 1210,
            "errors_5xx": 10,
            "p95_seconds": None,
            "window_seconds": 60,
            "threshold_ratio": 0.01,
            "avg_response_seconds": 0.00234588953140205,
            "max_response_seconds": 0.2626011110005493,
            "period_seconds": 10,
            "p95_unavailable_reason": "CloudWatch failed the p95 query (HTTP 500)",
        },
        "detail": (
            "0.8 % 5xx (10 of 1210 requests, last 60 s) over half the 1 % limit, "
            "p95 unavailable (avg 2.3 ms, max 263 ms)"
        ),
        "stale_after_seconds": 20.0,
    },
]

# Moments just after each recording, so every reading is fresh.
TARGETS_NOW = datetime(2026, 11, 23, 0, 57, 18, tzinfo=UTC)
ERRORS_CRITICAL_NOW = datetime(2026, 11, 23, 0, 56, 8, tzinfo=UTC)
ERRORS_WARN_NOW = datetime(2026, 11, 23, 0, 57, 18, tzinfo=UTC)
NARROW = (80, 24)
WIDE = (160, 48)


def recorded(data: Sequence[Mapping[str, JsonValue]]) -> tuple[Reading, ...]:
    return tuple(reading_from_json(item) for item in data)


def made(
    signal_id: str,
    status: Status,
    values: Mapping[str, Any],
    detail: str = "",
    *,
    kind: SignalKind = SignalKind.ERRORS,
    observed_at: datetime = ERRORS_WARN_NOW,
) -> Reading:
    return Reading(signal_id, kind, status, observed_at, values, detail, stale_after_seconds=20.0)


def draw(panel: SignalPanel) -> str:
    """The panel's content as plain text, at the panel's own width."""
    console = Console(width=panel.size.width, record=True, color_system=None)
    console.print(panel.render())
    return without_gutter(console.export_text())


def line_with(text: str, needle: str) -> str:
    matches = [line for line in text.splitlines() if needle in line]
    assert matches, f"no line with {needle!r} in:\n{text}"
    return matches[0]


class TargetsHost(App[None]):
    def compose(self) -> ComposeResult:
        yield TargetsPanel()


class ErrorsHost(App[None]):
    def compose(self) -> ComposeResult:
        yield ErrorsPanel()


async def show_targets(
    readings: tuple[Reading, ...], size: tuple[int, int], now: datetime = TARGETS_NOW
) -> tuple[str, str]:
    """The targets panel's text and border title for `readings` at `now`."""
    async with TargetsHost().run_test(size=size) as pilot:
        panel = pilot.app.query_one(TargetsPanel)
        panel.now, panel.readings = now, readings
        await pilot.pause()
        return draw(panel), str(panel.border_title)


async def show_errors(
    readings: tuple[Reading, ...],
    size: tuple[int, int],
    now: datetime,
    series: Mapping[tuple[str, str], tuple[float, ...]] | None = None,
) -> tuple[str, str]:
    """The error-rates panel's text and border title for `readings` at `now`."""
    async with ErrorsHost().run_test(size=size) as pilot:
        panel = pilot.app.query_one(ErrorsPanel)
        panel.now, panel.series, panel.readings = now, dict(series or {}), readings
        await pilot.pause()
        return draw(panel), str(panel.border_title)


# --- Targets ----------------------------------------------------------------------------------


async def test_targets_at_80_columns_list_old_then_new_in_one_column() -> None:
    text, title = await show_targets(recorded(RECORDED_TARGETS), NARROW)
    lines = text.splitlines()
    assert lines.index("OLD") < lines.index("NEW")
    assert title.startswith("TARGETS · CRIT")
    assert line_with(text, "tg-old").split() == ["OK", "tg-old", "1/1", "healthy"]
    assert line_with(text, "app-old").split()[:4] == ["OK", "app-old", "HTTP", "200"]
    assert max(len(line) for line in lines) <= 76


async def test_targets_name_each_unhealthy_target_and_why() -> None:
    text, _ = await show_targets(recorded(RECORDED_TARGETS), NARROW)
    assert line_with(text, "tg-new").split()[:3] == ["CRIT", "tg-new", "0/1"]
    target = line_with(text, "127.0.20.1:40579 unhealthy")
    assert "Target.ResponseCodeMismatch (Health checks" in target
    assert target.startswith("  ")
    assert "HTTP 503 in 35 ms" in line_with(text, "app-new ")
    assert "unhealthy: HTTP 503 (injected fault)" in text
    assert "no answer" in line_with(text, "app-new-down")
    assert "unhealthy: connection refused" in text


async def test_a_target_group_that_could_not_be_read_shows_why_and_no_counts() -> None:
    text, _ = await show_targets(recorded(RECORDED_TARGETS), NARROW)
    failed = line_with(text, "tg-missing")
    assert failed.split()[:3] == ["UNKNOWN", "tg-missing", "—"]
    assert "AWS error TargetGroupNotFound" in failed
    assert "0/0" not in text
    assert "OK" not in failed


async def test_targets_at_160_columns_put_the_sides_side_by_side() -> None:
    text, _ = await show_targets(recorded(RECORDED_TARGETS), WIDE)
    header = text.splitlines()[0]
    assert header.split() == ["OLD", "NEW"]
    assert header.index("NEW") > 70
    assert "app-old" in line_with(text, "app-new ")


async def test_a_partly_healthy_group_warns_and_lists_a_few_of_its_targets() -> None:
    states = ["healthy", "healthy", "initial", "draining", "unhealthy", "unused", "unhealthy"]
    targets = [
        {"id": f"10.0.1.{n}:80", "state": state, "reason": None, "description": None}
        for n, state in enumerate(states, start=1)
    ]
    targets[2] |= {"reason": "Elb.RegistrationInProgress", "description": "registering"}
    targets[3] |= {"reason": "Target.DeregistrationInProgress", "description": "draining"}
    values = {"healthy": 2, "unhealthy": 5, "total": 7, "targets": targets, "side": "new"}
    group = made("targets:web", Status.WARN, values, kind=SignalKind.TARGETS)
    text, title = await show_targets((group,), NARROW, ERRORS_WARN_NOW)
    assert line_with(text, "web").split() == ["WARN", "web", "2/7", "healthy"]
    assert "10.0.1.3:80 initial: Elb.RegistrationInProgress (registering)" in text
    assert "10.0.1.4:80 draining: Target.DeregistrationInProgress (draining)" in text
    assert "10.0.1.5:80 unhealthy" in text
    assert "10.0.1.6:80" not in text
    assert "and 2 more not healthy" in text
    assert "10.0.1.1:80" not in text
    assert title.startswith("TARGETS · WARN")


async def test_a_group_without_targets_says_so() -> None:
    values = {"healthy": 0, "unhealthy": 0, "total": 0, "targets": [], "side": "old"}
    group = made("targets:empty", Status.CRITICAL, values, kind=SignalKind.TARGETS)
    text, _ = await show_targets((group,), NARROW, ERRORS_WARN_NOW)
    assert line_with(text, "empty").split()[:2] == ["CRIT", "empty"]
    assert "no targets registered" in text


async def test_old_target_readings_read_stale_with_their_age() -> None:
    later = TARGETS_NOW + timedelta(seconds=30)
    text, title = await show_targets(recorded(RECORDED_TARGETS), NARROW, later)
    assert title.startswith("TARGETS · STALE")
    old = line_with(text, "tg-old")
    assert old.split()[:2] == ["STALE", "tg-old"]
    assert "31s old" in old
    assert not any(line.startswith(("OK", "CRIT")) for line in text.splitlines())


async def test_targets_before_any_reading_are_waiting() -> None:
    async with TargetsHost().run_test(size=NARROW) as pilot:
        panel = pilot.app.query_one(TargetsPanel)
        panel.now = TARGETS_NOW
        await pilot.pause()
        assert "waiting for the first reading" in draw(panel)


# --- Error rates ------------------------------------------------------------------------------


async def test_errors_at_80_columns_show_old_and_new_per_backend() -> None:
    readings = recorded(RECORDED_ERRORS_CRITICAL)
    text, title = await show_errors(readings, NARROW, ERRORS_CRITICAL_NOW)
    assert title.startswith("ERROR RATES · CRIT")
    assert text.startswith("5xx (limit 1.0 %) · last 60 s")
    assert line_with(text, "OLD").split()[0] == "OLD"
    assert "NEW" in line_with(text, "OLD")
    assert line_with(text, "cloudwatch ").split()[:6] == [
        "cloudwatch",
        "1.8",
        "%",
        "509",
        "avg",
        "3",
    ]
    assert line_with(text, "access log ").split() == [
        *("access", "log", "1.9", "%", "590", "1", "ms", "CRIT"),
        *("0.0", "%", "2", "4", "ms", "OK"),
    ]
    assert max(len(line) for line in text.splitlines()) <= 76


async def test_no_requests_is_no_data_never_zero_percent() -> None:
    readings = recorded(RECORDED_ERRORS_CRITICAL)
    text, _ = await show_errors(readings, NARROW, ERRORS_CRITICAL_NOW)
    row = line_with(text, "cloudwatch ")
    new_side = row[row.index("CRIT") + len("CRIT") :]
    assert new_side.split() == ["no", "data", "0", "—", "UNKNOWN"]
    assert "0.0 %" not in new_side
    assert "UNKNOWN cloudwatch new: no requests in the last 60 s" in text


async def test_errors_explain_each_signal_that_is_not_ok_worst_first() -> None:
    readings = recorded(RECORDED_ERRORS_CRITICAL)
    text, _ = await show_errors(readings, NARROW, ERRORS_CRITICAL_NOW)
    notes = [line for line in text.splitlines() if ": " in line]
    assert [note.split(":")[0] for note in notes] == [
        "CRIT cloudwatch old",
        "CRIT access log old",
        "UNKNOWN cloudwatch new",
    ]
    assert "1.8 % 5xx (9 of 509 requests, last 60 s)" in notes[0]
    assert max(len(note) for note in notes) <= 76


async def test_errors_over_half_the_limit_warn() -> None:
    text, title = await show_errors(recorded(RECORDED_ERRORS_WARN), NARROW, ERRORS_WARN_NOW)
    assert title.startswith("ERROR RATES · UNKNOWN")
    row = line_with(text, "cloudwatch ")
    assert row.split()[:7] == ["cloudwatch", "0.8", "%", "1210", "avg", "2", "ms"]
    assert "WARN" in row
    assert "WARN cloudwatch old: 0.8 % 5xx" in text


async def test_prometheus_without_counts_or_p95_shows_dashes() -> None:
    values = {
        "error_ratio": 0.0004,
        "requests": None,
        "errors_5xx": None,
        "p95_seconds": None,
        "window_seconds": 60,
        "threshold_ratio": 0.01,
        "series_count": 1,
        "p95_unavailable_reason": "p95 query: no data",
    }
    old = made("errors:prometheus:old", Status.OK, values, "0.04 % 5xx (last 60 s)")
    new_values = {
        **values,
        "error_ratio": 0.002,
        "p95_seconds": 0.12,
        "p95_unavailable_reason": None,
    }
    new = made("errors:prometheus:new", Status.OK, new_values, "0.2 % 5xx, p95 120 ms")
    text, title = await show_errors((old, new), NARROW, ERRORS_WARN_NOW)
    assert line_with(text, "prometheus").split() == [
        *("prometheus", "0.04", "%", "—", "—", "OK"),
        *("0.2", "%", "—", "120", "ms", "OK"),
    ]
    assert title.startswith("ERROR RATES · OK")
    assert not [line for line in text.splitlines() if ": " in line]


async def test_a_p95_limit_is_marked_beside_the_5xx_limit() -> None:
    values = {
        "error_ratio": 0.001,
        "requests": 1000,
        "errors_5xx": 1,
        "p95_seconds": 0.8,
        "window_seconds": 60,
        "threshold_ratio": 0.02,
        "threshold_p95_seconds": 0.5,
    }
    slow = made("errors:access_log:new", Status.WARN, values, "p95 800 ms over the 500 ms limit")
    text, _ = await show_errors((slow,), NARROW, ERRORS_WARN_NOW)
    assert text.startswith("5xx (limit 2.0 %) · p95 (limit 500 ms) · last 60 s")
    row = line_with(text, "access log ")
    assert row.split() == [
        *("access", "log", "—", "—", "—", "—"),
        *("0.1", "%", "1000", "800", "ms", "WARN"),
    ]


async def test_old_error_readings_are_stale_and_say_how_old() -> None:
    later = ERRORS_CRITICAL_NOW + timedelta(seconds=40)
    text, title = await show_errors(recorded(RECORDED_ERRORS_CRITICAL), NARROW, later)
    assert title.startswith("ERROR RATES · STALE")
    assert "OK" not in line_with(text, "access log ").split()
    assert line_with(text, "access log ").split().count("STALE") == 2
    assert "STALE cloudwatch old: 42s old · 1.8 % 5xx" in text


async def test_errors_at_80_columns_draw_one_trend_line_per_side() -> None:
    readings = recorded(RECORDED_ERRORS_CRITICAL)
    series = {
        ("errors:cloudwatch:old", "error_ratio"): (0.0, 0.005, 0.018),
        ("errors:access_log:old", "error_ratio"): (0.0, 0.0, 0.019),
        ("errors:access_log:new", "error_ratio"): (0.0, 0.0, 0.0),
    }
    text, _ = await show_errors(readings, NARROW, ERRORS_CRITICAL_NOW, series)
    assert line_with(text, "old 5xx").split() == [
        "old",
        "5xx",
        "cloudwatch",
        "▁▃█",
        "access",
        "log",
        "▁▁█",
    ]
    assert line_with(text, "new 5xx").split() == ["new", "5xx", "access", "log", "▁▁▁"]
    assert "trend" not in text


async def test_errors_without_history_draw_no_trend_lines() -> None:
    readings = recorded(RECORDED_ERRORS_CRITICAL)
    text, _ = await show_errors(readings, NARROW, ERRORS_CRITICAL_NOW)
    assert "old 5xx" not in text
    assert "▁" not in text


async def test_errors_at_160_columns_draw_a_trend_column_per_side() -> None:
    readings = recorded(RECORDED_ERRORS_CRITICAL)
    series = {("errors:cloudwatch:old", "error_ratio"): (0.0, 0.005, 0.018)}
    text, _ = await show_errors(readings, WIDE, ERRORS_CRITICAL_NOW, series)
    assert line_with(text, "status").count("5xx trend") == 2
    assert "▁▃█" in line_with(text, "cloudwatch ")
    assert "old 5xx" not in text


async def test_errors_in_a_narrow_panel_stack_each_side_on_two_lines() -> None:
    readings = recorded(RECORDED_ERRORS_CRITICAL)
    text, _ = await show_errors(readings, (53, 24), ERRORS_CRITICAL_NOW)
    lines = text.splitlines()
    first = lines.index(line_with(text, "cloudwatch "))
    assert lines[first].split() == ["cloudwatch", "1.8", "%", "CRIT", "no", "data", "UNKNOWN"]
    assert lines[first + 1].split() == ["509", "req", "avg", "3", "ms", "0", "req", "p95", "—"]
    assert max(len(line) for line in lines) <= 49


async def test_a_side_without_a_reading_is_a_dash() -> None:
    old = recorded(RECORDED_ERRORS_CRITICAL)[1]
    assert old.signal_id == "errors:access_log:old"
    text, _ = await show_errors((old,), NARROW, ERRORS_CRITICAL_NOW)
    row = line_with(text, "access log ")
    assert row.split()[-5:] == ["CRIT", "—", "—", "—", "—"]


async def test_errors_redraw_for_the_new_width_after_a_resize() -> None:
    readings = recorded(RECORDED_ERRORS_CRITICAL)
    async with ErrorsHost().run_test(size=NARROW) as pilot:
        panel = pilot.app.query_one(ErrorsPanel)
        panel.now, panel.readings = ERRORS_CRITICAL_NOW, readings
        await pilot.pause()
        assert "5xx trend" not in draw(panel)
        await pilot.resize_terminal(*WIDE)
        await pilot.pause()
        assert "5xx trend" in draw(panel)


def test_ratios_and_counts_never_make_up_a_zero() -> None:
    assert ratio_text(None) == "no data"
    assert ratio_text(0.0) == "0.0 %"
    assert ratio_text(0.0004) == "0.04 %"
    assert ratio_text(0.0186) == "1.9 %"
    assert count_text(None) == "—"
    assert count_text(48210) == "48210"
    assert count_text(312_400) == "312k"
    assert count_text(4_200_000) == "4.2M"
