"""The traffic signal's typed values and id, for the source that writes them and their readers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cockpit.model import Reading, Value
from cockpit.sources.value_fields import (
    bool_field,
    mapping_field,
    number_field,
    rows_of,
    sequence_field,
    text_field,
    whole_field,
)

SIGNAL_ID = "traffic"


@dataclass(frozen=True)
class SplitPercent:
    """The old and new sides' shares of old + new, in percent; either may be unreadable."""

    old: float | None
    new: float | None

    def as_value(self) -> dict[str, Value]:
        return {"old": self.old, "new": self.new}

    @classmethod
    def from_value(cls, value: Mapping[str, object]) -> SplitPercent:
        return cls(old=number_field(value.get("old")), new=number_field(value.get("new")))


@dataclass(frozen=True)
class RawWeightsRow:
    """The weights as set: old, new, and any other members' by name, in the order read."""

    old: int | None
    new: int | None
    others: tuple[tuple[str, int | None], ...] = ()

    @property
    def both_zero(self) -> bool:
        return self.old == 0 and self.new == 0

    def as_value(self) -> dict[str, Value]:
        """{"old": 90, "new": 10}, plus "others": {name: weight} when the set has more members."""
        value: dict[str, Value] = {"old": self.old, "new": self.new}
        if self.others:
            value["others"] = dict(self.others)
        return value

    @classmethod
    def from_value(cls, value: Mapping[str, object]) -> RawWeightsRow:
        """The recorded weights; a weight that is not a whole number reads as None."""
        others = mapping_field(value.get("others")) or {}
        return cls(
            old=whole_field(value.get("old")),
            new=whole_field(value.get("new")),
            others=tuple((str(name), whole_field(weight)) for name, weight in others.items()),
        )


@dataclass(frozen=True)
class TrafficMember:
    """One member of the weighted set: its role, raw weight, true share and what it answers."""

    name: str | None
    label: str | None
    role: str | None
    weight: int | None
    share_percent: float | None
    target: str | None

    def as_value(self) -> dict[str, Value]:
        return {
            "name": self.name,
            "label": self.label,
            "role": self.role,
            "weight": self.weight,
            "share_percent": self.share_percent,
            "target": self.target,
        }

    @classmethod
    def from_value(cls, value: Mapping[str, object]) -> TrafficMember:
        return cls(
            name=text_field(value.get("name")),
            label=text_field(value.get("label")),
            role=text_field(value.get("role")),
            weight=whole_field(value.get("weight")),
            share_percent=number_field(value.get("share_percent")),
            target=text_field(value.get("target")),
        )


@dataclass(frozen=True)
class TrafficValues:
    """The split read back, where it sits in the step plan, and how it is held.

    `read_back` is False for the values of a poll that failed as a whole (only `error` is set).
    """

    weights: SplitPercent | None
    raw_weights: RawWeightsRow | None = None
    members: tuple[TrafficMember, ...] = ()
    backend: str | None = None
    steps: tuple[int, ...] | None = None
    step_index: int | None = None
    next_step_percent: int | None = None
    previous_step_percent: int | None = None
    ttl_seconds: int | None = None
    maintenance_rule: bool | None = None
    read_back: bool = True
    error: str | None = None

    @property
    def new_percent(self) -> float | None:
        """The new side's share in percent; None when the weights are not known."""
        return None if self.weights is None else self.weights.new

    def as_values(self) -> dict[str, Value]:
        """The reading's values, keys in the order the journal has always held them."""
        return {
            "weights": None if self.weights is None else self.weights.as_value(),
            "raw_weights": None if self.raw_weights is None else self.raw_weights.as_value(),
            "members": tuple(member.as_value() for member in self.members),
            "backend": self.backend,
            "steps": self.steps,
            "step_index": self.step_index,
            "next_step_percent": self.next_step_percent,
            "previous_step_percent": self.previous_step_percent,
            "ttl_seconds": self.ttl_seconds,
            "maintenance_rule": self.maintenance_rule,
        }

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> TrafficValues:
        """The typed values of a reading's (or a journaled reading's) values."""
        weights = mapping_field(values.get("weights"))
        raw = mapping_field(values.get("raw_weights"))
        steps = sequence_field(values.get("steps"))
        return cls(
            weights=None if weights is None else SplitPercent.from_value(weights),
            raw_weights=None if raw is None else RawWeightsRow.from_value(raw),
            members=tuple(TrafficMember.from_value(row) for row in rows_of(values.get("members"))),
            backend=text_field(values.get("backend")),
            steps=None if steps is None else _whole_steps(steps),
            step_index=whole_field(values.get("step_index")),
            next_step_percent=whole_field(values.get("next_step_percent")),
            previous_step_percent=whole_field(values.get("previous_step_percent")),
            ttl_seconds=whole_field(values.get("ttl_seconds")),
            maintenance_rule=bool_field(values.get("maintenance_rule")),
            read_back="weights" in values,
            error=text_field(values.get("error")),
        )

    @classmethod
    def from_reading(cls, reading: Reading) -> TrafficValues:
        """The typed values of a traffic reading."""
        return cls.from_values(reading.values)


def _whole_steps(items: Sequence[object]) -> tuple[int, ...]:
    """The planned steps that are whole numbers; anything else in the list is skipped."""
    return tuple(step for step in (whole_field(item) for item in items) if step is not None)
