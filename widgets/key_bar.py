"""The key bar at the bottom: Textual's footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from textual.screen import Screen
from textual.widgets import Footer

ShownKey = tuple[str, str, bool, str]
"""A key as the bar shows it: key, description, whether it is enabled, its tooltip."""


def shown_keys(screen: Screen[object]) -> tuple[ShownKey, ...]:
    """The keys the bar would show for this screen's focus right now."""
    return tuple(
        (binding.key, binding.description, enabled, tooltip)
        for _node, binding, enabled, tooltip in screen.active_bindings.values()
        if binding.show
    )


class KeyBar(Footer):
    """The footer, which otherwise rebuilds every key on each focus move.

    Each number key focuses a panel; rebuilding the bar for that took about 100 ms of a
    keypress on a busy machine, for a bar that mostly shows the same keys.
    """

    def __init__(self) -> None:
        super().__init__()
        self._drawn: tuple[ShownKey, ...] | None = None

    def bindings_changed(self, screen: Screen[object]) -> None:
        will_draw = screen.app.app_focus and self.is_attached and screen is self.screen
        if not will_draw:
            super().bindings_changed(screen)
            return
        keys = shown_keys(screen)
        if keys == self._drawn:
            return
        self._drawn = keys
        super().bindings_changed(screen)
