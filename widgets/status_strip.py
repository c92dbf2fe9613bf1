"""One line with every panel's status, so nothing is hidden even when only one panel fits."""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.widgets import Static

from cockpit.model import Status
from widgets.formatting import STATUS_STYLES, STATUS_WORDS

ENTRY_GAP = "  "


class StatusStrip(Static):
    """Panel key, short name and worst status for each panel: '1 REPL OK  2 TGT WARN …'.

    Entries that do not fit the width go on the next line whole, so none is ever cut.
    """

    DEFAULT_CSS = """
    StatusStrip {
        height: auto;
        padding: 0 1;
    }
    """

    entries: reactive[tuple[tuple[str, str, Status | None, str], ...]] = reactive((), layout=True)
    """(key, short name, worst status or None, word to show instead of the status or '')."""
    active: reactive[str] = reactive("")
    """The key of the panel shown when only one fits."""

    def render(self) -> Text:
        return Text("\n").join(self.lines(self.content_size.width))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.lines(width))

    def lines(self, width: int) -> list[Text]:
        """The entries packed into lines of `width` cells, an entry never split across two."""
        lines: list[Text] = []
        for entry in (self._entry(*entry) for entry in self.entries):
            if lines and lines[-1].cell_len + len(ENTRY_GAP) + entry.cell_len <= width:
                lines[-1].append(ENTRY_GAP).append_text(entry)
            else:
                lines.append(entry)
        return lines or [Text()]

    def _entry(self, key: str, name: str, status: Status | None, word: str) -> Text:
        marker = "bold underline" if key == self.active else ""
        shown = word or (STATUS_WORDS[status] if status else "…")
        style = STATUS_STYLES[status] if status else "dim"
        return Text.assemble((f"{key} {name}", marker), " ", (shown, style))
