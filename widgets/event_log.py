"""Event log: what changed and when, newest at the bottom, filtered, flapping folded, scrollable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.reactive import reactive

from cockpit.live.events import (
    Event,
    EventFilter,
    LogLine,
    filtered,
    flap_text,
    fold_flapping,
    guard_word,
    next_filter,
)
from cockpit.model import Status
from widgets.formatting import STATUS_STYLES, STATUS_WORDS, clock_text
from widgets.panel import DetailLine, PanelRow, RowDetail, ScrollPanel

# Wide enough for the longest word, UNKNOWN, so the texts line up.
WORD_WIDTH = max(len(word) for word in STATUS_WORDS.values())
KIND_STYLE = "bold cyan"
FOLDED_STYLE = "italic"


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


def status_word(status: Status) -> str:
    return STATUS_WORDS[status]


def log_line_text(line: LogLine) -> Text:
    """An event's line, or for a folded run 'time WORD dns:app WARN⇄OK 12× in 5m'."""
    if not line.is_folded:
        return event_line(line.latest)
    return Text.assemble(
        (clock_text(line.latest.at), "dim"),
        " ",
        event_word(line.latest),
        " ",
        (flap_text(line, status_word), FOLDED_STYLE),
        no_wrap=True,
        overflow="ellipsis",
    )


def event_detail_line(event: Event) -> DetailLine:
    """'00:57:59Z' and 'WARN replication: ok → warn: replay paused', whole."""
    if event.status is None:
        word = event.kind.upper()
    elif event.kind == "guard":
        word = guard_word(event.status)
    else:
        word = STATUS_WORDS[event.status]
    return DetailLine(clock_text(event.at), f"{word} {event.text}")


def log_line_detail(line: LogLine) -> RowDetail:
    """One event's whole text, or every change a folded line stands for."""
    if line.is_folded:
        return RowDetail(
            flap_text(line, status_word), tuple(event_detail_line(e) for e in line.events)
        )
    event = line.latest
    lines = [event_detail_line(event), DetailLine("kind", event.kind)]
    if event.signal_id:
        lines.append(DetailLine("signal", event.signal_id))
    return RowDetail(f"{event.kind} at {clock_text(event.at)}", tuple(lines))


def log_rows(events: Sequence[Event], chosen: EventFilter) -> list[PanelRow]:
    """The events the filter shows, flapping folded, oldest first."""
    return [
        PanelRow(
            log_line_text(line),
            log_line_detail(line),
            f"{line.latest.at.isoformat()} {line.latest.signal_id} {line.latest.text}",
        )
        for line in fold_flapping(filtered(events, chosen))
    ]


class EventLogPanel(ScrollPanel):
    """Every event the view holds, one line each, newest at the bottom; it follows new ones.

    Scrolled up, it stays where it is; `f` cycles which kinds of event it shows.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "f",
            "cycle_filter",
            "Filter events",
            tooltip="event log: show all, actions, guards, signals or notes",
        ),
    ]

    starts_at_end: ClassVar[bool] = True

    events: reactive[tuple[Event, ...]] = reactive(())
    """Events, newest last, as the screen hands them down."""
    event_filter: reactive[EventFilter] = reactive(EventFilter.ALL)
    """Which kinds of event are shown."""

    def on_mount(self) -> None:
        self._refresh_title()

    def placeholder(self) -> Text | None:
        if not self.events:
            return Text("no events yet", style="dim italic")
        if not filtered(self.events, self.event_filter):
            return Text(f"no {self.event_filter.value} events yet", style="dim italic")
        return None

    def panel_rows(self) -> Sequence[PanelRow]:
        return log_rows(self.events, self.event_filter)

    def watch_events(self) -> None:
        self._refresh_title()

    def watch_event_filter(self) -> None:
        self._refresh_title()
        self.show_end()

    def action_cycle_filter(self) -> None:
        self.event_filter = next_filter(self.event_filter)

    def _refresh_title(self) -> None:
        """'EVENTS · all' or 'EVENTS · guards 12 of 200'."""
        title = f"EVENTS · {self.event_filter.value}"
        if self.event_filter is not EventFilter.ALL:
            shown = len(filtered(self.events, self.event_filter))
            title += f" {shown} of {len(self.events)}"
        self.border_title = title
