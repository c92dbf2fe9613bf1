"""The integrity guard, headless: a clean check since writes stopped lets the action go; a
difference, a check from before writes stopped, or no check at all holds it, each with a reason."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cockpit.config import parse_config
from cockpit.io.integrity_result import IntegrityRun, RowDifference, TableResult
from cockpit.live.state import State, apply
from cockpit.model import Reading, SignalKind, Status
from cockpit.rules.guards import GuardInputs, integrity_clean, run_guard
from cockpit.rules.verdicts import SessionFacts

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
CONFIG_TEXT = """
[cutover]
name = "shop"
[replication.postgres]
primary_dsn = "host=127.0.0.1 port=5432 dbname=shop"
replica_dsn = "host=127.0.0.1 port=5433 dbname=shop"
[traffic.route53]
hosted_zone_id = "Z0123456789ABCDEFGHIJ"
record_name = "shop.example.com"
old_set_identifier = "old"
new_set_identifier = "new"
[integrity]
old_dsn = "host=127.0.0.1 port=5432 dbname=shop"
new_dsn = "host=127.0.0.1 port=5433 dbname=shop"
"""
AWS = '[aws]\nregion = "eu-west-1"\n'
CONFIG = parse_config(AWS + CONFIG_TEXT, source="t.toml", base_dir=Path("/srv"))


def reading(signal_id: str, kind: SignalKind, values: dict[str, Any], status: Status) -> Reading:
    return Reading(signal_id, kind, status, NOW - timedelta(seconds=1), values, "", 10.0)


def database(started_minutes_ago: float, *different: str) -> Reading:
    started = NOW - timedelta(minutes=started_minutes_ago)
    results = tuple(
        TableResult(
            table,
            "DIFFERENT" if table in different else "OK",
            started,
            10,
            10,
            (RowDifference("id=7", "differs"),) if table in different else (),
        )
        for table in ("public.orders", "public.items")
    )
    run = IntegrityRun(started, started + timedelta(seconds=30), "old", "new", results)
    status = Status.CRITICAL if different else Status.OK
    values = {
        "verdict": run.status,
        "result_started_at": started.isoformat(),
        "running": False,
        "result": run.to_json(),
    }
    return reading("integrity:database", SignalKind.INTEGRITY, values, status)


def replication(quiet_seconds: float, *, promoted: bool) -> Reading:
    values = {
        "primary_quiet_seconds": quiet_seconds,
        "promoted": promoted,
        "in_recovery": not promoted,
        "replay_lag_bytes": 0,
    }
    return reading("replication", SignalKind.REPLICATION, values, Status.OK)


def traffic(new_percent: int) -> Reading:
    values = {"weights": {"old": 100 - new_percent, "new": new_percent}}
    return reading("traffic", SignalKind.TRAFFIC, values, Status.OK)


def judge(action: str, *readings: Reading) -> str | None:
    state, _ = apply(State(), list(readings))
    inputs = GuardInputs(state, CONFIG, NOW, SessionFacts(weights_since=None))
    return run_guard(integrity_clean(action), inputs).reason


def test_a_clean_check_since_writes_stopped_lets_maintenance_off_go() -> None:
    assert judge("maintenance-off", replication(600, promoted=True), database(5)) is None


def test_a_difference_holds_it_naming_the_table() -> None:
    reason = judge("maintenance-off", replication(600, promoted=True), database(5, "public.items"))
    assert reason is not None and reason.startswith("integrity database DIFFERENT")


def test_a_check_from_before_writes_stopped_must_be_redone() -> None:
    reason = judge("maintenance-off", replication(60, promoted=True), database(5, "public.items"))
    assert reason == (
        "integrity database was checked before writes stopped (found while writes still "
        "flowed: moving): re-check it now (i)"
    )


def test_a_moving_difference_holds_it_even_after_writes_stopped() -> None:
    """Writes seen during the run, though the replication source says they stopped before it:
    the difference still holds the action, in the words the panel uses."""
    different = database(5, "public.items")
    values = {**different.values, "moving": True}
    moving = replace(different, status=Status.WARN, values=values, detail="MOVING: public.items")
    reason = judge("maintenance-off", replication(600, promoted=True), moving)
    assert reason == "integrity database MOVING: MOVING: public.items"


def test_no_check_or_no_idea_when_writes_stopped_holds_it() -> None:
    missing = judge("maintenance-off", replication(600, promoted=True))
    assert missing == "no integrity reading yet: wait for the first check to start"
    unknown = judge("maintenance-off", database(5))
    assert unknown is not None
    assert "cannot tell when writes stopped on the old database" in unknown


def test_it_waits_only_where_the_config_says_and_when() -> None:
    before_promotion = judge("maintenance-off", replication(600, promoted=False))
    assert before_promotion is None, "maintenance-off before promotion goes back to the old side"
    assert judge("weight-up", traffic(5)) is None, "only the first step waits"
    assert judge("weight-up", traffic(0)) is not None
    assert judge("promote", replication(600, promoted=False)) is None, "promote: not configured"


def test_the_report_gives_each_checks_last_word(tmp_path: Path) -> None:
    """A journal with integrity readings: the report lists each check as it was last read."""
    from cockpit.clock import FrozenClock
    from cockpit.journal.writer import JournalWriter
    from cockpit.model import reading_to_json
    from cockpit.redact import Redactor
    from cockpit.review.report import build_report
    from cockpit.review.report_markdown import render_markdown
    from tests.report_samples import ALICE, StoryWriter, _header

    clock = FrozenClock(NOW)
    header = _header(ALICE)
    writer = JournalWriter.create(tmp_path, header=header, redactor=Redactor(), clock=clock)
    story = StoryWriter(writer, clock, str(header["operator"]))
    checking = reading(
        "integrity:database", SignalKind.INTEGRITY, {"running": True}, Status.UNKNOWN
    )
    story.append("reading", reading_to_json(checking))
    clock.now = NOW + timedelta(minutes=5)
    done = database(0, "public.items")
    finished = Reading(
        done.signal_id,
        done.kind,
        done.status,
        clock.now,
        done.values,
        "DIFFERENT: public.items: DIFFERENT, 10 old / 10 new rows; id=7 differs",
        10.0,
    )
    story.append("reading", reading_to_json(finished))
    writer.close()
    document = build_report(writer.path)
    (check,) = document["data_integrity"]
    assert {key: value for key, value in check.items() if key != "tables"} == {
        "signal": "integrity:database",
        "at": (NOW + timedelta(minutes=5)).isoformat(),
        "status": "critical",
        "detail": finished.detail,
    }
    assert [(t["table"], t["status"], t["where"]) for t in check["tables"]] == [
        ("public.orders", "OK", ""),
        ("public.items", "DIFFERENT", "id=7 differs"),
    ]
    markdown = render_markdown(document)
    assert "## Data integrity (as last checked)" in markdown
    assert "- **integrity:database** CRITICAL at" in markdown
    assert "| public.orders | OK | 10 / 10 | 02:00:00 | — / — | — |" in markdown
    assert "| public.items | DIFFERENT | 10 / 10 | 02:00:00 | — / — | id=7 differs |" in markdown
