"""The frame every signal panel shares: title with worst status and data age, body from readings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from cockpit.model import Reading, SignalKind, Status, worst
from widgets.formatting import STATUS_WORDS, age_text


class SignalPanel(Static):
    """Draws the readings it is given and their age; it never fetches anything itself."""

    DEFAULT_CSS = """
    SignalPanel {
        border: round $primary-darken-1;
        border-title-align: left;
        padding: 0 1;
        height: 1fr;
    }
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

    def render(self) -> RenderableType:
        if not self.configured:
            return Text("not configured", style="dim")
        if not self.readings or self.now is None:
            return Text("waiting for the first reading…", style="dim italic")
        return self.render_body(self.readings, self.now)

    def render_body(self, readings: Sequence[Reading], now: datetime) -> RenderableType:
        """The panel's content; subclasses draw their signals here."""
        return Group(*(Text(f"{r.signal_id}: {r.detail}") for r in readings))

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
