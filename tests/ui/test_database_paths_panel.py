"""The replication panel draws logical replication and a DMS task from their sources' readings.

Readings go through JSON as a journal holds them, so the panel is tested on what it really gets.
"""

from __future__ import annotations

import json
from datetime import timedelta

from cockpit.io.cloudwatch_lag import LagDatapoint
from cockpit.io.dms import CdcLatency, parse_table_statistics, parse_task
from cockpit.model import Reading, reading_from_json
from cockpit.sources import replication_dms
from cockpit.sources.replication_logical import LogicalObservation, classify, typed_values
from tests.dms_stand_in import RECORDED_AT, TASK_ARN, recorded_table, recorded_task, table_pages
from tests.test_logical_rules import NOW, publisher, seq, subscriber
from tests.ui.test_dns_traffic_panels import drawn, squeezed
from widgets.replication_panel import ReplicationPanel


def journaled(status: str, detail: str, values: object, at: object) -> Reading:
    return reading_from_json(
        {
            "signal": "replication",
            "kind": "replication",
            "status": status,
            "observed_at": str(at),
            "values": json.loads(json.dumps(values)),
            "detail": detail,
            "stale_after_seconds": 10.0,
        }
    )


def logical_reading(observation: LogicalObservation) -> Reading:
    status, detail = classify(observation)
    values = typed_values(observation).as_values()
    return journaled(status.value, detail, values, NOW.isoformat())


async def test_logical_replication_shows_tables_sequences_and_the_preflight_problem() -> None:
    pub = publisher(
        sequences=[seq("orders_id_seq", 5000), seq("invoice_numbers", 40)],
        no_identity=[("shop_pub", "public", "order_events")],
        slots=[("shop_sub", True, "0/3000000", 2048, 9 * 1024**2, "reserved", None, "streaming")],
    )
    sub = subscriber(
        tables=[("public", "orders", "r"), ("public", "late_items", "d")],
        sequences=[seq("orders_id_seq", 7000), seq("invoice_numbers", None)],
    )
    observation = LogicalObservation("shop_sub", 1000, pub, sub, publisher_quiet_seconds=4.0)
    shown, _ = await drawn(ReplicationPanel(), (logical_reading(observation),), NOW)
    text = squeezed(shown.text)
    assert "WARN 2.0 KiB behind; 1 of 2 tables not ready: late_items (copying data)" in text
    assert "byte lag 2.0 KiB replay lag —" in text
    assert "retained WAL 9.0 MiB publisher quiet 4.0 s" in text
    assert "subscription shop_sub streaming apply errors 0" in text
    assert "tables 1/2 ready sequences 1/2 behind" in text
    assert "behind invoice_numbers sub / needs — / 1,040" in text
    assert "no replica id order_events" in text


async def test_a_cut_over_subscription_reads_as_such() -> None:
    sub = subscriber(enabled=False, worker=None, sequences=[seq("orders_id_seq", 6000)])
    observation = LogicalObservation("shop_sub", 1000, publisher(), sub)
    shown, _ = await drawn(ReplicationPanel(), (logical_reading(observation),), NOW)
    text = squeezed(shown.text)
    assert "OK cut over: subscription disabled" in text
    assert "subscription shop_sub disabled" in text
    assert "sequences 1 at +1000" in text


async def test_a_dms_task_shows_latency_full_load_and_the_tables_in_trouble() -> None:
    """Recorded payloads in botocore's shapes stand in for DMS here (the panel's input)."""
    task = parse_task(recorded_task())
    failing = recorded_table(
        "orders", ValidationFailedRecords=3, ValidationState="Mismatched records"
    )
    pages = table_pages([recorded_table("customers"), failing], task_arn=TASK_ARN)
    latency = CdcLatency(LagDatapoint(1.0, RECORDED_AT), LagDatapoint(4.0, RECORDED_AT))
    observation = replication_dms.DmsObservation(
        "shop-cdc", task, tables=parse_table_statistics(pages), latency=latency
    )
    now = RECORDED_AT + timedelta(seconds=2)
    status, detail = replication_dms.classify(observation, now)
    values = replication_dms.typed_values(observation, now).as_values()
    reading = journaled(status.value, detail, values, RECORDED_AT.isoformat())
    shown, _ = await drawn(ReplicationPanel(), (reading,), now)
    text = squeezed(shown.text)
    assert "task shop-cdc running type full-load-and-cdc" in text
    assert "CDC latency 1.0 s at target 4.0 s" in text
    assert "full load 100 %, 12 loaded stop reason —" in text
    assert "table shop.orders 3 failed validation" in text
