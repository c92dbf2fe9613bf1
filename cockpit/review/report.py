"""`cockpit report`: a postmortem draft from a session journal.

Integrity first, then what happened, when, who did it, what the guards read and what the screen
showed. build_report() gathers the facts into one JSON document and render_markdown() (in
cockpit.review.report_markdown) writes Markdown from that document alone, so the two formats cannot
disagree.
"""

from __future__ import annotations

import json
import math
import sys
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from cockpit.actions.session_log import DRIFT_KIND
from cockpit.exit_codes import EXIT_COULD_NOT_RUN, EXIT_NOT_DONE, EXIT_OK
from cockpit.journal.chain import (
    END_KIND,
    HEADER_KIND,
    RESUME_KIND,
    JournalError,
    format_timestamp,
    parse_timestamp,
)
from cockpit.journal.reader import JournalRecord
from cockpit.journal.verify import Verification, read_checked
from cockpit.jsonvalue import (
    JsonValue,
    json_distinct,
    json_items,
    json_number,
    json_object,
    json_string,
    json_text,
    json_text_values,
)
from cockpit.live.events import status_text
from cockpit.live.recording import SCREEN_KIND, STALE_KIND, STATUS_KIND
from cockpit.model import aware_time
from cockpit.private_files import write_private_text
from cockpit.review.charts import Span, Window, column_maxima, downsample
from cockpit.review.report_markdown import render_markdown as render_markdown
from cockpit.review.report_words import (
    INTACT_WORDS,
    baseline_words,
    count_words,
    date_time,
    on_off,
    weights_percent,
    weights_words,
)
from cockpit.review.timeline import (
    ACTION_KIND,
    MARK_PHASES,
    NOTE_KIND,
    Timeline,
    action_text,
)
from cockpit.rules.verdicts import GuardResult
from cockpit.sources import (
    dns_values,
    dns_world_values,
    errors_values,
    integrity_values,
    maintenance_values,
    replication_values,
    traffic_values,
)
from cockpit.sources.maintenance_values import MaintenanceValues
from cockpit.sources.replication_values import ReplicationValues
from cockpit.sources.traffic_values import TrafficValues

REPORT_FORMAT = "cutover-cockpit-report"
REPORT_VERSION = 1
BASELINE_KIND = "baseline"
CHART_WIDTH = 60
MAX_CHART_POINTS = 300

SYSTEM = "cockpit"
CHANGE_OUTCOMES = frozenset({"succeeded", "unverified", "failed", "unknown"})

_Fact = TypeVar("_Fact")
RunKey = tuple[int, str, str, str]
"""(process segment, actor, run id, action): run ids restart in every process."""


class ReportError(Exception):
    """No report can be made from this file; the message says what, where and what to do."""


# --- reading the journal ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Journal:
    """The journal as read for the report: its index, its chain check, and any unreadable line."""

    path: Path
    timeline: Timeline
    verification: Verification
    unreadable_line: int | None = None
    read_problem: str | None = None

    @property
    def trusted_through(self) -> int | None:
        """The last line the chain proves unaltered; None when the whole chain holds.

        A line is vouched for by the next line's hash, so when line N breaks the chain,
        line N-1 may be the edited one.
        """
        if self.verification.intact:
            return None
        if self.verification.first_bad_line is None:
            return 0
        return max(0, self.verification.first_bad_line - 2)


def _read(path: Path) -> _Journal:
    """The journal indexed (up to any damaged line) with its chain's verdict; ReportError."""
    try:
        checked = read_checked(path)
    except JournalError as error:
        raise ReportError(
            f"{error}; check the path and that you may read the file "
            "(journals are private to the user who ran the cockpit)"
        ) from None
    if not checked.records:
        problem = checked.damage or checked.verification.problem or "no records"
        raise ReportError(
            f"nothing to report: {path} has no readable record ({problem}); "
            "is it a cockpit journal (a .jsonl file in journal.dir)?"
        )
    timeline = Timeline()
    try:
        timeline.add(checked.records)
    except (ValueError, KeyError, TypeError) as error:
        raise ReportError(
            f"journal {path} has a record the report cannot interpret ({error}); "
            f"run `cockpit verify {path}` to see whether it was altered"
        ) from None
    timeline.truncated = checked.truncated
    return _Journal(path, timeline, checked.verification, checked.damaged_line, checked.damage)


