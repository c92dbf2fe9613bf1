"""The confirm dialog in a host app at 80x24 and 160x48: what it shows, which answers it takes.

The dialog's clock is scripted: a test moves it past the settle time instead of waiting.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget
from textual.widgets import Input, Static

from cockpit.actions.confirmation import OVERRIDE_WORD, Confirmation
from cockpit.actions.model import ActionId, Change, Plan
from cockpit.actions.registry import action
from cockpit.rules.verdicts import GuardFact, GuardResult
from screens.confirm_action import (
    CANCEL_BUTTON_ID,
    CONFIRM_BUTTON_ID,
    DRY_RUN_BANNER,
    NAME_INPUT_ID,
    ONE_WAY_BANNER,
    OVERRIDE_INPUT_ID,
    REASON_INPUT_ID,
    ConfirmActionScreen,
    ConfirmRequest,
    keys_hint,
)
from tests.key_timing import SETTLED_SECONDS, KeyClock, until

NARROW = (80, 24)
WIDE = (160, 48)
SIZES = [NARROW, WIDE]
REPLICA = "shop-db-replica"

LAG_GUARD = GuardResult(
    "replication-caught-up",
    "Replica caught up",
    None,
    (GuardFact("byte lag", "0 B", "replication:primary", 1.2),),
)
TARGETS_GUARD = GuardResult(
    "new-targets-healthy",
    "All new targets healthy",
    None,
    (GuardFact("healthy", "3/3", "targets:new", 0.4),),
)
ERRORS_BLOCKED = GuardResult(
    "new-5xx-low",
    "5xx on new side < 1 %",
    "new side 5xx 7.5 % ≥ 1 %",
    (GuardFact("new 5xx", "7.5 %", "errors:new", 3.0),),
)

WEIGHT_PLAN = Plan(
    action_id=ActionId.WEIGHT_UP,
    summary="Shift api.example.com from old 75 / new 25 to old 50 / new 50",
    changes=(
        Change("Route 53 api.example.com old", "75", "50"),
        Change("Route 53 api.example.com new", "25", "50"),
    ),
    calls=("route53.ChangeResourceRecordSets zone Z123: 2 UPSERTs",),
    target={"old": 50, "new": 50},
)
PROMOTE_PLAN = Plan(
    action_id=ActionId.PROMOTE,
    summary=f"Promote {REPLICA} to a primary",
    changes=(Change(f"PostgreSQL {REPLICA}", "replica (in recovery)", "primary"),),
    calls=("SELECT pg_promote(wait => true)",),
    one_way=True,
    confirm_word=REPLICA,
    notes=("the old primary keeps running; nothing writes to it after maintenance",),
)


def plain_request(dry_run: bool = False) -> ConfirmRequest:
    guards = (LAG_GUARD, TARGETS_GUARD)
    return ConfirmRequest("Weight up", WEIGHT_PLAN, guards, (), dry_run=dry_run)


def promote_request() -> ConfirmRequest:
    verb = action(ActionId.PROMOTE).confirm_verb
    return ConfirmRequest("Promote replica", PROMOTE_PLAN, (LAG_GUARD,), (), confirm_verb=verb)


def override_request(plan: Plan = WEIGHT_PLAN) -> ConfirmRequest:
    guards = (LAG_GUARD, ERRORS_BLOCKED)
    return ConfirmRequest("Weight up", plan, guards, (ERRORS_BLOCKED,))


class Host(App[None]):
    """Pushes the confirm screen on mount and records what it was dismissed with."""

    def __init__(self, request: ConfirmRequest) -> None:
        super().__init__()
        self.request = request
        self.clock = KeyClock()
        self.results: list[Confirmation | None] = []

    def compose(self) -> ComposeResult:
        yield Static("cockpit underneath")

    def on_mount(self) -> None:
        self.push_screen(ConfirmActionScreen(self.request, clock=self.clock), self.results.append)


def dialog(pilot: Pilot[None]) -> ConfirmActionScreen:
    screen = pilot.app.screen
    assert isinstance(screen, ConfirmActionScreen)
    return screen


def static_text(screen: ConfirmActionScreen, static_id: str) -> str:
    return str(screen.query_one(f"#{static_id}", Static).render())


def drawn(widget: Widget) -> str:
    """What the widget puts on the terminal, as plain text."""
    width, height = widget.region.size
    strips = widget.render_lines(Region(0, 0, width, height))
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def dialog_text(screen: ConfirmActionScreen) -> str:
    """Every Static's text in the dialog, scrolled out of view or not."""
    return "\n".join(str(static.render()) for static in screen.query(Static))


