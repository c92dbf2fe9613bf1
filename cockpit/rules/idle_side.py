"""A side with no requests because it has no weight is expected to be idle, not unknown.

Before traffic moves, the new side serves nothing: "no requests in the last 60 s" is what
should be, and reading it as UNKNOWN kept every pre-flight check from coming out green. When
the weights read back say a side has 0 %, its error reading that was read without error and
counted no requests (or, as CloudWatch does for an idle load balancer, got no datapoints) is
OK, and says why. Anything else stays as the source read it: a side that could not be read, a
side with weight that serves nothing, weights that are not known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cockpit.model import Reading, Status
from cockpit.sources import errors_values, traffic_values


def settled_idle_sides(readings: Sequence[Reading], traffic: Reading | None) -> list[Reading]:
    """`readings` with each idle side at 0 % weight read as OK (the rest unchanged)."""
    weights = None if traffic is None else traffic_values.TrafficValues.from_reading(traffic)
    split = None if weights is None or not weights.read_back else weights.weights
    if split is None:
        return list(readings)
    zero = {side for side, share in (("old", split.old), ("new", split.new)) if share == 0}
    return [_settled(reading, zero) for reading in readings]


def _settled(reading: Reading, zero_weight_sides: set[str]) -> Reading:
    if reading.status is not Status.UNKNOWN or not errors_values.is_errors_signal(
        reading.signal_id
    ):
        return reading
    _, side = errors_values.backend_and_side(reading.signal_id)
    if side not in zero_weight_sides:
        return reading
    values = errors_values.from_reading(reading)
    if values.error is not None or values.requests not in (None, 0):
        return reading
    detail = f"{reading.detail}: expected, its weight is 0 %"
    return replace(reading, status=Status.OK, detail=detail)
