"""Severity readable without colour (NO_COLOR) and in 16 colours: words, weight, reverse video.

Recorded sandbox readings and a frozen clock, as the layout snapshots use: replication WARN,
error rates CRIT, traffic OK.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from rich.console import Console
from rich.style import Style
from textual import constants

from cockpit.app import CockpitApp
from cockpit.model import Status
from screens.terminal_app import ANSI_THEME, ansi_palette_wanted
from tests.ui.test_snapshots import busy_app
from widgets.formatting import STATUS_STYLES


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The header shows local time too: UTC, so the snapshots are the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
def sixteen_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    """What TEXTUAL_COLOR_SYSTEM=standard sets (read once, when textual is imported)."""
    monkeypatch.setattr(constants, "COLOR_SYSTEM", "standard")


def style_of(app: CockpitApp, text: str) -> Style:
    """The style the screen draws `text` in (the first segment holding it)."""
    width, height = app.size
    console = Console(width=width, height=height, file=None, force_terminal=True)
    update = app.screen._compositor.render_update(full=True)
    for segment in console.render(update):
        if text in segment.text and segment.style is not None:
            return segment.style
    raise AssertionError(f"{text!r} is not on screen")


async def drawn_busy(size: tuple[int, int]) -> tuple[CockpitApp, dict[str, Style]]:
    """The busy screen's panel titles, by status word, as drawn."""
    app, feed = busy_app()
    titles = {}
    async with app.run_test(size=size) as pilot:
        await feed(pilot)
        for word, title in (("OK", "TRAFFIC"), ("WARN", "REPLICATION"), ("CRIT", "ERROR RATES")):
            titles[word] = style_of(app, f"{title} · {word}")
    return app, titles


@pytest.mark.usefixtures("no_color")
async def test_without_colour_the_worst_states_are_the_most_visible() -> None:
    app, titles = await drawn_busy((160, 48))
    assert app.theme == ANSI_THEME
    assert (titles["CRIT"].bold, titles["CRIT"].reverse) == (True, True)
    assert (titles["WARN"].bold, titles["WARN"].reverse) == (True, None)
    assert not titles["OK"].bold and not titles["OK"].reverse
    assert all(style.color is None or style.color.is_default for style in titles.values())


def test_every_status_word_is_told_apart_by_weight_and_reverse_alone() -> None:
    attributes = {
        status: (bool(style.bold), bool(style.reverse), bool(style.underline))
        for status, style in ((s, Style.parse(STATUS_STYLES[s])) for s in Status)
    }
    assert attributes == {
        Status.OK: (False, False, False),
        Status.WARN: (True, False, False),
        Status.CRITICAL: (True, True, False),
        Status.UNKNOWN: (False, True, False),
        Status.STALE: (True, False, True),
    }


@pytest.mark.usefixtures("sixteen_colours")
async def test_in_16_colours_warn_is_yellow_and_crit_red_reverse() -> None:
    app, titles = await drawn_busy((160, 48))
    assert app.theme == ANSI_THEME
    assert titles["WARN"].color is not None and titles["WARN"].color.number == 3
    assert titles["CRIT"].color is not None and titles["CRIT"].color.number == 1
    assert titles["CRIT"].reverse
    assert titles["OK"].color is not None and titles["OK"].color.number == 2


async def test_with_a_full_palette_the_theme_stays() -> None:
    app, _ = await drawn_busy((160, 48))
    assert app.theme != ANSI_THEME


@pytest.mark.parametrize(
    ("no_color", "colour_system", "ansi"),
    [
        (True, "truecolor", True),
        (False, "standard", True),
        (False, "windows", True),
        (False, "256", False),
        (False, "truecolor", False),
        (False, "auto", False),
        (False, None, False),
    ],
)
def test_the_terminals_own_palette_is_used_without_colour_or_with_16(
    no_color: bool, colour_system: str | None, ansi: bool
) -> None:
    assert ansi_palette_wanted(no_color=no_color, colour_system=colour_system) is ansi


@pytest.mark.parametrize("palette", ["no_color", "sixteen_colours"])
@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_snapshot(
    palette: str, size: tuple[int, int], request: pytest.FixtureRequest, snap_compare: Any
) -> None:
    request.getfixturevalue(palette)
    app, feed = busy_app()
    assert snap_compare(app, terminal_size=size, run_before=feed)
