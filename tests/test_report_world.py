"""The report charts the world's view over time: per service and record, the share of probes on new.

A journal of world readings as the source writes them (from the recorded payloads): no data
until the first measurement, then 50 %, then 100 %; the chart keeps the gap, the JSON holds
the values, and a report without world readings has no world chart.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from cockpit.clock import FrozenClock
from cockpit.journal.writer import JournalWriter
from cockpit.jsonvalue import JsonValue
from cockpit.model import reading_to_json
from cockpit.redact import Redactor
from cockpit.review.report import CHART_WIDTH, build_report, render_markdown
from tests import report_samples as story
from tests.report_samples import START
from tests.world_dns_samples import world_reading

SIGNAL = "dns-world:globalping:app.example.com"


def world_journal(directory: Path) -> Path:
    clock = FrozenClock(START)
    writer = JournalWriter.create(
        directory, header=story._header(story.ALICE), redactor=Redactor(), clock=clock
    )
    for seconds, payload in (
        (0, None),
        (300, "globalping_finished_mixed"),
        (600, "globalping_finished_new"),
    ):
        clock.now = START + timedelta(seconds=seconds)
        reading = world_reading(payload, clock.now, record_name="app.example.com")
        writer.append("reading", reading_to_json(reading), sync=False)
    clock.advance(300)
    writer.close()
    return writer.path


def series(document: dict[str, JsonValue], signal: str) -> dict[str, JsonValue]:
    charts = document["charts"]
    assert isinstance(charts, dict) and isinstance(charts["series"], list)
    found = [
        item for item in charts["series"] if isinstance(item, dict) and item["signal"] == signal
    ]
    assert len(found) == 1
    return found[0]


def test_the_world_share_on_new_is_charted_over_time(tmp_path: Path) -> None:
    document = build_report(world_journal(tmp_path))
    chart = series(document, SIGNAL)
    assert chart["title"] == f"probes on new {SIGNAL}"
    assert (chart["unit"], chart["top"], chart["readings"]) == ("%", 100.0, 3)
    columns = chart["columns"]
    assert isinstance(columns, list) and len(columns) == CHART_WIDTH
    column = CHART_WIDTH // 3  # the journal spans 900 s: 300 s in
    assert all(value is None for value in columns[:column])  # no measurement yet: never 0 %
    assert columns[column] == 50.0
    assert columns[-1] == 100.0
    assert chart["last"] == {"at": "2026-11-22T01:10:00.000000Z", "value": 100.0}
    assert json.loads(json.dumps(document)) == document
    markdown = render_markdown(document)
    assert f"**probes on new {SIGNAL}**" in markdown


def test_without_world_readings_there_is_no_world_chart(tmp_path: Path) -> None:
    document = build_report(story.write_story(tmp_path / "journal"))
    charts = document["charts"]
    assert isinstance(charts, dict) and isinstance(charts["series"], list)
    titles = [item["title"] for item in charts["series"] if isinstance(item, dict)]
    assert not any(str(title).startswith("probes on new") for title in titles)
