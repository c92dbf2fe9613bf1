"""The frame every panel shares: rows that scroll under 'more' markers, and a detail per row."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import ClassVar

from rich.console import RenderableType
from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Static

from cockpit.model import Reading, SignalKind, Status, worst
from widgets.formatting import NO_DATA, STATUS_WORDS, age_text, clock_text

ABOVE_MARK = "▲"
BELOW_MARK = "▼"
MARKER_STYLE = "bold reverse"
SELECTED_MARK = "▌"
ITEM_MARK = "•"
GUTTER = 1
"""Columns left of every line for the selection mark, so a selected row reads without colour."""
MIN_MARKED_HEIGHT = 3
"""Below this many lines a panel shows no markers: there would be no room left for content."""
WHEEL_LINES = 2
FALLBACK_WIDTH = 76


@dataclass(frozen=True)
class DetailLine:
    """One line of a row's detail: a label (may be empty) and the whole text, never cut."""

    label: str
    text: str
    depth: int = 0


@dataclass(frozen=True)
class RowDetail:
    """What a row opens into: a title and every line of its whole text."""

    title: str
    lines: tuple[DetailLine, ...]


@dataclass(frozen=True)
class PanelRow:
    """One row of a panel: what it draws, a key that keeps it selected, and its detail if any.

    The detail may be a function that builds it, for rows whose detail costs far more than
    the row itself (a record with a hundred servers): it is built only when the row is opened.
    """

    content: RenderableType
    detail: RowDetail | Callable[[], RowDetail] | None = None
    key: str = ""


@dataclass(frozen=True)
class Window:
    """Which content lines show: `shown` of them from `top`, and how many hide above and below."""

    top: int
    shown: int
    above: int
    below: int

    @property
    def end(self) -> int:
        return self.top + self.shown


def visible_window(top: int, total: int, height: int) -> Window:
    """The lines shown from `top` in `height` rows, a marker row taken for each hidden side."""
    if total <= height or height < MIN_MARKED_HEIGHT:
        top = max(0, min(top, total - height))
        shown = min(total, height)
        return Window(top, shown, top, total - top - shown)
    top = max(0, min(top, total - height + 1))
    room = height - (1 if top > 0 else 0)
    if top + room < total:
        room -= 1
    return Window(top, room, top, total - top - room)


def top_showing(first: int, end: int, current: int, total: int, height: int) -> int:
    """The top nearest `current` that shows lines `first` up to `end` (from `first` if too long)."""
    window = visible_window(current, total, height)
    if window.top <= first and end <= window.end:
        return window.top
    if first < window.top:
        return visible_window(first, total, height).top
    top = window.top
    while top < first and visible_window(top, total, height).end < end:
        top += 1
    return top


def value_text(value: object) -> str:
    """A typed value in words: NO_DATA for None, yes/no, an enum's value, else its text."""
    if value is None:
        return NO_DATA
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, datetime):
        return clock_text(value)
    return str(value)


def typed_value_lines(values: object, depth: int = 0) -> list[DetailLine]:
    """Every field of a family's typed values, nested rows indented under their field."""
    if not dataclasses.is_dataclass(values):
        return [DetailLine("", value_text(values), depth)]
    lines: list[DetailLine] = []
    for field in dataclasses.fields(values):
        value = getattr(values, field.name)
        label = field.name.replace("_", " ")
        if isinstance(value, tuple) and value and dataclasses.is_dataclass(value[0]):
            lines.append(DetailLine(label, f"{len(value)}", depth))
            for item in value:
                first, *rest = typed_value_lines(item, depth + 1)
                lines += [dataclasses.replace(first, label=f"{ITEM_MARK} {first.label}"), *rest]
        elif dataclasses.is_dataclass(value):
            lines.append(DetailLine(label, "", depth))
            lines.extend(typed_value_lines(value, depth + 1))
        else:
            lines.append(DetailLine(label, _sequence_text(value), depth))
    return lines


def _sequence_text(value: object) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(value_text(item) for item in value) or NO_DATA
    return value_text(value)


def reading_detail(reading: Reading, now: datetime, values: object) -> RowDetail:
    """A signal's detail: status and age, its whole sentence, then every typed value."""
    status = reading.status_at(now)
    ago = f"{age_text(reading.age_seconds(now))} ago"
    head = (
        DetailLine("status", STATUS_WORDS[status]),
        DetailLine("observed", f"{clock_text(reading.observed_at)}, {ago}"),
        DetailLine("detail", reading.detail or NO_DATA),
    )
    typed = () if values is None else tuple(typed_value_lines(values))
    return RowDetail(reading.signal_id, head + typed)


