"""An app that adapts to the terminal it runs in: keys arrive when pressed, colours keep meaning.

GNU screen (4.9) holds a lone Escape back while the program in its window has asked for mouse
reports: it waits for the rest of a mouse sequence that never comes, and hands the Escape over
only with the next key, which then arrives as alt+<key>. Escape would close nothing and the key
after it would be swallowed, so inside GNU screen the cockpit does without the mouse.

With 16 colours the app's own theme is rounded to the nearest ANSI colour (its amber warning
came out bright red); with NO_COLOR it is greyed by luminance (red came out darker than green).
Both then use the terminal's own ANSI palette instead, so yellow is the terminal's yellow, and
without colour only weight and reverse video remain, which the status styles are built on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from textual import constants
from textual.app import App, AutopilotCallbackType

ANSI_THEME = "ansi-dark"
SIXTEEN_COLOURS = frozenset({"standard", "windows"})


def inside_gnu_screen(environ: Mapping[str, str]) -> bool:
    """Whether GNU screen draws this terminal: its STY, or a TERM only it sets (screen.xterm).

    A plain TERM=screen proves nothing, since tmux sets it too, and tmux passes Escape at once.
    """
    return bool(environ.get("STY")) or environ.get("TERM", "").startswith("screen.")


def mouse_wanted(environ: Mapping[str, str]) -> bool:
    """Whether asking for mouse reports keeps every key on time in this terminal."""
    return not inside_gnu_screen(environ)


def ansi_palette_wanted(*, no_color: bool, colour_system: str | None) -> bool:
    """Whether the terminal's own ANSI colours (or none) carry meaning better than the theme."""
    return no_color or colour_system in SIXTEEN_COLOURS


class TerminalApp(App[None]):
    """An app that asks for mouse reports only where they do not hold keys back.

    It draws in the terminal's ANSI palette where the theme's colours would lose their meaning.
    """

    def __init__(self) -> None:
        no_color = "NO_COLOR" in os.environ
        super().__init__(ansi_color=True if no_color else None)
        if ansi_palette_wanted(no_color=no_color, colour_system=constants.COLOR_SYSTEM):
            self.theme = ANSI_THEME

    def on_mount(self) -> None:
        """A real terminal's detected colours count too; a headless one has none to detect."""
        detected = None if self.is_headless else self.console.color_system
        if ansi_palette_wanted(no_color=False, colour_system=detected):
            self.theme = ANSI_THEME

    async def run_async(
        self,
        *,
        headless: bool = False,
        inline: bool = False,
        inline_no_clear: bool = False,
        mouse: bool = True,
        size: tuple[int, int] | None = None,
        auto_pilot: AutopilotCallbackType | None = None,
    ) -> None:
        return await super().run_async(
            headless=headless,
            inline=inline,
            inline_no_clear=inline_no_clear,
            mouse=mouse and mouse_wanted(os.environ),
            size=size,
            auto_pilot=auto_pilot,
        )
