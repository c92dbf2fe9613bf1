"""Plan, execute, verify and inverse for each action, over the session's readers and writers.

Every function here is blocking (boto3, psycopg, HTTP); the runner calls them in a thread.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from cockpit.actions.model import ActionId, Change, Execution, Inverse, Plan, Verification
from cockpit.actions.session_log import SessionLog
from cockpit.config import Config
from cockpit.io.backends import Backends, Writers
from cockpit.io.failures import ActionFailed
from cockpit.io.maintenance import (
    MaintenanceReader,
    describe_maintenance_target,
    planned_maintenance_calls,
)
from cockpit.io.promotion import (
    describe_promotion_target,
    planned_promotion_calls,
    promotion_target_name,
)
from cockpit.io.traffic import member_label, split_percent
from cockpit.io.weights import (
    RawWeights,
    WeightedSet,
    WeightsReader,
    describe_weights_target,
    planned_weight_calls,
    weights_for_percent,
)
from cockpit.jsonvalue import JsonValue
from cockpit.outside import outside_text
from cockpit.sources.traffic import step_position
from cockpit.units import percent_number

Progress = Callable[[str, dict[str, JsonValue]], None]
T = TypeVar("T")


def _no_progress(phase: str, data: dict[str, JsonValue]) -> None:
    return None


@dataclass(frozen=True)
class StepContext:
    """What a step works with: the config, the session's backends and what it changed so far.

    progress: journals an intermediate step (rollback records each inverse it has undone).
    """

    config: Config
    backends: Backends
    session: SessionLog
    progress: Progress = field(default=_no_progress)


def writers_of(context: StepContext) -> Writers:
    """The writers; ActionFailed when this session may not change anything."""
    if context.backends.writers is None:
        raise ActionFailed("this session cannot change anything (read-only or dry-run)")
    return context.backends.writers


def _required(backend: T | None, what: str) -> T:
    if backend is None:
        raise ActionFailed(f"no [{what}] backend in the config")
    return backend


# --- maintenance --------------------------------------------------------------------------------


def _maintenance_reader(context: StepContext) -> MaintenanceReader:
    return _required(context.backends.maintenance, "maintenance")


def maintenance_words(on: bool | None) -> str:
    return "unknown" if on is None else "on" if on else "off"


def plan_maintenance(context: StepContext, turn_on: bool) -> Plan:
    """Maintenance switched on or off: the front door's answer changes."""
    section = context.config.maintenance
    if section is None:
        raise ActionFailed("no [maintenance] section in the config")
    probe = _maintenance_reader(context).read()
    action = ActionId.MAINTENANCE_ON if turn_on else ActionId.MAINTENANCE_OFF
    target = describe_maintenance_target(section)
    after = maintenance_words(turn_on)
    return Plan(
        action_id=action,
        summary=f"Turn maintenance {after}: {target}",
        changes=(Change(f"maintenance ({target})", maintenance_words(probe.on), after),),
        calls=planned_maintenance_calls(section, turn_on),
        target={"on": turn_on},
        notes=(f"now: {probe.detail}",),
    )


def execute_maintenance(context: StepContext, plan: Plan) -> Execution:
    writer = _required(writers_of(context).maintenance, "maintenance")
    return Execution(writer.switch(plan.target.get("on") is True))


def verify_maintenance(context: StepContext, plan: Plan) -> Verification:
    probe = _maintenance_reader(context).read()
    wanted = plan.target.get("on") is True
    observed: dict[str, JsonValue] = {"on": probe.on, "probe_status": probe.probe_status}
    if probe.on is wanted:
        return Verification(
            True, f"maintenance {maintenance_words(wanted)}: {probe.detail}", observed
        )
    return Verification(
        False, f"maintenance reads {maintenance_words(probe.on)}: {probe.detail}", observed
    )


def inverse_maintenance(context: StepContext, plan: Plan) -> Inverse:
    turned_on = plan.target.get("on") is True
    back = ActionId.MAINTENANCE_OFF if turned_on else ActionId.MAINTENANCE_ON
    return Inverse(
        back, f"turn maintenance {maintenance_words(not turned_on)}", {"on": not turned_on}
    )


# --- promotion ----------------------------------------------------------------------------------


def plan_promotion(context: StepContext) -> Plan:
    """The replica becomes a writable primary: a one-way door."""
    section = context.config.promotion
    if section is None:
        raise ActionFailed("no [promotion] section in the config")
    reader = _required(context.backends.promotion, "promotion")
    if not reader.in_recovery():
        raise ActionFailed("the replica is already promoted (not in recovery): nothing to do")
    target = describe_promotion_target(context.config)
    return Plan(
        action_id=ActionId.PROMOTE,
        summary=f"Promote {target} to primary — ONE-WAY DOOR",
        changes=(Change(target, "read replica (in recovery)", "writable primary"),),
        calls=planned_promotion_calls(context.config),
        target={"name": promotion_target_name(section)},
        one_way=True,
        confirm_word=promotion_target_name(section),
        notes=(
            "cannot be undone: once promoted, the replica never follows the old primary again",
            "the old primary stays writable: keep maintenance on so nothing writes there",
        ),
    )


def execute_promotion(context: StepContext, plan: Plan) -> Execution:
    writer = _required(writers_of(context).promotion, "promotion")
    return Execution(writer.promote())


def verify_promotion(context: StepContext, plan: Plan) -> Verification:
    reader = _required(context.backends.promotion, "promotion")
    in_recovery = reader.in_recovery()
    observed: dict[str, JsonValue] = {"in_recovery": in_recovery}
    if in_recovery:
        return Verification(False, "the replica is still in recovery", observed)
    return Verification(True, "the replica left recovery: it is a writable primary", observed)


