"""Promote the replica to primary: the one-way door, confirmed by typing the replica's name.

With logical replication the same door is the cutover: the subscriber's sequences carried over
from the publisher, then the subscription disabled, confirmed by typing the subscription's name.
"""

from __future__ import annotations

from collections.abc import Mapping

from cockpit.actions.context import StepContext, required, writers_of
from cockpit.actions.model import ActionId, Change, Execution, Inverse, Plan, Verification
from cockpit.actions.resources import PROMOTED, REPLICA_RESOURCE
from cockpit.actions.spec import ActionSpec
from cockpit.config import Config
from cockpit.io.failures import ActionFailed
from cockpit.io.logical_cutover import check_cut_over, planned_values
from cockpit.io.promotion import (
    describe_promotion_target,
    planned_promotion_calls,
    promotion_target_name,
)
from cockpit.jsonvalue import JsonValue
from cockpit.rules import guards, runbook


def plan_promotion(context: StepContext) -> Plan:
    """The replica becomes a writable primary: a one-way door."""
    section = context.config.promotion
    if section is None:
        raise ActionFailed("no [promotion] section in the config")
    if section.logical is not None:
        return plan_logical_cutover(context)
    reader = required(context.backends.promotion, "promotion")
    if not reader.in_recovery():
        raise ActionFailed("the replica is already promoted (not in recovery): nothing to do")
    target = describe_promotion_target(context.config)
    return Plan(
        action_id=ActionId.PROMOTE,
        summary=f"Promote {target} to primary — ONE-WAY DOOR",
        changes=(Change(target, "read replica (in recovery)", "writable primary"),),
        calls=planned_promotion_calls(context.config),
        target={"name": promotion_target_name(context.config)},
        one_way=True,
        confirm_word=promotion_target_name(context.config),
        notes=(
            "cannot be undone: once promoted, the replica never follows the old primary again",
            "the old primary stays writable: keep maintenance on so nothing writes there",
        ),
    )


def plan_logical_cutover(context: StepContext) -> Plan:
    """Sequences carried over, then the subscription disabled: refused unless every table is
    ready and no sequence would go backwards."""
    reader = required(context.backends.promotion, "promotion").logical()
    settings = reader.settings
    state = reader.state()
    refusal = state.refusal(settings.subscription)
    if refusal is not None:
        raise ActionFailed(f"cannot cut over: {refusal}")
    planned = planned_values(state)
    where = f"{reader.subscriber.location.text}"
    changes = tuple(
        Change(
            f"sequence {gap.name} on the subscriber",
            "unused" if gap.subscriber_value is None else str(gap.subscriber_value),
            f"{gap.needed} (publisher {gap.publisher_value} + {settings.sequence_margin})",
        )
        for gap in state.settings
    )
    return Plan(
        action_id=ActionId.PROMOTE,
        summary=f"Cut over to the new database: subscription {settings.subscription} "
        "— ONE-WAY DOOR",
        changes=(
            *changes,
            Change(f"subscription {settings.subscription}", "enabled", "disabled"),
        ),
        calls=(
            f"SQL on the publisher ({reader.publisher.location.address}): read pg_sequences "
            "again; refuse if any moved since this plan",
            f"SQL on the subscriber ({where}): setval() for {len(planned)} sequences in one "
            "transaction",
            f"SQL on the subscriber: ALTER SUBSCRIPTION {settings.subscription} DISABLE",
        ),
        target={"name": settings.subscription, "sequences": planned},
        one_way=True,
        confirm_word=settings.subscription,
        notes=(
            "cannot be undone from here: once the new database takes writes, the old one no "
            "longer has them",
            "the publication and the slot stay on the old database: drop the slot afterwards, "
            "or it keeps WAL there",
        ),
    )


def _planned_sequences(plan: Plan) -> Mapping[str, JsonValue]:
    sequences = plan.target.get("sequences")
    return sequences if isinstance(sequences, Mapping) else {}


def execute_promotion(context: StepContext, plan: Plan) -> Execution:
    writer = required(writers_of(context).promotion, "promotion")
    if _is_logical(context):
        return Execution(writer.cut_over_logical(_planned_sequences(plan)))
    return Execution(writer.promote())


def _is_logical(context: StepContext) -> bool:
    section = context.config.promotion
    return section is not None and section.logical is not None


def verify_promotion(context: StepContext, plan: Plan) -> Verification:
    reader = required(context.backends.promotion, "promotion")
    if _is_logical(context):
        check = check_cut_over(reader.logical(), _planned_sequences(plan))
        return Verification(check.ok, check.summary, check.observed)
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


def quiet_primary_seconds(config: Config) -> float:
    """Long enough to see the primary quiet: the quiet time plus one replication poll."""
    if config.replication is None:
        return 0.0
    return config.guards.promote_quiet_seconds + config.replication.interval_seconds


def leaves_replica_promoted(target: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """The replica, promoted."""
    return {REPLICA_RESOURCE: PROMOTED}


PROMOTE = ActionSpec(
    ActionId.PROMOTE,
    title="Promote replica",
    short_title="promote",
    key="P",
    key_label="P",
    description="promote the replica to primary; cannot be undone; confirm by typing its name",
    guards=(
        guards.promotion_backend_configured,
        guards.promotion_requires_maintenance,
        guards.replica_in_recovery,
        guards.replication_caught_up,
        guards.primary_quiet,
        guards.subscription_tables_ready,
    ),
    plan=plan_promotion,
    execute=execute_promotion,
    verify=verify_promotion,
    inverse=inverse_promotion,
    resource=REPLICA_RESOURCE,
    touches=leaves_replica_promoted,
    confirm_verb="promote",
    settle_seconds=quiet_primary_seconds,
    one_way=True,
    verify_within_seconds=30.0,
    advances=runbook.REPLICA_PROMOTED,
)
