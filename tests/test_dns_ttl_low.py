"""Since when a record's TTL has been low: from SOA serials, this session's readings and earlier
journals; shown on the panel and held by the weight guard until one old TTL has passed.

The source test runs knot (authoritative, with a date serial as teams write them) and asks it
over UDP, as the cockpit does.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cockpit.clock import FrozenClock
from cockpit.config import config_from_data
from cockpit.io.dns_ttl_low import LowSince, TtlSeen, drained_at, low_since, serial_changed_by
from cockpit.journal.dns_ttl_history import dns_ttl_seen, summarized
from cockpit.journal.writer import JournalWriter
from cockpit.live.state import State, apply
from cockpit.model import Reading, SignalKind, Status, reading_to_json
from cockpit.redact import Redactor
from cockpit.rules.guards import GuardInputs, dns_ttl_preflight, run_guard
from cockpit.rules.verdicts import SessionFacts
from cockpit.sandbox.knot import KnotServer, free_knot_port
from cockpit.sources.dns import DnsSource
from cockpit.sources.dns_values import DnsValues, from_reading
from tests.report_samples import ALICE, _header
from tests.sandbox.test_knot import ZONE as KNOT_TEST_ZONE
from widgets.dns_panel import ttl_low_text

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)


# --- the SOA serial ------------------------------------------------------------------------------


def test_a_date_serial_proves_no_change_after_the_end_of_its_day() -> None:
    assert serial_changed_by(2026120201, NOW) == datetime(2026, 12, 3, tzinfo=UTC)
    assert serial_changed_by(2026120499, NOW) == NOW, "today's change: no earlier than now"


def test_a_unix_time_serial_is_the_moment_of_the_change() -> None:
    changed = NOW - timedelta(hours=30)
    assert serial_changed_by(int(changed.timestamp()), NOW) == changed


@pytest.mark.parametrize("serial", [1, 42, 2026130101, 2027010101, 4_000_000_000])
def test_a_counter_a_bad_date_or_a_future_serial_proves_nothing(serial: int) -> None:
    assert serial_changed_by(serial, NOW) is None


# --- combining the proofs ------------------------------------------------------------------------


def test_the_earliest_proof_wins_but_not_one_before_a_high_ttl_was_seen() -> None:
    seen = TtlSeen(last_high_at=datetime(2026, 12, 3, 6, 0, tzinfo=UTC), last_high_ttl_seconds=3600)
    session = NOW - timedelta(minutes=5)
    by_serial = low_since(seen=seen, session_low_since=session, serial=2026120201, now=NOW)
    assert by_serial == LowSince(session, "this session's readings"), (
        "the serial says the zone was last changed on the 2nd, but the TTL was seen high on "
        "the 3rd: the serial is no proof (the zone changed without a new serial)"
    )
    earlier = TtlSeen(
        datetime(2026, 12, 1, tzinfo=UTC), 3600, low_since=datetime(2026, 12, 1, 8, tzinfo=UTC)
    )
    proof = low_since(seen=earlier, session_low_since=session, serial=2026120201, now=NOW)
    assert proof == LowSince(datetime(2026, 12, 1, 8, tzinfo=UTC), "an earlier session's readings")
    assert drained_at(proof, 3600) == datetime(2026, 12, 1, 9, tzinfo=UTC)
    assert drained_at(proof, None) is None and drained_at(None, 3600) is None


def test_journal_sightings_keep_the_last_high_and_the_first_low_after_it() -> None:
    t = [NOW + timedelta(minutes=m) for m in range(5)]
    summary = summarized([(t[0], 3600, 300), (t[1], 60, 300), (t[2], 3600, 300), (t[3], 60, 300)])
    assert summary == TtlSeen(t[2], 3600, t[3])
    assert summarized([(t[0], 60, 300), (t[1], 3600, 300)]) == TtlSeen(t[1], 3600, None)


def dns_reading(at: datetime, ttl: float, name: str = "app.shop.test") -> Reading:
    values = DnsValues(authoritative_ttl_seconds=ttl, max_ttl_seconds=300).to_values()
    return Reading(f"dns:{name}", SignalKind.DNS, Status.OK, at, values, "", 10.0)


def test_earlier_journals_of_the_cutover_say_since_when(tmp_path: Path) -> None:
    clock = FrozenClock(NOW - timedelta(days=2))
    header = _header(ALICE)
    cutover = str(header["cutover"])
    writer = JournalWriter.create(
        tmp_path, header=header, redactor=Redactor(), clock=clock, name_hint=cutover
    )
    for hours, ttl in ((0, 3600), (1, 60), (2, 60)):
        at = NOW - timedelta(days=2) + timedelta(hours=hours)
        writer.append("reading", reading_to_json(dns_reading(at, ttl)))
    writer.append("keyframe", {"readings": [reading_to_json(dns_reading(NOW, 60, "www.x"))]})
    writer.close()
    (tmp_path / "20261204T010000Z-app-example-com-to-aws-1.jsonl").write_text("\x1b[31m{not\n")

    seen = dns_ttl_seen(tmp_path, cutover)

    start = NOW - timedelta(days=2)
    assert seen["app.shop.test"] == TtlSeen(start, 3600, start + timedelta(hours=1))
    assert seen["www.x"] == TtlSeen(None, None, NOW)


# --- the source against knot ---------------------------------------------------------------------


ZONE = replace(KNOT_TEST_ZONE, ttl_seconds=30)


@pytest.fixture
def knot() -> Iterator[KnotServer]:
    if not KnotServer.available():
        pytest.skip("knot is not installed (apt-get install knot)")
    folder = Path(tempfile.mkdtemp(prefix="cockpit-ttl-test-"))
    server = KnotServer(
        "127.0.0.1",
        free_knot_port("127.0.0.1"),
        ZONE,
        work_dir=folder / "knot",
        first_serial=2026120201,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def source_for(knot: KnotServer, tmp_path: Path, seen: dict[str, TtlSeen]) -> DnsSource:
    record = {"name": ZONE.app, "type": "A", "expect": ["127.0.20.1"], "old": ["127.0.10.1"]}
    data = {
        "cutover": {"name": "shop"},
        "dns": {
            "resolvers": [{"name": "auth-as-resolver", "address": knot.address}],
            "authoritative": [{"name": "knot", "address": knot.address}],
            "records": [record],
            "max_ttl_seconds": 300,
        },
    }
    config = config_from_data(data, source="test", base_dir=tmp_path)
    assert config.dns is not None
    return DnsSource(config.dns, FrozenClock(NOW), seen)


def test_the_source_reads_the_serial_and_says_since_when_and_until_when(
    knot: KnotServer, tmp_path: Path
) -> None:
    (alone,) = asyncio.run(source_for(knot, tmp_path, {}).read())
    values = from_reading(alone)
    assert values.soa_serial == 2026120201
    assert values.ttl_low_since == datetime(2026, 12, 3, tzinfo=UTC)
    assert values.ttl_low_basis == "SOA serial 2026120201: the zone is unchanged since"
    assert values.ttl_before_seconds is None and values.ttl_drained_at is None

    lowered = datetime(2026, 12, 3, 22, tzinfo=UTC)
    seen = {"app.shop.test": TtlSeen(lowered - timedelta(minutes=1), 86400, lowered)}
    (with_history,) = asyncio.run(source_for(knot, tmp_path, seen).read())
    values = from_reading(with_history)
    assert values.ttl_low_since == lowered
    assert values.ttl_before_seconds == 86400
    assert values.ttl_drained_at == lowered + timedelta(days=1)
    assert str(ttl_low_text(with_history, NOW)) == (
        "low since 12-03 22:00Z · old 86400 s drains 22:00:00Z"
    )


# --- the guard -----------------------------------------------------------------------------------


def judged(values: DnsValues) -> str | None:
    config = config_from_data(
        {
            "cutover": {"name": "shop"},
            "dns": {
                "resolvers": [{"name": "r", "address": "127.0.0.1:53"}],
                "records": [
                    {
                        "name": "app.shop.test",
                        "type": "A",
                        "expect": ["192.0.2.1"],
                        "old": ["192.0.2.9"],
                    }
                ],
            },
        },
        source="test",
        base_dir=Path("/srv"),
    )
    reading = Reading("dns:app.shop.test", SignalKind.DNS, Status.OK, NOW, values.to_values(), "")
    state, _ = apply(State(), [reading])
    inputs = GuardInputs(state, config, NOW, SessionFacts(weights_since=None))
    return run_guard(dns_ttl_preflight, inputs).reason


def test_the_guard_holds_until_one_old_ttl_has_passed() -> None:
    low = DnsValues(authoritative_ttl_seconds=60, max_ttl_seconds=300, ttl_preflight_ok=True)
    since = NOW - timedelta(minutes=30)
    draining = replace(
        low,
        ttl_low_since=since,
        ttl_before_seconds=3600.0,
        ttl_drained_at=since + timedelta(hours=1),
    )
    reason = judged(draining)
    assert reason is not None
    assert "TTL lowered only since 2026-12-04 01:30Z" in reason
    assert "old 3600 s TTL until 02:30:00Z" in reason
    drained = replace(draining, ttl_drained_at=NOW - timedelta(seconds=1))
    assert judged(drained) is None
    assert judged(low) is None, "since when not known: shown, not held"
