"""Globalping: its payloads read into probe answers, its refusals and budget, its pacing.

The payloads are built from Globalping's published API v1 reference (see
tests/world_dns_stand_in.py), not captured from the live service: in progress, finished,
partial (failed and offline probes, SERVFAIL), rate-limited (429 rate_limit_exceeded),
out of credits (429 insufficient_credits) and hostile text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cockpit.config import DnsRecord
from cockpit.io.globalping import (
    Pacer,
    budget_of,
    location_json,
    measurement_request,
    refusal_of,
)
from cockpit.io.world_http import JsonReply
from cockpit.model import Status
from cockpit.redact import redactor_for, remember_secrets
from cockpit.sources.dns_world import (
    Pacing,
    RecordState,
    world_detail,
    world_status,
    world_values,
)
from cockpit.sources.dns_world_globalping import parse_measurement, reset_at
from cockpit.sources.dns_world_results import Measurement, Started, classified
from cockpit.sources.dns_world_values import WorldValues
from tests.world_dns_samples import world_values_for
from tests.world_dns_stand_in import body_of, recorded

NOW = datetime(2026, 11, 22, 1, 0, 5, tzinfo=UTC)
STARTED_AT = NOW - timedelta(seconds=5)
NEW, OLD = "198.51.100.20", "192.0.2.10"
TOKEN_ECHO = "gp-token-6f1d2c3b4a5968778695a4b3"


def record(name: str = "app.example.com") -> DnsRecord:
    return DnsRecord.model_validate({"name": name, "type": "A", "expect": (NEW,), "old": (OLD,)})


def parsed(name: str) -> Measurement:
    started = Started("Bq1JaKp5dT0HqtVm", 6, 6)
    return parse_measurement(body_of(name), record(), started, STARTED_AT, NOW)


def reply(name: str) -> JsonReply:
    found = recorded(name)
    headers = {key.lower(): value for key, value in found.headers.items()}
    return JsonReply(found.status, headers, found.body, "")


def values_of(name: str) -> WorldValues:
    return world_values_for(name, NOW, record_name="app.example.com")


def test_in_progress_counts_only_the_probes_that_finished() -> None:
    measurement = parsed("globalping_in_progress")
    assert measurement.finished is False
    assert measurement.probes_requested == 6
    assert [probe.probe for probe in measurement.answers] == [
        "Frankfurt, DE, AS3320",
        "Chicago, US, AS7922",
    ]
    values = values_of("globalping_in_progress")
    assert (values.new_count, values.old_count, values.failed_count) == (1, 1, 0)
    assert values.new_fraction == 0.5
    assert world_status(values) is Status.WARN
    assert "measurement not finished" in world_detail(values)


def test_finished_mixed_is_classified_like_the_resolvers() -> None:
    measurement = parsed("globalping_finished_mixed")
    matches = [probe.matches for probe in classified(record(), measurement.answers)]
    assert matches == ["new", "new", "old", "old", "new", "other"]
    tokyo = measurement.answers[4].answer
    assert tokyo is not None
    assert tokyo.answers == (NEW,)
    assert tokyo.cname_chain == ("edge.example.net",)
    assert tokyo.hop_ttls == (300, 20)
    values = values_of("globalping_finished_mixed")
    assert values.new_fraction == pytest.approx(0.5)
    assert [(r.region, r.answered, r.new) for r in values.regions] == [
        ("AS", 1, 1),
        ("EU", 2, 2),
        ("NA", 1, 0),
        ("OC", 1, 0),
        ("SA", 1, 0),
    ]
    assert values.slowest_regions == ("NA", "OC", "SA")
    assert (values.ttl_max_seconds, values.old_ttl_max_seconds) == (300, 240)
    assert values.old_gone_at == NOW + timedelta(seconds=240)
    assert world_status(values) is Status.WARN
    assert world_detail(values) == (
        "Globalping: 50 % of 6 probes answer new (3 new, 2 old, 1 other); "
        "slowest: NA 0 % (1), OC 0 % (1), SA 0 % (1); TTLs up to 300 s, median 130 s; "
        "old gone by 01:04:05Z; measured 01:00:05Z"
    )


def test_all_new_and_finished_is_ok() -> None:
    values = values_of("globalping_finished_new")
    assert values.new_fraction == 1.0
    assert values.old_gone_at is None
    assert world_status(values) is Status.OK
    assert "no old answers seen" in world_detail(values)


def test_partial_counts_failed_probes_apart_and_a_servfail_as_an_answer() -> None:
    values = values_of("globalping_partial")
    assert (values.new_count, values.error_count, values.failed_count) == (3, 1, 2)
    assert values.new_fraction == pytest.approx(0.75)
    rows = {row.probe: row for row in values.probes}
    assert rows["Sao Paulo, BR, AS28573"].error == (
        "failed: connection timed out; no servers could be reached"
    )
    assert rows["Tokyo, JP, AS2516"].error == "probe offline"
    assert rows["Rio de Janeiro, BR, AS18881"].matches == "error"
    assert rows["Rio de Janeiro, BR, AS18881"].error == "SERVFAIL"
    assert world_status(values) is Status.WARN
    assert "2 probes failed or did not answer" in world_detail(values)


def test_no_answer_at_all_is_unknown_never_zero_percent() -> None:
    body = body_of("globalping_partial")
    for item in body["results"]:
        item["result"] = {"status": "offline", "rawOutput": ""}
    measurement = parse_measurement(body, record(), Started("x", 6), STARTED_AT, NOW)
    state = RecordState(record(), shown=measurement)
    values = world_values("globalping", "continent", state, None, Pacing())
    assert values.new_fraction is None
    assert world_status(values) is Status.UNKNOWN
    assert "0 %" not in world_detail(values)
    assert "no probe's resolver answered (6 failed)" in world_detail(values)


def test_hostile_text_is_sanitized_and_odd_values_are_dropped() -> None:
    remember_secrets(redactor_for([TOKEN_ECHO]))
    measurement = parsed("globalping_hostile")
    values = values_of("globalping_hostile")
    shown = repr(values.to_values()) + world_detail(values)
    for forbidden in ("\x1b", "\x07", "\x9b", "\u202e", TOKEN_ECHO):
        assert forbidden not in shown
    evil = measurement.answers[0]
    assert evil.asn is None
    assert evil.answer is not None and evil.answer.ttl_seconds == 0  # a TTL over 2^31-1 is none
    assert evil.network is not None and "***" in evil.network and len(evil.network) <= 60
    assert len(evil.probe) < 100
    assert all(len(row.error or "") <= 200 for row in values.probes)
    assert all(len(answer) <= 200 for row in values.probes for answer in row.answers)
    assert len(measurement.answers) == 5  # an entry that is no result still counts, as failed


def test_request_shape_and_locations() -> None:
    assert location_json("EU") == {"magic": "EU"}
    assert location_json("country:de") == {"country": "DE"}
    assert location_json("asn:AS3320") == {"asn": 3320}
    assert location_json("continent:sa") == {"continent": "SA"}
    assert location_json("city:Frankfurt") == {"city": "Frankfurt"}
    assert measurement_request("app.example.com.", "AAAA", ["EU", "asn:3320"], 30) == {
        "type": "dns",
        "target": "app.example.com",
        "limit": 30,
        "measurementOptions": {"query": {"type": "AAAA"}, "protocol": "UDP"},
        "locations": [{"magic": "EU"}, {"asn": 3320}],
    }
    assert "locations" not in measurement_request("a.example", "A", [], 5)


def test_budget_headers_and_refusals() -> None:
    budget = budget_of(reply("globalping_created"))
    assert budget is not None
    assert (budget.limit, budget.remaining, budget.reset_after_seconds, budget.request_cost) == (
        250,
        244,
        1800.0,
        6,
    )
    limited = refusal_of(reply("globalping_rate_limited"))
    assert limited.kind == "rate-limited"
    assert limited.retry_after_seconds == 900
    assert limited.message.startswith("rate limited: API rate limit exceeded.")
    credits = refusal_of(reply("globalping_insufficient_credits"))
    assert credits.kind == "no-credits"
    assert credits.retry_after_seconds == 3000
    assert credits.budget is not None and credits.budget.credits_remaining == 0
    assert refusal_of(reply("globalping_unauthorized")).kind == "unauthorized"
    no_probes = refusal_of(reply("globalping_no_probes"))
    assert (no_probes.kind, no_probes.message) == (
        "rejected",
        "measurement refused (HTTP 422): No suitable probes found.",
    )


def test_reset_header_in_seconds_or_as_a_moment() -> None:
    assert reset_at(NOW, 60) == NOW + timedelta(seconds=60)
    assert reset_at(NOW, NOW.timestamp() + 120) == NOW + timedelta(seconds=120)
    assert reset_at(NOW, None) is None


def test_pacer_keeps_reads_of_one_measurement_500_ms_apart() -> None:
    clock = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    pacer = Pacer(0.5, lambda: clock[0], sleep)
    pacer.wait("m1")
    clock[0] += 0.2
    pacer.wait("m1")
    pacer.wait("m2")
    pacer.wait("m1")
    assert slept == [pytest.approx(0.3), pytest.approx(0.5)]
    clock[0] += 5
    pacer.wait("m1")
    assert len(slept) == 2
