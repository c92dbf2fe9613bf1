"""Toasts never cover the key bar, an input or a dialog: top right, held while a dialog is open."""

from __future__ import annotations

from datetime import datetime

import pytest
from textual.geometry import Region
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Static
from textual.widgets._toast import Toast

from cockpit.actions.model import ActionId
from cockpit.actions.runner import Outcome
from cockpit.app import CockpitApp
from cockpit.clock import FrozenClock
from cockpit.live.events import action_event_text
from screens.confirm_action import NAME_INPUT_ID, ConfirmActionScreen
from screens.replay_seek import ReplaySeekScreen
from tests.key_timing import KeyClock, until
from tests.ui.samples import moment_after, recorded_readings
from tests.ui.test_cockpit_app import make_app
from tests.ui.test_confirm_action import promote_request
from widgets.header_bar import HeaderBar

FAILED = Outcome(ActionId.WEIGHT_UP, "failed", "weights read back old 75 / new 25, not 50 / 50")
SIZES = [(80, 24), (120, 36), (160, 48)]


def cockpit() -> CockpitApp:
    readings = recorded_readings()
    app = make_app(FrozenClock(moment_after(readings)))
    app.call_after_refresh(app.receive_readings, list(readings))
    return app


def toast_regions(app: CockpitApp) -> list[Region]:
    return [toast.region for toast in app.screen.query(Toast) if toast.region]


def covered(app: CockpitApp, region: Region) -> bool:
    return any(toast.overlaps(region) for toast in toast_regions(app))


def controls(app: CockpitApp) -> dict[str, Region]:
    """The cockpit's header, action bar and key bar, as drawn."""
    screen = app.cockpit
    return {
        "header": screen.query_one(HeaderBar).region,
        "action bar": screen.query_one("#action-bar", Static).region,
        "key bar": screen.query_one(Footer).region,
    }


def promote_dialog() -> ConfirmActionScreen:
    return ConfirmActionScreen(promote_request(), clock=KeyClock())


def seek_dialog() -> ReplaySeekScreen:
    return ReplaySeekScreen(lambda text: datetime.fromisoformat(text), "from 00:00 to 01:00")


@pytest.mark.parametrize("size", SIZES)
async def test_an_action_outcome_leaves_the_action_bar_and_key_bar_uncovered(
    size: tuple[int, int],
) -> None:
    app = cockpit()
    async with app.run_test(size=size, notifications=True) as pilot:
        await until(lambda: app.cockpit.is_ready, "the cockpit")
        app.show_outcome(FAILED)
        await until(lambda: bool(toast_regions(app)), "the outcome's toast")
        await pilot.pause()
        drawn = controls(app)
        assert [name for name, region in drawn.items() if covered(app, region)] == []
        assert all(toast.y >= drawn["header"].bottom for toast in toast_regions(app))


@pytest.mark.parametrize("make_dialog", [promote_dialog, seek_dialog])
async def test_a_toast_raised_while_a_dialog_is_open_waits_until_it_closes(
    make_dialog: type[ModalScreen[object]],
) -> None:
    app = cockpit()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await until(lambda: app.cockpit.is_ready, "the cockpit")
        dialog = make_dialog()
        await app.push_screen(dialog)
        await pilot.pause()
        app.show_outcome(FAILED)
        await pilot.pause()
        said = action_event_text(app.session.title_of(FAILED.action_id), FAILED.message)
        assert [toast.message for toast in app.held_toasts] == [said]
        assert toast_regions(app) == []
        assert not covered(app, dialog.query_one(Input).region)
        dialog.dismiss(None)
        await until(lambda: bool(toast_regions(app)), "the toast after the dialog closed")
        assert app.held_toasts == ()


async def test_toasts_showing_when_the_promote_confirm_opens_leave_its_name_field() -> None:
    app = cockpit()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await until(lambda: app.cockpit.is_ready, "the cockpit")
        app.show_outcome(FAILED)
        await until(lambda: bool(toast_regions(app)), "the outcome's toast")
        dialog = promote_dialog()
        await app.push_screen(dialog)
        await until(lambda: bool(app.held_toasts), "the toast to be taken off")
        await pilot.pause()
        assert toast_regions(app) == []
        assert not covered(app, dialog.query_one(f"#{NAME_INPUT_ID}", Input).region)
        assert 0 < app.held_toasts[0].seconds <= 20
        dialog.dismiss(None)
        await until(lambda: bool(toast_regions(app)), "the toast back after the dialog")
