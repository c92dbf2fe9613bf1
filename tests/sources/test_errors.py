"""Error-rate sources: CloudWatch on the sandbox's moto, access logs, and a faked Prometheus.

Each source is checked against an independent measurement taken in the same test: a direct
get_metric_data over the same window, the sandbox's log file counted with its own line regex,
or requests the test itself sent and wrote. There is no Prometheus server here, so the
Prometheus source talks to a small loopback HTTP server this file starts, which serves recorded
API payloads and checks the bearer token: a fake at our adapter boundary, over real HTTP.
"""

from __future__ import annotations

import asyncio
import functools
import http.client
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import pytest
from botocore.exceptions import ClientError

from cockpit.clock import Clock, FrozenClock, system_clock
from cockpit.config import Config, load_config
from cockpit.io.context import SourceContext
from cockpit.io.http import PROBE_USER_AGENT
from cockpit.live.poller import poll_once
from cockpit.log_format import parse_time_local
from cockpit.model import Reading, Status, reading_to_json
from cockpit.sandbox.aws import load_balancer_dimension as sandbox_lb_dimension
from cockpit.sandbox.aws import target_group_dimension as sandbox_tg_dimension
from cockpit.sandbox.http import AccessLogEntry
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sources.base import Source
from cockpit.sources.build import build_errors_sources
from cockpit.sources.errors_access_log import (
    AccessLogErrorsSource,
    FollowedLog,
    SideWindow,
    parse_line,
)
from cockpit.sources.errors_cloudwatch import (
    COUNT_METRICS,
    CloudWatchErrorsSource,
    fetch_metric_data,
    load_balancer_dimension,
    metric_queries,
    side_extras,
    side_failure,
    side_stats,
    target_group_dimension,
)
from cockpit.sources.errors_common import (
    Thresholds,
    WindowStats,
    classify,
    describe,
    error_ratio,
    error_values,
    in_window,
    p95_nearest_rank,
    window_bounds,
)
from cockpit.sources.errors_prometheus import (
    PrometheusErrorsSource,
    parse_answer,
    query_url_path,
    query_window_seconds,
)
from tests.sandbox.test_http import ACCESS_LOG_LINE
from tests.sandbox.test_sandbox import aws_client

T = TypeVar("T")

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
LIMITS = Thresholds(max_error_ratio=0.01)
LIMITS_WITH_P95 = Thresholds(max_error_ratio=0.01, max_p95_seconds=0.5)
LB_ARN = (
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/shop/50dc6c495c0c9188"
)
TG_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web-old/6d0ecf831eec9f09"


# --- helpers ----------------------------------------------------------------------------------


def log_line(
    at: datetime,
    status: int = 200,
    seconds: float = 0.05,
    path: str = "/",
    agent: str = "Mozilla/5.0",
) -> str:
    """A line as the sandbox's app server (nginx "combined" + $request_time) writes it."""
    request = f"GET {path} HTTP/1.1"
    return AccessLogEntry("10.0.0.7", at, request, status, 512, "", agent, seconds).line()


def write_config(tmp_path: Path, body: str) -> Config:
    path = tmp_path / "cockpit.toml"
    path.write_text('[cutover]\nname = "errors test"\n' + body)
    return load_config(path)


def access_log_config(tmp_path: Path, sides: tuple[str, ...] = ("old", "new")) -> Config:
    logs = "".join(f'[[errors.access_logs]]\nside = "{s}"\npath = "{s}.log"\n' for s in sides)
    return write_config(tmp_path, f"[errors]\nwindow_seconds = 60\n{logs}")


def access_log_source(config: Config, clock: Clock) -> AccessLogErrorsSource:
    context = SourceContext(config, environ={}, clock=clock)
    sources = build_errors_sources(context)
    assert len(sources) == 1 and isinstance(sources[0], AccessLogErrorsSource)
    return sources[0]


async def poll(source: Source) -> dict[str, Reading]:
    readings, _ = await poll_once(source)
    assert [r.signal_id for r in readings] == list(source.signal_ids)
    return {reading.signal_id: reading for reading in readings}


def append(path: Path, *lines: str) -> None:
    with path.open("a", encoding="utf-8") as file:
        file.write("".join(lines))


async def until(probe: Callable[[], Awaitable[T | None]], within: float = 30.0) -> T:
    """Polls an async probe until it returns something truthy."""
    deadline = time.monotonic() + within
    last: T | None = None
    while time.monotonic() < deadline:
        last = await probe()
        if last:
            return last
        await asyncio.sleep(0.3)
    raise AssertionError(f"condition not met within {within} s (last value {last!r})")


# --- status rules, p95, window maths ----------------------------------------------------------


def test_no_requests_is_unknown_with_null_ratio_never_zero() -> None:
    stats = WindowStats.from_counts(0, 0, None)
    assert error_ratio(0, 0) is None
    assert classify(stats, LIMITS) is Status.UNKNOWN
    assert describe(stats, LIMITS, "last 60 s") == "no requests in the last 60 s"
    values = error_values(stats, LIMITS, 60)
    assert values["error_ratio"] is None and values["requests"] == 0
    assert values["threshold_ratio"] == 0.01 and values["window_seconds"] == 60


