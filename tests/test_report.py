"""`cockpit report`: integrity first, a summary, the timeline, every action with what the
guards read and what the screen showed, charts with honest gaps, and notes, in JSON and Markdown
that agree."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from cockpit.clock import FrozenClock
from cockpit.journal.chain import parse_timestamp
from cockpit.journal.writer import JournalWriter
from cockpit.jsonvalue import JsonValue
from cockpit.redact import Redactor
from cockpit.review.charts import GAP, Span, Window, bar_line, column_maxima, downsample
from cockpit.review.report import (
    CHART_WIDTH,
    ReportError,
    build_report,
    render_markdown,
    run_report,
)
from tests import report_samples as story
from tests.report_samples import START, at, write_story


@pytest.fixture
def journal(tmp_path: Path) -> Path:
    return write_story(tmp_path / "journal")


@pytest.fixture
def document(journal: Path) -> dict[str, JsonValue]:
    return build_report(journal)


@pytest.fixture
def markdown(document: dict[str, JsonValue]) -> str:
    return render_markdown(document)


def objects(value: JsonValue) -> list[dict[str, JsonValue]]:
    assert isinstance(value, list)
    return [item for item in value if isinstance(item, dict)]


def section(markdown: str, title: str) -> str:
    """The Markdown between `## title` and the next `## ` heading."""
    start = markdown.index(f"## {title}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end != -1 else len(markdown)]


def action_block(markdown: str, action_id: str) -> str:
    start = markdown.index(f"### {action_id} ·")
    end = markdown.find("\n### ", start + 1)
    end = markdown.find("\n## ", start + 1) if end == -1 else end
    return markdown[start:end]


def clock_text(iso: JsonValue) -> str:
    return parse_timestamp(str(iso)).strftime("%H:%M:%S")


def chart(document: dict[str, JsonValue], signal: str) -> dict[str, JsonValue]:
    charts = document["charts"]
    assert isinstance(charts, dict)
    return next(item for item in objects(charts["series"]) if item["signal"] == signal)


def column_at(seconds: float) -> int:
    return int(seconds / story.END_SECONDS * CHART_WIDTH)


class Errors:
    """Collects what run_report tells the operator on stderr."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str) -> None:
        self.lines.append(text)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def rewrite_lines(path: Path, change: Callable[[list[bytes]], list[bytes]]) -> None:
    content = path.read_bytes()
    lines = content.split(b"\n")
    path.write_bytes(b"\n".join(change(lines)))


def line_number_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


# --- the story --------------------------------------------------------------------------------


def test_document_has_the_sections_in_order(document: dict[str, JsonValue]) -> None:
    assert document["format"] == "cutover-cockpit-report"
    assert document["version"] == 1
    assert list(document)[2:9] == [
        "integrity",
        "summary",
        "timeline",
        "actions",
        "charts",
        "data_integrity",
        "notes",
    ]
    json.dumps(document, allow_nan=False)


def test_markdown_sections_come_in_order_with_integrity_first(markdown: str) -> None:
    headings = [line for line in markdown.splitlines() if line.startswith("## ")]
    assert headings[:6] == [
        "## Integrity",
        "## Summary",
        "## Timeline",
        "## Actions",
        "## Charts",
        "## Notes",
    ]
    assert "Chain intact" in section(markdown, "Integrity")


def test_every_action_is_listed_in_order(document: dict[str, JsonValue], markdown: str) -> None:
    actions = objects(document["actions"])
    assert [(a["id"], a["action"], a["outcome"]) for a in actions] == [
        ("A1", "weight-up", "refused"),
        ("A2", "weight-up", "succeeded"),
        ("A3", "weight-down", "succeeded"),
        ("A4", "maintenance-on", "succeeded"),
        ("A5", "promote", "succeeded"),
        ("A6", "rollback", "succeeded"),
    ]
    positions = [markdown.index(f"### {a['id']} · {a['action']}") for a in actions]
    assert positions == sorted(positions)


