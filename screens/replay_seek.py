"""`g` in replay: type a time to go to; a time that cannot be read is said in words, here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

PROMPT = "Go to: HH:MM, HH:MM:SS or a UTC timestamp · enter goes, esc cancels"
PLACEHOLDER = "01:05, 01:05:30 or 2026-11-23T01:05:30Z"


class ReplaySeekScreen(ModalScreen[datetime | None]):
    """One line for a time; enter goes there, escape stays where the replay is.

    `parse` turns the typed text into a moment or raises ValueError with the reason, which is
    shown under the input so the operator can correct it without losing the modal.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    ReplaySeekScreen { align: center middle; }
    ReplaySeekScreen > Vertical {
        width: 76;
        height: auto;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    ReplaySeekScreen #seek-span { color: $text-muted; }
    ReplaySeekScreen #seek-problem { color: $error; text-style: bold; }
    """

    def __init__(self, parse: Callable[[str], datetime], span: str) -> None:
        super().__init__()
        self._parse = parse
        self._span = span

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(PROMPT)
            yield Static(self._span, id="seek-span", markup=False)
            yield Input(placeholder=PLACEHOLDER)
            yield Static("", id="seek-problem", markup=False)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            self.problem = "type a time first, or press esc to stay where you are"
            return
        try:
            moment = self._parse(text)
        except ValueError as error:
            self.problem = str(error)
            return
        self.dismiss(moment)

    @property
    def problem(self) -> str:
        """The sentence under the input saying why the typed time was not taken."""
        return str(self.query_one("#seek-problem", Static).content)

    @problem.setter
    def problem(self, text: str) -> None:
        self.query_one("#seek-problem", Static).update(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
