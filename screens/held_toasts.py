"""Toasts that never cover a control: top right under the header, and held while a dialog is open.

At the bottom right, Textual's default, they covered the action bar after every action; on a
dialog they covered the typed-name field of the promote confirm and the replay seek input for
their 8-30 s. A dialog fills most of an 80x24 screen, so there is no place on it a toast cannot
cover: what arrives while one is open waits until it closes, and toasts already showing when it
opens are taken off and come back afterwards for the rest of their time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from textual.notifications import SeverityLevel
from textual.screen import ModalScreen, Screen

from screens.terminal_app import TerminalApp

HEADER_LINES = 3
"""The header bar and the status line, which toasts stay below."""


@dataclass(frozen=True)
class ToastText:
    """One toast as asked for: its words, severity and how long it stays."""

    message: str
    title: str
    severity: SeverityLevel
    seconds: float
    markup: bool


@dataclass(frozen=True)
class ShownToast:
    """A toast on screen and the monotonic time it goes away."""

    toast: ToastText
    gone_at: float

    def rest(self, now: float) -> ToastText | None:
        """The toast for the time it had left, or None when that has run out."""
        left = self.gone_at - now
        return replace(self.toast, seconds=left) if left > 0 else None


class HeldToastsApp(TerminalApp):
    """An app whose toasts stay clear of the key bar, inputs and dialogs."""

    CSS = f"""
    ToastRack {{
        dock: top;
        align: right top;
        margin: {HEADER_LINES} 0 0 0;
    }}
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown: list[ShownToast] = []
        self._held: list[ToastText] = []

    def on_mount(self) -> None:
        self.screen_change_signal.subscribe(self, self._screen_changed, immediate=True)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """Shows the toast now, or when the dialog in front has closed."""
        seconds = self.NOTIFICATION_TIMEOUT if timeout is None else timeout
        toast = ToastText(message, title, severity, seconds, markup)
        if self.dialog_open:
            self._held.append(toast)
        else:
            self._show(toast)

    @property
    def dialog_open(self) -> bool:
        """Whether a dialog (confirm, note, seek, help, palette) is in front."""
        return bool(self.screen_stack) and isinstance(self.screen, ModalScreen)

    @property
    def held_toasts(self) -> tuple[ToastText, ...]:
        """Toasts waiting for the dialog in front to close."""
        return tuple(self._held)

    def _show(self, toast: ToastText) -> None:
        now = time.monotonic()
        self._shown = [shown for shown in self._shown if shown.gone_at > now]
        self._shown.append(ShownToast(toast, now + toast.seconds))
        super().notify(
            toast.message,
            title=toast.title,
            severity=toast.severity,
            timeout=toast.seconds,
            markup=toast.markup,
        )

    def _screen_changed(self, screen: Screen[object]) -> None:
        if isinstance(screen, ModalScreen):
            self.call_later(self._hold_shown)
        else:
            self._release_held()

    def _hold_shown(self) -> None:
        """Toasts showing as a dialog opens go off it, to come back for the time they had left."""
        if not self.dialog_open:
            return
        now = time.monotonic()
        still = (shown.rest(now) for shown in self._shown)
        self._held = [toast for toast in still if toast is not None] + self._held
        self._shown = []
        self.clear_notifications()

    def _release_held(self) -> None:
        held, self._held = self._held, []
        for toast in held:
            self._show(toast)
