"""Asks before quitting while an action is in flight."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import Static


class ConfirmQuitScreen(ModalScreen[bool]):
    """Asks before quitting while an action is in flight."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Quit anyway"),
        Binding("n,escape", "answer(False)", "Stay"),
    ]
    DEFAULT_CSS = """
    ConfirmQuitScreen { align: center middle; }
    ConfirmQuitScreen > Static { width: 60; border: heavy $error; padding: 1 2; }
    """

    def __init__(self, in_flight: Sequence[str]) -> None:
        super().__init__()
        self._in_flight = in_flight

    def compose(self) -> Iterable[Static]:
        running = ", ".join(self._in_flight)
        yield Static(f"{running} is still running.\n\nQuit anyway? y = quit, n = stay")

    def action_answer(self, quit_anyway: bool) -> None:
        self.dismiss(quit_anyway)