@pytest.mark.parametrize(
    ("requests", "errors", "p95", "limits", "expected"),
    [
        (812, 0, 0.12, LIMITS, Status.OK),
        (1000, 5, 0.12, LIMITS, Status.OK),  # exactly half the limit is not above it
        (1000, 6, 0.12, LIMITS, Status.WARN),
        (1000, 10, 0.12, LIMITS, Status.WARN),  # exactly the limit is not above it
        (1000, 11, 0.12, LIMITS, Status.CRITICAL),
        (10, 10, None, LIMITS, Status.CRITICAL),
        (812, 0, 0.9, LIMITS, Status.OK),  # no p95 limit configured
        (812, 0, 0.9, LIMITS_WITH_P95, Status.WARN),
        (812, 0, None, LIMITS_WITH_P95, Status.OK),  # unavailable p95 is said, not judged
        (1000, 20, 0.9, LIMITS_WITH_P95, Status.CRITICAL),
    ],
)
def test_status_rules(
    requests: int, errors: int, p95: float | None, limits: Thresholds, expected: Status
) -> None:
    assert classify(WindowStats.from_counts(requests, errors, p95), limits) is expected


def test_detail_reads_like_a_sentence() -> None:
    ok = WindowStats.from_counts(812, 3, 0.12)
    assert describe(ok, LIMITS, "last 60 s") == (
        "0.4 % 5xx (3 of 812 requests, last 60 s), p95 120 ms"
    )
    bad = WindowStats.from_counts(1500, 100, None)
    assert describe(bad, LIMITS, "last 60 s", p95_missing="p95 unavailable") == (
        "6.7 % 5xx (100 of 1500 requests, last 60 s) over the 1 % limit, p95 unavailable"
    )
    slow = WindowStats.from_counts(100, 0, 0.82)
    assert describe(slow, LIMITS_WITH_P95, "last 60 s").endswith("p95 820 ms over the 500 ms limit")
    ratio_only = WindowStats(None, None, 0.007, None)
    assert describe(ratio_only, LIMITS, "last 60 s") == (
        "0.7 % 5xx (last 60 s) over half the 1 % limit"
    )


def test_p95_is_nearest_rank() -> None:
    assert p95_nearest_rank([]) is None
    assert p95_nearest_rank([0.3]) == 0.3
    assert p95_nearest_rank([0.2, 0.1]) == 0.2
    assert p95_nearest_rank(i / 100 for i in range(100, 0, -1)) == 0.95
    assert p95_nearest_rank([0.01] * 94 + [5.0] * 6) == 5.0
    assert p95_nearest_rank([0.01] * 95 + [5.0] * 5) == 0.01


def test_window_is_closed_at_both_ends() -> None:
    clock = FrozenClock(NOW)
    start, end = window_bounds(clock(), 60)
    assert start == NOW - timedelta(seconds=60) and end == NOW
    assert in_window(start, start, end) and in_window(end, start, end)
    assert not in_window(start - timedelta(seconds=1), start, end)
    assert not in_window(end + timedelta(seconds=1), start, end)


# --- access log lines -------------------------------------------------------------------------


def test_parses_a_sandbox_log_line() -> None:
    entry = parse_line(log_line(NOW, 503, 0.123))
    assert entry is not None
    assert (entry.at, entry.status, entry.request_time_seconds) == (NOW, 503, 0.123)
    assert entry.is_5xx


def test_parses_escaped_quotes_in_request_and_agent() -> None:
    nginx = log_line(NOW, 200, path='/a"b', agent='curl "quoted"')
    assert "\\x22" in nginx
    apache = (
        '10.0.0.1 - bob [22/Nov/2026:02:00:00 +0000] "GET /a\\"b HTTP/1.1" 500 0 '
        '"-" "agent \\"x\\"" 0.004\n'
    )
    for line in (nginx, apache):
        entry = parse_line(line)
        assert entry is not None and entry.at == NOW


@pytest.mark.parametrize(
    "line",
    [
        "",
        "garbage",
        '10.0.0.1 - - [22/Foo/2026:02:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "ua" 0.1',
        '10.0.0.1 - - [31/Feb/2026:02:00:00 +0000] "GET / HTTP/1.1" 200 512 "-" "ua" 0.1',
        '10.0.0.1 - - [22/Nov/2026:02:00:00 +0000] "GET / HTTP/1.1" 2000 5 "-" "ua" 0.1',
        '10.0.0.1 - - [22/Nov/2026:02:00:00 +0000] "GET / HTTP/1.1 200 512 "-" "ua" 0.1',
    ],
)
def test_rejects_lines_that_are_not_the_format(line: str) -> None:
    assert parse_line(line) is None


def test_time_zone_and_missing_request_time() -> None:
    assert parse_time_local("22/Nov/2026:03:00:00 +0100") == NOW
    assert parse_time_local("21/Nov/2026:20:30:00 -0530") == NOW
    entry = parse_line('1.2.3.4 - - [22/Nov/2026:02:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "-" -')
    assert entry is not None and entry.request_time_seconds is None