def test_runs_are_told_apart_by_process_though_run_ids_restart(
    document: dict[str, JsonValue],
) -> None:
    first, *_, last = objects(document["actions"])
    assert (first["run"], first["process"], first["actor"]) == ("1", 1, "alice@" + host())
    assert (last["run"], last["process"], last["actor"]) == ("1", 2, "bob@" + host())


def host() -> str:
    from cockpit.journal.chain import operator_name

    return operator_name({"USER": "x"}).split("@", 1)[1]


def test_refused_action_shows_every_guard_with_its_facts(markdown: str) -> None:
    block = action_block(markdown, "A1")
    assert "— REFUSED" in block
    assert "Weights known and on a planned step — ✓ pass" in block
    assert "New side 5xx at most 1 % — ✗ BLOCKED: errors:access_log:new 5xx 3.2 % is over 1 %" in (
        block
    )
    assert "access_log:new 5xx: 3.2 % (16 of 500) (age 1.5s)" in block
    assert "weights: old 100 % / new 0 % (age 0.4s)" in block
    assert "Screen: no screen recorded." in block


def test_overridden_step_shows_plan_override_execution_verification_and_screens(
    markdown: str,
) -> None:
    block = action_block(markdown, "A2")
    assert "— SUCCEEDED" in block
    assert "DNS TTL low in advance — ✗ BLOCKED: TTL lowered only 10m ago" in block
    assert f"GUARDS OVERRIDDEN** at 01:20:55: {story.OVERRIDE_REASON}" in block
    assert "(overridden: dns-ttl-preflight)" in block
    assert "old 100 % / new 0 % → old 95 % / new 5 %" in block
    assert story.REQUEST_ID in block
    assert "✓ verified: weights read back old 95 % / new 5 %" in block
    assert "Pressed:** 01:20:50 UTC" in block
    assert "Completed:** 01:20:57 UTC (7.0s after)" in block
    planned = block.index("Screen when planned (01:20:50, 80x24, cockpit):")
    completed = block.index("Screen when completed (01:20:57, 80x24, cockpit):")
    assert planned < block.index(story.PLANNED_SCREEN) < completed
    assert completed < block.index(story.COMPLETED_SCREEN)


def test_state_at_the_moment_is_one_line_per_signal(markdown: str) -> None:
    refused = action_block(markdown, "A1")
    state = refused[refused.index("State at that moment (01:11:50)") :]
    assert "- errors:access_log:new: WARN" in state
    assert "- replication: OK" in state
    assert "- traffic: OK" in state


def test_auto_abort_is_visible(document: dict[str, JsonValue], markdown: str) -> None:
    auto = objects(document["actions"])[2]
    assert auto["actor"] == "auto-abort"
    assert auto["auto_abort"] == {"reason": "new side 5xx 12 % over 1 % for 30 s"}
    timeline = section(markdown, "Timeline")
    assert "AUTO-ABORT started (new side 5xx 12 % over 1 % for 30 s)" in timeline
    assert "Triggered:** 01:21:40 UTC" in action_block(markdown, "A3")


def test_promotion_and_rollback_say_what_cannot_be_undone(markdown: str) -> None:
    assert "ONE-WAY DOOR: cannot be undone" in action_block(markdown, "A5")
    assert "(CANNOT BE UNDONE)" in action_block(markdown, "A5")
    rollback = action_block(markdown, "A6")
    assert "NOT UNDONE: promotion cannot be undone" in rollback
    assert "turn maintenance off — elbv2 DeleteRule (request id REQ-ROLL-1)" in rollback


