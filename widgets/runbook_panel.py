"""Runbook: the cutover checklist, each step DONE, TODO or ?? with the value that says so."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.reactive import reactive

from cockpit.model import SignalKind, Status
from cockpit.rules.runbook import StepCheck, StepState, current_step_index
from widgets.panel import DetailLine, PanelRow, RowDetail, SignalPanel

STEP_WORDS = {StepState.DONE: "DONE", StepState.PENDING: "TODO", StepState.UNKNOWN: "??"}
STEP_STYLES = {
    StepState.DONE: "bold green",
    StepState.PENDING: "bold yellow",
    StepState.UNKNOWN: "bold magenta",
}
WORD_WIDTH = max(len(word) for word in STEP_WORDS.values())
CURRENT_MARK = ">"
# From this content width on, the current step also says which signal value proves it.
WIDE_COLUMNS = 100


def _title_width(checks: Sequence[StepCheck]) -> int:
    return max(len(check.step.title) for check in checks)


def step_line(number: int, check: StepCheck, title_width: int, current: bool) -> Text:
    """'> TODO 4 Replica promoted        — replica still in recovery', cut to the width."""
    word = STEP_WORDS[check.state]
    line = Text.assemble(
        (CURRENT_MARK if current else " ", "bold"),
        " ",
        (word.ljust(WORD_WIDTH), STEP_STYLES[check.state]),
        f" {number} ",
        (check.step.title.ljust(title_width), "bold" if current else ""),
        " — ",
        (check.evidence, "" if check.state is StepState.DONE else "italic"),
        no_wrap=True,
        overflow="ellipsis",
    )
    if current:
        line.stylize("reverse", 0, len(line))
    return line


def proof_line(check: StepCheck) -> Text:
    """The sentence saying which signal value would prove the current step."""
    indent = " " * (2 + WORD_WIDTH + 3)
    return Text(
        f"{indent}proven by: {check.step.proven_by}",
        style="dim",
        no_wrap=True,
        overflow="ellipsis",
    )


def step_detail(number: int, check: StepCheck) -> RowDetail:
    """The step's state, its whole evidence and which signal value proves it."""
    return RowDetail(
        f"{number} {check.step.title}",
        (
            DetailLine("state", STEP_WORDS[check.state]),
            DetailLine("evidence", check.evidence),
            DetailLine("proven by", check.step.proven_by),
        ),
    )


class RunbookPanel(SignalPanel):
    """The cutover checklist with each step's evidence; the first step not done is highlighted."""

    panel_title: ClassVar[str] = "RUNBOOK"
    kind: ClassVar[SignalKind | None] = None

    checks: reactive[tuple[StepCheck, ...]] = reactive(())
    """Every runbook step's state and evidence, in order, as the screen evaluates them."""

    def placeholder(self) -> Text | None:
        if not self.configured:
            return Text("not configured", style="dim")
        if not self.checks:
            return Text("waiting…", style="dim italic")
        return None

    def panel_rows(self) -> Sequence[PanelRow]:
        return self.step_rows(self.checks, self.row_width())

    def step_rows(self, checks: Sequence[StepCheck], width: int) -> list[PanelRow]:
        """One row per step; when wide, the current step's proof sentence under it."""
        current = current_step_index(checks)
        title_width = _title_width(checks)
        rows: list[PanelRow] = []
        for index, check in enumerate(checks):
            line = step_line(index + 1, check, title_width, index == current)
            content: RenderableType = line
            if index == current and width >= WIDE_COLUMNS:
                content = Group(line, proof_line(check))
            rows.append(PanelRow(content, step_detail(index + 1, check), check.step.step_id))
        return rows

    def done_count(self) -> int:
        return sum(1 for check in self.checks if check.state is StepState.DONE)

    def _refresh_frame(self) -> None:
        """Title 'RUNBOOK · 3/8 done'; the border turns ok only when every step is done."""
        if not self.configured:
            summary = "OFF"
        elif not self.checks:
            summary = "…"
        else:
            summary = f"{self.done_count()}/{len(self.checks)} done"
        self.border_title = f"{self.panel_title} · {summary}"
        all_done = bool(self.checks) and self.done_count() == len(self.checks)
        for candidate in Status:
            self.set_class(all_done and candidate is Status.OK, f"-{candidate.value}")

    def watch_checks(self) -> None:
        self._refresh_frame()
