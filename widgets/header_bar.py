"""The top lines: what cutover, which mode in words, the phase, the time, who and where."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

MODE_STYLES = {
    "LIVE": "bold white on red",
    "DRY-RUN": "bold black on yellow",
    "READ-ONLY": "bold black on cyan",
    "REPLAY": "bold white on blue",
    "FOLLOW": "bold white on magenta",
}


class HeaderBar(Static):
    """Cutover name, mode spelled out (survives no colour), phase, UTC and local time, operator."""

    DEFAULT_CSS = """
    HeaderBar {
        height: 2;
        background: $boost;
        padding: 0 1;
    }
    """

    cutover_name: reactive[str] = reactive("")
    """The [cutover] name from the config."""
    mode: reactive[str] = reactive("LIVE")
    """LIVE, DRY-RUN, READ-ONLY, REPLAY or FOLLOW (watching another session's journal)."""
    phase: reactive[str] = reactive("starting")
    """Where the runbook stands, in a few words."""
    now: reactive[datetime | None] = reactive(None)
    """The injected clock's time (UTC)."""
    operator: reactive[str] = reactive("")
    """user@host of whoever runs this session."""
    journal_path: reactive[str] = reactive("")
    """Where this session is being recorded."""

    def render(self) -> Text:
        clock = self.now.strftime("%H:%M:%SZ") if self.now else "--:--:--Z"
        local = self.now.astimezone().strftime("%H:%M %Z") if self.now else ""
        first = Text.assemble(
            (f" {self.mode} ", MODE_STYLES.get(self.mode, "bold reverse")),
            " ",
            (self.cutover_name, "bold"),
            "  phase: ",
            (self.phase, "italic"),
        )
        first.truncate(max(10, self.size.width - len(clock) - len(local) - 4), overflow="ellipsis")
        first.pad_right(max(0, self.size.width - first.cell_len - len(clock) - len(local) - 3))
        first.append(f"{clock} ({local})", style="bold")
        journal = self.journal_path or "not recording"
        second = Text.assemble(("operator ", "dim"), self.operator, ("  journal ", "dim"), journal)
        second.truncate(max(10, self.size.width - 2), overflow="ellipsis")
        return Text("\n").join([first, second])