def merged_detail(details: Sequence[RowDetail]) -> RowDetail:
    """Several details as one (a row drawing several signals): each under its own title."""
    if len(details) == 1:
        return details[0]
    lines = tuple(line for d in details for line in (DetailLine(d.title, ""), *d.lines))
    return RowDetail(" · ".join(d.title for d in details), lines)


def line_text(segments: Sequence[Segment]) -> Text:
    """A rendered line back as one Text, kept to one row."""
    line = Text(no_wrap=True, overflow="crop", end="")
    for segment in segments:
        if not segment.control:
            line.append(segment.text, segment.style)
    return line


def is_one_line(content: RenderableType) -> bool:
    """True for a Text that draws as exactly one line, so it need not be rendered to count."""
    return isinstance(content, Text) and content.no_wrap is True and "\n" not in content.plain


class ScrollPanel(Static, can_focus=True):
    """Rows that scroll (keys, wheel) with a marker for what is hidden; enter opens a row.

    Every panel draws through this: whatever does not fit is reachable and said to be there,
    and each row can open into a detail that shows its whole text.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Row up", show=False, tooltip="select the row above (scrolls)"),
        Binding(
            "down", "move(1)", "Row down", show=False, tooltip="select the row below (scrolls)"
        ),
        Binding("pageup", "page(-1)", "Page up", show=False, tooltip="scroll the panel a page up"),
        Binding(
            "pagedown", "page(1)", "Page down", show=False, tooltip="scroll the panel a page down"
        ),
        Binding(
            "enter",
            "open_row",
            "Details",
            tooltip="open the selected row: its whole text and facts",
        ),
    ]

    DEFAULT_CSS = """
    ScrollPanel {
        border: round $primary-darken-1;
        border-title-align: left;
        padding: 0 1 0 0;
        height: 1fr;
    }
    ScrollPanel:focus { border-title-style: bold reverse; }
    """

    starts_at_end: ClassVar[bool] = False
    """True for a log: it opens at its newest rows and follows them while left at the end."""

    class RowOpened(Message):
        """Enter on a row: the screen shows its detail."""

        def __init__(self, detail: RowDetail) -> None:
            super().__init__()
            self.detail = detail

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.top_line = 0
        self.selected_key: str | None = None
        self._at_end = self.starts_at_end
        self._rows: tuple[PanelRow, ...] = ()
        self._spans: tuple[tuple[int, int], ...] = ()
        self._row_at: dict[int, int] = {}

    def panel_rows(self) -> Sequence[PanelRow]:
        """The panel's content as rows; subclasses say what they show."""
        return ()

    def placeholder(self) -> Text | None:
        """What the panel says instead of rows (not configured, waiting), or None."""
        return None

    def row_width(self) -> int:
        """Columns a row may use: the content width less the selection gutter."""
        return max(1, (self.size.width or FALLBACK_WIDTH + GUTTER) - GUTTER)

    def render(self) -> RenderableType:
        placeholder = self.placeholder()
        if placeholder is not None:
            self._rows, self._spans = (), ()
            return Text(" " * GUTTER, end="").append_text(placeholder)
        lines = self._lay_out(self.panel_rows())
        window = self._window(len(lines))
        return self._drawn(lines, window)

    def show_end(self) -> None:
        """Scrolls to the last rows (a log then follows the newest again)."""
        self._at_end = True
        self.refresh()

    def content_lines(self) -> list[Text]:
        """Every line of the panel's content, shown or not, as it draws them."""
        if self.placeholder() is not None:
            return []
        lines = self._lay_out(self.panel_rows())
        return [self._line(lines, number) for number in range(len(lines))]

    def hidden_counts(self) -> tuple[int, int]:
        """(lines above, lines below) the visible part, as the markers say."""
        window = self._window(self._total())
        return window.above, window.below

    def selected_row(self) -> PanelRow | None:
        index = self._selected_index()
        return None if index is None else self._rows[index]

    def _lay_out(self, rows: Sequence[PanelRow]) -> list[Text | None]:
        """Every content line (None for a line not drawn yet) and each row's span of lines."""
        self._rows = tuple(rows)
        width = self.row_width()
        lines: list[Text | None] = []
        spans: list[tuple[int, int]] = []
        for row in self._rows:
            start = len(lines)
            if is_one_line(row.content):
                lines.append(None)
            else:
                lines.extend(self._rendered(row.content, width))
            spans.append((start, len(lines)))
        self._spans = tuple(spans)
        self._row_at = {start: index for index, (start, _) in enumerate(spans)}
        return lines

    def _rendered(self, content: RenderableType, width: int) -> list[Text | None]:
        console = self.app.console
        options = console.options.update(width=width, height=None)
        return [line_text(line) for line in console.render_lines(content, options, pad=False)]

    def _total(self) -> int:
        return self._spans[-1][1] if self._spans else 0

    def _height(self) -> int:
        """Rows to draw in; a hidden panel (no size) keeps all its lines for whoever reads them."""
        return self.size.height or max(1, self._total())

    def _window(self, total: int) -> Window:
        if self._at_end:
            self.top_line = total
            self._at_end = self.starts_at_end
        window = visible_window(self.top_line, total, self._height())
        self.top_line = window.top
        return window

    def _drawn(self, lines: list[Text | None], window: Window) -> RenderableType:
        shown: list[Text] = []
        if window.above:
            shown.append(self._marker(ABOVE_MARK, window.above))
        selected = self._selected_index() if self.has_focus else None
        chosen = self._spans[selected] if selected is not None else (0, 0)
        for number in range(window.top, window.end):
            gutter = Text(SELECTED_MARK, style="bold", end="")
            if not chosen[0] <= number < chosen[1]:
                gutter = Text(" " * GUTTER, end="")
            shown.append(gutter.append_text(self._line(lines, number)))
        if window.below:
            shown.append(self._marker(BELOW_MARK, window.below))
        drawn = Text("\n", end="").join(shown)
        drawn.no_wrap, drawn.overflow = True, "crop"
        return drawn

    def _line(self, lines: list[Text | None], number: int) -> Text:
        line = lines[number]
        if line is not None:
            return line
        content = self._rows[self._row_at[number]].content
        assert isinstance(content, Text)
        drawn = content.copy()
        drawn.truncate(self.row_width(), overflow=content.overflow or "ellipsis")
        return drawn

    def _marker(self, mark: str, count: int) -> Text:
        marker = Text(" " * GUTTER, end="")
        return marker.append(f"{mark} {count} more", style=MARKER_STYLE)

    def _selectable(self) -> list[int]:
        return [index for index, row in enumerate(self._rows) if row.detail is not None]

    def _selected_index(self) -> int | None:
        if self.selected_key is None:
            return None
        for index, row in enumerate(self._rows):
            if row.detail is not None and self._key_of(index) == self.selected_key:
                return index
        return None

    def _key_of(self, index: int) -> str:
        return self._rows[index].key or f"#{index}"

    def _visible_selectable(self) -> list[int]:
        window = self._window(self._total())
        return [
            index
            for index in self._selectable()
            if self._spans[index][0] < window.end and self._spans[index][1] > window.top
        ]

    def _select(self, index: int) -> None:
        self.selected_key = self._key_of(index)
        first, end = self._spans[index]
        total = self._total()
        self.top_line = top_showing(first, end, self.top_line, total, self._height())
        self._settle(total)

    def _scroll_by(self, lines: int) -> None:
        total = self._total()
        self._at_end = False
        self.top_line = visible_window(self.top_line + lines, total, self._height()).top
        self._settle(total)

    def _settle(self, total: int) -> None:
        """Remembers whether the window sits at the end (a log then follows new rows)."""
        self._at_end = (
            self.starts_at_end and visible_window(self.top_line, total, self._height()).end >= total
        )
        self.refresh()

    def action_move(self, step: int) -> None:
        """Selects the next row in that direction; past the last row, scrolls a line."""
        self._at_end = False
        current = self._selected_index()
        visible = self._visible_selectable()
        if current is None or current not in visible:
            nearest = visible or self._nearest_selectable(step)
            if nearest:
                self._select(nearest[0] if step > 0 else nearest[-1])
            else:
                self._scroll_by(step)
            return
        candidates = [i for i in self._selectable() if (i - current) * step > 0]
        if candidates:
            self._select(candidates[0] if step > 0 else candidates[-1])
        else:
            self._scroll_by(step)

    def _nearest_selectable(self, step: int) -> list[int]:
        """With no openable row in view: those that way of the window, else the other way."""
        window = self._window(self._total())
        below = [i for i in self._selectable() if self._spans[i][0] >= window.end]
        above = [i for i in self._selectable() if self._spans[i][1] <= window.top]
        ahead, behind = (below, above) if step > 0 else (above, below)
        if ahead:
            return ahead
        return behind[-1:] if step > 0 else behind[:1]

    def action_page(self, step: int) -> None:
        self._scroll_by(step * max(1, self._height() - 2))
        visible = self._visible_selectable()
        if visible and self._selected_index() not in visible:
            self.selected_key = self._key_of(visible[0] if step > 0 else visible[-1])

    def action_open_row(self) -> None:
        """Opens the selected row's detail; with none selected, the first row in view."""
        index = self._selected_index()
        visible = self._visible_selectable()
        if index is None or index not in visible:
            if not visible:
                return
            index = visible[0]
            self._select(index)
        detail = self._rows[index].detail
        if detail is not None:
            self.post_message(self.RowOpened(detail() if callable(detail) else detail))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self._scroll_by(WHEEL_LINES)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self._scroll_by(-WHEEL_LINES)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()