def inverse_promotion(context: StepContext, plan: Plan) -> Inverse:
    name = str(plan.target.get("name"))
    return Inverse(
        ActionId.PROMOTE,
        f"promotion of {name} cannot be undone: the old primary may have diverged since",
        {"name": name},
        undoable=False,
    )


# --- traffic weights ----------------------------------------------------------------------------


def _weights_reader(context: StepContext) -> WeightsReader:
    return _required(context.backends.weights, "traffic")


def weights_text(weights: RawWeights) -> str:
    """'old 75 % / new 25 %', or every member's true share when the set has more members."""
    if not weights.others:
        old_percent, new_percent = split_percent(weights.old, weights.new)
        return f"old {percent_number(old_percent)} % / new {percent_number(new_percent)} %"
    named = [("old", weights.old), ("new", weights.new)]
    named += [(member_label(name), weight) for name, weight in weights.others]
    total = sum(weight for _, weight in named)
    shares = [100 / len(named) if total == 0 else weight / total * 100 for _, weight in named]
    return " / ".join(
        f"{label} {percent_number(share)} %"
        for (label, _), share in zip(named, shares, strict=True)
    )


def weights_json(weights: RawWeights) -> dict[str, JsonValue]:
    """{"old": 75, "new": 25}, plus "others": {name: weight} when the set has more members."""
    data: dict[str, JsonValue] = {"old": weights.old, "new": weights.new}
    if weights.others:
        others: dict[str, JsonValue] = dict(weights.others)
        data["others"] = others
    return data


def weights_from_json(data: Mapping[str, object]) -> RawWeights:
    """The weights a plan, journal or reading recorded ({"old", "new"} and maybe "others")."""
    old, new, others = data.get("old"), data.get("new"), data.get("others", {})
    if not isinstance(old, int) or not isinstance(new, int) or not isinstance(others, Mapping):
        raise ActionFailed(f"recorded weights {dict(data)} are not whole numbers")
    pairs = sorted((str(name), weight) for name, weight in others.items())
    whole = tuple((name, weight) for name, weight in pairs if isinstance(weight, int))
    if len(whole) != len(pairs):
        raise ActionFailed(f"recorded weights {dict(data)} are not whole numbers")
    return RawWeights(old, new, whole)


def weights_from_json_or_none(data: object) -> RawWeights | None:
    """The weights a recorded or read value holds; None when it holds none."""
    if not isinstance(data, Mapping):
        return None
    try:
        return weights_from_json(data)
    except ActionFailed:
        return None


def members_notes(weighted_set: WeightedSet) -> tuple[str, ...]:
    """What each member answers (alias targets included); the rule for the others, if any."""
    notes = [
        f"{member.role} member {member_label(member.name)!r} answers "
        f"{outside_text(member.target) or 'nothing'}"
        for member in weighted_set.members
    ]
    if weighted_set.weights.others:
        notes.append(
            "members other than old and new keep their weights; the step sets old and new so "
            "that new has the step's percent of old + new; shares shown are over all members"
        )
    return tuple(notes)


def plan_weight_step(context: StepContext, up: bool) -> Plan:
    """One step along the configured plan, up (more on new) or down."""
    section = context.config.traffic
    if section is None:
        raise ActionFailed("no [traffic] section in the config")
    weighted_set = _weights_reader(context).read_set()
    before = weighted_set.weights
    _, new_percent = split_percent(before.old, before.new)
    position = step_position(section.steps, new_percent)
    following = position.next_percent if up else position.previous_percent
    if following is None:
        edge = "last" if up else "first"
        raise ActionFailed(f"new {percent_number(new_percent)} % is already at the {edge} step")
    action = ActionId.WEIGHT_UP if up else ActionId.WEIGHT_DOWN
    after = weights_for_percent(following, before.others)
    return plan_weights(context, action, before, after, members_notes(weighted_set))


def plan_weights(
    context: StepContext,
    action: ActionId,
    before: RawWeights,
    after: RawWeights,
    notes: tuple[str, ...] = (),
) -> Plan:
    """Weights set from `before` to `after`, naming the record or listener touched."""
    section = context.config.traffic
    assert section is not None
    target = describe_weights_target(section)
    return Plan(
        action_id=action,
        summary=f"Shift {target} from {weights_text(before)} to {weights_text(after)}",
        changes=(Change(target, weights_text(before), weights_text(after)),),
        calls=planned_weight_calls(section, before, after),
        target={"before": weights_json(before), "after": weights_json(after)},
        notes=notes,
    )


def _plan_weights(plan: Plan, key: str) -> RawWeights:
    value = plan.target.get(key)
    if not isinstance(value, dict):
        raise ActionFailed(f"the plan has no {key} weights")
    return weights_from_json(value)


def execute_weights(context: StepContext, plan: Plan) -> Execution:
    writer = _required(writers_of(context).weights, "traffic")
    return Execution(writer.write(_plan_weights(plan, "after")))


def verify_weights(context: StepContext, plan: Plan) -> Verification:
    wanted = _plan_weights(plan, "after")
    read_back = _weights_reader(context).read()
    observed = weights_json(read_back)
    if read_back == wanted:
        return Verification(True, f"weights read back {weights_text(read_back)}", observed)
    return Verification(
        False,
        f"weights read back {weights_text(read_back)}, not {weights_text(wanted)}",
        observed,
    )


def inverse_weights(context: StepContext, plan: Plan) -> Inverse:
    before = _plan_weights(plan, "before")
    return Inverse(
        ActionId.WEIGHT_DOWN,
        f"set weights back to {weights_text(before)}",
        {"before": plan.target.get("after"), "after": weights_json(before)},
    )
