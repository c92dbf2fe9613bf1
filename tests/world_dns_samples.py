"""World DNS readings as the source makes them, from the recorded payloads, for screen and report
tests."""

from __future__ import annotations

import json
from datetime import datetime

from cockpit.config import DnsRecord
from cockpit.model import Reading, SignalKind
from cockpit.sources.dns_world import (
    InFlight,
    Pacing,
    RecordState,
    world_detail,
    world_status,
    world_values,
)
from cockpit.sources.dns_world_globalping import parse_measurement
from cockpit.sources.dns_world_results import Started
from cockpit.sources.dns_world_values import BudgetValues, Service, WorldValues, signal_id
from tests.world_dns_stand_in import body_of

RECORD = "app.cutover.test"


def world_values_for(
    payload: str | None,
    at: datetime,
    *,
    service: Service = "globalping",
    pacing: Pacing | None = None,
    budget: BudgetValues | None = None,
    record_name: str = RECORD,
) -> WorldValues:
    """The values the world source gives the record when Globalping answered `payload` at
    `at` (finished: shown; still running: as the measurement in flight)."""
    record = DnsRecord.model_validate(
        {"name": record_name, "expect": "198.51.100.20", "old": "192.0.2.10"}
    )
    state = RecordState(record)
    if payload is not None:
        started = Started("Bq1JaKp5dT0HqtVm", 6)
        body = json.loads(json.dumps(body_of(payload)).replace("app.example.com", record_name))
        measured = parse_measurement(body, record, started, at, at)
        if measured.finished:
            state.shown = measured
        else:
            state.in_flight = InFlight(started, at, measured)
    region = "country" if service == "atlas" else "continent"
    return world_values(service, region, state, budget, pacing or Pacing())


def world_reading(
    payload: str | None,
    at: datetime,
    *,
    service: Service = "globalping",
    pacing: Pacing | None = None,
    budget: BudgetValues | None = None,
    record_name: str = RECORD,
) -> Reading:
    """What the world source reads for the record when the service answered `payload`."""
    values = world_values_for(
        payload, at, service=service, pacing=pacing, budget=budget, record_name=record_name
    )
    return Reading(
        signal_id(service, record_name),
        SignalKind.WORLD_DNS,
        world_status(values),
        at,
        values.to_values(),
        world_detail(values),
        30.0,
    )
