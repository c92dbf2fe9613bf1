"""What an action is declared as: who it is, how it is pressed, what must hold, how it runs.

Each action module (maintenance.py, promotion.py, weights.py, rollback.py) declares its own
ActionSpec; the registry only collects them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from cockpit.actions.context import StepContext
from cockpit.actions.model import ActionId, Execution, Inverse, Plan, Verification
from cockpit.config import Config
from cockpit.jsonvalue import JsonValue
from cockpit.rules.guards import Guard
from cockpit.rules.runbook import RunbookStep

PlanStep = Callable[[StepContext], Plan]
ExecuteStep = Callable[[StepContext, Plan], Execution]
VerifyStep = Callable[[StepContext, Plan], Verification]
InverseStep = Callable[[StepContext, Plan], Inverse | None]
SettleTime = Callable[[Config], float]
Touches = Callable[[Mapping[str, JsonValue]], dict[str, JsonValue]]


class AutoAbortRole(StrEnum):
    """What a change that went through does to the auto-abort watch."""

    ARMS = "arms"
    DISARMS = "disarms"
    NONE = "none"


def ten_seconds(config: Config) -> float:
    """Long enough for an API to show what it was just told."""
    return 10.0


def no_settle(config: Config) -> float:
    """No watching before the guards can judge."""
    return 0.0


@dataclass(frozen=True)
class ActionSpec:
    """One action: who it is, how it is pressed, what must hold, and how it runs and undoes.

    short_title: its word in the one-line action bar, short enough for six in 80 columns.
    guards: the action's own preconditions; session_guards: those on what this session did.
    confirm_verb: the word after the name the operator types ("type db-1 to promote:").
    settle_seconds: how long `cockpit act` watches before its guards can judge.
    resource: the one resource it changes (None: rollback, which restores each changed one);
    touches: what it leaves each resource as, from its plan's target; moves_weights: whether a
    completed run restarts the weights' dwell time.
    verify_within_seconds: how long the read-back may take to show the change (a front door or
    a load balancer can lag its API by a few seconds; a DMS task takes minutes to stop), by config.
    advances: the runbook step a run moves forward, so the overview's GO/NO-GO for that step
    is this action's guards (None: no step, as for the way back).
    """

    action_id: ActionId
    title: str
    short_title: str
    key: str
    key_label: str
    description: str
    guards: tuple[Guard, ...]
    plan: PlanStep
    execute: ExecuteStep
    verify: VerifyStep
    inverse: InverseStep
    resource: str | None
    touches: Touches
    session_guards: tuple[Guard, ...] = ()
    confirm_verb: str = "confirm"
    settle_seconds: SettleTime = no_settle
    auto_abort: AutoAbortRole = AutoAbortRole.NONE
    moves_weights: bool = False
    one_way: bool = False
    verify_within_seconds: SettleTime = ten_seconds
    advances: RunbookStep | None = None

    @property
    def every_guard(self) -> tuple[Guard, ...]:
        """The action's guards, then those on what this session did."""
        return self.guards + self.session_guards
