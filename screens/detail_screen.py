"""Enter on a panel's row: its whole text, nothing cut, in a dialog that escape closes."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from screens.reading_dialog import ReadingDialog
from widgets.panel import DetailLine, RowDetail

INDENT = "  "
CLOSE_HINT = "escape closes · ↑↓ PgUp PgDn scroll"


def detail_line_text(line: DetailLine) -> Text:
    """'  reason: maintenance is off: turn it on first', the label dimmed, the text wrapped."""
    text = Text(INDENT * line.depth)
    if line.label:
        text.append(line.label, style="bold" if not line.text else "dim")
        text.append(": " if line.text else "")
    text.append(line.text)
    return text


def detail_text(detail: RowDetail) -> Text:
    """The title, then every line of the detail, wrapping where the dialog is narrow."""
    lines = [Text(detail.title, style="bold underline")]
    lines.extend(detail_line_text(line) for line in detail.lines)
    return Text("\n").join(lines)


class DetailScreen(ReadingDialog):
    """A row's detail: its title and every line of its whole text; escape, q or enter close it.

    The title comes from outside (a signal's name), so it is drawn as text, never as markup.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "dismiss", "Close", show=False)]

    DEFAULT_CSS = """
    DetailScreen > VerticalScroll {
        width: 90%;
        max-width: 120;
        height: auto;
        border-subtitle-align: right;
    }
    """

    def __init__(self, detail: RowDetail) -> None:
        super().__init__()
        self.detail = detail

    def compose(self) -> ComposeResult:
        body = VerticalScroll()
        body.border_subtitle = CLOSE_HINT
        with body:
            yield Static(detail_text(self.detail), id="detail-text")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def shown_text(self) -> str:
        """The detail as plain text, as it is drawn."""
        return detail_text(self.detail).plain
