"""The integrity panel draws a running check's bar, the tables that differ with their keys, and
each bucket pair, from the readings the integrity sources make (through JSON, as journaled)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cockpit.io.bucket_compare import BucketComparison, KeyDifferences
from cockpit.io.integrity_result import IntegrityRun, RowDifference, TableResult
from cockpit.model import Reading, reading_from_json
from tests.ui.test_dns_traffic_panels import drawn, squeezed
from widgets.integrity_panel import IntegrityPanel, progress_bar

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)


def journaled(signal: str, status: str, detail: str, values: dict[str, object]) -> Reading:
    return reading_from_json(
        {
            "signal": signal,
            "kind": "integrity",
            "status": status,
            "observed_at": NOW.isoformat(),
            "values": json.loads(json.dumps(values)),
            "detail": detail,
            "stale_after_seconds": 10.0,
        }
    )


def database_reading() -> Reading:
    started = NOW - timedelta(minutes=4)
    results = (
        TableResult(
            "public.orders",
            "DIFFERENT",
            NOW,
            30000,
            29999,
            (RowDifference("id=77", "missing on new"),),
        ),
        TableResult("public.items", "OK", NOW, 3000, 3000),
        TableResult("public.notes", "UNCHECKED", NOW, error="statement timeout after 30 s"),
    )
    run = IntegrityRun(started, NOW - timedelta(minutes=1), "old", "new", results)
    values = {
        "running": True,
        "tables_done": 1,
        "tables_total": 3,
        "fraction_done": 0.5,
        "eta_seconds": 90.0,
        "result": run.to_json(),
    }
    return journaled("integrity:database", "critical", "DIFFERENT: public.orders", values)


def bucket_reading() -> Reading:
    result = BucketComparison(
        "uploads",
        "old-b",
        "new-b",
        "",
        NOW,
        1000,
        5,
        4,
        5,
        4,
        50,
        40,
        missing_on_new=KeyDifferences(1, ("a/gone.txt",)),
    )
    values = {"running": False, "result": result.to_json()}
    return journaled("integrity:bucket:uploads", "critical", "DIFFERENT: 1 missing on new", values)


def test_the_bar_fills_with_the_share_done() -> None:
    assert progress_bar(0.5, 10) == "█████░░░░░ 50%"
    assert progress_bar(None, 4) == "░░░░ —"


async def test_a_running_check_shows_its_bar_and_the_last_run_s_troubled_tables() -> None:
    shown, _ = await drawn(IntegrityPanel(), (database_reading(), bucket_reading()), NOW)
    text = squeezed(shown.text)
    assert "CRIT database DIFFERENT: public.orders" in text
    assert "██████████░░░░░░░░░░ 50% table 2/3 ~1m30s left" in text
    assert "DIFFERENT public.orders 30000 old / 29999 new rows; id=77 missing on new" in text
    assert "UNCHECKED public.notes statement timeout after 30 s" in text
    assert "1 of 3 tables OK" in text
    assert "CRIT bucket:uploads DIFFERENT: 1 missing on new" in text
    assert "objects old 5 / new 4" in text