# --- access log source on files the test writes -----------------------------------------------


async def test_counts_exactly_what_was_written_in_the_window(tmp_path: Path) -> None:
    config = access_log_config(tmp_path)
    old_log, new_log = tmp_path / "old.log", tmp_path / "new.log"
    inside = [
        log_line(NOW - timedelta(seconds=i), 500 if i % 10 == 0 else 200, i / 100)
        for i in range(1, 41)
    ]
    stale = [log_line(NOW - timedelta(seconds=61 + i), 500) for i in range(10)]
    future = [log_line(NOW + timedelta(seconds=5), 500)]
    append(new_log, *stale, *inside, "not a log line\n", "\n", "another bad one\n", *future)
    append(old_log, log_line(NOW - timedelta(seconds=60)), log_line(NOW, 200, 0.2))
    source = access_log_source(config, FrozenClock(NOW))
    readings = await poll(source)
    new = readings["errors:access_log:new"]
    assert new.values["requests"] == 40 and new.values["errors_5xx"] == 4
    assert new.values["error_ratio"] == 0.1 and new.status is Status.CRITICAL
    assert new.values["p95_seconds"] == 0.38  # nearest rank 38 of 0.01..0.40
    assert new.values["max_response_seconds"] == 0.4
    assert new.values["unparsed_lines"] == 2 and new.values["window_complete"] is True
    assert "10 % 5xx (4 of 40 requests, last 60 s) over the 1 % limit" in new.detail
    assert "2 lines not understood" in new.detail
    old = readings["errors:access_log:old"]
    assert (old.values["requests"], old.values["errors_5xx"], old.status) == (2, 0, Status.OK)


async def test_partial_line_waits_for_its_end(tmp_path: Path) -> None:
    source = access_log_source(access_log_config(tmp_path, ("new",)), FrozenClock(NOW))
    path, line = tmp_path / "new.log", log_line(NOW, 500)
    append(path, log_line(NOW), line[:30])
    first = (await poll(source))["errors:access_log:new"]
    assert (first.values["requests"], first.values["unparsed_lines"]) == (1, 0)
    append(path, line[30:])
    second = (await poll(source))["errors:access_log:new"]
    assert (second.values["requests"], second.values["errors_5xx"]) == (2, 1)
    assert second.values["unparsed_lines"] == 0


async def test_rotation_finishes_the_old_file_then_reads_the_new_one(tmp_path: Path) -> None:
    clock = FrozenClock(NOW)
    source = access_log_source(access_log_config(tmp_path, ("new",)), clock)
    path = tmp_path / "new.log"
    append(path, *(log_line(NOW) for _ in range(5)))
    assert (await poll(source))["errors:access_log:new"].values["requests"] == 5
    rotated = path.rename(tmp_path / "new.log.1")
    append(rotated, *(log_line(NOW, 500) for _ in range(2)))  # written before the reopen
    append(path, *(log_line(NOW) for _ in range(3)))
    after = (await poll(source))["errors:access_log:new"]
    assert (after.values["requests"], after.values["errors_5xx"]) == (10, 2)
    append(path, log_line(NOW, 502))
    clock.advance(1)
    latest = (await poll(source))["errors:access_log:new"]
    assert (latest.values["requests"], latest.values["errors_5xx"]) == (11, 3)
    source.close()


async def test_truncation_reads_again_from_the_start(tmp_path: Path) -> None:
    source = access_log_source(access_log_config(tmp_path, ("new",)), FrozenClock(NOW))
    path = tmp_path / "new.log"
    append(path, *(log_line(NOW, agent="x" * 200) for _ in range(5)))
    assert (await poll(source))["errors:access_log:new"].values["requests"] == 5
    path.write_text(log_line(NOW, 500) + log_line(NOW, 500))
    after = (await poll(source))["errors:access_log:new"]
    assert (after.values["requests"], after.values["errors_5xx"]) == (7, 2)
    source.close()


async def test_missing_log_is_unknown_for_its_side_only_and_recovers(tmp_path: Path) -> None:
    source = access_log_source(access_log_config(tmp_path), FrozenClock(NOW))
    append(tmp_path / "old.log", log_line(NOW))
    readings = await poll(source)
    new, old = readings["errors:access_log:new"], readings["errors:access_log:old"]
    assert new.status is Status.UNKNOWN
    assert new.detail == f"access log {tmp_path / 'new.log'} not found"
    assert new.values["error_ratio"] is None and new.values["requests"] is None
    assert old.status is Status.OK and old.values["requests"] == 1
    append(tmp_path / "new.log", log_line(NOW - timedelta(seconds=10)), log_line(NOW, 500))
    recovered = (await poll(source))["errors:access_log:new"]
    assert (recovered.values["requests"], recovered.values["errors_5xx"]) == (2, 1)
    assert recovered.status is Status.CRITICAL
    source.close()


async def test_unreadable_log_says_why(tmp_path: Path) -> None:
    source = access_log_source(access_log_config(tmp_path, ("new",)), FrozenClock(NOW))
    (tmp_path / "new.log").mkdir()
    reading = (await poll(source))["errors:access_log:new"]
    assert reading.status is Status.UNKNOWN
    assert reading.detail == f"access log {tmp_path / 'new.log'}: Is a directory"