# --- one pass over the records ----------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """One action run's records, in journal order."""

    label: str
    key: RunKey
    records: tuple[JournalRecord, ...]

    @property
    def segment(self) -> int:
        return self.key[0]

    @property
    def actor(self) -> str:
        return self.key[1]

    @property
    def run_id(self) -> str:
        return self.key[2]

    @property
    def action(self) -> str:
        return self.key[3]

    def all(self, phase: str) -> list[JournalRecord]:
        return [record for record in self.records if record.data.get("phase") == phase]

    def first(self, phase: str) -> JournalRecord | None:
        return next((r for r in self.records if r.data.get("phase") == phase), None)

    @property
    def outcome(self) -> str:
        """How the run ended: the completed outcome, refused, unplannable or unfinished."""
        completed = self.first("completed")
        if completed is not None:
            return json_string(completed.data.get("outcome")) or "unknown"
        for phase in ("refused", "unplannable"):
            if self.first(phase) is not None:
                return phase
        return "unfinished"

    @property
    def pressed_at(self) -> datetime:
        return self.records[0].t


@dataclass
class _Walk:
    """What one pass over the records collects for every section of the report."""

    trusted_through: int | None
    segment: int = 0
    sessions: list[JournalRecord] = field(default_factory=list)
    runs: dict[RunKey, list[JournalRecord]] = field(default_factory=dict)
    labels: dict[RunKey, str] = field(default_factory=dict)
    action_screens: dict[tuple[int, str, str], list[JournalRecord]] = field(default_factory=dict)
    operator_screens: list[JournalRecord] = field(default_factory=list)
    notes: list[JournalRecord] = field(default_factory=list)
    timeline: list[dict[str, JsonValue]] = field(default_factory=list)
    stale_times: dict[str, list[datetime]] = field(default_factory=dict)
    boundaries: list[datetime] = field(default_factory=list)
    baseline: dict[str, JsonValue] | None = None
    status_changes: int = 0

    def walk(self, records: Iterable[JournalRecord]) -> None:
        handlers = {
            HEADER_KIND: self._session,
            RESUME_KIND: self._session,
            END_KIND: self._end,
            ACTION_KIND: self._action,
            NOTE_KIND: self._note,
            STATUS_KIND: self._status,
            STALE_KIND: self._stale,
            SCREEN_KIND: self._screen,
            BASELINE_KIND: self._baseline,
            DRIFT_KIND: self._drift,
        }
        for record in records:
            handler = handlers.get(record.kind)
            if handler is not None:
                handler(record)

    def trusted(self, record: JournalRecord) -> bool:
        return self.trusted_through is None or record.line_number <= self.trusted_through

    def _entry(
        self, record: JournalRecord, kind: str, who: str, text: str, **extra: JsonValue
    ) -> None:
        entry: dict[str, JsonValue] = {
            "at": format_timestamp(record.t),
            "kind": kind,
            "who": who,
            "text": text,
            "line": record.line_number,
            "trusted": self.trusted(record),
        }
        self.timeline.append(entry | extra)

    def _session(self, record: JournalRecord) -> None:
        self.segment += 1
        self.sessions.append(record)
        self.boundaries.append(record.t)
        data = record.data
        verb = "started the session" if record.kind == HEADER_KIND else "continued the session"
        text = f"{verb} (process {self.segment}, mode {data.get('mode')}, pid {data.get('pid')})"
        self._entry(record, "session", json_text(data.get("operator")) or "?", text)

    def _end(self, record: JournalRecord) -> None:
        self.boundaries.append(record.t)
        self._entry(record, "session", SYSTEM, f"process {self.segment} closed the journal")

    def _action(self, record: JournalRecord) -> None:
        data = record.data
        key = (
            self.segment,
            json_text(data.get("actor")),
            json_text(data.get("run")),
            json_text(data.get("action")),
        )
        if data.get("reconciles") is True:
            key = self._reconciled_run(key)
        if key not in self.runs:
            self.runs[key] = []
            self.labels[key] = f"A{len(self.labels) + 1}"
        self.runs[key].append(record)
        label, phase = self.labels[key], json_string(data.get("phase"))
        extra: dict[str, JsonValue] = {"action_id": label, "action": key[3], "phase": phase}
        if phase in MARK_PHASES:
            self._entry(record, "action", key[1], f"{label} {action_text(data)}", **extra)
        elif phase == "planned" and isinstance(data.get("auto_abort"), dict):
            self._entry(record, "action", key[1], f"{label} {_auto_abort_text(data)}", **extra)

    def _reconciled_run(self, key: RunKey) -> RunKey:
        """The earlier process's run this record ends (same run id and action, no end yet)."""
        for earlier in reversed(self.runs):
            same = earlier[2:] == key[2:]
            ended = any(r.data.get("phase") == "completed" for r in self.runs[earlier])
            if same and not ended:
                return earlier
        return key

    def _drift(self, record: JournalRecord) -> None:
        data = record.data
        text = f"{json_text(data.get('signal'))}: {json_text(data.get('text'))}"
        self._entry(record, "drift", SYSTEM, text, signal=json_text(data.get("signal")))

    def _note(self, record: JournalRecord) -> None:
        self.notes.append(record)
        who = json_text(record.data.get("operator")) or "?"
        self._entry(record, "note", who, f"note: {json_text(record.data.get('text'))}")

    def _status(self, record: JournalRecord) -> None:
        self.status_changes += 1
        data = record.data
        signal, before, after = json_text(data.get("signal")), data.get("before"), data.get("after")
        detail = json_text(data.get("detail"))
        text = status_text(signal, json_text(before) if before is not None else None, after, detail)
        extra: dict[str, JsonValue] = {
            "signal": signal,
            "before": before,
            "after": after,
            "detail": detail,
        }
        self._entry(record, "status", SYSTEM, text, **extra)

    def _stale(self, record: JournalRecord) -> None:
        signal, stale = json_text(record.data.get("signal")), record.data.get("stale") is True
        if stale:
            self.stale_times.setdefault(signal, []).append(record.t)
        observed = _observed_words(record.data.get("observed_at"))
        since = f" (last reading {observed})" if observed else ""
        text = f"{signal}: went STALE{since}" if stale else f"{signal}: fresh again"
        after = "stale" if stale else "fresh"
        self._entry(record, "stale", SYSTEM, text, signal=signal, after=after)

    def _screen(self, record: JournalRecord) -> None:
        data = record.data
        action, run = data.get("action"), data.get("run")
        if data.get("reason") == "action" and isinstance(action, str) and isinstance(run, str):
            self.action_screens.setdefault((self.segment, action, run), []).append(record)
            return
        self.operator_screens.append(record)
        self._entry(record, "screen", "operator", "screen saved by the operator (see below)")

    def _baseline(self, record: JournalRecord) -> None:
        if self.baseline is None:
            self.baseline = record.data
        text = "state before the first change captured: " + baseline_words(record.data)
        self._entry(record, "baseline", SYSTEM, text)

    def finished_runs(self) -> list[_Run]:
        return [_Run(self.labels[key], key, tuple(records)) for key, records in self.runs.items()]


