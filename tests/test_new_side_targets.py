"""The runbook and the guards agree on which targets are the new side: the config's word first."""

from __future__ import annotations

from cockpit.live.state import State, apply
from cockpit.model import Reading
from cockpit.rules.guards import GuardInputs, new_targets_healthy
from cockpit.rules.runbook import NEW_TARGETS_HEALTHY, StepState, evaluate_runbook
from cockpit.rules.verdicts import SessionFacts
from cockpit.sources.targets_values import new_side_target_ids
from tests.test_guards import CONFIG, NOW, targets


def state_of(*readings: Reading) -> State:
    state, _ = apply(State(), readings)
    return state


def guard_blocks(state: State) -> bool:
    return new_targets_healthy(GuardInputs(state, CONFIG, NOW, SessionFacts())).reason is not None


def runbook_state(state: State) -> StepState:
    checks = evaluate_runbook(state, NOW, CONFIG)
    return next(check.state for check in checks if check.step is NEW_TARGETS_HEALTHY)


def test_a_new_target_whose_reading_says_old_is_still_checked_by_both() -> None:
    state = state_of(
        targets("web-old", "old", 3, 3),
        targets("web-new", "old", 0, 3),
        targets("new-app-1", "new", 1, 1),
    )
    assert "targets:web-new" in new_side_target_ids(CONFIG, state.readings())
    assert guard_blocks(state)
    assert runbook_state(state) is StepState.PENDING


def test_a_reading_that_says_new_is_checked_by_both_though_the_config_says_old() -> None:
    state = state_of(
        targets("web-old", "new", 1, 3),
        targets("web-new", "new", 3, 3),
        targets("new-app-1", "new", 1, 1),
    )
    assert guard_blocks(state)
    assert runbook_state(state) is StepState.PENDING


def test_a_configured_new_target_without_a_reading_ticks_neither() -> None:
    state = state_of(targets("web-old", "old", 3, 3), targets("new-app-1", "new", 1, 1))
    assert guard_blocks(state)
    assert runbook_state(state) is StepState.UNKNOWN


def test_both_pass_when_every_new_target_is_healthy() -> None:
    state = state_of(
        targets("web-old", "old", 0, 3),
        targets("web-new", "new", 3, 3),
        targets("new-app-1", "new", 1, 1),
    )
    assert not guard_blocks(state)
    assert runbook_state(state) is StepState.DONE