def test_first_poll_reads_only_a_tail_of_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    lines = [log_line(NOW - timedelta(seconds=100 - i), 200, i / 1000) for i in range(100)]
    append(path, *lines)
    followed = FollowedLog(path, tail_bytes=1000)
    outcome = followed.poll()
    assert outcome.started_mid_file and 0 < len(outcome.lines) < 100
    assert [line.decode() + "\n" for line in outcome.lines] == lines[-len(outcome.lines) :]
    assert followed.poll().lines == ()
    followed.close()


def test_a_log_that_appears_later_is_read_from_its_start(tmp_path: Path) -> None:
    path = tmp_path / "late.log"
    followed = FollowedLog(path, tail_bytes=1000)
    assert followed.poll().error == f"access log {path} not found"
    lines = [log_line(NOW, 200, i / 1000) for i in range(50)]
    append(path, *lines)
    outcome = followed.poll()
    assert not outcome.started_mid_file and outcome.error is None
    assert [line.decode() + "\n" for line in outcome.lines] == lines
    followed.close()


def test_a_poll_reads_a_bounded_amount_and_catches_up_later(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    lines = [log_line(NOW, 200, i / 1000) for i in range(100)]
    append(path, *lines)
    followed = FollowedLog(path, max_bytes_per_poll=1000)
    first = followed.poll()
    assert first.backlog_bytes > 0 and len(first.lines) < 100
    read = list(first.lines)
    while (outcome := followed.poll()).lines:
        read.extend(outcome.lines)
    assert outcome.backlog_bytes == 0
    assert [line.decode() + "\n" for line in read] == lines
    followed.close()


def test_window_says_when_it_does_not_cover_the_whole_span() -> None:
    start, end = window_bounds(NOW, 60)
    tail = SideWindow()
    tail.add([log_line(NOW - timedelta(seconds=30)).encode()], started_mid_file=True)
    assert tail.stats(start, end)[1].window_complete is False
    capped = SideWindow(max_entries=5)
    capped.add(
        [log_line(NOW - timedelta(seconds=i)).encode() for i in range(10, 0, -1)],
        started_mid_file=False,
    )
    capped.prune(start)
    stats, extras = capped.stats(start, end)
    assert stats.requests == 5 and extras.window_complete is False


# --- Prometheus: recorded payloads, then the HTTP side against a loopback fake -----------------


def payload(data: Any, status: str = "success") -> bytes:
    return json.dumps({"status": status, "data": data}).encode()


def vector(*values: str) -> bytes:
    result = [{"metric": {"side": "new"}, "value": [1795312800.123, v]} for v in values]
    return payload({"resultType": "vector", "result": result})


BAD_QUERY = json.dumps(
    {
        "status": "error",
        "errorType": "bad_data",
        "error": 'invalid parameter "query": 1:6: parse error: unexpected <by>',
    }
).encode()


def test_parses_recorded_prometheus_answers() -> None:
    assert parse_answer(200, vector("0.0042")).value == 0.0042
    scalar = payload({"resultType": "scalar", "result": [1795312800.1, "0.25"]})
    assert parse_answer(200, scalar).value == 0.25
    empty = parse_answer(200, vector())
    assert empty.value is None and empty.no_data == "the query returned no series"
    assert parse_answer(200, vector("NaN")).no_data == "the query returned NaN"
    assert parse_answer(200, vector("+Inf")).value is None
    two = parse_answer(200, vector("0.1", "0.9"))
    assert (two.value, two.series_count) == (0.1, 2)
    error = parse_answer(400, BAD_QUERY).error
    assert error == f"Prometheus error (bad_data): {json.loads(BAD_QUERY)['error']}"
    assert parse_answer(200, b"{not json").error == "malformed answer (HTTP 200)"
    assert parse_answer(502, b"<html>bad gateway</html>").error == "malformed answer (HTTP 502)"
    assert "authentication failed (HTTP 401)" in str(parse_answer(401, b"Unauthorized").error)
    matrix = payload({"resultType": "matrix", "result": []})
    assert parse_answer(200, matrix).error == "the query returned a matrix, not one number"
    assert "not a number" in str(parse_answer(200, vector("abc")).error)


def test_query_window_and_url() -> None:
    ratio = 'sum(rate(x{code=~"5.."}[1m])) / sum(rate(x[1m]))'
    assert query_window_seconds(ratio) == 60
    assert query_window_seconds("max_over_time(rate(x[5m])[1h:1m])") is None
    assert query_window_seconds("rate(x[1m30s])") == 90
    assert query_window_seconds("up") is None
    assert (
        query_url_path("http://p:9090/prom/", "up == 1") == "/prom/api/v1/query?query=up+%3D%3D+1"
    )


TOKEN = "s3cret-token-value"
RATIO = 'sum(rate(http_requests_total{{side="{0}",code=~"5.."}}[1m])) / sum(rate({1}[1m]))'
OLD_RATIO = RATIO.format("old", 'http_requests_total{side="old"}')
NEW_RATIO = RATIO.format("new", 'http_requests_total{side="new"}')
OLD_P95 = 'histogram_quantile(0.95, sum by (le) (rate(latency_bucket{side="old"}[1m])))'
NEW_P95 = 'histogram_quantile(0.95, sum by (le) (rate(latency_bucket{side="new"}[1m])))'


@dataclass
class FakePrometheus:
    """A loopback stand-in for Prometheus's /api/v1/query that demands the bearer token."""

    answers: dict[str, tuple[int, bytes]] = field(default_factory=dict)
    authorizations: list[str | None] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self, port: int = 0) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.authorizations.append(self.headers.get("Authorization"))
                parts = urlsplit(self.path)
                query = parse_qs(parts.query).get("query", [""])[0]
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    status, body = 401, b"Unauthorized\n"
                elif parts.path != "/api/v1/query":
                    status, body = 404, b"404 page not found\n"
                else:
                    status, body = fake.answers.get(query, (200, vector()))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        serve = functools.partial(self.server.serve_forever, poll_interval=0.05)
        threading.Thread(target=serve, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    yield fake
    fake.stop()


def prometheus_source(tmp_path: Path, url: str, environ: dict[str, str]) -> PrometheusErrorsSource:
    config = write_config(
        tmp_path,
        "[guards]\nweight_max_new_p95_ms = 500\n[errors]\ntimeout_seconds = 2.0\n"
        f"[errors.prometheus]\nurl = '{url}'\ntoken_env = 'PROM_TOKEN'\n"
        f"old_error_ratio_query = '{OLD_RATIO}'\nnew_error_ratio_query = '{NEW_RATIO}'\n"
        f"old_p95_seconds_query = '{OLD_P95}'\nnew_p95_seconds_query = '{NEW_P95}'\n",
    )
    context = SourceContext(config, environ=environ, clock=FrozenClock(NOW))
    sources = build_errors_sources(context)
    assert len(sources) == 1 and isinstance(sources[0], PrometheusErrorsSource)
    return sources[0]


BOTH_SIDES_ANSWERED = {
    OLD_RATIO: (200, vector("0.002")),
    NEW_RATIO: (200, vector("0.05")),
    OLD_P95: (200, vector("0.12")),
    NEW_P95: (200, vector("0.8")),
}


def assert_no_token(readings: dict[str, Reading]) -> None:
    for reading in readings.values():
        assert TOKEN not in json.dumps(reading_to_json(reading))


async def test_prometheus_ratio_and_p95_per_side(
    tmp_path: Path, prometheus: FakePrometheus
) -> None:
    prometheus.answers = dict(BOTH_SIDES_ANSWERED)
    source = prometheus_source(tmp_path, prometheus.start(), {"PROM_TOKEN": TOKEN})
    readings = await poll(source)
    old, new = readings["errors:prometheus:old"], readings["errors:prometheus:new"]
    assert old.status is Status.OK and old.detail == "0.2 % 5xx (last 60 s), p95 120 ms"
    assert dict(old.values) | {"p95_unavailable_reason": None} == {
        "error_ratio": 0.002,
        "requests": None,
        "errors_5xx": None,
        "p95_seconds": 0.12,
        "window_seconds": 60,
        "threshold_ratio": 0.01,
        "threshold_p95_seconds": 0.5,
        "series_count": 1,
        "p95_unavailable_reason": None,
    }
    assert new.status is Status.CRITICAL
    assert new.detail == "5 % 5xx (last 60 s) over the 1 % limit, p95 800 ms over the 500 ms limit"
    assert prometheus.authorizations == [f"Bearer {TOKEN}"] * 4
    assert_no_token(readings)


async def test_prometheus_no_data_is_unknown_and_the_other_side_stays(
    tmp_path: Path, prometheus: FakePrometheus
) -> None:
    prometheus.answers = {
        OLD_RATIO: (200, vector("0")),
        NEW_RATIO: (200, vector("NaN")),
        OLD_P95: (400, BAD_QUERY),
    }
    source = prometheus_source(tmp_path, prometheus.start(), {"PROM_TOKEN": TOKEN})
    readings = await poll(source)
    old, new = readings["errors:prometheus:old"], readings["errors:prometheus:new"]
    assert new.status is Status.UNKNOWN and new.values["error_ratio"] is None
    assert new.detail == "no requests in the last 60 s (the query returned NaN)"
    assert old.status is Status.OK and old.values["error_ratio"] == 0.0
    assert old.values["p95_seconds"] is None
    assert "p95 unavailable: Prometheus error (bad_data)" in old.detail
    prometheus.answers[NEW_RATIO] = (400, BAD_QUERY)
    broken = (await poll(source))["errors:prometheus:new"]
    assert broken.status is Status.UNKNOWN
    assert broken.detail.startswith('Prometheus error (bad_data): invalid parameter "query"')
    prometheus.answers[NEW_RATIO] = (200, vector("0.001"))
    assert (await poll(source))["errors:prometheus:new"].status is Status.OK


async def test_prometheus_token_problems_never_show_the_token(
    tmp_path: Path, prometheus: FakePrometheus
) -> None:
    url = prometheus.start()
    unset = await poll(prometheus_source(tmp_path, url, {}))
    assert {r.detail for r in unset.values()} == {"the bearer token env var PROM_TOKEN is not set"}
    assert all(r.status is Status.UNKNOWN for r in unset.values())
    wrong = await poll(prometheus_source(tmp_path, url, {"PROM_TOKEN": TOKEN + "-old"}))
    for reading in wrong.values():
        assert reading.status is Status.UNKNOWN
        assert reading.detail.startswith("authentication failed (HTTP 401)")
    assert_no_token(wrong)


async def test_prometheus_down_is_the_pollers_reason_then_recovers(
    tmp_path: Path, prometheus: FakePrometheus
) -> None:
    url = prometheus.start()
    port = urlsplit(url).port
    source = prometheus_source(tmp_path, url, {"PROM_TOKEN": TOKEN})
    prometheus.stop()
    readings, succeeded = await poll_once(source)
    assert not succeeded
    assert {r.detail for r in readings} == {"connection refused"}
    prometheus.start(port or 0)
    prometheus.answers = {OLD_RATIO: (200, vector("0.001")), NEW_RATIO: (200, vector("0.001"))}
    readings, succeeded = await poll_once(source)
    assert succeeded and all(r.status is Status.OK for r in readings)


# --- CloudWatch: pure parts -------------------------------------------------------------------


def test_arns_become_cloudwatch_dimensions() -> None:
    assert load_balancer_dimension(LB_ARN) == "app/shop/50dc6c495c0c9188"
    assert target_group_dimension(TG_ARN) == "targetgroup/web-old/6d0ecf831eec9f09"
    for bad in ("arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/shop", "nonsense"):
        with pytest.raises(ValueError, match="not an ELBv2"):
            load_balancer_dimension(bad)
    with pytest.raises(ValueError, match="not an ELBv2 targetgroup"):
        target_group_dimension(LB_ARN)


@dataclass
class PagedCloudWatch:
    """A stub client at our adapter boundary: hands out recorded get_metric_data pages."""

    pages: list[dict[str, Any]]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def get_metric_data(self, **arguments: Any) -> dict[str, Any]:
        self.calls.append(arguments)
        return self.pages[len(self.calls) - 1]


def result(query_id: str, values: list[float], status: str = "Complete") -> dict[str, Any]:
    return {"Id": query_id, "Values": values, "Timestamps": [], "StatusCode": status}


def test_pages_are_followed_and_summed_per_side() -> None:
    client = PagedCloudWatch(
        [
            {
                "MetricDataResults": [
                    result("old_requests", [400, 412]),
                    result("old_errors", [2], "PartialData"),
                    result("old_rt_sum", [40.0]),
                    result("old_rt_count", [400]),
                    result("new_requests", [0], "InternalError"),
                ],
                "NextToken": "page-2",
            },
            {
                "MetricDataResults": [
                    result("old_errors", [1]),
                    result("old_rt_sum", [41.2]),
                    result("old_rt_count", [412]),
                    result("old_rt_max", [0.9, 1.4]),
                ]
            },
        ]
    )
    queries = metric_queries("app/a/1", {"old": "targetgroup/o/2"}, 60, COUNT_METRICS)
    results = fetch_metric_data(client, queries, NOW - timedelta(seconds=60), NOW)
    assert client.calls[1]["NextToken"] == "page-2" and "NextToken" not in client.calls[0]
    stats = side_stats(results, None, "old")
    assert (stats.requests, stats.errors_5xx, stats.p95_seconds) == (812, 3, None)
    assert side_extras(results, "old") == {"avg_response_seconds": 0.1, "max_response_seconds": 1.4}
    assert side_failure(results, "old") is None
    assert side_failure(results, "new") == "RequestCount: CloudWatch answered InternalError"


# --- CloudWatch against the sandbox's moto ----------------------------------------------------


def sandbox_context(
    sandbox: SandboxHandle, clock: Clock, window_seconds: int = 60
) -> SourceContext:
    config = load_config(sandbox.config_path)
    assert config.errors is not None
    errors = config.errors.model_copy(update={"window_seconds": window_seconds})
    config = config.model_copy(update={"errors": errors})
    return SourceContext(config, environ={**os.environ, **sandbox.env}, clock=clock)


def source_of(context: SourceContext, kind: type[T]) -> T:
    return next(s for s in build_errors_sources(context) if isinstance(s, kind))


def direct_sum(
    sandbox: SandboxHandle, side: str, metric: str, stat: str, start: datetime, end: datetime
) -> float:
    """The metric's statistic over the window, straight from boto3 (ids and dims by hand)."""
    aws = sandbox.info["aws"]
    dimensions = [
        {"Name": "LoadBalancer", "Value": sandbox_lb_dimension(aws["load_balancer_arn"])},
        {"Name": "TargetGroup", "Value": sandbox_tg_dimension(aws["target_groups"][side])},
    ]
    answer = aws_client(sandbox, "cloudwatch").get_metric_data(
        MetricDataQueries=[
            {
                "Id": "q",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/ApplicationELB",
                        "MetricName": metric,
                        "Dimensions": dimensions,
                    },
                    "Period": 10,
                    "Stat": stat,
                },
            }
        ],
        StartTime=start,
        EndTime=end,
    )
    return float(sum(answer["MetricDataResults"][0]["Values"]))


