"""The `cockpit report` document rendered as Markdown, from the document alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from cockpit.journal.chain import parse_timestamp
from cockpit.jsonvalue import (
    JsonValue,
    json_distinct,
    json_int,
    json_items,
    json_number,
    json_object,
    json_text,
    json_texts,
)
from cockpit.review.charts import axis_line, bar_line, marker_line
from cockpit.review.report_words import INTACT_WORDS, baseline_words, count_words, date_time
from cockpit.units import age_text, percent_number, size_text, tenths_age_text

FLAP_WINDOW_SECONDS = 60.0
FLAP_MIN_CHANGES = 4
"""Markdown collapses a run of at least this many status changes of one signal, each within
FLAP_WINDOW_SECONDS of the one before and with no action between, into one line."""
AUTO_ABORT_ACTOR = "auto-abort"


def render_markdown(document: Mapping[str, JsonValue]) -> str:
    """The report as Markdown, written from the document alone."""
    return _Markdown(document).render()


class _Markdown:
    """Writes each section of a report document as Markdown lines."""

    def __init__(self, document: Mapping[str, JsonValue]) -> None:
        self.document = document
        self.summary = json_object(document.get("summary"))
        start, end = json_text(self.summary.get("start")), json_text(self.summary.get("end"))
        self.dated = start[:10] != end[:10]
        self.lines: list[str] = []

    def render(self) -> str:
        self.lines.append(f"# Postmortem draft: {json_text(self.summary.get('cutover')) or '?'}")
        self.lines.append("")
        for section in (
            self._integrity,
            self._summary,
            self._timeline,
            self._actions,
            self._charts,
            self._data_integrity,
            self._notes,
            self._screens,
        ):
            section()
            while self.lines and self.lines[-1] == "":
                self.lines.pop()
            self.lines.append("")
        return "\n".join(self.lines).rstrip() + "\n"

    def when(self, iso: JsonValue) -> str:
        """A record time as the timeline shows it: HH:MM:SS, with the date on multi-day nights."""
        text = json_text(iso)
        if len(text) < 19:
            return text or "?"
        clock = text[11:19]
        return f"{text[5:10]} {clock}" if self.dated else clock

    # --- sections

    def _integrity(self) -> None:
        integrity = json_object(self.document.get("integrity"))
        statements = json_texts(integrity.get("statements"))
        self.lines.append("## Integrity")
        self.lines.append("")
        trouble = integrity.get("intact") is not True or integrity.get("unreadable_line")
        for statement in statements:
            if trouble:
                self.lines += [f"> **⚠ {statement}**", ">"]
            else:
                mark = "" if statement.startswith(INTACT_WORDS) else "⚠ "
                self.lines.append(f"- {mark}{statement}")
        if trouble and self.lines[-1] == ">":
            self.lines.pop()

    def _summary(self) -> None:
        summary = self.summary
        outcome = json_object(summary.get("outcome"))
        duration = json_number(summary.get("duration_seconds")) or 0.0
        self.lines += [
            "## Summary",
            "",
            f"- **Cutover:** {json_text(summary.get('cutover')) or '?'}",
            f"- **Journal:** `{json_text(summary.get('journal'))}`",
            f"- **Window:** {date_time(summary.get('start'))} → "
            f"{date_time(summary.get('end'))} UTC ({age_text(duration)})",
            f"- **Operators:** {self._operator_words()}",
            f"- **Modes:** {', '.join(json_texts(summary.get('modes'))) or '?'}",
            f"- **Outcome:** {json_text(outcome.get('text'))}",
            f"- **Counts:** {self._count_words()}",
        ]
        baseline = summary.get("baseline")
        if isinstance(baseline, dict):
            self.lines.append(f"- **Before the first change:** {baseline_words(baseline)}")

    def _operator_words(self) -> str:
        words = []
        for item in json_items(self.summary.get("operators")):
            operator = json_object(item)
            name = json_text(operator.get("name"))
            clients = json_texts(operator.get("ssh_clients"))
            via = f" (ssh from {', '.join(clients)})" if clients else ""
            roles = [
                _plural(operator.get(key), noun)
                for key, noun in (("sessions", "process"), ("actions", "action"), ("notes", "note"))
                if json_number(operator.get(key))
            ]
            words.append(f"{name}{via}: {', '.join(roles)}" if roles else f"{name}{via}")
        return "; ".join(words) or "?"

    def _count_words(self) -> str:
        counts = json_object(self.summary.get("counts"))
        outcomes = Counter(
            {
                key: int(json_number(value) or 0)
                for key, value in json_object(counts.get("outcomes")).items()
            }
        )
        parts = [
            f"{_plural(counts.get('actions'), 'action')} ({count_words(outcomes, named=True)})",
            _plural(counts.get("overrides"), "override"),
            _plural(counts.get("notes"), "note"),
            _plural(counts.get("status_changes"), "status change"),
        ]
        return "; ".join(parts)

    def _timeline(self) -> None:
        entries = [json_object(item) for item in json_items(self.document.get("timeline"))]
        self.lines += ["## Timeline", ""]
        if not entries:
            self.lines.append("Nothing happened that the journal records.")
            return
        self.lines += [
            f"Runs of {FLAP_MIN_CHANGES} or more status changes of one signal, each within "
            f"{FLAP_WINDOW_SECONDS:.0f} s of the one before and with no action between, are "
            "collapsed into one line; the JSON report lists every change. "
            "⚠ marks records the hash chain does not vouch for.",
            "",
            "| time (UTC) | who | what |",
            "| --- | --- | --- |",
        ]
        for entry, text in _collapsed(entries, self.when):
            flag = "" if entry.get("trusted") is not False else "⚠ "
            what = f"**{text}**" if entry.get("kind") == "action" else text
            who = json_text(entry.get("who"))
            self.lines.append(
                f"| {flag}{self.when(entry.get('at'))} | {_cell(who)} | {_cell(what)} |"
            )

    def _actions(self) -> None:
        actions = [json_object(item) for item in json_items(self.document.get("actions"))]
        self.lines += ["## Actions", ""]
        if not actions:
            self.lines.append("No action was pressed.")
        for action in actions:
            self._action(action)

    def _action(self, action: Mapping[str, JsonValue]) -> None:
        outcome = json_text(action.get("outcome")).upper()
        self.lines += [
            f"### {json_text(action.get('id'))} · {json_text(action.get('action'))} by "
            f"{json_text(action.get('actor'))} — {outcome}",
            "",
        ]
        if action.get("trusted") is False:
            self.lines += ["> ⚠ Part of this action lies after the break in the hash chain.", ""]
        self.lines += self._action_facts(action)
        self.lines.append("")
        self._guards(action)
        self._action_state(action)
        self._action_screens(action)

    def _action_facts(self, action: Mapping[str, JsonValue]) -> list[str]:
        pressed = "Triggered" if action.get("actor") == AUTO_ABORT_ACTOR else "Pressed"
        lines = [f"- **{pressed}:** {self.when(action.get('pressed_at'))} UTC"]
        completed = action.get("completed_at")
        if completed:
            duration = json_number(action.get("duration_seconds")) or 0.0
            lines.append(
                f"- **Completed:** {self.when(completed)} UTC ({tenths_age_text(duration)} after)"
            )
        lines.append(
            f"- **Run:** {json_text(action.get('run'))} "
            f"(process {json_text(action.get('process'))}, mode {json_text(action.get('mode'))})"
        )
        lines.append(
            f"- **Outcome:** {json_text(action.get('outcome')).upper()}: "
            f"{json_text(action.get('message'))}"
        )
        auto_abort = json_object(action.get("auto_abort"))
        if auto_abort:
            lines.append(f"- **Auto-abort:** {json_text(auto_abort.get('reason'))}")
        lines += _plan_lines(json_object(action.get("plan")))
        override = json_object(action.get("override"))
        if override:
            lines.append(
                f"- **GUARDS OVERRIDDEN** at {self.when(override.get('at'))}: "
                f"{json_text(override.get('reason'))} (overridden: "
                f"{', '.join(json_texts(override.get('guards')))})"
            )
        lines += self._approval_lines(json_object(action.get("approval")))
        lines += _bullets("Execution", json_texts(action.get("evidence")))
        for undone in (json_object(item) for item in json_items(action.get("undone"))):
            evidence = "; ".join(json_texts(undone.get("evidence")))
            lines.append(
                f"- **Undone** at {self.when(undone.get('at'))}: "
                f"{json_text(undone.get('description'))}" + (f" — {evidence}" if evidence else "")
            )
        lines += self._verification_lines(action)
        return lines

    def _approval_lines(self, approval: Mapping[str, JsonValue]) -> list[str]:
        """The two-person rule's word on this action: approved by whom, broken glass, or neither."""
        kind, at = approval.get("kind"), self.when(approval.get("at"))
        requester, reason = json_text(approval.get("requester")), json_text(approval.get("reason"))
        if kind == "approved":
            return [
                f"- **Approved** by {json_text(approval.get('approver'))} (requested by "
                f"{requester}) at {at}, plan digest `{json_text(approval.get('digest'))}`, "
                f"reason: {reason}"
            ]
        if kind == "break-glass":
            return [f"- **BREAK-GLASS:** {reason} (run without a second operator, at {at})"]
        if kind == "approval-requested":
            return [f"- **Second operator:** asked for by {requester} at {at}; never approved"]
        return []

    def _verification_lines(self, action: Mapping[str, JsonValue]) -> list[str]:
        lines = []
        verification = json_object(action.get("verification"))
        if verification:
            verdict = "✓ verified" if verification.get("ok") is True else "✗ NOT VERIFIED"
            lines.append(f"- **Verification:** {verdict}: {json_text(verification.get('detail'))}")
        for key, label in (("error", "Error"), ("why", "Why")):
            if action.get(key):
                lines.append(f"- **{label}:** {json_text(action.get(key))}")
        lines += _bullets("Read back after the failure", json_texts(action.get("now")))
        inverse = json_object(action.get("inverse"))
        if inverse:
            undo = "recorded for rollback" if inverse.get("undoable") else "CANNOT BE UNDONE"
            lines.append(f"- **Inverse:** {json_text(inverse.get('description'))} ({undo})")
        return lines

    def _guards(self, action: Mapping[str, JsonValue]) -> None:
        guards = [json_object(item) for item in json_items(action.get("guards"))]
        if not guards:
            self.lines += ["Guards when pressed: none recorded.", ""]
            return
        self.lines += ["Guards when pressed:", ""]
        for guard in guards:
            passed = guard.get("passed") is True
            verdict = "✓ pass" if passed else f"✗ BLOCKED: {json_text(guard.get('reason'))}"
            self.lines.append(f"- {json_text(guard.get('title'))} — {verdict}")
            for fact in (json_object(item) for item in json_items(guard.get("facts"))):
                self.lines.append(f"  - {_fact_words(fact)}")
        self.lines.append("")

    def _action_state(self, action: Mapping[str, JsonValue]) -> None:
        states = [json_object(item) for item in json_items(action.get("state_at_press"))]
        self.lines += [f"State at that moment ({self.when(action.get('pressed_at'))}):", ""]
        if not states:
            self.lines += ["- no readings recorded by then", ""]
            return
        for state in states:
            detail = json_text(state.get("detail"))
            self.lines.append(
                f"- {json_text(state.get('signal'))}: {json_text(state.get('status')).upper()}"
                + (f": {detail}" if detail else "")
            )
        self.lines.append("")

    def _action_screens(self, action: Mapping[str, JsonValue]) -> None:
        screens = [json_object(item) for item in json_items(action.get("screens"))]
        if not screens:
            self.lines += ["Screen: no screen recorded.", ""]
            return
        for screen in screens:
            self.lines += [
                f"Screen when {json_text(screen.get('phase')) or 'saved'} "
                f"({self.when(screen.get('at'))}, {_screen_size(screen)}):",
                "",
                *_fenced(json_text(screen.get("text"))),
                "",
            ]

    def _charts(self) -> None:
        charts = json_object(self.document.get("charts"))
        width = int(json_number(charts.get("width")) or 0)
        marks = [
            int(json_number(json_object(m).get("column")) or 0)
            for m in json_items(charts.get("marks"))
        ]
        self.lines += [
            "## Charts",
            "",
            f"{width} columns from {self.when(charts.get('start'))} to "
            f"{self.when(charts.get('end'))} UTC; each column is the highest value in its "
            "slice of time, · where there was no data, ^ marks an action.",
            "",
        ]
        for item in json_items(charts.get("series")):
            self._chart(json_object(item), marks, width, charts)

    def _chart(
        self,
        chart: Mapping[str, JsonValue],
        marks: Sequence[int],
        width: int,
        charts: Mapping[str, JsonValue],
    ) -> None:
        title = json_text(chart.get("title"))
        if chart.get("no_data") is True:
            self.lines += [f"**{title}**: no data", ""]
            return
        unit = json_text(chart.get("unit"))
        highest, last = json_object(chart.get("max")), json_object(chart.get("last"))
        columns = [json_number(value) for value in json_items(chart.get("columns"))]
        log_scale = chart.get("scale") == "log"
        top = json_number(chart.get("top")) or 0.0
        self.lines += [
            f"**{title}** ({chart.get('scale')} scale, top {_amount(top, unit)}; "
            f"max {_amount(json_number(highest.get('value')), unit)} "
            f"at {self.when(highest.get('at'))}, "
            f"last {_amount(json_number(last.get('value')), unit)})",
            "",
            "```",
            f"│{bar_line(columns, top, log_scale=log_scale)}│",
            f" {marker_line(marks, width)}",
            f" {axis_line(self.when(charts.get('start')), self.when(charts.get('end')), width)}",
            "```",
            "",
        ]

    def _data_integrity(self) -> None:
        """The last result of each data integrity check, as the session ended."""
        checks = [json_object(check) for check in json_items(self.document.get("data_integrity"))]
        if not checks:
            return
        self.lines += ["## Data integrity (as last checked)", ""]
        for check in checks:
            status = (json_text(check.get("status")) or "?").upper()
            self.lines.append(
                f"- **{json_text(check.get('signal'))}** {status} at {self.when(check.get('at'))}:"
                f" {json_text(check.get('detail'))}"
            )
        for check in checks:
            self._integrity_tables(json_text(check.get("signal")), check.get("tables"))

    def _integrity_tables(self, signal: str, tables: JsonValue) -> None:
        """The database check's tables, one row each, the way the last run left them."""
        rows = [json_object(table) for table in json_items(tables)]
        if not rows:
            return
        self.lines += [
            "",
            f"{signal}, table by table (WAL positions are each side's at the table's snapshot):",
            "",
            "| table | result | rows old / new | checked (UTC) | WAL old / new | where |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for row in rows:
            table = json_text(row.get("table"))
            counts = f"{_count(row.get('old_rows'))} / {_count(row.get('new_rows'))}"
            positions = f"{json_text(row.get('old_position')) or '—'} / " + (
                json_text(row.get("new_position")) or "—"
            )
            where = json_text(row.get("where")) or "—"
            self.lines.append(
                f"| {_cell(table)} | {_cell(json_text(row.get('status')))} | {counts} "
                f"| {self.when(row.get('checked_at'))} | {_cell(positions)} | {_cell(where)} |"
            )

    def _notes(self) -> None:
        notes = [json_object(item) for item in json_items(self.document.get("notes"))]
        self.lines += ["## Notes", ""]
        if not notes:
            self.lines.append("No notes were written.")
        for note in notes:
            self.lines.append(
                f"- {self.when(note.get('at'))} UTC, {json_text(note.get('operator'))}: "
                f"{json_text(note.get('text'))}"
            )

    def _screens(self) -> None:
        screens = [json_object(item) for item in json_items(self.document.get("screens"))]
        if not screens:
            return
        self.lines += ["## Screens saved by the operator", ""]
        for screen in screens:
            self.lines += [
                f"Saved at {self.when(screen.get('at'))} UTC ({_screen_size(screen)}):",
                "",
                *_fenced(json_text(screen.get("text"))),
                "",
            ]


def _collapsed(
    entries: Sequence[Mapping[str, JsonValue]], when: Callable[[JsonValue], str]
) -> list[tuple[Mapping[str, JsonValue], str]]:
    """The timeline rows with each flapping run folded into its first row."""
    folded: dict[int, str] = {}
    hidden: set[int] = set()
    for run in _flapping_runs(entries):
        first, last = entries[run[0]], entries[run[-1]]
        statuses = json_distinct(entries[index].get("after") for index in run)
        folded[run[0]] = (
            f"{json_text(first.get('signal'))}: flapped {len(run)} times between "
            f"{when(first.get('at'))} and {when(last.get('at'))} "
            f"({' / '.join(json_texts(statuses))}); last: {json_text(last.get('text'))}"
        )
        hidden.update(run[1:])
    return [
        (entry, folded.get(index, json_text(entry.get("text"))))
        for index, entry in enumerate(entries)
        if index not in hidden
    ]


def _flapping_runs(entries: Sequence[Mapping[str, JsonValue]]) -> list[list[int]]:
    """Index runs of one signal's status changes close in time, with no action between them.

    A first reading is not a change, so it always keeps its own line.
    """
    found: list[list[int]] = []
    open_runs: dict[str, tuple[list[int], datetime]] = {}

    def close(signal: str) -> None:
        indexes, _ = open_runs.pop(signal)
        if len(indexes) >= FLAP_MIN_CHANGES:
            found.append(indexes)

    for index, entry in enumerate(entries):
        kind = entry.get("kind")
        if kind == "action":
            for signal in list(open_runs):
                close(signal)
        elif kind == "stale" or (kind == "status" and entry.get("before") is not None):
            signal, at = json_text(entry.get("signal")), parse_timestamp(json_text(entry.get("at")))
            current = open_runs.get(signal)
            if current and (at - current[1]).total_seconds() <= FLAP_WINDOW_SECONDS:
                current[0].append(index)
                open_runs[signal] = (current[0], at)
            else:
                if current:
                    close(signal)
                open_runs[signal] = ([index], at)
    for signal in list(open_runs):
        close(signal)
    return sorted(found)


def _plan_lines(plan: Mapping[str, JsonValue]) -> list[str]:
    """The plan as bullets: summary, one-way warning, changes, calls and notes."""
    if not plan:
        return []
    lines = [f"- **Plan:** {json_text(plan.get('summary'))}"]
    if plan.get("one_way") is True:
        lines.append("  - ONE-WAY DOOR: cannot be undone")
    for change in (json_object(item) for item in json_items(plan.get("changes"))):
        lines.append(
            f"  - change: {json_text(change.get('resource'))}: {json_text(change.get('before'))} → "
            f"{json_text(change.get('after'))}"
        )
    lines += [f"  - call: {call}" for call in json_texts(plan.get("calls"))]
    lines += [f"  - note: {note}" for note in json_texts(plan.get("notes"))]
    return lines


def _bullets(label: str, items: Sequence[str]) -> list[str]:
    """One labelled bullet, or a label with sub-bullets when there are several items."""
    if not items:
        return []
    if len(items) == 1:
        return [f"- **{label}:** {items[0]}"]
    return [f"- **{label}:**", *(f"  - {item}" for item in items)]


def _fact_words(fact: Mapping[str, JsonValue]) -> str:
    """'label: value (age 1.5s) [signal]' for one guard fact."""
    age = json_number(fact.get("age_seconds"))
    aged = f" (age {tenths_age_text(age)})" if age is not None else ""
    signal = json_text(fact.get("signal"))
    source = f" [{signal}]" if signal else ""
    return f"{json_text(fact.get('label'))}: {json_text(fact.get('value'))}{aged}{source}"


def _fenced(text: str) -> list[str]:
    """The text in a code fence longer than any run of backticks inside it."""
    longest, run = 0, 0
    for char in text:
        run = run + 1 if char == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return [fence, *text.rstrip("\n").split("\n"), fence]


def _cell(text: str) -> str:
    """The text made safe for one Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _screen_size(screen: Mapping[str, JsonValue]) -> str:
    """'80x24, cockpit', or 'command line' for what `cockpit act` printed."""
    width, height = screen.get("width"), screen.get("height")
    source = json_text(screen.get("source"))
    if width is None or height is None:
        return "command line" if source == "cli" else source
    size = f"{json_text(width)}x{json_text(height)}"
    return f"{size}, {source}" if source else size


def _amount(value: float | None, unit: str) -> str:
    """A chart value in its unit; ? when unknown."""
    if value is None:
        return "?"
    if unit == "bytes":
        return size_text(value)
    return f"{percent_number(value)} %" if unit == "%" else f"{value:g} {unit}"


def _plural(count: JsonValue, noun: str) -> str:
    """'1 note', '2 notes', '3 processes': the count with its noun."""
    number = int(json_number(count) or 0)
    if number == 1:
        return f"1 {noun}"
    return f"{number} {noun}es" if noun.endswith("s") else f"{number} {noun}s"


def _count(value: JsonValue) -> str:
    """A row count as written in a report cell: 30,000, or ? when not known."""
    count = json_int(value)
    return "?" if count is None else f"{count:,}"
