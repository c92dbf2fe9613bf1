"""Rollback: put every resource this cutover changed back as it was before its first change.

Planned from fresh reads (never from what was recorded as "before"), executed exactly as
confirmed, and verified by reading back. What cannot be undone (a promoted replica) is said
plainly, in the plan and in the result.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from cockpit.actions import maintenance, promotion, weights
from cockpit.actions.context import UNDONE, StepContext, writers_of
from cockpit.actions.maintenance import maintenance_words
from cockpit.actions.model import ActionId, Change, Execution, Inverse, Plan, Verification
from cockpit.actions.resources import MAINTENANCE_RESOURCE, WEIGHTS_RESOURCE
from cockpit.actions.spec import ActionSpec, AutoAbortRole
from cockpit.actions.weights_json import (
    weights_from_json,
    weights_from_json_or_none,
    weights_json,
    weights_text,
)
from cockpit.io.failures import ActionFailed
from cockpit.io.maintenance import describe_maintenance_target, planned_maintenance_calls
from cockpit.io.weights import (
    RawWeights,
    WeightsReader,
    describe_weights_target,
    member_changes,
    planned_weight_calls,
)
from cockpit.jsonvalue import JsonValue
from cockpit.rules import guards
from cockpit.rules.guards import GuardInputs
from cockpit.rules.verdicts import GuardFact, GuardResult

RESOURCE_OF = {
    spec.action_id: spec.resource
    for spec in (
        maintenance.MAINTENANCE_ON,
        maintenance.MAINTENANCE_OFF,
        promotion.PROMOTE,
        weights.WEIGHT_UP,
        weights.WEIGHT_DOWN,
    )
}
"""The resource each action's inverse puts back."""


def resource_of(inverse: Inverse) -> str:
    """'weights' or 'maintenance' ('replica' for a promotion's inverse, which is never undone)."""
    return RESOURCE_OF.get(inverse.action_id) or WEIGHTS_RESOURCE


def restore_targets(inverses: Iterable[Inverse]) -> dict[str, JsonValue]:
    """Per resource, the value it had before this cutover first changed it (oldest inverse).

    An inverse without the value it should restore is skipped here; planning a rollback from it
    fails with the reason.
    """
    targets: dict[str, JsonValue] = {}
    for inverse in reversed(tuple(inverses)):
        resource = resource_of(inverse)
        if not inverse.undoable:
            continue
        if resource == MAINTENANCE_RESOURCE:
            targets[resource] = inverse.target.get("on") is True
        elif isinstance(after := inverse.target.get("after"), dict):
            targets[resource] = dict(after)
    return targets


def plan_rollback(context: StepContext) -> Plan:
    """Each changed resource from what it reads now back to before the first change."""
    inverses = context.session.inverses
    if not inverses:
        raise ActionFailed("nothing to roll back: this cutover has changed nothing yet")
    _check_weights_recorded(inverses)
    targets = restore_targets(inverses)
    steps = [_step(context, resource, target) for resource, target in targets.items()]
    ordered = _in_safe_order(steps)
    changes = tuple(change for step in ordered for change in _change(context, step))
    calls = tuple(call for step in ordered for call in _calls(context, step))
    notes = [f"NOT UNDONE: {i.description}" for i in inverses if not i.undoable]
    notes += [_already_text(step) for step in ordered if step["before"] == step["after"]]
    return Plan(
        action_id=ActionId.ROLLBACK,
        summary=f"Roll back {len(changes)} resource(s) to before the cutover's first change",
        changes=changes,
        calls=calls,
        target={
            "steps": list(ordered),
            "inverses": [inverse.to_json() for inverse in reversed(inverses)],
            "baseline": dict(context.session.baseline or {}),
        },
        notes=tuple(notes),
    )