def test_sandbox_arns_give_the_dimensions_the_sandbox_publishes(sandbox: SandboxHandle) -> None:
    aws = sandbox.info["aws"]
    arn = aws["load_balancer_arn"]
    assert load_balancer_dimension(arn) == sandbox_lb_dimension(arn)
    for side in ("old", "new"):
        tg = aws["target_groups"][side]
        assert target_group_dimension(tg) == sandbox_tg_dimension(tg)


def assert_no_data_is_unknown(reading: Reading) -> None:
    """No requests is "no data", never 0 %; with requests, the ratio is errors / requests."""
    requests, errors = reading.values["requests"], reading.values["errors_5xx"]
    if not requests:
        assert reading.status is Status.UNKNOWN
        assert reading.values["error_ratio"] is None
        assert reading.detail.startswith("no requests in the last")
    else:
        assert isinstance(requests, int) and isinstance(errors, int)
        assert reading.values["error_ratio"] == pytest.approx(errors / requests)


async def test_cloudwatch_counts_equal_a_direct_query_over_the_same_window(
    sandbox: SandboxHandle,
) -> None:
    async def read_just_past() -> tuple[datetime, dict[str, Reading]] | None:
        moment = datetime.now(UTC) - timedelta(seconds=2)  # every datapoint before it is in
        source = source_of(sandbox_context(sandbox, FrozenClock(moment)), CloudWatchErrorsSource)
        readings = await poll(source)
        old_requests = readings["errors:cloudwatch:old"].values["requests"]
        return (moment, readings) if isinstance(old_requests, int) and old_requests > 0 else None

    moment, readings = await until(read_just_past)
    start = moment - timedelta(seconds=60)
    old, new = readings["errors:cloudwatch:old"], readings["errors:cloudwatch:new"]
    assert old.values["requests"] == direct_sum(
        sandbox, "old", "RequestCount", "Sum", start, moment
    )
    assert old.values["errors_5xx"] == direct_sum(
        sandbox, "old", "HTTPCode_Target_5XX_Count", "Sum", start, moment
    )
    total = direct_sum(sandbox, "old", "TargetResponseTime", "Sum", start, moment)
    count = direct_sum(sandbox, "old", "TargetResponseTime", "SampleCount", start, moment)
    assert old.values["avg_response_seconds"] == pytest.approx(total / count)
    assert old.values["p95_seconds"] is None and "p95 unavailable (avg" in old.detail
    assert old.values["window_seconds"] == 60
    # Earlier tests may have shifted traffic to new: compare with the truth, whatever it is.
    assert new.values["requests"] == direct_sum(
        sandbox, "new", "RequestCount", "Sum", start, moment
    )
    assert_no_data_is_unknown(new)


