"""An app whose action keys count only when pressed on purpose, judged by a KeyJudge."""

from __future__ import annotations

from textual import events
from textual.binding import Binding

from cockpit.deliberate_input import KeyJudge, MonotonicClock
from screens.confirm_action import ConfirmActionScreen
from screens.held_toasts import HeldToastsApp
from widgets.panel import ScrollPanel

DELIBERATE_ACTIONS = frozenset(
    {"press", "note", "capture_screen", "request_quit", "quit", "open_row"}
)
"""Actions a key fires only when pressed on purpose. Opening a row's detail is one: an Enter at
the end of a line typed into the wrong pane would otherwise cover the cockpit with a dialog."""


class DeliberateKeysApp(HeldToastsApp):
    """Judges every key as it arrives; a key that looks like typing is said and may cancel."""

    def __init__(self, key_clock: MonotonicClock) -> None:
        super().__init__()
        self.keys = KeyJudge(key_clock)

    def _cancel_press(self, why: str) -> None:
        """A key reached a press whose confirmation was not ready: the press ends, nothing runs."""

    def on_confirm_action_screen_shown(self, message: ConfirmActionScreen.Shown) -> None:
        """The confirm screen is drawn: its settle time runs from when it was."""
        self.keys.dialog_shown(message.shown_at)

    async def on_event(self, event: events.Event) -> None:
        """Every key is judged as it arrives, before any binding or widget sees it."""
        if isinstance(event, events.Key) and not event.is_forwarded and not self._let_key_in(event):
            return
        await super().on_event(event)

    def _let_key_in(self, event: events.Key) -> bool:
        """Whether the key goes on; a key taken for typing is said, and may cancel a press."""
        verdict = self.keys.arrived(event.key, deliberate=self._deliberate_label(event))
        if verdict.ignored is not None:
            self.notify(verdict.ignored, severity="warning", timeout=6, markup=False)
        if verdict.cancels is not None:
            self._cancel_press(verdict.cancels)
        return verdict.deliver

    def _deliberate_label(self, event: events.Key) -> str | None:
        """The key's label when, right now, it would run an action, write a note, save or quit."""
        binding = self._app_binding_for(event.key)
        if binding is None or binding.action.split("(", 1)[0] not in DELIBERATE_ACTIONS:
            return None
        return binding.key_display or event.character or event.key

    def _app_binding_for(self, key: str) -> Binding | None:
        """The cockpit's own binding this key fires now, if any.

        A priority binding fires whatever screen is in front; any other only when no dialog is,
        since a dialog keeps its keys to itself. A focused panel's keys are the cockpit's own.
        """
        priority = [b for b in self._bindings.key_to_bindings.get(key, ()) if b.priority]
        if priority:
            return priority[0]
        active = self.screen.active_bindings.get(key)
        if active is None or not (active.node is self or isinstance(active.node, ScrollPanel)):
            return None
        return active.binding
