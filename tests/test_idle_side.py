"""A side with 0 % of the weight that served nothing reads OK, saying why; nothing else moves."""

from __future__ import annotations

from datetime import UTC, datetime

from cockpit.model import Reading, SignalKind, Status
from cockpit.rules.idle_side import settled_idle_sides

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)


def errors(side: str, values: dict[str, object], status: Status = Status.UNKNOWN) -> Reading:
    detail = "no requests in the last 60 s"
    return Reading(f"errors:cloudwatch:{side}", SignalKind.ERRORS, status, NOW, values, detail)


def traffic(old: float, new: float) -> Reading:
    values = {"weights": {"old": old, "new": new}}
    return Reading("traffic", SignalKind.TRAFFIC, Status.OK, NOW, values, "")


IDLE = {"requests": 0, "errors_5xx": 0, "error_ratio": None}
NO_DATAPOINTS = {"requests": None, "errors_5xx": None, "error_ratio": None}
FAILED = {"requests": None, "error": "AccessDenied"}


def statuses(readings: list[Reading]) -> list[Status]:
    return [reading.status for reading in readings]


def test_the_side_at_0_percent_is_expected_to_be_idle() -> None:
    settled = settled_idle_sides([errors("new", IDLE), errors("old", IDLE)], traffic(100, 0))
    assert statuses(settled) == [Status.OK, Status.UNKNOWN]
    assert settled[0].detail == "no requests in the last 60 s: expected, its weight is 0 %"
    no_data = settled_idle_sides([errors("new", NO_DATAPOINTS)], traffic(100, 0))
    assert statuses(no_data) == [Status.OK]


def test_a_failed_read_a_weighted_side_or_unknown_weights_stay_unknown() -> None:
    assert statuses(settled_idle_sides([errors("new", FAILED)], traffic(100, 0))) == [
        Status.UNKNOWN
    ]
    assert statuses(settled_idle_sides([errors("new", IDLE)], traffic(95, 5))) == [Status.UNKNOWN]
    assert statuses(settled_idle_sides([errors("new", IDLE)], None)) == [Status.UNKNOWN]
    failed_traffic = Reading("traffic", SignalKind.TRAFFIC, Status.UNKNOWN, NOW, {"error": "x"}, "")
    assert statuses(settled_idle_sides([errors("new", IDLE)], failed_traffic)) == [Status.UNKNOWN]
