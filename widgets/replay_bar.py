"""The replay bar: one line saying where a replay stands, how fast it moves, and what is next."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from widgets.formatting import age_text, clock_text

PROGRESS_DONE = "█"
PROGRESS_LEFT = "░"
NARROW_PROGRESS_CELLS = 12
WIDE_PROGRESS_CELLS = 24
WIDE_FROM_COLUMNS = 100
GAP = "  "


@dataclass(frozen=True)
class ReplayStatus:
    """What the bar draws, as the replay app computes it from its playback.

    follow: watching a journal still being written; live: at its newest edge; ended: its writer
    closed it; problem: a damage or trust warning that outranks every hint.
    """

    position: datetime | None
    playing: bool
    speed: float
    progress: float
    at_end: bool = False
    follow: bool = False
    live: bool = False
    ended: bool = False
    previous_mark: str = ""
    next_mark: str = ""
    last_record_age_seconds: float | None = None
    problem: str = ""


def state_word(status: ReplayStatus) -> Text:
    """'▶ PLAYING 10x', '⏸ PAUSED 1x', '● FOLLOWING live' or '■ SESSION ENDED', styled."""
    if status.follow and status.live:
        if status.ended:
            return Text("■ SESSION ENDED", style="bold black on yellow")
        return Text("● FOLLOWING live", style="bold white on magenta")
    speed = f"{status.speed:g}x"
    if status.playing:
        return Text(f"▶ PLAYING {speed}", style="bold green")
    return Text(f"⏸ PAUSED {speed}", style="bold yellow")


def progress_text(progress: float, cells: int) -> Text:
    """'████░░░░ 50 %': how far through the journal."""
    done = round(max(0.0, min(1.0, progress)) * cells)
    return Text.assemble(
        (PROGRESS_DONE * done, "cyan"), (PROGRESS_LEFT * (cells - done), "dim"), f" {progress:.0%}"
    )


def situation_text(status: ReplayStatus) -> Text:
    """The most important thing to know now: damage, the end, or where the next mark is."""
    if status.problem:
        return Text(status.problem, style="bold red")
    if status.follow and status.live:
        if status.ended:
            return Text("journal closed · watching for a resume")
        age = status.last_record_age_seconds
        return Text("" if age is None else f"last record {age_text(age)} ago", style="dim")
    if status.at_end:
        return Text("end of journal · home = start", style="bold")
    hints = []
    if status.follow:
        hints.append("looking back · end = live")
    if status.next_mark:
        hints.append(f"] {status.next_mark}")
    elif status.previous_mark:
        hints.append(f"[ {status.previous_mark}")
    return Text(" · ".join(hints), style="dim")


def bar_text(status: ReplayStatus, width: int) -> Text:
    """The whole line in `width` cells; the hint on the right is cut first."""
    line = state_word(status)
    line.append(GAP)
    line.append(clock_text(status.position) if status.position else "--:--:--Z", style="bold")
    if not (status.follow and status.live):
        cells = WIDE_PROGRESS_CELLS if width >= WIDE_FROM_COLUMNS else NARROW_PROGRESS_CELLS
        line.append(GAP)
        line.append_text(progress_text(status.progress, cells))
    situation = situation_text(status)
    if situation.plain:
        line.append(GAP)
        line.append_text(situation)
    line.no_wrap = True
    line.truncate(max(1, width), overflow="ellipsis")
    return line


class ReplayBar(Static):
    """One line under the panels: play state, speed, replayed time, progress and the next mark."""

    DEFAULT_CSS = """
    ReplayBar {
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    """

    status: reactive[ReplayStatus | None] = reactive(None)
    """The playback as the app last computed it; None before the first tick."""

    def render(self) -> Text:
        if self.status is None:
            return Text("loading the journal…", style="dim italic")
        return bar_text(self.status, self.content_size.width or 80)
