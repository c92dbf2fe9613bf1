"""DNS reading values: the source encodes through DnsValues, every reader decodes the same keys."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime

from cockpit.model import Reading, SignalKind, Status, reading_from_json, reading_to_json
from cockpit.sources import dns_values
from cockpit.sources.dns import record_status, record_values
from cockpit.sources.dns_values import DnsValues, ResolverAnswer
from tests.sources.test_dns_propagation import Poller, auth, record, server

NOW = datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)

ROW = ResolverAnswer(
    resolver="cache-1",
    address="127.0.0.1:53",
    role="resolver",
    answers=("192.0.2.10",),
    ttl=42,
    matches="old",
    error=None,
    chain=("app.example.com",),
    stuck_since="2026-11-22T01:00:46Z",
)
TYPED = DnsValues(
    record_type="A",
    new_answers=("198.51.100.20",),
    old_answers=("192.0.2.10",),
    converged_fraction=0.5,
    resolvers=(ROW, ResolverAnswer("ns1", "127.0.0.2:53", "authoritative", (), 30, "new", None)),
    old_expires_in_seconds=42,
    old_gone_at=datetime(2026, 11, 22, 1, 2, 45, tzinfo=UTC),
    old_expiry_unknown_reason=None,
    new_since=datetime(2026, 11, 22, 1, 0, 10, tzinfo=UTC),
    stuck_count=1,
    weighted=False,
    split=False,
    authoritative_ttl_seconds=30,
    ttl_preflight_ok=True,
    max_ttl_seconds=60,
    authoritative_matches="new",
    new_count=1,
    old_count=1,
    other_count=0,
    error_count=0,
)


def dns_reading(values: dict[str, object], status: Status = Status.OK) -> Reading:
    return Reading("dns:app.example.com", SignalKind.DNS, status, NOW, values)  # type: ignore[arg-type]


def journaled(reading: Reading) -> Reading:
    """The reading after a trip through the journal's JSON."""
    return reading_from_json(json.loads(json.dumps(reading_to_json(reading))))


def test_encoding_then_decoding_gives_the_same_values_back() -> None:
    reading = journaled(dns_reading(TYPED.to_values()))
    assert dns_values.from_reading(reading) == TYPED


def test_a_failed_poll_round_trips_as_a_failed_poll() -> None:
    failed = DnsValues(error="timeout after 2 s")
    decoded = dns_values.from_reading(journaled(dns_reading(failed.to_values())))
    assert decoded.poll_failed and decoded.error == "timeout after 2 s"
    assert decoded.to_values() == failed.to_values()


def source_reading() -> Reading:
    """A record's reading as the source makes it: old still cached on one resolver, auth new."""
    poller = Poller(record())
    poller.poll(0, [server("r1", "old")], [auth("old")])
    view = poller.poll(10, [server("r1", "old", (120, 30)), server("r2", "new")], [auth("new")])
    return journaled(dns_reading(record_values(view), record_status(view)))


def test_a_source_reading_decodes_every_value_it_carries() -> None:
    reading = source_reading()
    decoded = dns_values.from_reading(reading)
    assert set(reading.values) == {f.name for f in fields(DnsValues)} - {"error"}
    assert json.loads(json.dumps(decoded.to_values())) == reading_to_json(reading)["values"]
    assert decoded.resolvers is not None and len(decoded.resolvers) == 3
    assert decoded.servers[-1].authoritative and decoded.servers[0].label == "r1"
    assert decoded.new_since is not None and decoded.old_gone_at is not None
    assert (decoded.new_count, decoded.old_count, decoded.converged_fraction) == (1, 1, 0.5)


def test_a_reading_is_decoded_once_and_an_equal_new_one_again() -> None:
    reading = source_reading()
    decoded = dns_values.from_reading(reading)
    assert dns_values.from_reading(reading) is decoded
    again = journaled(reading)
    assert dns_values.from_reading(again) == decoded
    assert dns_values.from_reading(again) is not decoded


def test_wrong_typed_values_read_as_not_known() -> None:
    values = dns_values.from_reading(
        dns_reading(
            {
                "converged_fraction": "50 %",
                "ttl_preflight_ok": "yes",
                "authoritative_ttl_seconds": True,
                "old_gone_at": "soon",
                "new_count": 2.7,
                "split": 1,
                "resolvers": "cache-1",
            }
        )
    )
    assert values.converged_fraction is None and values.ttl_preflight_ok is None
    assert values.authoritative_ttl_seconds is None and values.old_gone_at is None
    assert values.new_count is None, "a count that is not whole is not known, never rounded"
    assert values.split is None
    assert values.resolvers == () and not values.poll_failed, "listed, just not as rows"


def test_wrong_typed_resolver_rows_read_as_the_panel_read_them() -> None:
    rows = (
        {"resolver": "", "address": "10.0.0.1:53", "ttl": 1.5, "matches": "maybe"},
        {"resolver": "cache-2", "ttl": True, "role": "boss", "stuck_since": 5, "error": 7},
        "not a row",
    )
    first, second = dns_values.from_reading(dns_reading({"resolvers": rows})).servers
    assert first.label == "10.0.0.1:53" and first.ttl is None and first.matches is None
    assert second.ttl is None and not second.authoritative and not second.stuck
    assert second.error is None
    assert ResolverAnswer.from_value({}) == ResolverAnswer(None, None, None, (), None, None, None)
    assert ResolverAnswer.from_value({}).label == "?"  # type: ignore[union-attr]


def test_a_reading_without_any_values_is_a_failed_poll() -> None:
    values = dns_values.from_reading(dns_reading({"error": "no route"}))
    assert values.poll_failed and values.error == "no route" and values.servers == ()


def test_signal_ids_are_built_and_read_in_one_place() -> None:
    assert dns_values.signal_id("app.example.com.") == "dns:app.example.com"
    assert dns_values.record_name("dns:app.example.com") == "app.example.com"
    assert dns_values.is_dns_signal("dns:app.example.com")
    assert not dns_values.is_dns_signal("errors:cloudwatch:new")
