"""`?`: every key the cockpit answers to, what each status word means, and what each panel shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from cockpit.model import Status
from screens.reading_dialog import ReadingDialog
from widgets.formatting import status_text

PALETTE_HINT = "Ctrl+P opens the command palette: every command, searchable."


def two_columns(
    title: str, headings: tuple[str, str], rows: Sequence[tuple[Text | str, str]]
) -> Table:
    """A titled table: a short left column that never wraps, and its explanation."""
    table = Table(title=title, expand=True, show_edge=False)
    table.add_column(headings[0], no_wrap=True, style="bold")
    table.add_column(headings[1])
    for left, right in rows:
        table.add_row(left, Text(right))
    return table


class HelpScreen(ReadingDialog):
    """Lists the keys, the status words and the panel labels; escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "dismiss", "Close", show=False)
    ]

    DEFAULT_CSS = """
    HelpScreen > VerticalScroll { width: 76; }
    HelpScreen Static { margin-bottom: 1; }
    """

    def __init__(
        self,
        keys: Sequence[tuple[str, str]],
        statuses: Sequence[tuple[Status, str]] = (),
        panels: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__()
        self.keys = tuple(keys)
        self.statuses = tuple(statuses)
        self.panels = tuple(panels)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(two_columns("Keys", ("key", "does"), self.keys))
            yield Static(Text(PALETTE_HINT))
            if self.statuses:
                words = [(status_text(status), meaning) for status, meaning in self.statuses]
                yield Static(two_columns("Status words", ("word", "means"), words))
            if self.panels:
                yield Static(two_columns("Panels", ("label", "shows"), self.panels))