async def type_into(pilot: Pilot[None], input_id: str, text: str) -> None:
    pilot.app.screen.query_one(f"#{input_id}", Input).focus()
    await pilot.pause()
    await pilot.press(*text)


async def on_screen(pilot: Pilot[None]) -> ConfirmActionScreen:
    """The dialog once it has been drawn: its settle time is running."""
    await until(
        lambda: (
            isinstance(pilot.app.screen, ConfirmActionScreen)
            and pilot.app.screen.shown_at is not None
        ),
        "the dialog on screen",
    )
    return dialog(pilot)


async def settled(pilot: Pilot[None]) -> ConfirmActionScreen:
    """The dialog after its settle time has passed on the scripted clock, hint updated."""
    screen = await on_screen(pilot)
    assert isinstance(pilot.app, Host)
    pilot.app.clock.advance(SETTLED_SECONDS)
    ready = keys_hint(screen.request, settled=True)
    await until(lambda: static_text(screen, "keys") == ready, "the settled keys hint")
    return screen


def results(pilot: Pilot[None]) -> list[Confirmation | None]:
    assert isinstance(pilot.app, Host)
    return pilot.app.results


# --- plain confirm ------------------------------------------------------------------------------


async def test_plain_confirm_takes_ctrl_y_once_settled() -> None:
    app = Host(plain_request())
    async with app.run_test(size=NARROW) as pilot:
        await settled(pilot)
        await pilot.press("ctrl+y")
        await pilot.pause()
    assert app.results == [Confirmation()]


async def test_ctrl_y_in_the_settle_time_does_nothing() -> None:
    app = Host(plain_request())
    async with app.run_test(size=NARROW) as pilot:
        screen = await on_screen(pilot)
        app.clock.advance(0.9)
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert pilot.app.screen is screen
        assert static_text(screen, "problem").startswith("wait ")
    assert app.results == []


async def test_focus_starts_on_cancel_and_confirm_takes_no_focus() -> None:
    app = Host(plain_request())
    async with app.run_test(size=NARROW) as pilot:
        screen = await settled(pilot)
        assert screen.focused is screen.query_one(f"#{CANCEL_BUTTON_ID}")
        await pilot.press("tab", "tab", "tab")
        assert screen.focused is not screen.query_one(f"#{CONFIRM_BUTTON_ID}")
    assert app.results == []


@pytest.mark.parametrize("keys", [("y",), ("n",), ("Y", "x", "space", "n", "y")])
async def test_letters_do_not_answer_a_plain_dialog(keys: tuple[str, ...]) -> None:
    app = Host(plain_request())
    async with app.run_test(size=NARROW) as pilot:
        screen = await settled(pilot)
        await pilot.press(*keys)
        await pilot.pause()
        assert pilot.app.screen is screen
    assert app.results == []


async def test_enter_never_confirms_it_presses_the_focused_cancel() -> None:
    app = Host(plain_request())
    async with app.run_test(size=NARROW) as pilot:
        await settled(pilot)
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [None]


async def test_plain_confirm_is_cancelled_by_escape() -> None:
    app = Host(plain_request())
    async with app.run_test(size=NARROW) as pilot:
        await on_screen(pilot)
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


async def test_a_click_on_cancel_cancels() -> None:
    app = Host(plain_request())
    async with app.run_test(size=NARROW) as pilot:
        await on_screen(pilot)
        await pilot.click(f"#{CANCEL_BUTTON_ID}")
        await pilot.pause()
    assert app.results == [None]


async def test_a_click_on_confirm_confirms_only_once_settled() -> None:
    app = Host(plain_request())
    async with app.run_test(size=NARROW) as pilot:
        screen = await on_screen(pilot)
        await pilot.click(f"#{CONFIRM_BUTTON_ID}")
        await pilot.pause()
        assert app.results == [] and pilot.app.screen is screen
        await settled(pilot)
        confirm = screen.query_one(f"#{CONFIRM_BUTTON_ID}")
        await until(lambda: not confirm.has_class("-active"), "the first click's effect to end")
        await pilot.click(f"#{CONFIRM_BUTTON_ID}")
        await pilot.pause()
    assert app.results == [Confirmation()]


