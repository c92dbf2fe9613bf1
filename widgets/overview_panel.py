"""The go/no-go overview: one line per signal family, then the next runbook step and its verdict."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import Console
from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive

from cockpit.model import Status
from cockpit.session.overview import FamilyLine, Go, NextStep, Overview
from widgets.formatting import STATUS_STYLES, STATUS_WORDS, age_text
from widgets.panel import GUTTER, DetailLine, PanelRow, RowDetail, SignalPanel

VERDICT_STATUS = {
    Go.GO: Status.OK,
    Go.DONE: Status.OK,
    Go.WAIT: Status.WARN,
    Go.RUNNING: Status.WARN,
    Go.NO_GO: Status.CRITICAL,
    Go.UNJUDGED: Status.UNKNOWN,
}
"""The status whose style (and strip colour) each verdict takes."""
WAITING_WORD = "…"
COLUMN_GAP = 3
REASON_SEPARATOR = "; "


def family_cells(line: FamilyLine) -> tuple[Text, str, str, str]:
    """The status word (styled), the name, the key number and the age of one family."""
    word = Text(STATUS_WORDS[line.status], STATUS_STYLES[line.status]) if line.status else None
    age = "" if line.age_seconds is None else f"{age_text(line.age_seconds)} ago"
    return (word or Text(WAITING_WORD, "dim"), line.name, line.key_number, age)


def family_rows(families: Sequence[FamilyLine], width: int) -> list[Text]:
    """The family lines in as many side-by-side columns as fit in `width`, read down then across."""
    cells = [family_cells(line) for line in families]
    if not cells:
        return []
    widths = [max(len(cell[i]) for cell in cells) for i in range(4)]
    entry_width = sum(widths) + 3
    columns = max(1, min(len(cells), (width + COLUMN_GAP) // (entry_width + COLUMN_GAP)))
    rows = -(-len(cells) // columns)
    lines = []
    for row in range(rows):
        entries = [_entry(cells[i], widths) for i in range(row, len(cells), rows)]
        lines.append(Text(" " * COLUMN_GAP).join(entries))
    return lines


def _entry(cells: tuple[Text, str, str, str], widths: list[int]) -> Text:
    word, name, key_number, age = cells
    padded = word.copy()
    padded.pad_right(widths[0] - len(word))
    return Text.assemble(
        padded,
        " ",
        (name.ljust(widths[1]), "bold"),
        " ",
        key_number.ljust(widths[2]),
        " ",
        (age.rjust(widths[3]), "dim"),
    )


def next_step_text(step: NextStep) -> Text:
    """'NEXT: 4 Replica promoted — NO-GO: reason; reason', or '… — GO: press m (Maintenance on)'."""
    style = STATUS_STYLES[VERDICT_STATUS[step.verdict]]
    title = f"{step.number} {step.title}" if step.number else step.title or "nothing"
    said = Text.assemble(("NEXT: ", "bold"), (title, "bold"), " — ", (step.verdict.value, style))
    if step.verdict is Go.GO:
        said.append(f": press {step.key_label} ({step.action_title})")
    elif step.reasons:
        said.append(": " + REASON_SEPARATOR.join(step.reasons))
    return said


def overview_lines(overview: Overview, width: int, console: Console) -> list[Text]:
    """Every line the overview draws at `width`, the next step wrapped, nothing cut."""
    said = [*family_rows(overview.families, width), next_step_text(overview.next_step)]
    return [wrapped for line in said for wrapped in line.wrap(console, max(1, width))]


def next_step_detail(step: NextStep) -> RowDetail:
    """The next step opened: its verdict, the action that moves it and every reason whole."""
    title = f"{step.number} {step.title}" if step.number else step.title or "nothing"
    lines = [DetailLine("verdict", step.verdict.value)]
    if step.key_label:
        lines.append(DetailLine("action", f"{step.key_label} ({step.action_title})"))
    lines += [
        DetailLine("reason" if n == 0 else "", reason) for n, reason in enumerate(step.reasons)
    ]
    return RowDetail(f"NEXT: {title}", tuple(lines))


class OverviewPanel(SignalPanel):
    """The go/no-go at a glance: each family's status, key number and age; the next step's verdict.

    As a panel (one at a time) it has the panels' frame, coloured by the verdict; as a strip
    above the grid (class -strip, set by the screen) it has none and takes only its lines.
    """

    DEFAULT_CSS = """
    OverviewPanel.-strip { border: none; height: auto; background: $boost; }
    """

    panel_title: ClassVar[str] = "GO/NO-GO"

    overview: reactive[Overview] = reactive(Overview)
    """The overview the session computed for this moment. Its ages change every second, but its
    height only with its number of lines, so only that redoes the screen's layout."""

    _lines_laid_out: int = -1

    def placeholder(self) -> Text | None:
        return None

    def panel_rows(self) -> Sequence[PanelRow]:
        families = family_rows(self.overview.families, self.row_width())
        step = self.overview.next_step
        rows = [PanelRow(line) for line in families]
        rows.append(PanelRow(next_step_text(step), next_step_detail(step), "next"))
        return rows

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(overview_lines(self.overview, max(1, width - GUTTER), self.app.console))

    def _refresh_frame(self) -> None:
        """Title 'GO/NO-GO · NO-GO'; the frame takes the colour of the verdict's status."""
        verdict = self.overview.next_step.verdict
        self.border_title = f"{self.panel_title} · {verdict.value}"
        status = VERDICT_STATUS[verdict]
        for candidate in Status:
            self.set_class(candidate is status, f"-{candidate.value}")

    def watch_overview(self) -> None:
        self._refresh_frame()
        lines = len(overview_lines(self.overview, self.row_width(), self.app.console))
        if lines != self._lines_laid_out:
            self._lines_laid_out = lines
            self.refresh(layout=True)
