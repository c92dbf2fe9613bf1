"""Target health's typed values and signal ids, for the sources that write them and their readers.

One signal per configured target group or HTTP check, `targets:<name>`. Which of them are the
new side is the config's word (`side = "new"`), the same for every guard and runbook step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cockpit.model import Reading, SignalKind, Value
from cockpit.sources.value_fields import number_field, rows_of, text_field, whole_field

if TYPE_CHECKING:
    from cockpit.config import Config

SIGNAL_PREFIX = "targets:"
HEALTHY_STATE = "healthy"
NEW_SIDE = "new"


def signal_id(name: str) -> str:
    """The signal id of a target group or HTTP check named `name` in the config."""
    return f"{SIGNAL_PREFIX}{name}"


def is_targets_signal(signal: str) -> bool:
    """Whether `signal` is a target group's or HTTP check's signal id."""
    return signal.startswith(SIGNAL_PREFIX)


def target_name(signal: str) -> str:
    """The configured name: 'tg-old' from 'targets:tg-old'."""
    return signal.removeprefix(SIGNAL_PREFIX)


def configured_new_target_ids(config: Config | None) -> tuple[str, ...]:
    """The signal ids of the target groups and HTTP checks the config puts on the new side."""
    if config is None or config.targets is None:
        return ()
    groups = [group.name for group in config.targets.target_groups if group.side == NEW_SIDE]
    checks = [check.name for check in config.targets.http if check.side == NEW_SIDE]
    return tuple(signal_id(name) for name in (*groups, *checks))


def new_side_target_ids(config: Config | None, readings: Iterable[Reading]) -> tuple[str, ...]:
    """The new side's target signal ids, sorted: those the config names new, and those seen new.

    A reading that says side "new" for a target the config lists elsewhere still counts, so a
    check cannot pass while a target that calls itself new is unhealthy.
    """
    seen = (
        reading.signal_id
        for reading in readings
        if reading.kind is SignalKind.TARGETS and TargetsValues.from_reading(reading).is_new_side
    )
    return tuple(sorted({*configured_new_target_ids(config), *seen}))


@dataclass(frozen=True)
class TargetRow:
    """One target as a reading lists it: its id, state, and why."""

    target_id: str | None
    state: str | None
    reason: str | None = None
    description: str | None = None

    @property
    def healthy(self) -> bool:
        return self.state == HEALTHY_STATE

    def as_value(self) -> dict[str, Value]:
        """The reading's form: {"id", "state", "reason", "description"}."""
        return {
            "id": self.target_id,
            "state": self.state,
            "reason": self.reason,
            "description": self.description,
        }

    @classmethod
    def from_value(cls, value: Mapping[str, object]) -> TargetRow:
        """A listed target; a field of the wrong type reads as None."""
        return cls(
            target_id=text_field(value.get("id")),
            state=text_field(value.get("state")),
            reason=text_field(value.get("reason")),
            description=text_field(value.get("description")),
        )


@dataclass(frozen=True)
class TargetsValues:
    """A target group's or HTTP check's counts and targets, or why they could not be read.

    Counts are None when not read (never a made-up 0). `is_http_check` says the values carry an
    HTTP answer's status code (None when nothing answered) and latency.
    """

    side: str | None
    healthy: int | None = None
    unhealthy: int | None = None
    total: int | None = None
    targets: tuple[TargetRow, ...] = ()
    error: str | None = None
    is_http_check: bool = False
    status_code: int | None = None
    latency_seconds: float | None = None

    @property
    def is_new_side(self) -> bool:
        return self.side == NEW_SIDE

    def not_healthy_targets(self) -> tuple[TargetRow, ...]:
        """The listed targets whose state is anything but healthy."""
        return tuple(target for target in self.targets if not target.healthy)

    def as_values(self) -> dict[str, Value]:
        """The reading's values, keys in the order the journal has always held them."""
        if self.error is not None:
            return {"side": self.side, "error": self.error}
        values: dict[str, Value] = {
            "healthy": self.healthy,
            "unhealthy": self.unhealthy,
            "total": self.total,
            "targets": tuple(target.as_value() for target in self.targets),
            "side": self.side,
        }
        if self.is_http_check:
            values["status_code"] = self.status_code
            values["latency_seconds"] = self.latency_seconds
        return values

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> TargetsValues:
        """The typed values of a reading's (or a journaled reading's) values."""
        error = values.get("error")
        return cls(
            side=text_field(values.get("side")),
            healthy=whole_field(values.get("healthy")),
            unhealthy=whole_field(values.get("unhealthy")),
            total=whole_field(values.get("total")),
            targets=tuple(TargetRow.from_value(row) for row in rows_of(values.get("targets"))),
            error=None if error is None else str(error),
            is_http_check="status_code" in values,
            status_code=whole_field(values.get("status_code")),
            latency_seconds=number_field(values.get("latency_seconds")),
        )

    @classmethod
    def from_reading(cls, reading: Reading) -> TargetsValues:
        """The typed values of a target health reading."""
        return cls.from_values(reading.values)