def _observed_words(observed: JsonValue) -> str:
    """'observed 2026-11-22 01:11:40 UTC' from a reading's isoformat time; '' when unknown."""
    moment = aware_time(observed)
    try:
        return f"observed {date_time(format_timestamp(moment))} UTC" if moment else ""
    except OverflowError:
        return ""


def _auto_abort_text(data: Mapping[str, JsonValue]) -> str:
    reason = json_object(data.get("auto_abort")).get("reason")
    summary = json_object(data.get("plan")).get("summary")
    return f"AUTO-ABORT started ({reason}): {summary}"


# --- the document -----------------------------------------------------------------------------


def build_report(path: Path) -> dict[str, JsonValue]:
    """The facts of one journal as one JSON document; ReportError when it cannot be read."""
    journal = _read(path)
    walk = _Walk(journal.trusted_through)
    walk.walk(journal.timeline.records)
    runs = walk.finished_runs()
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "integrity": _integrity(journal),
        "summary": _summary(journal, walk, runs),
        "timeline": list(walk.timeline),
        "actions": [_action_json(run, walk, journal.timeline) for run in runs],
        "charts": _charts(journal.timeline, walk),
        "data_integrity": _data_integrity(journal.timeline),
        "notes": [_note_json(record, walk) for record in walk.notes],
        "screens": [_screen_json(record) for record in walk.operator_screens],
    }


def _data_integrity(timeline: Timeline) -> list[JsonValue]:
    """The last word of each integrity check (database, buckets) as journaled."""
    checks: list[JsonValue] = []
    for signal_id in timeline.signal_ids():
        if not integrity_values.is_integrity_signal(signal_id):
            continue
        at, raw = timeline.raw_readings(signal_id)[-1]
        checks.append(
            {
                "signal": signal_id,
                "at": at.isoformat(),
                "status": json_string(raw.get("status")),
                "detail": json_string(raw.get("detail")),
                "tables": _integrity_tables(signal_id, raw),
            }
        )
    return checks


