"""The guarded keys in the cockpit against the sandbox: blocked keys say why, the confirm screen,
the typed name, the override, single flight, auto-abort, and read-only sending nothing.

Key times are scripted: the cockpit's key clock moves by hand past the quiet and settle times.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from cockpit.actions.confirmation import OVERRIDE_WORD, Confirmation
from cockpit.actions.model import ActionId
from cockpit.actions.runner import ActionRunner, Prepared
from cockpit.app import CockpitApp
from cockpit.commands.launch import compose_app
from cockpit.config import load_config, read_config_text
from cockpit.io.backends import build_backends
from cockpit.io.context import SourceContext
from cockpit.journal.opening import open_session_journal
from cockpit.journal.writer import JournalWriter
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sources.build import build_sources
from screens.confirm_action import ConfirmActionScreen, keys_hint
from tests.actions.support import action_records, sandbox_environ, write_config
from tests.actions.test_act_sandbox import (
    REPLICA,
    front_door_status,
    mutating_requests_since,
    postgres,
    route53_weights,
)
from tests.key_timing import SETTLED_SECONDS, KeyClock, press_alone, until

SIZE = (80, 24)


def cockpit(
    sandbox: SandboxHandle, folder: Path, mode: str = "live", **config: object
) -> tuple[CockpitApp, JournalWriter]:
    path = write_config(sandbox, folder, **config)  # type: ignore[arg-type]
    settings = load_config(path)
    journal = open_session_journal(
        settings,
        config_text=read_config_text(path),
        mode=mode,
        environ=sandbox_environ(sandbox),
    )
    app = compose_app(settings, journal, mode, sandbox_environ(sandbox), key_clock=KeyClock())
    return app, journal


def key_clock(app: CockpitApp) -> KeyClock:
    """The scripted clock the cockpit times its keys with."""
    clock = app.keys.clock
    assert isinstance(clock, KeyClock)
    return clock


async def settle_until(pilot: object, condition: Callable[[], bool], what: str) -> None:
    """Lets the app run until `condition` holds; fails naming `what` after a generous wait."""
    deadline = time.monotonic() + 45
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.2)


def guards_pass(app: CockpitApp, action: ActionId) -> bool:
    assert app.session.runner is not None
    return all(g.passed for g in app.session.runner.guards(action, app.session.state))


def confirm_screen(app: CockpitApp) -> ConfirmActionScreen | None:
    screen = app.screen
    return screen if isinstance(screen, ConfirmActionScreen) else None


def notices(app: CockpitApp) -> str:
    return "\n".join(str(n.message) for n in app._notifications)


def dialog_on_screen(app: CockpitApp) -> bool:
    """The confirm screen is drawn and the cockpit knows since when (its settle time runs)."""
    press = app.keys.press
    return confirm_screen(app) is not None and press is not None and press.shown_at is not None


async def settled_dialog(app: CockpitApp) -> ConfirmActionScreen:
    """The confirm screen once its settle time has passed on the key clock."""
    await until(lambda: dialog_on_screen(app), "the confirm screen on screen")
    screen = confirm_screen(app)
    assert screen is not None
    key_clock(app).advance(SETTLED_SECONDS)
    ready = keys_hint(screen.request, settled=True)
    keys = screen.query_one("#keys")
    await until(lambda: str(keys.render()) == ready, "the confirm screen to settle")
    return screen


async def confirm(pilot: Pilot[None], app: CockpitApp) -> None:
    """ctrl+y on the confirm screen once it has settled."""
    await settled_dialog(app)
    await pilot.press("ctrl+y")


async def test_a_blocked_key_says_why_and_does_nothing_else(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    app, journal = cockpit(sandbox, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle_until(
                pilot, lambda: app.session.state.latest("maintenance") is not None, "poll"
            )
            await press_alone(pilot, key_clock(app), "P")
            await settle_until(pilot, lambda: "maintenance is off" in notices(app), "the reason")
            assert confirm_screen(app) is None
    finally:
        journal.close()
    assert action_records(tmp_path, ActionId.PROMOTE, "refused")
    assert postgres(sandbox)["promoted"] is False


async def test_keys_confirm_screen_and_the_typed_name_promote_for_real(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    app, journal = cockpit(sandbox, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            clock = key_clock(app)
            await settle_until(pilot, lambda: guards_pass(app, ActionId.MAINTENANCE_ON), "guards")
            await press_alone(pilot, clock, "m")
            await confirm(pilot, app)
            await settle_until(pilot, lambda: front_door_status(sandbox) == 503, "maintenance")
            await settle_until(pilot, lambda: guards_pass(app, ActionId.PROMOTE), "promote guards")
            await press_alone(pilot, clock, "P")
            await settled_dialog(app)
            await pilot.press("y", "enter", "ctrl+y")
            assert confirm_screen(app) is not None
            await pilot.press("ctrl+u", *"shop-db", "enter", "ctrl+y")
            assert confirm_screen(app) is not None and postgres(sandbox)["promoted"] is False
            await pilot.press(*"-replica", "enter")
            assert confirm_screen(app) is not None and postgres(sandbox)["promoted"] is False
            await pilot.press("ctrl+y")
            await settle_until(pilot, lambda: postgres(sandbox)["promoted"] is True, "promotion")
            await settle_until(pilot, lambda: "Promote replica: done" in notices(app), "result")
    finally:
        journal.close()
    confirmed = action_records(tmp_path, ActionId.PROMOTE, "confirmed")
    assert confirmed[-1]["typed_name"] is True and confirmed[-1]["actor"]


async def test_an_override_needs_the_word_and_a_reason_and_is_journaled(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    app, journal = cockpit(sandbox, tmp_path)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle_until(
                pilot, lambda: app.session.state.latest("maintenance") is not None, "poll"
            )
            assert not guards_pass(app, ActionId.PROMOTE)
            app.action_press(ActionId.PROMOTE.value, True)
            await settled_dialog(app)
            await pilot.press(*OVERRIDE_WORD, "enter")
            assert confirm_screen(app) is not None
            await pilot.press(*"app already stopped by hand", "enter")
            await pilot.press(*REPLICA, "enter", "ctrl+y")
            await settle_until(pilot, lambda: postgres(sandbox)["promoted"] is True, "promotion")
    finally:
        journal.close()
    override = action_records(tmp_path, ActionId.PROMOTE, "override")[-1]
    assert override["reason"] == "app already stopped by hand"
    assert any("maintenance" in g["reason"] for g in override["guards"])


async def test_a_second_run_while_one_is_in_flight_does_nothing(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    path = write_config(sandbox, tmp_path)
    config, environ = load_config(path), sandbox_environ(sandbox)
    context = SourceContext(config, environ)
    sources = build_sources(context)
    from cockpit.live.poller import poll_all_once
    from cockpit.live.state import State, apply

    state = State()

    async def refresh() -> State:
        nonlocal state
        state, _ = apply(state, await poll_all_once(sources))
        return state

    runner = ActionRunner(
        config=config,
        mode="live",
        backends=build_backends(config, environ, context.aws, mode="live"),
        refresh=refresh,
    )
    first = await runner.prepare(ActionId.WEIGHT_UP, await refresh(), actor="a")
    assert isinstance(first, Prepared)
    outcomes = await asyncio.gather(
        runner.run(first, Confirmation()), runner.run(first, Confirmation())
    )
    assert sorted(o.result for o in outcomes) == ["busy", "succeeded"]
    assert "still running" in next(o.message for o in outcomes if o.result == "busy")
    assert route53_weights(sandbox) == {"old": 95, "new": 5}


async def test_auto_abort_shifts_back_when_new_errors_stay_high(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    abort = {"enabled": True, "max_error_ratio": 0.05, "hold_seconds": 2.0}
    app, journal = cockpit(sandbox, tmp_path, guards={"auto_abort": abort})
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle_until(pilot, lambda: guards_pass(app, ActionId.WEIGHT_UP), "guards")
            await press_alone(pilot, key_clock(app), "plus")
            await confirm(pilot, app)
            await settle_until(pilot, lambda: route53_weights(sandbox)["new"] == 5, "step up")
            sandbox.client.inject("error-burst", side="new", ratio=0.9)
            await settle_until(pilot, lambda: route53_weights(sandbox)["new"] == 0, "auto-abort")
            await settle_until(
                pilot,
                lambda: bool(action_records(tmp_path, ActionId.WEIGHT_DOWN, "completed")),
                "the auto-abort's record",
            )
    finally:
        journal.close()
    planned = action_records(tmp_path, ActionId.WEIGHT_DOWN, "planned")[-1]
    assert planned["actor"] == "auto-abort"
    assert "over 5 %" in planned["auto_abort"]["reason"]
    completed = action_records(tmp_path, ActionId.WEIGHT_DOWN, "completed")[-1]
    assert completed["outcome"] == "succeeded"


async def test_read_only_has_no_action_and_sends_no_mutating_request(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    before = sandbox.client.requests()
    app, journal = cockpit(sandbox, tmp_path, mode="read-only")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle_until(
                pilot, lambda: app.session.state.latest("traffic") is not None, "poll"
            )
            assert app.session.runner is None
            for key in ("m", "M", "P", "plus", "minus", "R"):
                await pilot.press(key)
            await pilot.pause(0.5)
            assert confirm_screen(app) is None
    finally:
        journal.close()
    assert mutating_requests_since(sandbox, before) == []
    assert sandbox.client.requests()["postgres"]["pg_promote_calls"] == 0
    assert front_door_status(sandbox) == 200 and postgres(sandbox)["promoted"] is False
    config = load_config(tmp_path / "cockpit.toml")
    context = SourceContext(config, sandbox_environ(sandbox))
    assert build_backends(config, {}, context.aws, mode="read-only").writers is None
    assert build_backends(config, {}, context.aws, mode="dry-run").writers is None
