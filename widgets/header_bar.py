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
CLOCK_GAP = 2


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
        width = self.content_size.width
        clock = self._clock_text()
        first = self._mode_name_phase(width)
        who = Text.assemble(("operator ", "dim"), self.operator, ("  journal ", "dim"))
        who.append(self.journal_path or "not recording")
        if first.cell_len + CLOCK_GAP + clock.cell_len <= width:
            first.pad_right(width - first.cell_len - clock.cell_len)
            first.append_text(clock)
        else:
            who = Text.assemble(clock, " " * CLOCK_GAP, who)
        who.truncate(max(1, width), overflow="ellipsis")
        return Text("\n").join([first, who])

    def _clock_text(self) -> Text:
        """'01:02:03Z (02:02 CET)': UTC, then the local time."""
        if self.now is None:
            return Text("--:--:--Z", style="bold")
        local = self.now.astimezone().strftime("%H:%M %Z")
        return Text(f"{self.now.strftime('%H:%M:%SZ')} ({local})", style="bold")

    def _mode_name_phase(self, width: int) -> Text:
        """Mode, cutover name and phase; the name gives way (marked …) so the phase stays whole."""
        mode = Text(f" {self.mode} ", MODE_STYLES.get(self.mode, "bold reverse"))
        phase = Text.assemble("  phase: ", (self.phase, "italic"))
        name = Text(self.cutover_name, "bold")
        room = width - mode.cell_len - 1 - phase.cell_len
        if name.cell_len > room:
            name.truncate(max(1, room), overflow="ellipsis")
        return Text.assemble(mode, " ", name, phase)
