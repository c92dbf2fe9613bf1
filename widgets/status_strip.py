"""One line with every panel's status, so nothing is hidden even when only one panel fits."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from cockpit.model import Status
from widgets.formatting import STATUS_STYLES, STATUS_WORDS


class StatusStrip(Static):
    """Panel key, short name and worst status for each panel: '1 REPL OK  2 TGT WARN …'."""

    DEFAULT_CSS = """
    StatusStrip {
        height: auto;
        padding: 0 1;
    }
    """

    entries: reactive[tuple[tuple[str, str, Status | None, str], ...]] = reactive(())
    """(key, short name, worst status or None, word to show instead of the status or '')."""
    active: reactive[str] = reactive("")
    """The key of the panel shown when only one fits."""

    def render(self) -> Text:
        parts = [self._entry(*entry) for entry in self.entries]
        return Text(" ").join(parts)

    def _entry(self, key: str, name: str, status: Status | None, word: str) -> Text:
        marker = "bold underline" if key == self.active else ""
        shown = word or (STATUS_WORDS[status] if status else "…")
        style = STATUS_STYLES[status] if status else "dim"
        return Text.assemble((f"{key} {name} ", marker), (shown, style), " ")
