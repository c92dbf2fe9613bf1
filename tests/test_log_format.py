"""Access log formats: nginx log_format strings and presets compiled into line matchers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cockpit.config import AccessLog
from cockpit.log_format import (
    APACHE_COMBINED,
    NGINX_COMBINED,
    PRESETS,
    LineMatcher,
    LogFormatError,
    compile_format,
)

AT = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
COMBINED = '10.0.0.1 - - [22/Nov/2026:02:00:00 +0000] "GET /a HTTP/1.1" 502 157 "-" "curl/8.5"'

# From Apache's own documentation of the Combined Log Format, plus lines as Apache 2.4
# writes them: an escaped quote in the request, "-" for no body, an authenticated user.
APACHE_LINES = (
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 '
    '"http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"',
    '192.0.2.9 - - [22/Nov/2026:01:59:58 +0000] "GET /q?x=\\"1\\" HTTP/1.1" 500 - "-" '
    '"Wget/1.21.3"',
    '2001:db8::7 - - [22/Nov/2026:02:00:00 +0000] "POST /api HTTP/2.0" 503 299 "-" '
    '"cutover-cockpit/0.1.0 probe"',
)


def test_presets_compile_and_read_the_fields_that_matter() -> None:
    line = PRESETS["combined"]
    form = compile_format("combined")
    assert form.text == line and form.has_time and form.has_user_agent and not form.has_latency
    parsed = form.parse(COMBINED)
    assert parsed is not None
    assert (parsed.status, parsed.at, parsed.request, parsed.user_agent) == (
        502,
        AT,
        "GET /a HTTP/1.1",
        "curl/8.5",
    )
    assert parsed.latency_seconds is None


def test_combined_with_request_time_and_upstream_lists() -> None:
    timed = compile_format(f"{NGINX_COMBINED} $request_time $upstream_response_time")
    parsed = timed.parse(f"{COMBINED} 0.250 0.100, 0.120 : 0.005")
    assert parsed is not None
    assert parsed.request_time_seconds == 0.25
    assert parsed.upstream_seconds == pytest.approx(0.225)
    assert parsed.latency_seconds == 0.25
    upstream = compile_format("combined_upstream_time")
    only_upstream = upstream.parse(f"{COMBINED} 0.031")
    assert only_upstream is not None and only_upstream.latency_seconds == 0.031
    no_upstream = upstream.parse(f"{COMBINED} -")
    assert no_upstream is not None and no_upstream.latency_seconds is None


@pytest.mark.parametrize("text", APACHE_LINES)
def test_recorded_apache_combined_lines(text: str) -> None:
    parsed = compile_format("apache_combined").parse(text)
    assert parsed is not None and parsed.at is not None
    assert compile_format(APACHE_COMBINED).parse(text) == parsed


def test_apache_documentation_line_in_detail() -> None:
    parsed = compile_format("apache_combined").parse(APACHE_LINES[0])
    assert parsed is not None
    assert parsed.at == datetime(2000, 10, 10, 13, 55, 36, tzinfo=timezone(timedelta(hours=-7)))
    assert parsed.user_agent == "Mozilla/4.08 [en] (Win98; I ;Nav)"


def test_other_time_variables_and_opaque_fields() -> None:
    form = compile_format('$msec $host "$request" $status ${request_time}s $upstream_addr')
    parsed = form.parse(
        f'{AT.timestamp():.3f} shop.example.com "GET / HTTP/1.1" 200 0.004s '
        "10.0.0.5:80, 10.0.0.6:80"
    )
    assert parsed is not None and parsed.at == AT and parsed.latency_seconds == 0.004
    iso = compile_format("$time_iso8601 $status")
    parsed = iso.parse("2026-11-22T03:00:00+01:00 404")
    assert parsed is not None and parsed.at == AT and parsed.status == 404


def test_a_format_without_time_parses_lines_with_no_moment() -> None:
    form = compile_format("$status $http_user_agent")
    parsed = form.parse("200 curl")
    assert parsed is not None and parsed.at is None and not form.has_time


@pytest.mark.parametrize(
    "line",
    [
        "",
        "garbage",
        f"{COMBINED} 0.1",  # a field more than the format has
        COMBINED.replace("502", "5020"),
        COMBINED.replace("Nov", "Foo"),
        COMBINED.replace("[22/", "[31/").replace("Nov", "Feb"),  # no 31 February
    ],
)
def test_lines_not_in_the_format_are_refused(line: str) -> None:
    assert compile_format("combined").parse(line) is None


def test_auto_takes_each_line_in_the_richest_format_it_matches() -> None:
    auto = LineMatcher.for_config("auto")
    for text, latency in (
        (COMBINED, None),
        (f"{COMBINED} 0.2", 0.2),
        (f"{COMBINED} 0.2 0.1", 0.2),
        (f"{COMBINED} - 0.1", 0.1),
    ):
        parsed = auto.parse(text)
        assert parsed is not None and parsed.latency_seconds == latency, text
    assert auto.has_user_agent and auto.has_latency


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("nonsense", "neither a preset"),
        ('$remote_addr "$request"', "has no $status"),
    ],
)
def test_config_refuses_formats_it_cannot_use(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("$", r"\$")):
        AccessLog.model_validate({"side": "old", "path": "/x.log", "format": text})
    with pytest.raises(LogFormatError):
        compile_format(text)


def test_matcher_names_its_format_for_the_reading() -> None:
    assert LineMatcher.for_config("combined").description == "combined"
    custom = LineMatcher.for_config("$status $msec")
    assert custom.description == "log_format '$status $msec'"
    assert not custom.has_user_agent and not custom.has_latency
