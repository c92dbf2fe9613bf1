"""Drift: a change to the weights, maintenance or the replica that this cutover did not make.

The watch knows what each resource should be: what it was first seen as, or what this cutover's
last action set it to. A different value seen on `sightings` readings in a row is a change made
outside the cockpit (one odd reading can be a poll that started before our own change landed).
While an action of ours is in flight nothing is judged; when it ends, its target is expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cockpit.actions.maintenance import maintenance_words
from cockpit.actions.resources import (
    IN_RECOVERY,
    MAINTENANCE_RESOURCE,
    PROMOTED,
    REPLICA_RESOURCE,
    WEIGHTS_RESOURCE,
)
from cockpit.actions.weights_json import weights_from_json_or_none, weights_json, weights_text
from cockpit.io.weights import RawWeights
from cockpit.jsonvalue import JsonValue
from cockpit.model import Reading
from cockpit.sources import maintenance_values, replication_values, traffic_values
from cockpit.sources.maintenance_values import MaintenanceValues
from cockpit.sources.replication_values import ReplicationValues
from cockpit.sources.traffic_values import RawWeightsRow, TrafficValues

SIGNAL_OF = {
    WEIGHTS_RESOURCE: traffic_values.SIGNAL_ID,
    MAINTENANCE_RESOURCE: maintenance_values.SIGNAL_ID,
    REPLICA_RESOURCE: replication_values.SIGNAL_ID,
}
RESOURCE_OF = {signal: resource for resource, signal in SIGNAL_OF.items()}


@dataclass(frozen=True)
class Drift:
    """One resource changed by someone else: what it was expected to be and what it is."""

    resource: str
    before: JsonValue
    after: JsonValue
    at: datetime

    @property
    def signal_id(self) -> str:
        return SIGNAL_OF[self.resource]

    def text(self) -> str:
        """'changed outside the cockpit: weights old 50 % / new 50 % → old 0 % / new 100 %'."""
        before, after = (
            value_text(self.resource, self.before),
            value_text(self.resource, self.after),
        )
        return f"changed outside the cockpit: {self.resource} {before} → {after}"

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "resource": self.resource,
            "signal": self.signal_id,
            "before": self.before,
            "after": self.after,
            "text": self.text(),
        }


def value_text(resource: str, value: JsonValue) -> str:
    """A resource's value in the words the panels and plans use."""
    weights = weights_from_json_or_none(value) if resource == WEIGHTS_RESOURCE else None
    if weights is not None:
        return weights_text(weights)
    if resource == MAINTENANCE_RESOURCE and isinstance(value, bool):
        return maintenance_words(value)
    return str(value)


def resource_value(reading: Reading) -> JsonValue:
    """What the reading says the resource is; None when it does not say."""
    resource = RESOURCE_OF.get(reading.signal_id)
    if resource == WEIGHTS_RESOURCE:
        weights = whole_weights(TrafficValues.from_reading(reading).raw_weights)
        return None if weights is None else weights_json(weights)
    if resource == MAINTENANCE_RESOURCE:
        return MaintenanceValues.from_reading(reading).on
    if resource == REPLICA_RESOURCE:
        replica = ReplicationValues.from_reading(reading)
        if replica.promoted is True:
            return PROMOTED
        return IN_RECOVERY if replica.in_recovery is True else None
    return None


def whole_weights(row: RawWeightsRow | None) -> RawWeights | None:
    """The weights a traffic reading read back, when every one of them is known."""
    if row is None or row.old is None or row.new is None:
        return None
    others = sorted((name, weight) for name, weight in row.others if weight is not None)
    if len(others) != len(row.others):
        return None
    return RawWeights(row.old, row.new, tuple(others))


@dataclass
class _Expectation:
    value: JsonValue = None
    odd_value: JsonValue = None
    odd_sightings: int = 0


@dataclass
class DriftWatch:
    """Judges readings against what each resource should be; one per process."""

    sightings: int = 2
    _expected: dict[str, _Expectation] = field(default_factory=dict)

    def seed(self, values: Mapping[str, JsonValue]) -> None:
        """What the journal says the resources were last set to (by us, or seen drifting)."""
        for resource, value in values.items():
            self._expected[resource] = _Expectation(value)

    def expect(self, values: Mapping[str, JsonValue]) -> None:
        """Our own action set these (None: it may have; adopt what is read next)."""
        for resource, value in values.items():
            self._expected[resource] = _Expectation(value)

    def observe(self, readings: Iterable[Reading], *, action_in_flight: bool) -> list[Drift]:
        """The drifts these readings prove; nothing is judged while our own action runs."""
        drifts = []
        for reading in readings:
            resource, value = RESOURCE_OF.get(reading.signal_id), resource_value(reading)
            if resource is None or value is None:
                continue
            if action_in_flight:
                self._expected[resource] = _Expectation(None)
                continue
            drift = self._judge(resource, value, reading.observed_at)
            if drift is not None:
                drifts.append(drift)
        return drifts

    def _judge(self, resource: str, value: JsonValue, at: datetime) -> Drift | None:
        expectation = self._expected.setdefault(resource, _Expectation(None))
        if expectation.value is None:
            self._expected[resource] = _Expectation(value)
            return None
        if value == expectation.value:
            expectation.odd_value, expectation.odd_sightings = None, 0
            return None
        if value == expectation.odd_value:
            expectation.odd_sightings += 1
        else:
            expectation.odd_value, expectation.odd_sightings = value, 1
        if expectation.odd_sightings < self.sightings:
            return None
        self._expected[resource] = _Expectation(value)
        return Drift(resource, expectation.value, value, at)