def _integrity_tables(signal_id: str, raw: Mapping[str, JsonValue]) -> list[JsonValue]:
    """The database check's last finished run, table by table: its word, rows on each side,
    where it differs, when it was checked and each side's WAL position (none for buckets)."""
    if signal_id != integrity_values.DATABASE_SIGNAL_ID:
        return []
    run = integrity_values.DatabaseValues.from_values(json_object(raw.get("values"))).result
    if run is None:
        return []
    return [
        {
            "table": result.table,
            "status": result.word,
            "old_rows": result.old_rows,
            "new_rows": result.new_rows,
            "where": result.where,
            "checked_at": result.checked_at.isoformat(),
            "old_position": result.old_position,
            "new_position": result.new_position,
        }
        for result in run.results
    ]


def _integrity(journal: _Journal) -> dict[str, JsonValue]:
    verification, records = journal.verification, journal.timeline.records
    truncated = journal.timeline.truncated or verification.truncated
    return {
        "intact": verification.intact,
        "verdict": verification.summary()[0],
        "lines_checked": verification.lines_checked,
        "first_bad_line": verification.first_bad_line,
        "problem": verification.problem,
        "trusted_through_line": journal.trusted_through,
        "unreadable_line": journal.unreadable_line,
        "read_problem": journal.read_problem,
        "truncated_line": truncated.line_number if truncated else None,
        "truncated_bytes": truncated.length if truncated else None,
        "ended_cleanly": None if journal.unreadable_line else records[-1].kind == END_KIND,
        "records_read": len(records),
        "statements": _integrity_statements(journal),
    }


def _integrity_statements(journal: _Journal) -> list[JsonValue]:
    """The integrity findings in plain words, worst first."""
    verification, records = journal.verification, journal.timeline.records
    statements: list[JsonValue] = []
    trusted = journal.trusted_through
    if verification.first_bad_line is not None and trusted is not None:
        after = f"Records after line {trusted}" if trusted else "No record in it"
        statements.append(
            f"JOURNAL CHAIN BROKEN at line {verification.first_bad_line}: "
            f"{verification.problem}. {after} cannot be trusted: they may have been edited, "
            "removed, inserted or reordered after they were written."
        )
    elif not verification.intact:
        statements.append(
            f"JOURNAL NOT VERIFIED: {verification.problem}. No record in it can be trusted."
        )
    if journal.unreadable_line is not None:
        statements.append(
            f"Line {journal.unreadable_line} cannot be read, so this report shows only the "
            f"{len(records)} records before it ({journal.read_problem})."
        )
    truncated = journal.timeline.truncated or verification.truncated
    if truncated is not None:
        statements.append(
            f"The last line ({truncated.line_number}) is incomplete ({truncated.length} bytes, "
            "cut mid-write) and was left out."
        )
    if journal.unreadable_line is None and records[-1].kind != END_KIND:
        statements.append(
            "Not closed cleanly (no end record): the session is still running, or it crashed; "
            "its last line is not covered by the chain."
        )
    if verification.intact:
        statements.append(f"{INTACT_WORDS}: {verification.lines_checked} lines, unbroken.")
    return statements


# --- summary ----------------------------------------------------------------------------------


@dataclass
class _Operator:
    """Who took part, and how."""

    name: str
    ssh_clients: list[str] = field(default_factory=list)
    sessions: int = 0
    actions: int = 0
    notes: int = 0

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "ssh_clients": list(self.ssh_clients),
            "sessions": self.sessions,
            "actions": self.actions,
            "notes": self.notes,
        }


def _summary(journal: _Journal, walk: _Walk, runs: Sequence[_Run]) -> dict[str, JsonValue]:
    timeline = journal.timeline
    start, end = timeline.records[0].t, timeline.records[-1].t
    header = timeline.header or {}
    return {
        "cutover": header.get("cutover"),
        "journal": str(journal.path),
        "start": format_timestamp(start),
        "end": format_timestamp(end),
        "duration_seconds": round((end - start).total_seconds(), 3),
        "operators": [operator.to_json() for operator in _operators(walk, runs)],
        "modes": json_distinct(record.data.get("mode") for record in walk.sessions),
        "config_digests": json_distinct(
            record.data.get("config_digest") for record in walk.sessions
        ),
        "cockpit_versions": json_distinct(
            record.data.get("cockpit_version") for record in walk.sessions
        ),
        "baseline": walk.baseline,
        "outcome": _outcome(runs, timeline),
        "counts": _counts(walk, runs),
    }


