"""The maintenance signal's typed values and id, for its source and everything that reads it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cockpit.model import Reading, Value
from cockpit.sources.value_fields import bool_field, text_field, whole_field

SIGNAL_ID = "maintenance"


@dataclass(frozen=True)
class MaintenanceValues:
    """Whether maintenance is on (None: not known), and the evidence the source read it from.

    `error` is set only on the values of a poll that failed as a whole.
    """

    on: bool | None
    probe_status: int | None = None
    rule_present: bool | None = None
    backend: str | None = None
    error: str | None = None

    def as_values(self) -> dict[str, Value]:
        """The reading's values, keys in the order the journal has always held them."""
        values: dict[str, Value] = {
            "on": self.on,
            "probe_status": self.probe_status,
            "rule_present": self.rule_present,
            "backend": self.backend,
        }
        return values if self.error is None else {**values, "error": self.error}

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> MaintenanceValues:
        """The typed values of a reading's (or a journaled reading's) values."""
        return cls(
            on=bool_field(values.get("on")),
            probe_status=whole_field(values.get("probe_status")),
            rule_present=bool_field(values.get("rule_present")),
            backend=text_field(values.get("backend")),
            error=text_field(values.get("error")),
        )

    @classmethod
    def from_reading(cls, reading: Reading) -> MaintenanceValues:
        """The typed values of a maintenance reading."""
        return cls.from_values(reading.values)
