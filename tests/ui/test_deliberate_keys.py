"""Keys in the cockpit count only when pressed on purpose: after a pause, and not while a confirm
screen opens. Key times are scripted on the cockpit's key clock, never waited for."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from cockpit.actions.model import ActionId
from cockpit.app import CockpitApp
from cockpit.clock import FrozenClock
from cockpit.sandbox.lifecycle import SandboxHandle
from screens.cockpit_screen import CockpitScreen
from screens.note_screen import NoteScreen
from tests.actions.support import action_records
from tests.actions.test_act_sandbox import front_door_status
from tests.actions.test_app_actions import (
    SIZE,
    cockpit,
    confirm_screen,
    dialog_on_screen,
    guards_pass,
    key_clock,
    notices,
    settle_until,
    settled_dialog,
)
from tests.key_timing import SETTLED_SECONDS, KeyClock, press_alone, type_keys, until
from tests.ui.samples import moment_after, recorded_readings
from tests.ui.test_cockpit_app import sandbox_like_config

MAINTENANCE_TYPING = "typing detected while the Maintenance on plan opened: cancelled, nothing run"


def plain_cockpit() -> CockpitApp:
    """The cockpit without sources or actions, keys timed by a scripted clock."""
    return CockpitApp(
        config=sandbox_like_config(),
        sources=[],
        clock=FrozenClock(moment_after(recorded_readings())),
        poll=False,
        key_clock=KeyClock(),
    )


def clock_of(app: CockpitApp) -> KeyClock:
    clock = app.keys.clock
    assert isinstance(clock, KeyClock)
    return clock


def cancels(folder: Path) -> list[dict[str, Any]]:
    """The journal's cancel records of Maintenance on."""
    return action_records(folder, ActionId.MAINTENANCE_ON, "cancelled")