class SignalPanel(ScrollPanel):
    """Draws the readings it is given and their age; it never fetches anything itself."""

    DEFAULT_CSS = """
    SignalPanel.-ok { border: round $success-darken-1; }
    SignalPanel.-warn { border: round $warning; border-title-style: bold; }
    SignalPanel.-critical { border: heavy $error; border-title-style: bold reverse; }
    SignalPanel.-unknown { border: round $secondary; border-title-style: reverse; }
    SignalPanel.-stale { border: dashed $secondary; border-title-style: bold underline; }
    """

    panel_title: ClassVar[str] = "PANEL"
    kind: ClassVar[SignalKind | None] = None

    readings: reactive[tuple[Reading, ...]] = reactive(())
    """This panel's latest readings, one per signal, as the screen hands them down."""
    now: reactive[datetime | None] = reactive(None)
    """The injected clock's time, so ages and staleness are computed against it."""
    configured: reactive[bool] = reactive(True)
    """False when the config has no section for this panel."""
    series: reactive[dict[tuple[str, str], tuple[float, ...]]] = reactive(dict)
    """History for sparklines: (signal id, value name) -> numbers, oldest first."""

    sparkline_values: ClassVar[tuple[str, ...]] = ()
    """Value names this panel draws history for; the screen fills `series` with them."""

    def panel_status(self) -> Status | None:
        """The worst effective status of this panel's readings; None while there are none."""
        if not self.readings or self.now is None:
            return None
        return worst(reading.status_at(self.now) for reading in self.readings)

    def oldest_age_seconds(self) -> float | None:
        if not self.readings or self.now is None:
            return None
        return max(reading.age_seconds(self.now) for reading in self.readings)

    def placeholder(self) -> Text | None:
        if not self.configured:
            return Text("not configured", style="dim")
        if not self.readings or self.now is None:
            return Text("waiting for the first reading…", style="dim italic")
        return None

    def panel_rows(self) -> Sequence[PanelRow]:
        assert self.now is not None
        return self.reading_rows(self.readings, self.now)

    def reading_rows(self, readings: Sequence[Reading], now: datetime) -> list[PanelRow]:
        """The panel's rows; subclasses draw their signals here."""
        return [
            PanelRow(
                Text(f"{r.signal_id}: {r.detail}", no_wrap=True, overflow="ellipsis"),
                reading_detail(r, now, None),
                r.signal_id,
            )
            for r in readings
        ]

    def _refresh_frame(self) -> None:
        status = self.panel_status()
        age = self.oldest_age_seconds()
        word = STATUS_WORDS[status] if status else ("OFF" if not self.configured else "…")
        suffix = f" · {age_text(age)}" if age is not None else ""
        self.border_title = f"{self.panel_title} · {word}{suffix}"
        for candidate in Status:
            self.set_class(candidate is status, f"-{candidate.value}")

    def watch_readings(self) -> None:
        self._refresh_frame()

    def watch_now(self) -> None:
        self._refresh_frame()

    def watch_configured(self) -> None:
        self._refresh_frame()