def _operators(walk: _Walk, runs: Sequence[_Run]) -> list[_Operator]:
    table: dict[str, _Operator] = {}

    def operator(name: JsonValue) -> _Operator:
        text = json_text(name) or "?"
        return table.setdefault(text, _Operator(text))

    for record in walk.sessions:
        found = operator(record.data.get("operator"))
        found.sessions += 1
        client = record.data.get("ssh_client")
        if isinstance(client, str) and client and client not in found.ssh_clients:
            found.ssh_clients.append(client)
    for run in runs:
        operator(run.actor).actions += 1
    for record in walk.notes:
        operator(record.data.get("operator")).notes += 1
    return list(table.values())


def _counts(walk: _Walk, runs: Sequence[_Run]) -> dict[str, JsonValue]:
    outcomes = Counter(run.outcome for run in runs)
    return {
        "actions": len(runs),
        "outcomes": dict(sorted(outcomes.items())),
        "overrides": sum(1 for run in runs if run.first("override") is not None),
        "notes": len(walk.notes),
        "status_changes": walk.status_changes,
        "screens": sum(len(screens) for screens in walk.action_screens.values())
        + len(walk.operator_screens),
    }


def _outcome(runs: Sequence[_Run], timeline: Timeline) -> dict[str, JsonValue]:
    """What the night came to: the final weights, maintenance and promotion, in words too."""
    weights = _latest(_weight_facts(runs, timeline))
    maintenance = _latest(_maintenance_facts(runs, timeline))
    promoted = _promoted(runs, timeline)
    changes = [run for run in runs if run.outcome in CHANGE_OUTCOMES]
    last = changes[-1] if changes else None
    rolled_back = last is not None and last.action == "rollback" and last.outcome == "succeeded"
    return {
        "text": _outcome_text(runs, changes, weights, maintenance, promoted, rolled_back),
        "changes": len(changes),
        "rolled_back": rolled_back,
        "weights": {"old": weights[0], "new": weights[1]} if weights else None,
        "maintenance_on": maintenance,
        "promoted": promoted,
    }


def _outcome_text(
    runs: Sequence[_Run],
    changes: Sequence[_Run],
    weights: tuple[float, float] | None,
    maintenance: bool | None,
    promoted: bool,
    rolled_back: bool,
) -> str:
    if not runs:
        return "no action taken"
    if not changes:
        return "no change made: " + count_words(Counter(run.outcome for run in runs))
    state = []
    if weights is not None:
        lead = "weights back to" if rolled_back else "traffic at"
        state.append(f"{lead} {weights_words(weights)}")
    if maintenance is not None:
        state.append(f"maintenance {on_off(maintenance)}")
    text = ("rolled back: " if rolled_back else "") + (", ".join(state) or "final state unknown")
    if promoted:
        text += "; replica PROMOTED (cannot be undone)"
    last = changes[-1]
    if last.outcome != "succeeded":
        text = f"last change {last.label} {last.action} {last.outcome.upper()}; {text}"
    return text


def _weight_facts(
    runs: Sequence[_Run], timeline: Timeline
) -> list[tuple[datetime, tuple[float, float]]]:
    """(time, (old %, new %)) from every verified read-back and recorded traffic reading."""
    facts = []
    for run in runs:
        verified = run.first("verified")
        if verified is None:
            continue
        observed = json_object(verified.data.get("observed"))
        raw = observed.get("weights") if run.action == "rollback" else observed
        weights = weights_percent(raw) if run.action.startswith(("weight", "rollback")) else None
        if weights is not None:
            facts.append((verified.t, weights))
    for at, raw_reading in timeline.raw_readings(traffic_values.SIGNAL_ID):
        shown = TrafficValues.from_values(json_object(raw_reading.get("values"))).weights
        if shown is not None and shown.old is not None and shown.new is not None:
            facts.append((at, (float(shown.old), float(shown.new))))
    return facts


def _maintenance_facts(runs: Sequence[_Run], timeline: Timeline) -> list[tuple[datetime, bool]]:
    facts = []
    for run in runs:
        verified = run.first("verified")
        if verified is None:
            continue
        observed = json_object(verified.data.get("observed"))
        key = "maintenance_on" if run.action == "rollback" else "on"
        on = observed.get(key) if run.action.startswith(("maintenance", "rollback")) else None
        if isinstance(on, bool):
            facts.append((verified.t, on))
    for at, raw_reading in timeline.raw_readings(maintenance_values.SIGNAL_ID):
        on = MaintenanceValues.from_values(json_object(raw_reading.get("values"))).on
        if on is not None:
            facts.append((at, on))
    return facts


def _promoted(runs: Sequence[_Run], timeline: Timeline) -> bool:
    if any(run.action == "promote" and run.outcome == "succeeded" for run in runs):
        return True
    for _, raw_reading in timeline.raw_readings(replication_values.SIGNAL_ID):
        values = ReplicationValues.from_values(json_object(raw_reading.get("values")))
        if values.left_recovery:
            return True
    return False


