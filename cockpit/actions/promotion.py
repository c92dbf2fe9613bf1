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
from cockpit.io.dms import planned_stop_calls
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
    if section.dms is not None:
        return plan_dms_cutover(context)
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
        confirm_verb="cut over",
        notes=(
            "cannot be undone from here: once the new database takes writes, the old one no "
            "longer has them",
            "the publication and the slot stay on the old database: drop the slot afterwards, "
            "or it keeps WAL there",
        ),
    )


def plan_dms_cutover(context: StepContext) -> Plan:
    """The DMS task stopped, so the target stands on its own: refused unless it runs CDC."""
    task = required(context.backends.promotion, "promotion").dms_task()
    if task.status != "running":
        raise ActionFailed(
            f"cannot cut over: DMS task {task.identifier} is {task.status}, not running: "
            "nothing to stop"
        )
    if not task.captures_changes:
        raise ActionFailed(
            f"cannot cut over: DMS task {task.identifier} is a {task.migration_type} task "
            "without change data capture: wait for the full load to finish instead"
        )
    return Plan(
        action_id=ActionId.PROMOTE,
        summary=f"Cut over: stop DMS task {task.identifier} — ONE-WAY DOOR",
        changes=(
            Change(
                f"DMS task {task.identifier}", f"{task.status} ({task.migration_type})", "stopped"
            ),
        ),
        calls=planned_stop_calls(context.config),
        target={"name": task.identifier, "arn": task.arn},
        one_way=True,
        confirm_word=task.identifier,
        confirm_verb="cut over",
        notes=(
            "changes written to the old database after this are not carried over",
            "resuming the task later replays from where it stopped: do not, once the new "
            "database takes writes",
        ),
    )


def _planned_sequences(plan: Plan) -> Mapping[str, JsonValue]:
    sequences = plan.target.get("sequences")
    return sequences if isinstance(sequences, Mapping) else {}


def execute_promotion(context: StepContext, plan: Plan) -> Execution:
    writer = required(writers_of(context).promotion, "promotion")
    if _backend(context) == "logical":
        return Execution(writer.cut_over_logical(_planned_sequences(plan)))
    if _backend(context) == "dms":
        return Execution(writer.stop_dms_task())
    return Execution(writer.promote())


def _backend(context: StepContext) -> str | None:
    section = context.config.promotion
    if section is None:
        return None
    return "logical" if section.logical else "dms" if section.dms else "replica"


def _verify_dms(context: StepContext) -> Verification:
    task = required(context.backends.promotion, "promotion").dms_task()
    observed: dict[str, JsonValue] = {"status": task.status, "stop_reason": task.stop_reason}
    if task.status != "stopped":
        return Verification(False, f"the DMS task is {task.status}, not stopped yet", observed)
    return Verification(
        True, f"the DMS task is stopped ({task.stop_reason or 'no reason given'})", observed
    )


def verify_promotion(context: StepContext, plan: Plan) -> Verification:
    reader = required(context.backends.promotion, "promotion")
    if _backend(context) == "logical":
        check = check_cut_over(reader.logical(), _planned_sequences(plan))
        return Verification(check.ok, check.summary, check.observed)
    if _backend(context) == "dms":
        return _verify_dms(context)
    in_recovery = reader.in_recovery()
    observed: dict[str, JsonValue] = {"in_recovery": in_recovery}
    if in_recovery:
        return Verification(False, "the replica is still in recovery", observed)
    return Verification(True, "the replica left recovery: it is a writable primary", observed)


def inverse_promotion(context: StepContext, plan: Plan) -> Inverse:
    name = str(plan.target.get("name"))
    what = "promotion" if _backend(context) == "replica" else "cutover"
    return Inverse(
        ActionId.PROMOTE,
        f"{what} of {name} cannot be undone: the old primary may have diverged since",
        {"name": name},
        undoable=False,
    )


def quiet_primary_seconds(config: Config) -> float:
    """Long enough to see the primary quiet: the quiet time plus one replication poll."""
    if config.replication is None:
        return 0.0
    return config.guards.promote_quiet_seconds + config.replication.interval_seconds


def promotion_verify_seconds(config: Config) -> float:
    """A DMS task takes minutes to stop; a promoted replica or a disabled subscription, seconds."""
    section = config.promotion
    if section is not None and section.dms is not None:
        return section.dms.timeout_seconds
    return 30.0


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
        guards.integrity_clean("promote"),
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
    verify_within_seconds=promotion_verify_seconds,
    advances=runbook.REPLICA_PROMOTED,
)
