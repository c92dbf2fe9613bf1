"""What an action is made of: guard results, the plan, what ran, the read-back and the inverse.

Frozen values only; each action's module declares how it makes them, and the runner
(runner.py) walks an action through its life and journals every step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from cockpit.jsonvalue import JsonValue


class ActionId(StrEnum):
    """The action ids `cockpit act`, the journal and the report use."""

    MAINTENANCE_ON = "maintenance-on"
    MAINTENANCE_OFF = "maintenance-off"
    PROMOTE = "promote"
    WEIGHT_UP = "weight-up"
    WEIGHT_DOWN = "weight-down"
    ROLLBACK = "rollback"


@dataclass(frozen=True)
class Change:
    """One resource this action changes: what it is now and what it will be."""

    resource: str
    before: str
    after: str

    def sentence(self) -> str:
        return f"{self.resource}: {self.before} → {self.after}"


@dataclass(frozen=True)
class Plan:
    """Exactly what an action will do, shown before confirmation and journaled.

    target: the machine-readable goal the executor and the verifier work from, e.g.
    {"old": 50, "new": 50}. confirm_word: what the operator types to confirm a one-way door
    (None: a plain y/n confirm); confirm_verb: what typing it does, when this plan's word is not
    the action's own ("cut over" for a subscription behind the promotion key).
    """

    action_id: ActionId
    summary: str
    changes: tuple[Change, ...]
    calls: tuple[str, ...]
    target: dict[str, JsonValue] = field(default_factory=dict)
    one_way: bool = False
    confirm_word: str | None = None
    notes: tuple[str, ...] = ()
    confirm_verb: str | None = None

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "action": self.action_id.value,
            "summary": self.summary,
            "changes": [
                {"resource": c.resource, "before": c.before, "after": c.after} for c in self.changes
            ],
            "calls": list(self.calls),
            "target": self.target,
            "one_way": self.one_way,
            "notes": list(self.notes),
        }


def plan_from_json(data: Mapping[str, JsonValue], action_id: ActionId) -> Plan:
    """A plan read back from its journal record: enough to verify it and build its inverse."""
    target, calls, notes = data.get("target"), data.get("calls"), data.get("notes")
    changes = data.get("changes")
    return Plan(
        action_id=action_id,
        summary=str(data.get("summary") or ""),
        changes=tuple(
            Change(str(c.get("resource")), str(c.get("before")), str(c.get("after")))
            for c in (changes if isinstance(changes, list) else [])
            if isinstance(c, dict)
        ),
        calls=tuple(str(call) for call in calls) if isinstance(calls, list) else (),
        target=dict(target) if isinstance(target, dict) else {},
        one_way=data.get("one_way") is True,
        notes=tuple(str(note) for note in notes) if isinstance(notes, list) else (),
    )


@dataclass(frozen=True)
class Execution:
    """What really ran: API calls with their request ids, SQL, command output."""

    evidence: tuple[str, ...]

    def to_json(self) -> dict[str, JsonValue]:
        return {"evidence": list(self.evidence)}


@dataclass(frozen=True)
class Verification:
    """The read-back after executing: did the world end up as planned, and what is true now."""

    ok: bool
    detail: str
    observed: dict[str, JsonValue] = field(default_factory=dict)

    def to_json(self) -> dict[str, JsonValue]:
        return {"ok": self.ok, "detail": self.detail, "observed": self.observed}


@dataclass(frozen=True)
class Inverse:
    """How to undo one completed change, recorded so rollback can replay it newest first.

    undoable False: a one-way door; `description` then says plainly why it cannot be undone.
    """

    action_id: ActionId
    description: str
    target: dict[str, JsonValue] = field(default_factory=dict)
    undoable: bool = True

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "action": self.action_id.value,
            "description": self.description,
            "target": self.target,
            "undoable": self.undoable,
        }

    @classmethod
    def from_json(cls, data: dict[str, JsonValue]) -> Inverse:
        target = data.get("target")
        return cls(
            action_id=ActionId(str(data["action"])),
            description=str(data.get("description") or ""),
            target=target if isinstance(target, dict) else {},
            undoable=data.get("undoable") is not False,
        )
