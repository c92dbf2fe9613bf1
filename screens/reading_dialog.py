"""A dialog that is only read: framed, scrolling, closed by escape or q."""

from __future__ import annotations

from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen


class ReadingDialog(ModalScreen[None]):
    """Text to read in a framed box that scrolls; escape or q closes it, nothing else happens."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss", "Close"),
        Binding("q", "dismiss", "Close", show=False),
    ]

    DEFAULT_CSS = """
    ReadingDialog { align: center middle; }
    ReadingDialog > VerticalScroll {
        max-height: 90%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    """
