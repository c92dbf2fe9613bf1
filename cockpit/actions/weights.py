"""Weight up and weight down: traffic shifted one planned step towards new, or back to old."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from cockpit.actions.context import StepContext, required, writers_of
from cockpit.actions.model import ActionId, Change, Execution, Inverse, Plan, Verification
from cockpit.actions.resources import WEIGHTS_RESOURCE
from cockpit.actions.spec import ActionSpec, AutoAbortRole
from cockpit.actions.weights_json import weights_from_json, weights_json, weights_text
from cockpit.io.failures import ActionFailed
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
from cockpit.rules import guards, runbook
from cockpit.sources.traffic import step_position
from cockpit.units import percent_number


def _weights_reader(context: StepContext) -> WeightsReader:
    return required(context.backends.weights, "traffic")


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
    writer = required(writers_of(context).weights, "traffic")
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


def leaves_planned_weights(target: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """The weights as the plan sets them."""
    return {WEIGHTS_RESOURCE: target.get("after")}


WEIGHT_UP = ActionSpec(
    ActionId.WEIGHT_UP,
    title="Weight up one step",
    short_title="up",
    key="plus",
    key_label="+",
    description="shift traffic one planned step towards new",
    guards=(
        guards.traffic_backend_configured,
        guards.weights_known_on_plan,
        guards.next_step_exists,
        guards.new_targets_healthy,
        guards.new_error_ratio_under_threshold,
        guards.new_p95_under_threshold,
        guards.dns_ttl_preflight,
        guards.step_dwell_elapsed,
        guards.sequences_caught_up,
        guards.integrity_clean("weight-up"),
    ),
    plan=partial(plan_weight_step, up=True),
    execute=execute_weights,
    verify=verify_weights,
    inverse=inverse_weights,
    resource=WEIGHTS_RESOURCE,
    touches=leaves_planned_weights,
    auto_abort=AutoAbortRole.ARMS,
    moves_weights=True,
    advances=runbook.TRAFFIC_ON_NEW,
)

WEIGHT_DOWN = ActionSpec(
    ActionId.WEIGHT_DOWN,
    title="Weight down one step",
    short_title="down",
    key="minus",
    key_label="-",
    description="shift traffic one planned step back towards old",
    guards=(
        guards.traffic_backend_configured,
        guards.weights_known_on_plan,
        guards.previous_step_exists,
        guards.weight_down_spares_demoted_primary,
    ),
    plan=partial(plan_weight_step, up=False),
    execute=execute_weights,
    verify=verify_weights,
    inverse=inverse_weights,
    resource=WEIGHTS_RESOURCE,
    touches=leaves_planned_weights,
    auto_abort=AutoAbortRole.DISARMS,
    moves_weights=True,
)
