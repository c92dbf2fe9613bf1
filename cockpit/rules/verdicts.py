"""A guard's verdict and the facts it looked at; what the session knows that no reading says."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from cockpit.jsonvalue import JsonValue, json_number


@dataclass(frozen=True)
class GuardFact:
    """One value a guard looked at, with where it came from and how old it was."""

    label: str
    value: str
    signal_id: str | None = None
    age_seconds: float | None = None

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "label": self.label,
            "value": self.value,
            "signal": self.signal_id,
            "age_seconds": None if self.age_seconds is None else round(self.age_seconds, 3),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> GuardFact:
        """A fact read back from a journal record."""
        signal, age = data.get("signal"), data.get("age_seconds")
        return cls(
            label=str(data.get("label") or ""),
            value=str(data.get("value") or ""),
            signal_id=signal if isinstance(signal, str) else None,
            age_seconds=json_number(age),
        )


@dataclass(frozen=True)
class GuardResult:
    """A named precondition's verdict: passed (reason None) or blocked, and why."""

    guard_id: str
    title: str
    reason: str | None
    facts: tuple[GuardFact, ...] = ()

    @property
    def passed(self) -> bool:
        return self.reason is None

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "guard": self.guard_id,
            "title": self.title,
            "passed": self.passed,
            "reason": self.reason,
            "facts": [fact.to_json() for fact in self.facts],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> GuardResult:
        """A verdict read back from a journal record."""
        reason = data.get("reason")
        facts = data.get("facts")
        return cls(
            guard_id=str(data.get("guard") or ""),
            title=str(data.get("title") or ""),
            reason=None if data.get("passed") is True else str(reason or "blocked"),
            facts=tuple(
                GuardFact.from_json(fact)
                for fact in (facts if isinstance(facts, list) else [])
                if isinstance(fact, dict)
            ),
        )


def blocking(results: Iterable[GuardResult]) -> tuple[GuardResult, ...]:
    """The guards that block, in order."""
    return tuple(result for result in results if not result.passed)


@dataclass(frozen=True)
class SessionFacts:
    """What the session itself knows that no live reading says.

    weights_since: when the current traffic split was first known to be in place (the last weight
    change this session made, or the oldest reading of an unbroken run of the same split);
    None when nobody can say. rollback_weights / rollback_maintenance_on: what rollback would
    put back (None: rollback leaves that resource alone).
    """

    weights_since: datetime | None = None
    promoted_this_session: bool = False
    maintenance_on_by_session: bool = False
    undoable_changes: int = 0
    rollback_weights: Mapping[str, JsonValue] | None = None
    rollback_maintenance_on: bool | None = None