def gate_planning(app: CockpitApp, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Holds every plan until the returned event is set, so keys land while it is prepared."""
    runner = app.session.runner
    assert runner is not None
    prepare = runner.prepare
    gate = asyncio.Event()

    async def prepare_when_let_through(*args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        return await prepare(*args, **kwargs)

    monkeypatch.setattr(runner, "prepare", prepare_when_let_through)
    return gate


# --- keys that write to the journal or quit ----------------------------------------------------


async def test_c_right_after_another_key_saves_nothing() -> None:
    app = plain_cockpit()
    async with app.run_test(size=SIZE) as pilot:
        await type_keys(pilot, clock_of(app), *"echo")
        texts = [event.text for event in app.session.event_log.latest(20)]
    assert "screen saved to the journal" not in texts
    assert "not recording: nothing saved" not in texts
    assert "c ignored: keys are arriving like typing (2 in the last second)" in notices(app)


async def test_c_after_a_pause_saves_the_screen() -> None:
    app = plain_cockpit()
    async with app.run_test(size=SIZE) as pilot:
        await type_keys(pilot, clock_of(app), *"ls")
        await press_alone(pilot, clock_of(app), "c")
        texts = [event.text for event in app.session.event_log.latest(20)]
    assert "not recording: nothing saved" in texts


async def test_q_typed_in_a_word_does_not_quit() -> None:
    app = plain_cockpit()
    async with app.run_test(size=SIZE) as pilot:
        await type_keys(pilot, clock_of(app), *"psql", "enter")
        assert app.is_running
        assert isinstance(app.screen, CockpitScreen)


async def test_ctrl_c_right_after_typing_into_a_note_does_not_quit() -> None:
    app = plain_cockpit()
    async with app.run_test(size=SIZE) as pilot:
        await press_alone(pilot, clock_of(app), "n")
        clock_of(app).advance(SETTLED_SECONDS)
        await type_keys(pilot, clock_of(app), *"tail -f", "ctrl+c")
        assert app.is_running
        assert isinstance(app.screen, NoteScreen)


# --- action keys ---------------------------------------------------------------------------------


async def test_an_action_key_right_after_another_key_opens_nothing_and_says_why(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    app, journal = cockpit(sandbox, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            clock = key_clock(app)
            await settle_until(pilot, lambda: guards_pass(app, ActionId.MAINTENANCE_ON), "guards")
            await type_keys(pilot, clock, "l", "m")
            assert app.keys.press is None and confirm_screen(app) is None
    finally:
        journal.close()
    assert not action_records(tmp_path, ActionId.MAINTENANCE_ON, "planned")
    assert (
        "m ignored: keys are arriving like typing (2 in the last second); "
        "if you meant it, pause and press m again"
    ) in notices(app)


async def test_a_key_while_the_plan_is_prepared_cancels_the_press(
    sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, journal = cockpit(sandbox, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            clock = key_clock(app)
            gate = gate_planning(app, monkeypatch)
            await settle_until(pilot, lambda: guards_pass(app, ActionId.MAINTENANCE_ON), "guards")
            await press_alone(pilot, clock, "m")
            await until(lambda: app.keys.press is not None, "the press to start")
            await type_keys(pilot, clock, "y")
            gate.set()
            await until(lambda: bool(cancels(tmp_path)), "the cancel in the journal")
            assert confirm_screen(app) is None
    finally:
        journal.close()
    assert cancels(tmp_path)[-1]["why"] == MAINTENANCE_TYPING
    assert MAINTENANCE_TYPING in notices(app)
    assert not action_records(tmp_path, ActionId.MAINTENANCE_ON, "confirmed")
    assert front_door_status(sandbox) == 200


async def test_escape_while_the_plan_is_prepared_cancels_without_blaming_typing(
    sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, journal = cockpit(sandbox, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            gate = gate_planning(app, monkeypatch)
            await settle_until(pilot, lambda: guards_pass(app, ActionId.MAINTENANCE_ON), "guards")
            await press_alone(pilot, key_clock(app), "m")
            await until(lambda: app.keys.press is not None, "the press to start")
            await type_keys(pilot, key_clock(app), "escape")
            gate.set()
            await until(lambda: bool(cancels(tmp_path)), "the cancel in the journal")
            assert confirm_screen(app) is None
    finally:
        journal.close()
    why = str(cancels(tmp_path)[-1]["why"])
    assert "escape" in why and "typing" not in why


async def test_ctrl_y_in_the_settle_time_cancels_the_confirm_screen(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    app, journal = cockpit(sandbox, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            clock = key_clock(app)
            await settle_until(pilot, lambda: guards_pass(app, ActionId.MAINTENANCE_ON), "guards")
            await press_alone(pilot, clock, "m")
            await until(lambda: dialog_on_screen(app), "the confirm screen")
            clock.advance(0.5)
            await pilot.press("ctrl+y")
            await until(lambda: bool(cancels(tmp_path)), "the cancel in the journal")
            assert confirm_screen(app) is None
    finally:
        journal.close()
    assert cancels(tmp_path)[-1]["why"] == MAINTENANCE_TYPING
    assert not action_records(tmp_path, ActionId.MAINTENANCE_ON, "confirmed")
    assert front_door_status(sandbox) == 200


async def test_y_n_and_enter_on_a_settled_confirm_screen_run_nothing(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    app, journal = cockpit(sandbox, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle_until(pilot, lambda: guards_pass(app, ActionId.MAINTENANCE_ON), "guards")
            await press_alone(pilot, key_clock(app), "m")
            screen = await settled_dialog(app)
            await pilot.press("y", "n", "Y")
            assert app.screen is screen
            await pilot.press("enter")
            await until(lambda: bool(cancels(tmp_path)), "the cancel in the journal")
    finally:
        journal.close()
    assert not action_records(tmp_path, ActionId.MAINTENANCE_ON, "confirmed")
    assert front_door_status(sandbox) == 200