def test_summary_names_window_operators_outcome_and_counts(
    document: dict[str, JsonValue], markdown: str
) -> None:
    summary = document["summary"]
    assert isinstance(summary, dict)
    assert summary["cutover"] == "app.example.com to AWS"
    assert summary["start"] == "2026-11-22T01:00:00.000000Z"
    assert summary["end"] == "2026-11-22T02:00:00.000000Z"
    assert summary["modes"] == ["live"]
    text = section(markdown, "Summary")
    assert "2026-11-22 01:00:00 → 2026-11-22 02:00:00 UTC (1h00m)" in text
    assert f"alice@{host()} (ssh from 10.0.0.5): 1 process, 4 actions, 1 note" in text
    assert f"bob@{host()} (ssh from 10.0.0.9): 1 process, 1 action, 1 note" in text
    assert "auto-abort: 1 action" in text
    assert (
        "rolled back: weights back to old 100 % / new 0 %, maintenance off; "
        "replica PROMOTED (cannot be undone)"
    ) in text
    assert "6 actions (5 succeeded, 0 failed, 1 refused, 0 cancelled); 1 override; 2 notes" in text


def test_json_and_markdown_agree(document: dict[str, JsonValue], markdown: str) -> None:
    for action in objects(document["actions"]):
        block = action_block(markdown, str(action["id"]))
        assert str(action["outcome"]).upper() in block
        assert f"{clock_text(action['pressed_at'])} UTC" in block
        if action["completed_at"]:
            assert f"{clock_text(action['completed_at'])} UTC" in block
        for guard in objects(action["guards"]):
            assert str(guard["title"]) in block
    for note in objects(document["notes"]):
        assert f"{clock_text(note['at'])} UTC, {note['operator']}: {note['text']}" in markdown
    timeline = section(markdown, "Timeline")
    for entry in objects(document["timeline"]):
        if entry["kind"] in ("action", "note", "session"):
            assert f"| {clock_text(entry['at'])} | {entry['who']} |" in timeline
            assert str(entry["text"]) in timeline


def test_flapping_is_one_line_in_markdown_and_every_change_in_json(
    document: dict[str, JsonValue], markdown: str
) -> None:
    flaps = [
        entry
        for entry in objects(document["timeline"])
        if entry["kind"] == "status" and entry["signal"] == story.DNS
    ]
    assert len(flaps) == story.FLAP_CHANGES
    timeline = section(markdown, "Timeline")
    assert (
        f"dns:app.example.com: flapped {story.FLAP_CHANGES} times between 01:23:20 and 01:23:55"
        in timeline
    )
    assert "flap 3" not in timeline
    assert "replication: ok → warn: 50.0 MiB behind" in timeline


def test_a_few_status_changes_are_not_collapsed(markdown: str) -> None:
    timeline = section(markdown, "Timeline")
    assert "errors:access_log:new: ok → warn: 3.2 % 5xx" in timeline
    assert "errors:access_log:new: went STALE" in timeline
    assert "errors:access_log:new: fresh again" in timeline


# --- integrity --------------------------------------------------------------------------------


def test_broken_chain_is_stated_at_the_top_and_the_report_still_written(
    journal: Path, tmp_path: Path
) -> None:
    edited = line_number_of(journal, story.NOTE_ALICE)
    journal.write_text(journal.read_text().replace(story.NOTE_ALICE, "nothing to see here"))
    output, errors = tmp_path / "report.md", Errors()

    assert run_report(journal, output, "md", errors) == 1

    markdown = output.read_text()
    top = "\n".join(markdown.splitlines()[:6])
    assert f"JOURNAL CHAIN BROKEN at line {edited + 1}" in top
    assert f"Records after line {edited - 1} cannot be trusted" in top
    assert "BROKEN" in errors.text and str(journal) in errors.text
    untrusted = [row for row in section(markdown, "Timeline").splitlines() if "⚠ 01:" in row]
    assert any("nothing to see here" in row for row in untrusted)
    assert not any("started the session" in row for row in untrusted)