async def test_cloudwatch_and_access_log_see_an_error_burst_and_its_end(
    sandbox: SandboxHandle,
) -> None:
    context = sandbox_context(sandbox, system_clock, window_seconds=10)
    cloudwatch = source_of(context, CloudWatchErrorsSource)
    access_log = source_of(context, AccessLogErrorsSource)

    async def old_statuses() -> dict[str, Reading]:
        readings = {**await poll(cloudwatch), **await poll(access_log)}
        return {k: v for k, v in readings.items() if k.endswith(":old")} | {
            "errors:cloudwatch:new": readings["errors:cloudwatch:new"]
        }

    sandbox.client.inject("error-burst", side="old", ratio=1.0, for_seconds=3)

    async def burst_seen() -> dict[str, Reading] | None:
        readings = await old_statuses()
        olds = [readings["errors:cloudwatch:old"], readings["errors:access_log:old"]]
        return readings if all(r.status is Status.CRITICAL for r in olds) else None

    during = await until(burst_seen, within=15)
    for signal in ("errors:cloudwatch:old", "errors:access_log:old"):
        ratio = during[signal].values["error_ratio"]
        assert isinstance(ratio, float) and ratio > 0.01
        assert "over the 1 % limit" in during[signal].detail
    assert_no_data_is_unknown(during["errors:cloudwatch:new"])

    async def recovered() -> bool:
        readings = await old_statuses()
        olds = [readings["errors:cloudwatch:old"], readings["errors:access_log:old"]]
        return all(r.status is Status.OK and r.values["errors_5xx"] == 0 for r in olds)

    assert await until(recovered, within=30)
    access_log.close()


