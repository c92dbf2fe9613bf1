"""Event log: what changed and when, newest at the bottom, as many as fit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from cockpit.live.events import Event
from widgets.formatting import STATUS_STYLES, STATUS_WORDS, clock_text

# Wide enough for the longest word, UNKNOWN, so the texts line up.
WORD_WIDTH = max(len(word) for word in STATUS_WORDS.values())
KIND_STYLE = "bold cyan"


def event_word(event: Event) -> Text:
    """The status as a word; an event without one (a note, an action) says its kind."""
    if event.status is None:
        return Text(event.kind.upper().ljust(WORD_WIDTH), style=KIND_STYLE)
    return Text(STATUS_WORDS[event.status].ljust(WORD_WIDTH), style=STATUS_STYLES[event.status])


def event_line(event: Event) -> Text:
    """'00:57:59Z WARN    replication: ok → warn: replay paused', cut to the width."""
    return Text.assemble(
        (clock_text(event.at), "dim"),
        " ",
        event_word(event),
        " ",
        event.text,
        no_wrap=True,
        overflow="ellipsis",
    )


def newest_that_fit(events: Sequence[Event], rows: int) -> Sequence[Event]:
    """The last `rows` events (at least one), oldest of them first."""
    return events[-max(1, rows) :]


class EventLogPanel(Static):
    """The newest events that fit the panel, one line each, newest at the bottom."""

    BORDER_TITLE: ClassVar[str] = "EVENTS"
    DEFAULT_CSS = """
    EventLogPanel {
        border: round $primary-darken-1;
        border-title-align: left;
        padding: 0 1;
        height: 1fr;
    }
    """

    events: reactive[tuple[Event, ...]] = reactive(())
    """Events, newest last, as the screen hands them down."""

    def render(self) -> RenderableType:
        if not self.events:
            return Text("no events yet", style="dim italic")
        shown = newest_that_fit(self.events, self.size.height)
        return Group(*(event_line(event) for event in shown))
