"""The integrity panel draws a running check's bar, the tables that differ with their keys, and
each bucket pair, from the readings the integrity sources make (through JSON, as journaled)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from textual.widgets import OptionList

from cockpit.app import CockpitApp
from cockpit.clock import FrozenClock
from cockpit.config import config_from_data
from cockpit.io.bucket_compare import BucketComparison, KeyDifferences
from cockpit.io.integrity_result import IntegrityRun, RowDifference, TableResult
from cockpit.model import Reading, reading_from_json
from cockpit.sources.integrity_values import verdict_of
from screens.recheck_integrity import RecheckIntegrityScreen
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


def orders_missing_77(*, moving: bool = False) -> TableResult:
    differences = (RowDifference("id=77", "missing on new"),)
    return TableResult("public.orders", "DIFFERENT", NOW, 30000, 29999, differences, moving=moving)


def database_reading() -> Reading:
    started = NOW - timedelta(minutes=4)
    results = (
        orders_missing_77(),
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


def moving_reading() -> Reading:
    run = IntegrityRun(
        NOW - timedelta(minutes=2), NOW, "old", "new", (orders_missing_77(moving=True),)
    )
    values = {"running": False, "moving": True, "verdict": "DIFFERENT", "result": run.to_json()}
    return journaled("integrity:database", "warn", "MOVING (the old database ...)", values)


async def test_a_difference_found_while_writes_flow_is_drawn_as_moving() -> None:
    shown, _ = await drawn(IntegrityPanel(), (moving_reading(),), NOW)
    text = squeezed(shown.text)
    assert "WARN database MOVING" in text
    assert "MOVING public.orders 30000 old / 29999 new rows; id=77 missing on new" in text
    assert verdict_of(moving_reading()) == "MOVING"


def integrity_app(tmp_path: Path) -> CockpitApp:
    data = {
        "cutover": {"name": "integrity"},
        "integrity": {
            "old_dsn": "host=127.0.0.1 port=1 dbname=old",
            "new_dsn": "host=127.0.0.1 port=2 dbname=new",
            "password_env": "COCKPIT_TEST_UNSET_PASSWORD",
        },
    }
    config = config_from_data(data, source="test", base_dir=tmp_path)
    return CockpitApp(config=config, sources=[], clock=FrozenClock(NOW), poll=False)


async def test_i_offers_everything_or_one_table_troubled_first(tmp_path: Path) -> None:
    """The sources are not polled here: the session's re-check calls are recorded instead."""
    app = integrity_app(tmp_path)
    asked: list[str] = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.sources.recheck_integrity_table = lambda table: asked.append(table) or True  # type: ignore[method-assign]
        app.receive_readings([database_reading()])
        await pilot.press("i")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RecheckIntegrityScreen)
        options = screen.query_one(OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert labels[0] == "Everything: every table"
        assert [label.split()[0] for label in labels[1:]] == ["DIFFERENT", "UNCHECKED", "OK"]
        await pilot.press("down", "enter")
        await pilot.pause()
        assert asked == ["public.orders"]
        assert not isinstance(app.screen, RecheckIntegrityScreen)
        await pilot.press("i")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert asked == ["public.orders"] and not isinstance(app.screen, RecheckIntegrityScreen)