@dataclass
class FailingCloudWatch:
    """A stub at our adapter boundary: the real client, or the AWS error given to it."""

    real: Any
    error: ClientError | None = None

    def get_metric_data(self, **arguments: Any) -> Any:
        if self.error is not None:
            raise self.error
        return self.real.get_metric_data(**arguments)


@dataclass
class StubAws:
    cloudwatch: FailingCloudWatch

    def client(self, service: str, **_: Any) -> Any:
        assert service == "cloudwatch"
        return self.cloudwatch


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("Throttling", "throttled by AWS (Throttling): retrying at the next poll"),
        ("ExpiredToken", "AWS credentials expired: log in again (aws sso login)"),
    ],
)
async def test_cloudwatch_aws_errors_become_the_pollers_reason_then_recover(
    sandbox: SandboxHandle, code: str, reason: str
) -> None:
    context = sandbox_context(sandbox, system_clock)
    stub = FailingCloudWatch(aws_client(sandbox, "cloudwatch"))
    stub.error = ClientError({"Error": {"Code": code, "Message": "nope"}}, "GetMetricData")
    context.aws = StubAws(stub)  # type: ignore[assignment]
    source = source_of(context, CloudWatchErrorsSource)
    readings, succeeded = await poll_once(source)
    assert not succeeded and len(readings) == 2
    assert all(r.status is Status.UNKNOWN and r.detail == reason for r in readings)
    stub.error = None

    async def old_has_requests() -> bool:
        readings = await poll(source)
        requests = readings["errors:cloudwatch:old"].values["requests"]
        return isinstance(requests, int) and requests > 0

    assert await until(old_has_requests)