async def test_an_answer_from_the_cockpit_closes_the_dialog_once() -> None:
    app = Host(plain_request())
    async with app.run_test(size=NARROW) as pilot:
        dialog(pilot).answer(None)
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


async def test_a_double_press_answers_once() -> None:
    app = Host(plain_request())
    async with app.run_test(size=NARROW) as pilot:
        screen = await settled(pilot)
        screen.action_confirm()
        screen.action_cancel()
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [Confirmation()]


# --- one-way door --------------------------------------------------------------------------------


async def test_one_way_door_focuses_the_name_only_once_settled() -> None:
    app = Host(promote_request())
    async with app.run_test(size=NARROW) as pilot:
        screen = await on_screen(pilot)
        assert screen.focused is screen.query_one(f"#{CANCEL_BUTTON_ID}")
        await settled(pilot)
        assert screen.focused is screen.query_one(f"#{NAME_INPUT_ID}")
    assert app.results == []


async def test_one_way_door_ignores_y() -> None:
    app = Host(promote_request())
    async with app.run_test(size=NARROW) as pilot:
        screen = await settled(pilot)
        screen.query_one("#plan").focus()
        await pilot.press("y", "n")
        await pilot.pause()
        assert pilot.app.screen is screen
    assert app.results == []


async def test_one_way_door_refuses_a_wrong_name() -> None:
    app = Host(promote_request())
    async with app.run_test(size=NARROW) as pilot:
        screen = await settled(pilot)
        await pilot.press(*"shop-db-replicA", "enter")
        await pilot.pause()
        assert "does not match" in static_text(screen, "problem")
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert "does not match" in static_text(screen, "problem")
        assert screen.query_one(f"#{NAME_INPUT_ID}", Input).region.bottom <= NARROW[1]
    assert app.results == []


async def test_one_way_door_confirms_with_the_exact_name_and_ctrl_y_not_enter() -> None:
    app = Host(promote_request())
    async with app.run_test(size=NARROW) as pilot:
        screen = await settled(pilot)
        await pilot.press(*REPLICA, "enter")
        await pilot.pause()
        assert app.results == []
        assert "ctrl+y runs it" in static_text(screen, "problem")
        await pilot.press("ctrl+y")
        await pilot.pause()
    assert app.results == [Confirmation(typed_word=REPLICA)]


async def test_one_way_door_is_cancelled_by_escape() -> None:
    app = Host(promote_request())
    async with app.run_test(size=NARROW) as pilot:
        await settled(pilot)
        await pilot.press(*"shop", "escape")
        await pilot.pause()
    assert app.results == [None]


# --- override ------------------------------------------------------------------------------------


async def test_override_needs_the_word() -> None:
    app = Host(override_request())
    async with app.run_test(size=NARROW) as pilot:
        screen = await settled(pilot)
        await type_into(pilot, REASON_INPUT_ID, "new side errors are a known bad canary")
        await pilot.press("enter")
        await type_into(pilot, OVERRIDE_INPUT_ID, "override")
        await pilot.press("enter", "ctrl+y")
        await pilot.pause()
        assert "does not match" in static_text(screen, "problem")
        assert screen.focused is screen.query_one(f"#{OVERRIDE_INPUT_ID}")
    assert app.results == []


async def test_override_needs_a_reason() -> None:
    app = Host(override_request())
    async with app.run_test(size=NARROW) as pilot:
        screen = await settled(pilot)
        await pilot.press(*OVERRIDE_WORD, "enter")
        await type_into(pilot, REASON_INPUT_ID, "   ")
        await pilot.press("enter", "ctrl+y")
        await pilot.pause()
        assert "reason is required" in static_text(screen, "problem")
    assert app.results == []


async def test_override_with_word_and_reason_returns_both() -> None:
    reason = "canary errors are from a known bad client; nothing else blocks"
    app = Host(override_request())
    async with app.run_test(size=NARROW) as pilot:
        screen = await settled(pilot)
        await pilot.press(*OVERRIDE_WORD, "enter")
        await pilot.pause()
        assert screen.focused is screen.query_one(f"#{REASON_INPUT_ID}")
        await pilot.press(*reason, "enter")
        await pilot.pause()
        assert app.results == []
        await pilot.press("ctrl+y")
        await pilot.pause()
    assert app.results == [Confirmation(override_word=OVERRIDE_WORD, override_reason=reason)]


