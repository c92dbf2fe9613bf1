"""Maintenance on and maintenance off: the front door answers with the fixed page, or not.

Both share their plan, execute, verify and inverse; the direction is in the plan's target.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from cockpit.actions.context import StepContext, required, writers_of
from cockpit.actions.model import ActionId, Change, Execution, Inverse, Plan, Verification
from cockpit.actions.resources import MAINTENANCE_RESOURCE
from cockpit.actions.spec import ActionSpec
from cockpit.io.failures import ActionFailed
from cockpit.io.maintenance import (
    MaintenanceReader,
    describe_maintenance_target,
    planned_maintenance_calls,
)
from cockpit.jsonvalue import JsonValue
from cockpit.rules import guards, runbook


def _maintenance_reader(context: StepContext) -> MaintenanceReader:
    return required(context.backends.maintenance, "maintenance")


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
    writer = required(writers_of(context).maintenance, "maintenance")
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


def leaves_maintenance(on: bool, target: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """Maintenance as the switch leaves it, whatever the plan's target."""
    return {MAINTENANCE_RESOURCE: on}


MAINTENANCE_ON = ActionSpec(
    ActionId.MAINTENANCE_ON,
    title="Maintenance on",
    short_title="maint-on",
    key="m",
    key_label="m",
    description="put the maintenance page up (front door answers with the fixed response)",
    guards=(
        guards.maintenance_backend_configured,
        guards.maintenance_backend_readable,
        guards.maintenance_is_off,
    ),
    plan=partial(plan_maintenance, turn_on=True),
    execute=execute_maintenance,
    verify=verify_maintenance,
    inverse=inverse_maintenance,
    resource=MAINTENANCE_RESOURCE,
    touches=partial(leaves_maintenance, True),
    advances=runbook.MAINTENANCE_ON,
)

MAINTENANCE_OFF = ActionSpec(
    ActionId.MAINTENANCE_OFF,
    title="Maintenance off",
    short_title="maint-off",
    key="M",
    key_label="M",
    description="take the maintenance page down",
    guards=(
        guards.maintenance_backend_configured,
        guards.maintenance_backend_readable,
        guards.maintenance_is_on,
        guards.new_side_healthy_after_promotion,
        guards.sequences_caught_up,
        guards.integrity_clean("maintenance-off"),
    ),
    plan=partial(plan_maintenance, turn_on=False),
    execute=execute_maintenance,
    verify=verify_maintenance,
    inverse=inverse_maintenance,
    resource=MAINTENANCE_RESOURCE,
    touches=partial(leaves_maintenance, False),
)