def _check_weights_recorded(inverses: Sequence[Inverse]) -> None:
    for inverse in inverses:
        of_weights = resource_of(inverse) == WEIGHTS_RESOURCE
        if of_weights and inverse.undoable and not isinstance(inverse.target.get("after"), dict):
            raise ActionFailed(f"the recorded inverse {inverse.description!r} has no weights")


def _step(context: StepContext, resource: str, target: JsonValue) -> dict[str, JsonValue]:
    """One resource's step: what it reads now (fresh) and what it goes back to."""
    if resource == MAINTENANCE_RESOURCE:
        return {"resource": resource, "before": _maintenance_now(context), "after": target}
    now = _weights_reader(context).read()
    _check_same_members(now, target)
    return {"resource": resource, "before": weights_json(now), "after": target}


def _check_same_members(now: RawWeights, target: JsonValue) -> None:
    """Refuses when the weighted set gained or lost a member since the first change."""
    recorded = weights_from_json_or_none(target)
    if recorded is None:
        return
    changes = member_changes(recorded, now.other_names)
    if changes is not None:
        raise ActionFailed(
            f"the weighted set changed since the cutover's first change ({changes}): "
            "nothing was planned; roll the weights back by hand"
        )


def _maintenance_now(context: StepContext) -> bool:
    reader = context.backends.maintenance
    if reader is None:
        raise ActionFailed("no [maintenance] backend to read maintenance with")
    probe = reader.read()
    if probe.on is None:
        raise ActionFailed(f"maintenance state cannot be read: {probe.detail}")
    return probe.on


def _weights_reader(context: StepContext) -> WeightsReader:
    if context.backends.weights is None:
        raise ActionFailed("no [traffic] backend to read the weights with")
    return context.backends.weights


def _in_safe_order(steps: list[dict[str, JsonValue]]) -> list[dict[str, JsonValue]]:
    """Maintenance on first, weights next, maintenance off last: users never meet a half state."""

    def rank(step: Mapping[str, JsonValue]) -> int:
        if step["resource"] == MAINTENANCE_RESOURCE:
            return 0 if step["after"] is True else 2
        return 1

    return sorted(steps, key=rank)


def _change(context: StepContext, step: Mapping[str, JsonValue]) -> tuple[Change, ...]:
    if step["before"] == step["after"]:
        return ()
    if step["resource"] == MAINTENANCE_RESOURCE:
        section = context.config.maintenance
        assert section is not None
        where = f"maintenance ({describe_maintenance_target(section)})"
        return (Change(where, maintenance_words(step["before"] is True), _on(step["after"])),)
    before, after = _weights(step)
    assert context.config.traffic is not None
    where = describe_weights_target(context.config.traffic)
    return (Change(where, weights_text(before), weights_text(after)),)


def _calls(context: StepContext, step: Mapping[str, JsonValue]) -> tuple[str, ...]:
    if step["before"] == step["after"]:
        return ()
    if step["resource"] == MAINTENANCE_RESOURCE:
        assert context.config.maintenance is not None
        return planned_maintenance_calls(context.config.maintenance, step["after"] is True)
    assert context.config.traffic is not None
    return planned_weight_calls(context.config.traffic, *_weights(step))


def _on(value: JsonValue) -> str:
    return maintenance_words(value is True)


def _weights(step: Mapping[str, JsonValue]) -> tuple[RawWeights, RawWeights]:
    before, after = step["before"], step["after"]
    if not isinstance(before, dict) or not isinstance(after, dict):
        raise ActionFailed("the rollback plan has no weights for its weights step")
    return weights_from_json(before), weights_from_json(after)


def _already_text(step: Mapping[str, JsonValue]) -> str:
    if step["resource"] == MAINTENANCE_RESOURCE:
        return f"maintenance already {_on(step['after'])}: left as it is"
    return f"weights already {weights_text(_weights(step)[1])}: left as they are"