# --- access log against the sandbox's real app servers ----------------------------------------


def send(url: str, path: str, count: int) -> list[int]:
    host, port = url.removeprefix("http://").split(":")
    statuses = []
    for _ in range(count):
        connection = http.client.HTTPConnection(host, int(port), timeout=5)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
        finally:
            connection.close()
    return statuses


# nginx's combined, with none, one or two times after it (as the sandbox's logs are written).
SANDBOX_LOG_LINE = re.compile(
    r'^127\.\d+\.\d+\.\d+ - - \[(?P<time_local>[^\]]+)\] "(?P<request>[^"]*)" '
    r'(?P<status>\d{3}) \d+ "[^"]*" "(?P<user_agent>[^"]*)"(?: (?:\d+\.\d{3}|-)){0,2}$'
)


def independent_count(log: Path, start: datetime, end: datetime, path: str = "") -> tuple[int, int]:
    """(requests, 5xx) of the log's lines dated in [start, end], the cockpit's probes left out."""
    requests = errors = 0
    for line in log.read_text().splitlines():
        match = SANDBOX_LOG_LINE.match(line) or ACCESS_LOG_LINE.match(line)
        assert match, f"the sandbox wrote a line the tests' regex rejects: {line!r}"
        at = datetime.strptime(match["time_local"], "%d/%b/%Y:%H:%M:%S %z")
        if match["user_agent"] == PROBE_USER_AGENT:
            continue
        if start <= at <= end and path in match["request"]:
            requests += 1
            errors += match["status"].startswith("5")
    return requests, errors


async def test_access_log_counts_what_the_test_sent_to_the_new_app(
    sandbox: SandboxHandle,
) -> None:
    new_url, logs = sandbox.info["http"]["new"], sandbox.info["http"]["access_logs"]
    path = f"/errors-test-{uuid.uuid4().hex}"
    sandbox.client.inject("error-burst", side="new", ratio=1.0)
    assert send(new_url, path, 20) == [500] * 20
    sandbox.client.inject("errors-off", side="new")
    assert send(new_url, path, 10) == [200] * 10
    sent_by = datetime.now(UTC).replace(microsecond=0)
    moment = sent_by + timedelta(seconds=0.5)  # lines logged from now on are dated after it
    await asyncio.sleep(
        max(0.0, (sent_by + timedelta(seconds=1) - datetime.now(UTC)).total_seconds())
    )
    context = sandbox_context(sandbox, FrozenClock(moment))
    source = source_of(context, AccessLogErrorsSource)
    readings = await poll(source)
    start = moment - timedelta(seconds=60)
    assert independent_count(Path(logs["new"]), start, moment, path) == (30, 20)
    for side in ("old", "new"):
        reading = readings[f"errors:access_log:{side}"]
        expected = independent_count(Path(logs[side]), start, moment)
        assert (reading.values["requests"], reading.values["errors_5xx"]) == expected
    new = readings["errors:access_log:new"]
    requests, errors = new.values["requests"], new.values["errors_5xx"]
    assert isinstance(requests, int) and isinstance(errors, int)
    assert requests >= 30 and errors >= 20 and new.status is Status.CRITICAL
    assert independent_count(Path(logs["old"]), start, moment, path) == (0, 0)
    source.close()


def test_no_errors_section_builds_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path, "")
    assert build_errors_sources(SourceContext(config, environ={})) == []


def test_sandbox_config_builds_cloudwatch_and_access_log_sources(sandbox: SandboxHandle) -> None:
    sources = build_errors_sources(sandbox_context(sandbox, lambda: NOW))
    assert [s.signal_ids for s in sources] == [
        ("errors:cloudwatch:old", "errors:cloudwatch:new"),
        ("errors:access_log:old", "errors:access_log:new"),
    ]
    assert all(s.schedule.interval_seconds == 5.0 for s in sources)
