"""An app that adapts to the terminal it runs in, so every key arrives when it is pressed.

GNU screen (4.9) holds a lone Escape back while the program in its window has asked for mouse
reports: it waits for the rest of a mouse sequence that never comes, and hands the Escape over
only with the next key, which then arrives as alt+<key>. Escape would close nothing and the key
after it would be swallowed, so inside GNU screen the cockpit does without the mouse.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from textual.app import App, AutopilotCallbackType


def inside_gnu_screen(environ: Mapping[str, str]) -> bool:
    """Whether GNU screen draws this terminal: its STY, or a TERM only it sets (screen.xterm).

    A plain TERM=screen proves nothing, since tmux sets it too, and tmux passes Escape at once.
    """
    return bool(environ.get("STY")) or environ.get("TERM", "").startswith("screen.")


def mouse_wanted(environ: Mapping[str, str]) -> bool:
    """Whether asking for mouse reports keeps every key on time in this terminal."""
    return not inside_gnu_screen(environ)


class TerminalApp(App[None]):
    """An app that asks for mouse reports only where they do not hold keys back."""

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
