"""Each action is declared whole in one module, and every way to reach it comes from the registry.

"Where is promotion?" is answered by one file: cockpit/actions/promotion.py.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import cockpit.actions
from cockpit.actions.model import ActionId, Plan
from cockpit.actions.registry import ACTIONS, action
from cockpit.actions.runner import ActionRunner
from cockpit.actions.spec import ActionSpec, AutoAbortRole
from cockpit.app import CockpitApp
from cockpit.clock import FrozenClock
from cockpit.commands.cli import ACTION_IDS
from cockpit.io.backends import Backends
from screens.cockpit_commands import action_keys_help, key_help
from screens.confirm_action import ConfirmRequest, answer_fields
from tests.ui.samples import moment_after, recorded_readings
from tests.ui.test_cockpit_app import sandbox_like_config

NO_BACKENDS = Backends(weights=None, maintenance=None, promotion=None, writers=None)


def declared_in() -> dict[str, list[ActionSpec]]:
    """Each module under cockpit/actions/, with the specs it holds at its top level."""
    found = {}
    for module_info in pkgutil.iter_modules(cockpit.actions.__path__, "cockpit.actions."):
        module = importlib.import_module(module_info.name)
        found[module_info.name] = [v for v in vars(module).values() if isinstance(v, ActionSpec)]
    return found


@pytest.mark.parametrize("action_id", list(ActionId))
def test_exactly_one_module_declares_each_action(action_id: ActionId) -> None:
    declaring = [
        (name, spec)
        for name, specs in declared_in().items()
        for spec in specs
        if spec.action_id is action_id
    ]
    assert len(declaring) == 1, declaring
    assert declaring[0][1] is action(action_id)


def test_promotion_is_in_the_promotion_module() -> None:
    declaring = [name for name, specs in declared_in().items() if action("promote") in specs]
    assert declaring == ["cockpit.actions.promotion"]


@pytest.mark.parametrize("spec", ACTIONS, ids=lambda spec: spec.action_id.value)
def test_every_declaration_is_whole(spec: ActionSpec) -> None:
    words = (spec.title, spec.short_title, spec.key, spec.key_label, spec.description)
    assert all(word.strip() for word in words)
    assert spec.confirm_verb.strip()
    assert spec.guards
    steps = (spec.plan, spec.execute, spec.verify, spec.inverse, spec.touches)
    assert all(callable(step) for step in steps)
    assert spec.settle_seconds(sandbox_like_config()) >= 0
    assert spec.auto_abort in AutoAbortRole
    assert spec.verify_within_seconds(sandbox_like_config()) > 0


def test_keys_and_short_titles_name_one_action_each() -> None:
    assert len({spec.key for spec in ACTIONS}) == len(ACTIONS)
    assert len({spec.short_title for spec in ACTIONS}) == len(ACTIONS)


def test_only_promotion_watches_before_its_guards_judge() -> None:
    config = sandbox_like_config()
    assert config.replication is not None
    quiet = config.guards.promote_quiet_seconds + config.replication.interval_seconds
    settle = {spec.action_id: spec.settle_seconds(config) for spec in ACTIONS}
    assert settle == dict.fromkeys(ActionId, 0.0) | {ActionId.PROMOTE: quiet}


def test_the_typed_name_confirm_uses_the_action_word() -> None:
    spec = action(ActionId.PROMOTE)
    plan = Plan(ActionId.PROMOTE, "Promote db-1", (), (), one_way=True, confirm_word="db-1")
    request = ConfirmRequest(spec.title, plan, (), (), confirm_verb=spec.confirm_verb)
    assert [field.label for field in answer_fields(request)] == ["type db-1 to promote:"]
    assert all(s.confirm_verb == "confirm" for s in ACTIONS if s is not spec)


def test_cli_accepts_exactly_the_registry_actions() -> None:
    assert list(ACTION_IDS) == [spec.action_id.value for spec in ACTIONS]
    assert all(spec.action_id.value in ACTION_IDS for spec in ACTIONS)
    assert "promote-now" not in ACTION_IDS


def cockpit_app(with_actions: bool) -> CockpitApp:
    """The cockpit without sources, with a dry-run runner over no backends (or none at all)."""

    def runner(refresh: object) -> ActionRunner:
        return ActionRunner(
            config=sandbox_like_config(),
            mode="dry-run",
            backends=NO_BACKENDS,
            refresh=refresh,  # type: ignore[arg-type]
        )

    return CockpitApp(
        config=sandbox_like_config(),
        sources=[],
        clock=FrozenClock(moment_after(recorded_readings())),
        poll=False,
        actions=runner if with_actions else None,
    )


async def test_keys_help_and_palette_are_exactly_the_registry_actions() -> None:
    app = cockpit_app(with_actions=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        pressed = {
            (key, active.binding.action)
            for key, active in app.active_bindings.items()
            if active.binding.action.startswith("press(")
        }
        help_lines = key_help(app.BINDINGS, action_keys_help(app.session.runner))
        palette = [command.title for command in app.get_system_commands(app.screen)]
    assert pressed == {(spec.key, f"press('{spec.action_id.value}')") for spec in ACTIONS}
    without_actions = key_help(app.BINDINGS)
    added = [line for line in help_lines if line not in without_actions]
    assert added == [(spec.key_label, f"{spec.title}: {spec.description}") for spec in ACTIONS]
    titles = [title.removeprefix("Action: ") for title in palette if title.startswith("Action: ")]
    assert titles == [spec.title for spec in ACTIONS]
