"""How numbers, ages and statuses look on screen: words first, colour only as a help."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.text import Text
from textual.keys import format_key

from cockpit.model import Reading, Status
from cockpit.status_words import STATUS_MEANINGS as STATUS_MEANINGS
from cockpit.status_words import STATUS_STYLES as STATUS_STYLES
from cockpit.status_words import STATUS_WORDS as STATUS_WORDS
from cockpit.units import age_text as age_text
from cockpit.units import fine_duration_text, fixed_percent_text, size_text

NO_DATA = "—"
SEGMENT_GAP = "  "


def status_text(status: Status) -> Text:
    """The status as a word (readable without colour), styled."""
    return Text(STATUS_WORDS[status], style=STATUS_STYLES[status])


WRITTEN_KEYS = {"pgup": "PgUp", "pgdn": "PgDn"}
"""Key names as keyboards print them, where capitalising alone would not do."""


def key_text(key: str) -> str:
    """A key as people write it: ?, -, Tab, Esc, Shift+Tab, Ctrl+P (not question_mark, ctrl+p)."""
    *modifiers, last = key.split("+")
    name = format_key(last)
    if name in WRITTEN_KEYS:
        name = WRITTEN_KEYS[name]
    elif len(name) > 1:
        name = name.capitalize()
    elif modifiers:
        name = name.upper()
    return "+".join([*(modifier.capitalize() for modifier in modifiers), name])


def bytes_text(value: float | None) -> str:
    """Bytes in binary units; NO_DATA for unknown, never 0."""
    return NO_DATA if value is None else size_text(value)


def seconds_text(value: float | None) -> str:
    """A duration for humans: 120 ms, 4.2 s, 3m10s; NO_DATA for unknown."""
    return NO_DATA if value is None else fine_duration_text(value)


def percent_text(ratio: float | None, digits: int = 1) -> str:
    """A 0..1 ratio as percent; NO_DATA when there is no data (never 0 %)."""
    return NO_DATA if ratio is None else fixed_percent_text(ratio, digits)


def clock_text(moment: datetime) -> str:
    """HH:MM:SS in UTC with a Z, the form every panel uses."""
    return moment.strftime("%H:%M:%SZ")


def freshness(reading: Reading, now: datetime) -> Text:
    """'2s ago', or 'STALE 45s: <reason>' dimmed, so old data never passes for fresh."""
    age = age_text(reading.age_seconds(now))
    if reading.is_stale(now):
        return Text(f"STALE, {age} old", style="dim italic")
    return Text(f"{age} ago", style="dim")


def fit_line(line: Text, width: int, *, dim: bool = False) -> Text:
    """The line kept to one row, cut with an ellipsis, dimmed when its reading is stale."""
    if dim:
        line.stylize("dim")
    line.no_wrap = True
    line.truncate(width, overflow="ellipsis")
    return line


def packed_lines(
    segments: Sequence[Text], width: int, *, first_indent: str = "", indent: str = "  "
) -> list[Text]:
    """Segments side by side while they fit in `width`, else on indented following lines."""
    lines: list[Text] = []
    for segment in segments:
        if lines and lines[-1].cell_len + len(SEGMENT_GAP) + segment.cell_len <= width:
            lines[-1].append(SEGMENT_GAP).append_text(segment)
        else:
            lines.append(Text(indent if lines else first_indent).append_text(segment))
    return lines


def number(reading: Reading, name: str) -> float | None:
    """A numeric value from a reading, None when absent (never a made-up 0)."""
    return reading.number(name)


SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: tuple[float, ...], width: int) -> str:
    """The last `width` values as block characters scaled to their own range ('' for none)."""
    recent = values[-width:]
    if not recent:
        return ""
    low, high = min(recent), max(recent)
    span = high - low
    if span <= 0:
        return SPARK_BLOCKS[0 if high == 0 else 3] * len(recent)
    top = len(SPARK_BLOCKS) - 1
    return "".join(SPARK_BLOCKS[round((v - low) / span * top)] for v in recent)
