"""`?` explains: keys as people write them, once each; every status word; every panel label."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from textual.widgets import Static

from cockpit.actions.registry import ACTIONS
from cockpit.actions.spec import ActionSpec
from cockpit.app import CockpitApp
from cockpit.clock import FrozenClock
from cockpit.model import Status
from screens.cockpit_commands import PANEL_MEANINGS, action_keys_help, key_help
from screens.cockpit_screen import PANELS
from screens.guarded_actions import READ_ONLY_REASON
from screens.help_screen import HelpScreen
from screens.replay_app import ReplayApp
from tests.key_timing import until
from tests.ui.samples import moment_after, recorded_readings
from tests.ui.test_cockpit_app import make_app
from widgets.formatting import STATUS_MEANINGS, STATUS_WORDS, key_text

TEXTUAL_KEY_NAMES = ("question_mark", "minus", "plus", "ctrl+", "shift+", "escape", "_")


def read_only_app() -> CockpitApp:
    return make_app(FrozenClock(moment_after(recorded_readings())))


def help_text(screen: HelpScreen) -> str:
    """Everything the help screen holds, scrolled out of view or not, each row on one line."""
    console = Console(width=400, record=True, file=io.StringIO())
    for static in screen.query(Static):
        console.print(static.content)
    return console.export_text()


@pytest.mark.parametrize(
    ("key", "written"),
    [
        ("question_mark", "?"),
        ("minus", "-"),
        ("plus", "+"),
        ("ctrl+p", "Ctrl+P"),
        ("shift+tab", "Shift+Tab"),
        ("escape", "Esc"),
        ("M", "M"),
    ],
)
def test_keys_are_written_as_people_write_them(key: str, written: str) -> None:
    assert key_text(key) == written


@pytest.mark.parametrize(
    "keys",
    [
        key_help(CockpitApp.BINDINGS, action_keys_help(None)),
        key_help(ReplayApp.BINDINGS),
    ],
    ids=["cockpit", "replay"],
)
def test_every_key_is_listed_once_and_by_its_written_name(keys: list[tuple[str, str]]) -> None:
    names = [key for key, _ in keys]
    assert len(names) == len(set(names))
    assert [name for name in names if any(raw in name for raw in TEXTUAL_KEY_NAMES)] == []
    assert "?" in names and "Ctrl+P" in names
    assert f"{PANELS[0].key}–{PANELS[-1].key}" in names
    assert [spec.key for spec in PANELS if spec.key in names] == []


def test_the_read_only_help_still_lists_the_action_keys_and_says_they_cannot_run() -> None:
    keys = dict(action_keys_help(None))
    assert list(keys) == [spec.key_label for spec in ACTIONS]
    assert all(does.endswith("not in a read-only session") for does in keys.values())


def test_every_panel_and_status_has_a_meaning() -> None:
    assert [spec.panel_id for spec in PANELS if not PANEL_MEANINGS.get(spec.panel_id)] == []
    assert set(STATUS_MEANINGS) == set(Status)


async def test_help_explains_every_status_word_and_panel_label() -> None:
    app = read_only_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await until(lambda: isinstance(app.screen, HelpScreen), "the help screen")
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        text = help_text(screen)
        for status, meaning in STATUS_MEANINGS.items():
            assert STATUS_WORDS[status] in text and meaning in text
        for spec in PANELS:
            assert f"{spec.key} {spec.short_name}" in text
        assert "question_mark" not in text
        await pilot.press("escape")
        await until(lambda: not isinstance(app.screen, HelpScreen), "help to close")


@pytest.mark.parametrize("spec", ACTIONS, ids=[spec.action_id.value for spec in ACTIONS])
async def test_an_action_key_in_read_only_says_why_nothing_happens(spec: ActionSpec) -> None:
    app = read_only_app()
    assert app.session.runner is None
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: app.cockpit.is_ready, "the cockpit")
        await pilot.press(spec.key)
        await until(lambda: bool(app._notifications), "the read-only notice")
        notices = [str(notice.message) for notice in app._notifications]
        title = spec.title
        assert notices == [f"read-only: {title} cannot run here; {READ_ONLY_REASON}"]
