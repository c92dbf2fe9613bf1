"""The one registry of actions: declared once; keys, palette, help and CLI are built from it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType

from cockpit.actions import rollback, steps
from cockpit.actions.model import ActionId, Execution, Inverse, Plan, Verification
from cockpit.actions.steps import StepContext
from cockpit.rules import guards
from cockpit.rules.guards import Guard, GuardInputs, run_guard
from cockpit.rules.verdicts import GuardFact, GuardResult

PlanStep = Callable[[StepContext], Plan]
ExecuteStep = Callable[[StepContext, Plan], Execution]
VerifyStep = Callable[[StepContext, Plan], Verification]
InverseStep = Callable[[StepContext, Plan], Inverse | None]


@dataclass(frozen=True)
class ActionSpec:
    """One action: who it is, how it is pressed, what must hold, and how it runs and undoes.

    verify_within_seconds: how long the read-back may take to show the change (a front door or
    a load balancer can lag its API by a few seconds).
    """

    action_id: ActionId
    title: str
    key: str
    key_label: str
    description: str
    guards: tuple[Guard, ...]
    plan: PlanStep
    execute: ExecuteStep
    verify: VerifyStep
    inverse: InverseStep
    one_way: bool = False
    verify_within_seconds: float = 10.0


def something_to_roll_back(inputs: GuardInputs) -> GuardResult:
    """Rollback needs a change this session made and can undo."""
    count = inputs.session.undoable_changes
    fact = GuardFact("changes this session can undo", str(count))
    if count == 0:
        reason = "nothing to roll back: this session has made no change it can undo"
        return GuardResult("something-to-roll-back", "A change to undo", reason, (fact,))
    return GuardResult("something-to-roll-back", "A change to undo", None, (fact,))


def _no_inverse(context: StepContext, plan: Plan) -> Inverse | None:
    return None


GUARDS: Mapping[ActionId, tuple[Guard, ...]] = MappingProxyType(
    {
        ActionId.MAINTENANCE_ON: (
            guards.maintenance_backend_configured,
            guards.maintenance_backend_readable,
            guards.maintenance_is_off,
        ),
        ActionId.MAINTENANCE_OFF: (
            guards.maintenance_backend_configured,
            guards.maintenance_backend_readable,
            guards.maintenance_is_on,
            guards.new_side_healthy_after_promotion,
        ),
        ActionId.PROMOTE: (
            guards.promotion_backend_configured,
            guards.promotion_requires_maintenance,
            guards.replica_in_recovery,
            guards.replication_caught_up,
            guards.primary_quiet,
        ),
        ActionId.WEIGHT_UP: (
            guards.traffic_backend_configured,
            guards.weights_known_on_plan,
            guards.next_step_exists,
            guards.new_targets_healthy,
            guards.new_error_ratio_under_threshold,
            guards.new_p95_under_threshold,
            guards.dns_ttl_preflight,
            guards.step_dwell_elapsed,
        ),
        ActionId.WEIGHT_DOWN: (
            guards.traffic_backend_configured,
            guards.weights_known_on_plan,
            guards.previous_step_exists,
            guards.weight_down_spares_demoted_primary,
        ),
        ActionId.ROLLBACK: (guards.rollback_spares_demoted_primary,),
    }
)


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec(
        ActionId.MAINTENANCE_ON,
        "Maintenance on",
        "m",
        "m",
        "put the maintenance page up (front door answers with the fixed response)",
        GUARDS[ActionId.MAINTENANCE_ON],
        partial(steps.plan_maintenance, turn_on=True),
        steps.execute_maintenance,
        steps.verify_maintenance,
        steps.inverse_maintenance,
    ),
    ActionSpec(
        ActionId.MAINTENANCE_OFF,
        "Maintenance off",
        "M",
        "M",
        "take the maintenance page down",
        GUARDS[ActionId.MAINTENANCE_OFF],
        partial(steps.plan_maintenance, turn_on=False),
        steps.execute_maintenance,
        steps.verify_maintenance,
        steps.inverse_maintenance,
    ),
    ActionSpec(
        ActionId.PROMOTE,
        "Promote replica",
        "P",
        "P",
        "promote the replica to primary; cannot be undone; confirm by typing its name",
        GUARDS[ActionId.PROMOTE],
        steps.plan_promotion,
        steps.execute_promotion,
        steps.verify_promotion,
        steps.inverse_promotion,
        one_way=True,
        verify_within_seconds=30.0,
    ),
    ActionSpec(
        ActionId.WEIGHT_UP,
        "Weight up one step",
        "plus",
        "+",
        "shift traffic one planned step towards new",
        GUARDS[ActionId.WEIGHT_UP],
        partial(steps.plan_weight_step, up=True),
        steps.execute_weights,
        steps.verify_weights,
        steps.inverse_weights,
    ),
    ActionSpec(
        ActionId.WEIGHT_DOWN,
        "Weight down one step",
        "minus",
        "-",
        "shift traffic one planned step back towards old",
        GUARDS[ActionId.WEIGHT_DOWN],
        partial(steps.plan_weight_step, up=False),
        steps.execute_weights,
        steps.verify_weights,
        steps.inverse_weights,
    ),
    ActionSpec(
        ActionId.ROLLBACK,
        "Roll back",
        "R",
        "R",
        "undo this session's changes newest first, back to the state before the first change",
        (*GUARDS[ActionId.ROLLBACK], something_to_roll_back),
        rollback.plan_rollback,
        rollback.execute_rollback,
        rollback.verify_rollback,
        _no_inverse,
    ),
)

BY_ID = {spec.action_id: spec for spec in ACTIONS}


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
    """Every guard of the action, in order, at inputs.now."""
    return tuple(run_guard(guard, inputs) for guard in spec.guards)


def evaluate(action_id: ActionId, inputs: GuardInputs) -> tuple[GuardResult, ...]:
    """Every default guard of the action, in order, judged on `inputs`."""
    return tuple(run_guard(guard, inputs) for guard in GUARDS[action_id])