def test_damaged_middle_line_still_reports_what_came_before(journal: Path) -> None:
    damaged = line_number_of(journal, story.NOTE_ALICE)
    rewrite_lines(journal, lambda lines: [*lines[: damaged - 1], b"}{ garbage", *lines[damaged:]])

    document = build_report(journal)
    markdown = render_markdown(document)

    integrity = document["integrity"]
    assert isinstance(integrity, dict)
    assert integrity["unreadable_line"] == damaged
    top = section(markdown, "Integrity")
    assert f"JOURNAL CHAIN BROKEN at line {damaged}" in top
    assert f"Line {damaged} cannot be read" in top
    assert [a["id"] for a in objects(document["actions"])] == ["A1"]
    assert story.NOTE_ALICE not in markdown


def test_truncated_last_line_and_no_end_record_are_stated(journal: Path, tmp_path: Path) -> None:
    rewrite_lines(journal, lambda lines: [*lines[:-2], b'{"seq":99,"t":"2026-11-22T02:0'])
    errors = Errors()

    assert run_report(journal, tmp_path / "report.md", "md", errors) == 1

    top = section((tmp_path / "report.md").read_text(), "Integrity")
    assert "is incomplete" in top and "cut mid-write" in top
    assert "Not closed cleanly (no end record)" in top
    # The sidecar's anchors know how long the journal was: the cut is stated as such.
    assert "JOURNAL NOT VERIFIED" in top and "anchors records seq" in top
    assert len(errors.lines) == 1 and "the journal was cut" in errors.lines[0]


def test_unreadable_file_gives_a_clear_message_and_exit_3(tmp_path: Path) -> None:
    output = tmp_path / "report.md"
    missing, directory = tmp_path / "nope.jsonl", tmp_path
    not_a_journal = tmp_path / "cockpit.toml"
    not_a_journal.write_text('[cutover]\nname = "x"\n')
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    for path in (missing, directory, not_a_journal, empty):
        errors = Errors()
        assert run_report(path, output, "md", errors) == 3
        assert str(path) in errors.text
        assert "Traceback" not in errors.text
        assert not output.exists()
    with pytest.raises(ReportError, match="is it a cockpit journal"):
        build_report(not_a_journal)


def test_unwritable_output_is_worded(journal: Path, tmp_path: Path) -> None:
    errors = Errors()
    output = tmp_path / "missing" / "report.md"
    assert run_report(journal, output, "md", errors) == 3
    assert f"cannot write {output}" in errors.text
    assert "choose another -o path" in errors.text


