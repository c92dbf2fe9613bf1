"""RIPE Atlas: its results decoded with ripe.atlas.sagan into probe answers; refusals; requests.

The payloads are built from RIPE Atlas's published API v2 reference and sagan's result format
(see tests/world_dns_stand_in.py), not captured from the live service; the wire answers in
them were made with dnspython: in progress, partial (a timeout, a malformed answer, SERVFAIL),
out of credits (403), rate-limited (429) and hostile text.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cockpit.config import DnsRecord, RipeAtlasDns
from cockpit.io.ripe_atlas import measurement_request, probe_selection, refusal_of
from cockpit.io.world_http import JsonReply, ServiceRefusal
from cockpit.model import Status
from cockpit.sources.dns_world import Pacing, RecordState, world_detail, world_status, world_values
from cockpit.sources.dns_world_atlas import (
    AtlasService,
    measurement_state,
    parse_places,
    parse_results,
    probe_ids,
)
from cockpit.sources.dns_world_results import Measurement, classified
from tests.world_dns_stand_in import body_of, recorded

NOW = datetime(2026, 11, 22, 1, 0, 30, tzinfo=UTC)
NEW, OLD = "198.51.100.20", "192.0.2.10"
ANSWERED_AT = datetime.fromtimestamp(1795395601, UTC)


def record() -> DnsRecord:
    return DnsRecord.model_validate(
        {"name": "app.example.com", "type": "A", "expect": (NEW,), "old": (OLD,)}
    )


def reply(name: str) -> JsonReply:
    found = recorded(name)
    headers = {key.lower(): value for key, value in found.headers.items()}
    return JsonReply(found.status, headers, found.body, "")


def measured(results: str, finished: bool = True) -> Measurement:
    places = parse_places(body_of("atlas_probes"))
    answers = parse_results(body_of(results), record(), places)
    return Measurement("61234567", NOW - timedelta(seconds=30), NOW, finished, 5, answers)


def test_partial_results_decode_each_probes_first_answering_resolver() -> None:
    measurement = measured("atlas_results_partial")
    answers = measurement.answers
    assert [answer.probe for answer in answers] == [
        "probe 1001, DE, AS3320",
        "probe 1002, US, AS7922",
        "probe 1003, BR, AS28573",
        "probe 1004, JP, AS2516",
        "probe 1005, AU, AS1221",
    ]
    first = answers[0]
    assert first.resolver == "192.168.178.1"
    assert first.answer is not None and first.answer.answers == (NEW,)
    assert first.answered_at == ANSWERED_AT
    assert answers[2].answer is None and answers[2].failure == "timeout after 5000 ms"
    assert answers[3].answer is not None and answers[3].answer.error == "malformed answer"
    assert answers[4].answer is not None and answers[4].answer.error == "SERVFAIL"
    matches = [probe.matches for probe in classified(record(), answers)]
    assert matches == ["new", "old", None, "error", "error"]


def test_partial_results_as_a_reading() -> None:
    state = RecordState(record(), shown=measured("atlas_results_partial"))
    values = world_values("atlas", "country", state, None, Pacing())
    assert (values.new_count, values.old_count, values.error_count, values.failed_count) == (
        1,
        1,
        2,
        1,
    )
    assert values.new_fraction == pytest.approx(0.25)
    assert values.region_kind == "country"
    assert values.slowest_regions == ("AU", "JP", "US")
    assert values.old_gone_at == ANSWERED_AT + timedelta(seconds=240)
    assert world_status(values) is Status.WARN
    assert world_detail(values).startswith(
        "RIPE Atlas: 25 % of 4 probes answer new (1 new, 1 old, 2 errors); "
        "slowest: AU 0 % (1), JP 0 % (1), US 0 % (1)"
    )


def test_in_progress_results_and_measurement_state() -> None:
    measurement = measured("atlas_results_in_progress", finished=False)
    assert len(measurement.answers) == 2
    assert probe_ids(body_of("atlas_results_partial")) == {1001, 1002, 1003, 1004, 1005}
    assert measurement_state(body_of("atlas_measurement_ongoing")) == ("Ongoing", 5)
    assert measurement_state(body_of("atlas_measurement_stopped")) == ("Stopped", 5)


def test_hostile_results_are_sanitized_and_unreadable_ones_counted_as_failed() -> None:
    answers = parse_results(body_of("atlas_results_hostile"), record(), {})
    shown = repr(answers)
    for forbidden in ("\x1b", "\x07"):
        assert forbidden not in shown
    assert answers[0].resolver is not None and "PWNED" in answers[0].resolver
    assert answers[0].answer is not None
    assert answers[0].answer.answers == (OLD,)
    assert all(len(link) <= 260 for link in answers[0].answer.cname_chain)
    assert answers[1].failure is not None and len(answers[1].failure) <= 80
    assert [a.failure for a in answers[2:4]] == ["unreadable result", "unreadable result"]
    assert answers[4].answered_at is not None and answers[4].answered_at.year == 2026


def test_request_shape() -> None:
    assert probe_selection("country:de", 10) == {"requested": 10, "type": "country", "value": "DE"}
    assert probe_selection("asn:AS3320", 5) == {"requested": 5, "type": "asn", "value": "3320"}
    body = measurement_request("app.example.com.", "AAAA", ["area:WW"], 20)
    assert body == {
        "definitions": [
            {
                "type": "dns",
                "af": 6,
                "query_class": "IN",
                "query_type": "AAAA",
                "query_argument": "app.example.com",
                "use_probe_resolver": True,
                "set_rd_bit": True,
                "description": "cutover-cockpit app.example.com AAAA",
            }
        ],
        "probes": [{"requested": 20, "type": "area", "value": "WW"}],
        "is_oneoff": True,
    }


def test_refusals() -> None:
    credits = refusal_of(reply("atlas_no_credits"))
    assert (credits.kind, credits.status) == ("no-credits", 403)
    assert credits.message == (
        "out of credits: You do not have enough credit to schedule this measurement."
    )
    assert refusal_of(reply("atlas_unauthorized")).kind == "unauthorized"
    limited = refusal_of(reply("atlas_rate_limited"))
    assert (limited.kind, limited.retry_after_seconds) == ("rate-limited", 60)


def test_a_missing_key_is_said_before_anything_is_sent() -> None:
    section = RipeAtlasDns.model_validate({"key_env": "ATLAS_KEY_FOR_TEST"})
    service = AtlasService(section, {})
    assert service.read_budget(NOW) is None
    with pytest.raises(ServiceRefusal) as refused:
        service.start(record(), NOW)
    assert refused.value.kind == "unauthorized"
    assert str(refused.value) == "$ATLAS_KEY_FOR_TEST is not set: RIPE Atlas needs a key to measure"
