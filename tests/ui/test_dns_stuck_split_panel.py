"""The DNS panel draws a STUCK resolver, an unknown expiry and a weighted split from the source."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cockpit.config import DnsRecord
from cockpit.model import Reading, reading_from_json
from cockpit.sources.dns import (
    RecordView,
    ServerAnswer,
    record_detail,
    record_status,
    record_values,
)
from cockpit.sources.dns_propagation import Judgement
from tests.ui.test_dns_traffic_panels import drawn, lines_of, squeezed
from widgets.dns_panel import DnsPanel

NOW = datetime(2026, 11, 23, 1, 0, 0, tzinfo=UTC)
RECORD = DnsRecord.model_validate(
    {"name": "www.shop.test", "expect": "127.0.20.1", "old": "127.0.10.1"}
)


def answer(label: str, matches: str, stuck_since: datetime | None = None) -> ServerAnswer:
    address = {"new": "127.0.20.1", "old": "127.0.10.1"}[matches]
    return ServerAnswer(
        label=label,
        address=f"127.0.0.{len(label)}:5353",
        role="resolver",
        answers=(address,),
        ttl_seconds=3,
        matches=matches,  # type: ignore[arg-type]
        error=None,
        stuck_since=stuck_since,
    )


def reading_of(view: RecordView) -> Reading:
    """The reading the source makes of `view`, through JSON as a journal holds it."""
    return reading_from_json(
        {
            "signal": "dns:www.shop.test",
            "kind": "dns",
            "status": record_status(view).value,
            "observed_at": view.observed_at.isoformat(),
            "values": json.loads(json.dumps(record_values(view))),
            "detail": record_detail(view),
            "stale_after_seconds": 10.0,
        }
    )


def stuck_view() -> RecordView:
    new_since = NOW - timedelta(seconds=20)
    stuck_since = NOW - timedelta(seconds=8)
    resolvers = (
        answer("cache-1", "old", stuck_since),
        answer("cache-2", "new"),
        answer("cache-3", "new"),
    )
    judgement = Judgement(new_since, {"cache-1": stuck_since}, weighted=False, split=False)
    return RecordView(RECORD, resolvers, (), 60, NOW, judgement)


def split_view() -> RecordView:
    resolvers = (
        answer("cache-1", "old"),
        answer("cache-2", "new"),
        answer("cache-3", "new"),
        answer("unbound", "old"),
    )
    judgement = Judgement(None, {}, weighted=True, split=True)
    return RecordView(RECORD, resolvers, (), 60, NOW, judgement)


async def test_a_stuck_resolver_is_named_and_the_expiry_cannot_be_estimated() -> None:
    reading = reading_of(stuck_view())
    shown, panel = await drawn(DnsPanel(), (reading,), NOW + timedelta(seconds=1))
    text = squeezed(shown.text)
    assert lines_of(shown.text)[0] == "WARN www.shop.test A  67 % converged (2/3)"
    assert "cache-1 STUCK 3s cache-2 NEW 3s cache-3 NEW 3s" in text
    assert "old gone: cannot be estimated (STUCK: cache-1: old since 00:59:52Z)" in text
    assert "old gone by" not in text
    assert panel.has_class("-warn")


async def test_a_weighted_split_shows_old_and_new_counts() -> None:
    reading = reading_of(split_view())
    shown, panel = await drawn(DnsPanel(), (reading,), NOW + timedelta(seconds=1))
    text = squeezed(shown.text)
    assert "weighted split: old 2 / new 2" in text
    assert "old gone: cannot be estimated (weighted split: the set still answers old)" in text
    assert panel.has_class("-ok")


async def test_many_records_summary_counts_stuck_and_never_promises_an_expiry() -> None:
    many = (reading_of(stuck_view()), *(reading_of(split_view()) for _ in range(12)))
    shown, _ = await drawn(DnsPanel(), many, NOW + timedelta(seconds=1))
    text = squeezed(shown.text)
    assert "new 2 · old 1 · stuck 1 worst: cache-1 STUCK" in text
    assert "last old answer: cannot be estimated (STUCK at www.shop.test)" in text
