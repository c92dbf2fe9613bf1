"""The one registry: every action module's declarations, for keys, palette, help and the CLI."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from cockpit.actions import maintenance, promotion, rollback, weights
from cockpit.actions.model import ActionId
from cockpit.actions.spec import ActionSpec
from cockpit.rules.guards import GuardInputs, run_guard
from cockpit.rules.verdicts import GuardResult

ACTIONS: tuple[ActionSpec, ...] = (
    maintenance.MAINTENANCE_ON,
    maintenance.MAINTENANCE_OFF,
    promotion.PROMOTE,
    weights.WEIGHT_UP,
    weights.WEIGHT_DOWN,
    rollback.ROLLBACK,
)

BY_ID = {spec.action_id: spec for spec in ACTIONS}

KEY_LABELS: Mapping[str, str] = MappingProxyType(
    {spec.action_id.value: spec.key_label for spec in ACTIONS}
)
"""Each action's key label by action id, for guard reasons that name a key."""


def action(action_id: ActionId | str) -> ActionSpec:
    """The spec for an id; KeyError names the known ids."""
    try:
        return BY_ID[ActionId(action_id)]
    except ValueError:
        known = ", ".join(spec.action_id.value for spec in ACTIONS)
        raise KeyError(f"no action {action_id!r}; the actions are {known}") from None


def available_actions(mode: str) -> tuple[ActionSpec, ...]:
    """The actions a session in `mode` has: none at all in read-only (every action mutates)."""
    return () if mode == "read-only" else ACTIONS


def evaluate_guards(spec: ActionSpec, inputs: GuardInputs) -> tuple[GuardResult, ...]:
    """Every guard of the action, session guards last, in order, at inputs.now."""
    return tuple(run_guard(guard, inputs) for guard in spec.every_guard)
