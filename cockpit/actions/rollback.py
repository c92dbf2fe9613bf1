"""Rollback: replay the session's recorded inverses newest first, back to the baseline.

What cannot be undone (a promoted replica) is said plainly, in the plan and in the result.
"""

from __future__ import annotations

from collections.abc import Mapping

from cockpit.actions.maintenance import describe_maintenance_target, planned_maintenance_calls
from cockpit.actions.model import (
    ActionFailed,
    ActionId,
    Change,
    Execution,
    Inverse,
    Plan,
    Verification,
)
from cockpit.actions.session_log import UNDONE
from cockpit.actions.steps import (
    StepContext,
    maintenance_words,
    weights_from_json,
    weights_json,
    weights_text,
    writers_of,
)
from cockpit.actions.weights import RawWeights, describe_weights_target, planned_weight_calls
from cockpit.jsonvalue import JsonValue

MAINTENANCE_ACTIONS = frozenset({ActionId.MAINTENANCE_ON, ActionId.MAINTENANCE_OFF})


def _newest_first(context: StepContext) -> tuple[Inverse, ...]:
    return tuple(reversed(context.session.inverses))


def plan_rollback(context: StepContext) -> Plan:
    """Every recorded inverse, newest first, and what will stay as it is."""
    inverses = _newest_first(context)
    if not inverses:
        raise ActionFailed("nothing to roll back: this session has changed nothing yet")
    changes: list[Change] = []
    calls: list[str] = []
    notes: list[str] = []
    for inverse in inverses:
        if not inverse.undoable:
            notes.append(f"NOT UNDONE: {inverse.description}")
            continue
        change, inverse_calls = _describe(context, inverse)
        changes.append(change)
        calls.extend(inverse_calls)
    baseline = context.session.baseline or {}
    return Plan(
        action_id=ActionId.ROLLBACK,
        summary=f"Roll back {len(changes)} change(s) of this session, newest first",
        changes=tuple(changes),
        calls=tuple(calls),
        target={
            "inverses": [inverse.to_json() for inverse in inverses],
            "baseline": dict(baseline),
        },
        notes=tuple(notes),
    )


def _describe(context: StepContext, inverse: Inverse) -> tuple[Change, tuple[str, ...]]:
    config = context.config
    if inverse.action_id in MAINTENANCE_ACTIONS:
        assert config.maintenance is not None
        turn_on = inverse.target.get("on") is True
        where = describe_maintenance_target(config.maintenance)
        change = Change(
            f"maintenance ({where})", maintenance_words(not turn_on), maintenance_words(turn_on)
        )
        return change, planned_maintenance_calls(config.maintenance, turn_on)
    assert config.traffic is not None
    before, after = _inverse_weights(inverse)
    where = describe_weights_target(config.traffic)
    change = Change(where, weights_text(before), weights_text(after))
    return change, planned_weight_calls(config.traffic, before, after)


def _inverse_weights(inverse: Inverse) -> tuple[RawWeights, RawWeights]:
    """(weights now, weights to restore) as the inverse recorded them."""
    before, after = inverse.target.get("before"), inverse.target.get("after")
    if not isinstance(before, dict) or not isinstance(after, dict):
        raise ActionFailed(f"the recorded inverse {inverse.description!r} has no weights")
    return weights_from_json(before), weights_from_json(after)


def execute_rollback(context: StepContext, plan: Plan) -> Execution:
    """Undoes each inverse in turn, journaling each as it is done; stops at the first failure."""
    writers = writers_of(context)
    evidence: list[str] = []
    for inverse in _newest_first(context):
        if not inverse.undoable:
            done: tuple[str, ...] = (f"left as it is: {inverse.description}",)
        elif inverse.action_id in MAINTENANCE_ACTIONS:
            if writers.maintenance is None:
                raise ActionFailed("no [maintenance] backend to undo with")
            done = writers.maintenance.switch(inverse.target.get("on") is True)
        else:
            if writers.weights is None:
                raise ActionFailed("no [traffic] backend to undo with")
            done = writers.weights.write(_inverse_weights(inverse)[1])
        evidence.extend(done)
        context.progress(UNDONE, {"undone": inverse.to_json(), "evidence": list(done)})
    return Execution(tuple(evidence))


def verify_rollback(context: StepContext, plan: Plan) -> Verification:
    """Weights and maintenance read back equal to the baseline captured before the first change."""
    baseline = plan.target.get("baseline")
    if not isinstance(baseline, dict) or not baseline:
        return Verification(False, "no baseline was recorded: cannot prove the rollback", {})
    problems, observed = _compare_with_baseline(context, baseline)
    untouched = [note for note in plan.notes if note.startswith("NOT UNDONE")]
    if problems:
        return Verification(False, "; ".join(problems + untouched), observed)
    restored = "weights and maintenance back as before the first change"
    return Verification(True, "; ".join([restored, *untouched]), observed)


def _compare_with_baseline(
    context: StepContext, baseline: Mapping[str, JsonValue]
) -> tuple[list[str], dict[str, JsonValue]]:
    problems: list[str] = []
    observed: dict[str, JsonValue] = {}
    weights, reader = baseline.get("weights"), context.backends.weights
    if isinstance(weights, dict) and reader is not None:
        wanted, now = weights_from_json(weights), reader.read()
        observed["weights"] = weights_json(now)
        if now != wanted:
            problems.append(f"weights {weights_text(now)}, baseline {weights_text(wanted)}")
    maintenance_on, switch = baseline.get("maintenance_on"), context.backends.maintenance
    if isinstance(maintenance_on, bool) and switch is not None:
        probe = switch.read()
        observed["maintenance_on"] = probe.on
        if probe.on is not maintenance_on:
            now_words, then_words = maintenance_words(probe.on), maintenance_words(maintenance_on)
            problems.append(f"maintenance {now_words}, baseline {then_words}")
    return problems, observed
