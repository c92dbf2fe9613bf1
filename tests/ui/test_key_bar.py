"""The key bar is rebuilt when the keys it shows change, and only then."""

from __future__ import annotations

from textual.widgets._footer import FooterKey

from tests.ui.test_panel_reach import crowded_app, fill
from widgets.key_bar import KeyBar


def drawn_keys(bar: KeyBar) -> list[FooterKey]:
    return list(bar.query(FooterKey))


async def test_moving_between_panels_with_the_same_keys_keeps_the_bar() -> None:
    app = crowded_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(app, pilot)
        bar = app.cockpit.query_one(KeyBar)
        await pilot.press("1")
        await pilot.pause()
        before = drawn_keys(bar)
        assert before
        await pilot.press("3")
        await pilot.pause()
        assert app.cockpit.focused is app.cockpit.query_one("#dns")
        assert drawn_keys(bar) == before


async def test_a_panel_with_its_own_key_shows_it_in_the_bar() -> None:
    app = crowded_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await fill(app, pilot)
        bar = app.cockpit.query_one(KeyBar)
        await pilot.press("1")
        await pilot.pause()
        assert "Filter events" not in [key.description for key in drawn_keys(bar)]
        await pilot.press("7")
        await pilot.pause()
        assert "Filter events" in [key.description for key in drawn_keys(bar)]
        await pilot.press("1")
        await pilot.pause()
        assert "Filter events" not in [key.description for key in drawn_keys(bar)]