def _latest(facts: list[tuple[datetime, _Fact]]) -> _Fact | None:
    return max(facts, key=lambda fact: fact[0])[1] if facts else None


# --- actions ----------------------------------------------------------------------------------


def _action_json(run: _Run, walk: _Walk, timeline: Timeline) -> dict[str, JsonValue]:
    decided = run.first("planned") or run.first("refused")
    completed = run.first("completed")
    planned = run.first("planned")
    plan = json_object(planned.data.get("plan")) if planned else {}
    return {
        "id": run.label,
        "action": run.action,
        "actor": run.actor,
        "run": run.run_id,
        "process": run.segment,
        "mode": run.records[0].data.get("mode"),
        "pressed_at": format_timestamp(run.pressed_at),
        "completed_at": format_timestamp(completed.t) if completed else None,
        "duration_seconds": round((completed.t - run.pressed_at).total_seconds(), 3)
        if completed
        else None,
        "outcome": run.outcome,
        "message": _run_message(run),
        "auto_abort": planned.data.get("auto_abort") if planned else None,
        "plan": _plan_json(plan) if plan else None,
        "guards": _guards_json(decided.data.get("guards") if decided else None),
        "override": _override_json(run),
        "approval": _approval_json(run),
        "evidence": json_text_values(_phase_value(run, "executed", "evidence")),
        "undone": [_undone_json(record) for record in run.all("undone")],
        "verification": _verification_json(run),
        "error": _phase_value(run, "failed", "error") or _phase_value(run, "unplannable", "error"),
        "why": _phase_value(run, "cancelled", "why") or _phase_value(run, "aborted", "why"),
        "now": json_text_values(_phase_value(run, "reread", "now")),
        "inverse": _inverse_json(completed),
        "screens": _run_screens(run, walk),
        "state_at_press": _state_at(timeline, run.pressed_at),
        "line": run.records[0].line_number,
        "trusted": all(walk.trusted(record) for record in run.records),
    }


def _run_message(run: _Run) -> str:
    completed = run.first("completed")
    if completed is not None:
        return json_text(completed.data.get("message"))
    refused = run.first("refused")
    if refused is not None:
        blocked = [g for g in _guards_json(refused.data.get("guards")) if not _passed(g)]
        return "blocked: " + "; ".join(json_text(json_object(g).get("reason")) for g in blocked)
    unplannable = run.first("unplannable")
    if unplannable is not None:
        return f"cannot plan: {json_text(unplannable.data.get('error'))}"
    started = run.first("started")
    if started is not None:
        last = json_text(run.records[-1].data.get("phase"))
        return (
            f"OUTCOME UNKNOWN: the process stopped after '{last}' without finishing, and no "
            "cockpit has read the state since"
        )
    return "no outcome recorded: the process ended before the action started"


def _phase_value(run: _Run, phase: str, key: str) -> JsonValue:
    record = run.first(phase)
    return record.data.get(key) if record else None