def plan_steps(plan: Plan) -> list[Mapping[str, JsonValue]]:
    """The rollback plan's steps, in the order they run."""
    steps = plan.target.get("steps")
    return [step for step in steps if isinstance(step, dict)] if isinstance(steps, list) else []


def execute_rollback(context: StepContext, plan: Plan) -> Execution:
    """Runs exactly the confirmed steps in order, journaling each; stops at the first failure."""
    writers = writers_of(context)
    evidence = [f"left as it is: {note}" for note in plan.notes if note.startswith("NOT UNDONE")]
    for step in plan_steps(plan):
        resource = str(step["resource"])
        if step["before"] == step["after"]:
            done: tuple[str, ...] = (_already_text(step),)
        elif resource == MAINTENANCE_RESOURCE:
            if writers.maintenance is None:
                raise ActionFailed("no [maintenance] backend to undo with")
            done = writers.maintenance.switch(step["after"] is True)
        else:
            if writers.weights is None:
                raise ActionFailed("no [traffic] backend to undo with")
            done = writers.weights.write(_weights(step)[1])
        evidence.extend(done)
        context.progress(UNDONE, {"resource": resource, "step": dict(step), "evidence": list(done)})
    return Execution(tuple(evidence))


def verify_rollback(context: StepContext, plan: Plan) -> Verification:
    """Every resource reads back as the plan put it: as before the cutover's first change."""
    problems: list[str] = []
    observed: dict[str, JsonValue] = {}
    for step in plan_steps(plan):
        problems += _read_back_problems(context, step, observed)
    untouched = [note for note in plan.notes if note.startswith("NOT UNDONE")]
    if problems:
        return Verification(False, "; ".join(problems + untouched), observed)
    restored = "every changed resource back as before the first change"
    return Verification(True, "; ".join([restored, *untouched]), observed)


def _read_back_problems(
    context: StepContext, step: Mapping[str, JsonValue], observed: dict[str, JsonValue]
) -> list[str]:
    if step["resource"] == MAINTENANCE_RESOURCE:
        on = _maintenance_now(context)
        observed["maintenance_on"] = on
        wanted = step["after"] is True
        return [] if on is wanted else [f"maintenance {_on(on)}, should be {_on(wanted)}"]
    now, wanted_weights = _weights_reader(context).read(), _weights(step)[1]
    observed["weights"] = weights_json(now)
    if now == wanted_weights:
        return []
    return [f"weights {weights_text(now)}, should be {weights_text(wanted_weights)}"]


def something_to_roll_back(inputs: GuardInputs) -> GuardResult:
    """Rollback needs a change this session made and can undo."""
    count = inputs.session.undoable_changes
    fact = GuardFact("changes this session can undo", str(count))
    if count == 0:
        reason = "nothing to roll back: this session has made no change it can undo"
        return GuardResult("something-to-roll-back", "A change to undo", reason, (fact,))
    return GuardResult("something-to-roll-back", "A change to undo", None, (fact,))


def no_inverse(context: StepContext, plan: Plan) -> Inverse | None:
    """Rollback is not itself undone: the undo stack it emptied stays empty."""
    return None


def leaves_restored(target: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """Each resource as the rollback plan's steps put it back."""
    steps = target.get("steps")
    return {
        str(step.get("resource")): step.get("after")
        for step in (steps if isinstance(steps, list) else [])
        if isinstance(step, dict)
    }


ROLLBACK = ActionSpec(
    ActionId.ROLLBACK,
    title="Roll back",
    short_title="rollback",
    key="R",
    key_label="R",
    description=(
        "undo this session's changes newest first, back to the state before the first change"
    ),
    guards=(guards.rollback_spares_demoted_primary,),
    session_guards=(something_to_roll_back,),
    plan=plan_rollback,
    execute=execute_rollback,
    verify=verify_rollback,
    inverse=no_inverse,
    resource=None,
    touches=leaves_restored,
    auto_abort=AutoAbortRole.DISARMS,
    moves_weights=True,
)
