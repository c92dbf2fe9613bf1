"""`n`: the operator writes a note; it is timestamped and journaled for the postmortem."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class NoteScreen(ModalScreen[str | None]):
    """One line of free text; enter keeps it, escape drops it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Drop the note")]

    DEFAULT_CSS = """
    NoteScreen { align: center middle; }
    NoteScreen > Vertical {
        width: 76;
        height: auto;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Note for the session journal (enter keeps it, esc drops it)")
            yield Input(placeholder="what happened, what you decided, why")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