def _plan_json(plan: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    return {
        "summary": json_text(plan.get("summary")),
        "changes": [
            {
                "resource": json_text(change.get("resource")),
                "before": json_text(change.get("before")),
                "after": json_text(change.get("after")),
            }
            for change in (json_object(item) for item in json_items(plan.get("changes")))
        ],
        "calls": json_text_values(plan.get("calls")),
        "notes": json_text_values(plan.get("notes")),
        "one_way": plan.get("one_way") is True,
    }


def _guards_json(guards: JsonValue) -> list[JsonValue]:
    """Every guard as recorded, in one shape whatever the record held."""
    return [
        GuardResult.from_json(item).to_json()
        for item in json_items(guards)
        if isinstance(item, dict)
    ]


def _passed(guard: JsonValue) -> bool:
    return json_object(guard).get("passed") is True


def _override_json(run: _Run) -> dict[str, JsonValue] | None:
    record = run.first("override")
    if record is None:
        return None
    guards = [json_object(item).get("guard") for item in json_items(record.data.get("guards"))]
    return {
        "at": format_timestamp(record.t),
        "reason": json_text(record.data.get("reason")),
        "guards": [json_text(guard) for guard in guards],
    }


def _approval_json(run: _Run) -> dict[str, JsonValue] | None:
    """Who let a two-person action run: the second operator, the break-glass, or nobody yet."""
    for phase in ("approved", "break-glass", "approval-requested"):
        record = run.first(phase)
        if record is not None:
            data = record.data
            return {
                "kind": phase,
                "at": format_timestamp(record.t),
                "requester": json_text(data.get("requester")),
                "approver": json_text(data.get("approver")),
                "digest": json_text(data.get("digest")),
                "reason": json_text(data.get("reason")),
            }
    return None


def _undone_json(record: JournalRecord) -> dict[str, JsonValue]:
    undone = json_object(record.data.get("undone"))
    return {
        "at": format_timestamp(record.t),
        "description": json_text(undone.get("description")),
        "evidence": json_text_values(record.data.get("evidence")),
    }


def _verification_json(run: _Run) -> dict[str, JsonValue] | None:
    record = run.first("verified")
    if record is None:
        return None
    return {
        "at": format_timestamp(record.t),
        "ok": record.data.get("ok") is True,
        "detail": json_text(record.data.get("detail")),
        "observed": record.data.get("observed"),
    }


def _inverse_json(completed: JournalRecord | None) -> dict[str, JsonValue] | None:
    inverse = json_object(completed.data.get("inverse")) if completed else {}
    if not inverse:
        return None
    return {
        "description": json_text(inverse.get("description")),
        "undoable": inverse.get("undoable") is not False,
    }


def _run_screens(run: _Run, walk: _Walk) -> list[JsonValue]:
    screens = walk.action_screens.get((run.segment, run.action, run.run_id), [])
    return [_screen_json(record) for record in screens]


def _screen_json(record: JournalRecord) -> dict[str, JsonValue]:
    data = record.data
    return {
        "at": format_timestamp(record.t),
        "phase": data.get("phase"),
        "source": data.get("source"),
        "width": data.get("width"),
        "height": data.get("height"),
        "text": json_text(data.get("text")),
    }


def _state_at(timeline: Timeline, at: datetime) -> list[JsonValue]:
    """One line per signal as the screen had it at `at`."""
    try:
        readings = sorted(timeline.state_at(at, 1).readings(), key=lambda r: r.signal_id)
    except (ValueError, KeyError, TypeError) as error:
        return [{"signal": "?", "status": "unknown", "detail": f"cannot rebuild: {error}"}]
    return [
        {"signal": r.signal_id, "status": r.status_at(at).value, "detail": r.detail}
        for r in readings
    ]


def _note_json(record: JournalRecord, walk: _Walk) -> dict[str, JsonValue]:
    return {
        "at": format_timestamp(record.t),
        "operator": json_text(record.data.get("operator")),
        "text": json_text(record.data.get("text")),
        "line": record.line_number,
        "trusted": walk.trusted(record),
    }


# --- charts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ChartSpec:
    """Which value of which signal to chart, and how."""

    signal: str
    value: str
    title: str
    unit: str
    factor: float = 1.0
    log_scale: bool = False
    fixed_top: float | None = None


ANY_ERRORS_SIGNAL = f"{errors_values.SIGNAL_PREFIX}*"
ANY_DNS_SIGNAL = f"{dns_values.SIGNAL_PREFIX}*"
CONVERGED = dns_values.CONVERGED_FRACTION
WORLD_NEW = dns_world_values.NEW_FRACTION


def _chart_specs(timeline: Timeline) -> list[_ChartSpec]:
    signals = timeline.signal_ids()
    errors = [s for s in signals if errors_values.is_errors_signal(s)] or [ANY_ERRORS_SIGNAL]
    dns = [s for s in signals if dns_values.is_dns_signal(s)] or [ANY_DNS_SIGNAL]
    world = [s for s in signals if dns_world_values.is_world_signal(s)]
    return [
        _ChartSpec(
            replication_values.SIGNAL_ID,
            replication_values.REPLAY_LAG_BYTES,
            "replication byte lag",
            "bytes",
            1.0,
            True,
        ),
        *(_ChartSpec(s, errors_values.ERROR_RATIO, f"5xx ratio {s}", "%", 100.0) for s in errors),
        *(_ChartSpec(s, CONVERGED, f"DNS converged {s}", "%", 100.0, False, 100.0) for s in dns),
        *(_ChartSpec(s, WORLD_NEW, f"probes on new {s}", "%", 100.0, False, 100.0) for s in world),
    ]


def _charts(timeline: Timeline, walk: _Walk) -> dict[str, JsonValue]:
    window = Window(timeline.records[0].t, timeline.records[-1].t, CHART_WIDTH)
    marks: list[JsonValue] = [
        {
            "at": entry["at"],
            "column": window.column(parse_timestamp(json_text(entry["at"]))),
            "action_id": entry.get("action_id"),
        }
        for entry in walk.timeline
        if entry["kind"] == "action"
    ]
    return {
        "width": CHART_WIDTH,
        "start": format_timestamp(window.start),
        "end": format_timestamp(window.end),
        "marks": marks,
        "series": [_chart(spec, timeline, walk, window) for spec in _chart_specs(timeline)],
    }


def _chart(spec: _ChartSpec, timeline: Timeline, walk: _Walk, window: Window) -> JsonValue:
    readings = [
        (at, _scaled(json_object(raw.get("values")).get(spec.value), spec.factor))
        for at, raw in timeline.raw_readings(spec.signal)
    ]
    stops = sorted([*walk.stale_times.get(spec.signal, []), *walk.boundaries])
    spans, points = _held(readings, stops, window.end)
    columns = column_maxima(spans, window)
    known = [value for value in columns if value is not None]
    valued = [(at, value) for at, value in readings if value is not None]
    top = spec.fixed_top if spec.fixed_top is not None else max(known, default=0.0)
    return {
        "signal": spec.signal,
        "value": spec.value,
        "title": spec.title,
        "unit": spec.unit,
        "scale": "log" if spec.log_scale else "linear",
        "top": _rounded(top),
        "no_data": not known,
        "readings": len(readings),
        "max": _point_json(max(valued, key=lambda p: p[1])) if valued else None,
        "last": _point_json(valued[-1]) if valued else None,
        "columns": [None if value is None else _rounded(value) for value in columns],
        "points": [
            [format_timestamp(at), None if value is None else _rounded(value)]
            for at, value in downsample(points, window, MAX_CHART_POINTS)
        ],
    }


def _held(
    readings: Sequence[tuple[datetime, float | None]], stops: Sequence[datetime], end: datetime
) -> tuple[list[Span], list[tuple[datetime, float | None]]]:
    """Each reading's value held until the next reading, the signal going stale or the process
    ending; and the points, with None where a gap begins."""
    spans: list[Span] = []
    points: list[tuple[datetime, float | None]] = []
    for index, (at, value) in enumerate(readings):
        following = readings[index + 1][0] if index + 1 < len(readings) else end
        stop_index = bisect_right(stops, at)
        stop = stops[stop_index] if stop_index < len(stops) else None
        until = min(following, stop) if stop is not None else following
        points.append((at, value))
        if value is None:
            continue
        spans.append(Span(at, until, value))
        if until < following:
            points.append((until, None))
    return spans, points


def _scaled(value: JsonValue, factor: float) -> float | None:
    """The number times `factor`; None when it is not a number or the product is not finite."""
    number = json_number(value)
    scaled = None if number is None else number * factor
    return scaled if scaled is not None and math.isfinite(scaled) else None


def _rounded(value: float) -> float:
    return round(value, 6)


def _point_json(point: tuple[datetime, float]) -> dict[str, JsonValue]:
    return {"at": format_timestamp(point[0]), "value": _rounded(point[1])}


# --- running ----------------------------------------------------------------------------------


def run_report(path: Path, output: Path | None, fmt: str, say_error: Callable[[str], None]) -> int:
    """Writes the report of `path` as Markdown or JSON to `output` (stdout when None).

    Exit 0 when written from an intact journal; 1 when the journal's chain is broken (the
    report is still written, saying so at its top, and the non-zero exit makes scripts
    notice); 3 when the journal cannot be read or the report cannot be written (nothing
    written, the reason told).
    """
    if fmt not in ("md", "json"):
        say_error(f"cockpit report: unknown format {fmt!r}: use md or json")
        return EXIT_COULD_NOT_RUN
    try:
        document = build_report(path)
    except ReportError as error:
        say_error(f"cockpit report: {error}")
        return EXIT_COULD_NOT_RUN
    text = render_markdown(document) if fmt == "md" else _json_text(document)
    if not _write(text, output, say_error):
        return EXIT_COULD_NOT_RUN
    integrity = json_object(document.get("integrity"))
    if integrity.get("intact") is True:
        return EXIT_OK
    say_error(
        f"cockpit report: {path}: {json_text(integrity.get('verdict'))}; the report says so at its "
        "top and marks what cannot be trusted"
    )
    return EXIT_NOT_DONE


def _json_text(document: Mapping[str, JsonValue]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _write(text: str, output: Path | None, say_error: Callable[[str], None]) -> bool:
    if output is None:
        sys.stdout.write(text)
        return True
    try:
        write_private_text(output, text)
    except OSError as error:
        reason = error.strerror or str(error)
        say_error(
            f"cockpit report: cannot write {output}: {reason}; choose another -o path "
            "(its directory must exist and be writable)"
        )
        return False
    return True