async def test_override_of_a_one_way_door_also_needs_the_name() -> None:
    app = Host(override_request(PROMOTE_PLAN))
    async with app.run_test(size=NARROW) as pilot:
        screen = await settled(pilot)
        await pilot.press(*OVERRIDE_WORD, "tab", *"lag is from a paused replay", "enter")
        await pilot.pause()
        assert screen.focused is screen.query_one(f"#{NAME_INPUT_ID}")
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert "does not match" in static_text(screen, "problem")
        await pilot.press(*REPLICA, "enter", "ctrl+y")
        await pilot.pause()
    assert app.results == [
        Confirmation(
            typed_word=REPLICA,
            override_word=OVERRIDE_WORD,
            override_reason="lag is from a paused replay",
        )
    ]


async def test_override_lists_the_blocked_guards_with_reasons() -> None:
    app = Host(override_request())
    async with app.run_test(size=NARROW) as pilot:
        blocked = static_text(dialog(pilot), "blocked")
    assert "BLOCKED 5xx on new side < 1 %: new side 5xx 7.5 % ≥ 1 %" in blocked


# --- what the dialog shows -----------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
async def test_the_plan_and_guard_facts_are_shown(size: tuple[int, int]) -> None:
    app = Host(plain_request())
    async with app.run_test(size=size) as pilot:
        text = dialog_text(dialog(pilot))
    assert WEIGHT_PLAN.summary in text
    assert "Route 53 api.example.com old: 75 → 50" in text
    assert "Route 53 api.example.com new: 25 → 50" in text
    assert "route53.ChangeResourceRecordSets zone Z123: 2 UPSERTs" in text
    assert "byte lag: 0 B (1.2 s ago)" in text
    assert "healthy: 3/3 (400 ms ago)" in text
    assert "wait 1 s… then ctrl+y = run it · esc = cancel" in text


@pytest.mark.parametrize("size", SIZES)
async def test_one_way_door_shows_its_banner_calls_and_notes(size: tuple[int, int]) -> None:
    app = Host(promote_request())
    async with app.run_test(size=size) as pilot:
        text = dialog_text(await settled(pilot))
    assert ONE_WAY_BANNER in text
    assert f"PostgreSQL {REPLICA}: replica (in recovery) → primary" in text
    assert "SELECT pg_promote(wait => true)" in text
    assert PROMOTE_PLAN.notes[0] in text
    assert "enter = next field · ctrl+y = run it · esc = cancel" in text


async def test_dry_run_says_nothing_will_change() -> None:
    app = Host(plain_request(dry_run=True))
    async with app.run_test(size=NARROW) as pilot:
        text = static_text(dialog(pilot), "banner")
    assert DRY_RUN_BANNER in text
    assert ONE_WAY_BANNER not in text


async def test_a_long_plan_scrolls_and_the_answer_area_stays_on_screen() -> None:
    long_plan = replace(
        PROMOTE_PLAN,
        calls=tuple(f"ALTER SYSTEM SET setting_{n} = 'on'" for n in range(30)),
    )
    app = Host(override_request(long_plan))
    async with app.run_test(size=NARROW) as pilot:
        screen = dialog(pilot)
        plan_area = screen.query_one("#plan")
        assert plan_area.max_scroll_y > 0
        widget_ids = (OVERRIDE_INPUT_ID, REASON_INPUT_ID, NAME_INPUT_ID, "keys", "problem")
        for widget_id in (*widget_ids, CANCEL_BUTTON_ID, CONFIRM_BUTTON_ID):
            region = screen.query_one(f"#{widget_id}").region
            assert region.height > 0
            assert region.bottom <= NARROW[1]
        keys_drawn = drawn(screen.query_one("#keys", Static))
    assert "esc = cancel" in keys_drawn


async def test_page_keys_scroll_the_plan_while_typing() -> None:
    long_plan = replace(PROMOTE_PLAN, calls=tuple(f"SELECT {n}" for n in range(40)))
    app = Host(replace(promote_request(), plan=long_plan))
    async with app.run_test(size=NARROW) as pilot:
        screen = await settled(pilot)
        plan_area = screen.query_one("#plan")
        await pilot.press("pagedown")
        await pilot.pause()
        assert plan_area.scroll_y > 0
        await pilot.press("pageup")
        await pilot.pause()
        assert plan_area.scroll_y == 0
        assert screen.focused is screen.query_one(f"#{NAME_INPUT_ID}")