def test_report_goes_to_stdout_or_a_file_as_md_or_json(
    journal: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    errors = Errors()
    assert run_report(journal, None, "md", errors) == 0
    assert capsys.readouterr().out.startswith("# Postmortem draft: app.example.com to AWS")
    assert run_report(journal, tmp_path / "r.json", "json", errors) == 0
    written = json.loads((tmp_path / "r.json").read_text())
    assert written == json.loads(json.dumps(build_report(journal)))
    assert errors.lines == []


def test_secrets_are_not_introduced(
    journal: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGPASSWORD", "pg-secret-9f8e7d")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-1a2b3c")
    for fmt in ("md", "json"):
        output = tmp_path / f"report.{fmt}"
        run_report(journal, output, fmt, Errors())
        text = output.read_text()
        assert "pg-secret-9f8e7d" not in text
        assert "aws-secret-1a2b3c" not in text


# --- charts -----------------------------------------------------------------------------------


def test_replication_chart_has_its_spike_and_a_gap_after_the_process_ended(
    document: dict[str, JsonValue], markdown: str
) -> None:
    replication = chart(document, "replication")
    columns = replication["columns"]
    assert isinstance(columns, list)
    assert len(columns) == CHART_WIDTH
    assert columns[column_at(600)] == story.LAG_SPIKE_BYTES
    assert columns[column_at(300)] == 0
    assert all(value is None for value in columns[column_at(1800) :])
    assert replication["max"] == {"at": "2026-11-22T01:10:00.000000Z", "value": 50 * 1024**2}
    line = next(row for row in section(markdown, "Charts").splitlines() if row.startswith("│"))
    bars = line.strip("│")
    assert bars[column_at(600)] == "█"
    assert bars[column_at(300)] == "▁"
    assert set(bars[column_at(1800) :]) == {GAP}


def test_a_stale_signal_is_a_gap_not_a_zero(document: dict[str, JsonValue]) -> None:
    errors_new = chart(document, story.ERRORS_NEW)
    columns = errors_new["columns"]
    assert isinstance(columns, list)
    assert columns[column_at(800)] == pytest.approx(3.2)
    assert all(value is None for value in columns[column_at(900) + 1 : column_at(1200)])
    assert columns[column_at(1300)] == 0
    points = errors_new["points"]
    assert ["2026-11-22T01:15:00.000000Z", None] in points


def test_action_times_are_marked_under_the_charts(
    document: dict[str, JsonValue], markdown: str
) -> None:
    charts = document["charts"]
    assert isinstance(charts, dict)
    marked = {mark["column"] for mark in objects(charts["marks"])}
    assert column_at(710) in marked
    block = section(markdown, "Charts")
    marker_row = block.splitlines()[block.splitlines().index("```", 0) + 2]
    assert marker_row[1 + column_at(710)] == "^"


def test_a_journal_without_readings_says_no_data_and_no_action(tmp_path: Path) -> None:
    clock = FrozenClock(START)
    writer = JournalWriter.create(
        tmp_path, header=story._header(story.ALICE), redactor=Redactor(), clock=clock
    )
    clock.advance(60)
    writer.close()

    document = build_report(writer.path)
    markdown = render_markdown(document)

    assert "**replication byte lag**: no data" in markdown
    assert "**5xx ratio errors:***: no data" in markdown
    assert "**Outcome:** no action taken" in markdown
    assert "No action was pressed." in markdown


def test_column_maxima_leave_gaps_and_keep_the_highest() -> None:
    window = Window(START, START + timedelta(seconds=60), 6)
    spans = [
        Span(START, START + timedelta(seconds=20), 1.0),
        Span(START + timedelta(seconds=15), START + timedelta(seconds=16), 9.0),
        Span(START + timedelta(seconds=40), START + timedelta(seconds=50), 0.0),
    ]
    assert column_maxima(spans, window) == [1.0, 9.0, None, None, 0.0, None]


def test_bar_line_tells_zero_from_small_and_gap() -> None:
    assert bar_line([None, 0.0, 0.001, 5.0, 10.0], 10.0) == "·▁▂▅█"
    assert bar_line([0.0, 1.0, 1024.0**3], 1024.0**3, log_scale=True)[::2] == "▁█"


def test_downsample_keeps_spikes_and_gaps() -> None:
    window = Window(START, at(1000), 10)
    points: list[tuple[object, float | None]] = [(at(i), 1.0) for i in range(1000)]
    points[500] = (at(500), 99.0)
    points[700] = (at(700), None)
    kept = downsample(points, window, 100)  # type: ignore[arg-type]
    assert len(kept) <= 100
    assert (at(500), 99.0) in kept
    assert (at(700), None) in kept


def test_a_written_report_is_readable_by_its_owner_only(journal: Path, tmp_path: Path) -> None:
    """A report holds what the team saw; even a file that was there world-readable ends 0600."""
    fresh, existing = tmp_path / "fresh.md", tmp_path / "existing.json"
    existing.write_text("old")
    existing.chmod(0o644)
    assert run_report(journal, fresh, "md", Errors()) == 0
    assert run_report(journal, existing, "json", Errors()) == 0
    assert fresh.stat().st_mode & 0o777 == 0o600
    assert existing.stat().st_mode & 0o777 == 0o600
    assert json.loads(existing.read_text())
