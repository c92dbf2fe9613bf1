"""Each family's typed values: the source's readings round-trip, and odd values read as unknown.

The journal form must not change: a reading rebuilt from its decoded values journals the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest

from cockpit.io.http import HttpAnswer
from cockpit.io.maintenance import MaintenanceProbe
from cockpit.io.rds import RdsInstance
from cockpit.io.traffic import WeightedMember, WeightsReadBack
from cockpit.jsonvalue import JsonValue
from cockpit.model import Reading, SignalKind, Status, Value, reading_from_json, reading_to_json
from cockpit.sources.maintenance import maintenance_values
from cockpit.sources.maintenance_values import MaintenanceValues
from cockpit.sources.replication_postgres import (
    Observation,
    PrimaryView,
    ReplicaView,
    StandbyRow,
    typed_values,
)
from cockpit.sources.replication_postgres import reading_values as postgres_values
from cockpit.sources.replication_rds import LagDatapoint
from cockpit.sources.replication_rds import reading_values as rds_values
from cockpit.sources.replication_values import ReplicationValues
from cockpit.sources.targets import (
    classify_http_answer,
    failed_values,
    health_values,
    parse_target_health,
)
from cockpit.sources.targets_values import (
    TargetRow,
    TargetsValues,
    is_targets_signal,
    signal_id,
    target_name,
)
from cockpit.sources.traffic import classify_traffic
from cockpit.sources.traffic_values import (
    RawWeightsRow,
    SplitPercent,
    TrafficMember,
    TrafficValues,
)

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
STEPS = (0, 5, 10, 25, 50, 75, 100)


def reading(kind: SignalKind, values: Mapping[str, Value], signal: str = "") -> Reading:
    return Reading(signal or kind.value, kind, Status.OK, NOW, values)


def journaled(kind: SignalKind, values: Mapping[str, Value]) -> dict[str, JsonValue]:
    return reading_to_json(reading(kind, values))


def read_back(kind: SignalKind, values: Mapping[str, Value]) -> Reading:
    """The reading as a journal reader rebuilds it."""
    return reading_from_json(journaled(kind, values))


# --- replication ---------------------------------------------------------------------------------


def postgres_observation() -> Observation:
    standby = StandbyRow("replica", "streaming", "async", 0.001, 0.002, 0.003, pid=4242)
    replica = ReplicaView(True, "0/3000000", "0/2FFF000", False, 5.0, "replica")
    primary = PrimaryView("0/3001000", (standby,), role_name="cutover")
    return Observation(
        primary, replica, primary_quiet_seconds=12.0, catchup_bytes_per_second=2048.0
    )


def test_a_postgres_reading_decodes_every_value_and_journals_the_same() -> None:
    values = postgres_values(postgres_observation())
    decoded = ReplicationValues.from_reading(read_back(SignalKind.REPLICATION, values))
    assert decoded == typed_values(postgres_observation())
    assert decoded.engine == "postgres" and decoded.sees_primary_writes
    assert (decoded.replay_lag_bytes, decoded.in_recovery, decoded.state) == (
        0x2000,
        True,
        "streaming",
    )
    assert decoded.as_values() == values
    assert journaled(SignalKind.REPLICATION, decoded.as_values()) == journaled(
        SignalKind.REPLICATION, values
    )


def test_an_rds_reading_decodes_every_value_and_journals_the_same() -> None:
    instance = RdsInstance("shop-db-replica", "available", "shop-db")
    lag = LagDatapoint(1.5, NOW - timedelta(seconds=60))
    values = rds_values(instance, lag, None, NOW)
    decoded = ReplicationValues.from_reading(read_back(SignalKind.REPLICATION, values))
    assert decoded.engine == "rds" and not decoded.sees_primary_writes
    assert (decoded.db_status, decoded.source_instance, decoded.is_replica) == (
        "available",
        "shop-db",
        True,
    )
    assert (decoded.replay_lag_seconds, decoded.replay_lag_age_seconds) == (1.5, 60.0)
    assert decoded.replay_lag_bytes is None and decoded.promoted is False
    assert decoded.as_values() == values


def test_replication_values_round_trip() -> None:
    values = ReplicationValues(
        engine="postgres", replay_lag_bytes=0, in_recovery=False, promoted=True
    )
    assert ReplicationValues.from_values(values.as_values()) == values


def test_odd_replication_values_read_as_not_known() -> None:
    decoded = ReplicationValues.from_values(
        {"promoted": "yes", "in_recovery": 1, "replay_lag_bytes": True, "state": 7}
    )
    assert (decoded.promoted, decoded.in_recovery) == (None, None)
    assert (decoded.replay_lag_bytes, decoded.state) == (None, None)
    assert decoded.engine is None and not decoded.left_recovery


def test_a_failed_poll_has_no_engine_and_only_its_error() -> None:
    decoded = ReplicationValues.from_values({"error": "timed out after 5 s"})
    assert (decoded.engine, decoded.error) == (None, "timed out after 5 s")
    assert decoded.as_values() == {"error": "timed out after 5 s"}


# --- targets -------------------------------------------------------------------------------------

TARGET_HEALTH = {
    "TargetHealthDescriptions": [
        {"Target": {"Id": "10.0.1.7", "Port": 80}, "TargetHealth": {"State": "healthy"}},
        {
            "Target": {"Id": "10.0.1.8", "Port": 80},
            "TargetHealth": {
                "State": "draining",
                "Reason": "Target.DeregistrationInProgress",
                "Description": "Target deregistration is in progress",
            },
        },
    ]
}


def test_a_target_group_reading_decodes_every_value_and_journals_the_same() -> None:
    values = health_values(parse_target_health(TARGET_HEALTH), "new")
    decoded = TargetsValues.from_reading(read_back(SignalKind.TARGETS, values))
    assert (decoded.side, decoded.healthy, decoded.unhealthy, decoded.total) == ("new", 1, 1, 2)
    assert decoded.not_healthy_targets() == (
        TargetRow(
            "10.0.1.8:80",
            "draining",
            "Target.DeregistrationInProgress",
            "Target deregistration is in progress",
        ),
    )
    assert decoded.is_new_side and not decoded.is_http_check and decoded.error is None
    assert journaled(SignalKind.TARGETS, decoded.as_values()) == journaled(
        SignalKind.TARGETS, values
    )


def test_an_http_check_reading_decodes_its_answer() -> None:
    answer = HttpAnswer(200, None, b"ok", 0.012)
    _, target = classify_http_answer(answer, 200, "http://127.0.0.1/health")
    values = TargetsValues(
        side="old",
        healthy=1,
        unhealthy=0,
        total=1,
        targets=(TargetRow(target.target_id, target.state),),
        is_http_check=True,
        status_code=200,
        latency_seconds=0.012,
    )
    decoded = TargetsValues.from_reading(read_back(SignalKind.TARGETS, values.as_values()))
    assert decoded == values


def test_a_target_group_that_could_not_be_read_round_trips() -> None:
    values = failed_values("old", "AccessDenied")
    decoded = TargetsValues.from_values(values)
    assert (decoded.side, decoded.error, decoded.healthy) == ("old", "AccessDenied", None)
    assert decoded.as_values() == values


def test_odd_target_values_read_as_not_known() -> None:
    decoded = TargetsValues.from_values(
        {"side": 3, "healthy": "3", "total": False, "targets": "none", "status_code": "200"}
    )
    assert (decoded.side, decoded.healthy, decoded.total) == (None, None, None)
    assert decoded.targets == () and decoded.status_code is None
    assert decoded.is_http_check


def test_target_signal_ids() -> None:
    assert signal_id("web-new") == "targets:web-new"
    assert target_name(signal_id("web-new")) == "web-new"
    assert is_targets_signal("targets:web-new") and not is_targets_signal("traffic")


# --- maintenance ---------------------------------------------------------------------------------


def test_a_maintenance_reading_decodes_every_value_and_journals_the_same() -> None:
    probe = MaintenanceProbe(True, "front door answers 503", 503, True)
    values = maintenance_values(probe, "alb").as_values()
    decoded = MaintenanceValues.from_reading(read_back(SignalKind.MAINTENANCE, values))
    assert decoded == MaintenanceValues(on=True, probe_status=503, rule_present=True, backend="alb")
    assert journaled(SignalKind.MAINTENANCE, decoded.as_values()) == journaled(
        SignalKind.MAINTENANCE, values
    )


@pytest.mark.parametrize("on", ["on", 1, None])
def test_odd_maintenance_values_read_as_not_known(on: Value) -> None:
    decoded = MaintenanceValues.from_values({"on": on, "rule_present": "yes", "backend": 5})
    assert (decoded.on, decoded.rule_present, decoded.backend) == (None, None, None)


# --- traffic -------------------------------------------------------------------------------------


def test_a_traffic_reading_decodes_every_value_and_journals_the_same() -> None:
    members = (
        WeightedMember("old", "old", 70, "192.0.2.10"),
        WeightedMember("new", "new", 20, "198.51.100.20"),
        WeightedMember("canary", "other", 10, "203.0.113.5"),
    )
    weights = WeightsReadBack("route53", 70, 20, None, 60, members=members)
    values = classify_traffic(weights, STEPS).values
    decoded = TrafficValues.from_reading(read_back(SignalKind.TRAFFIC, values))
    assert decoded.raw_weights == RawWeightsRow(70, 20, (("canary", 10),))
    assert decoded.weights is not None and decoded.new_percent == pytest.approx(22.2222, 1e-4)
    assert decoded.steps == STEPS and decoded.backend == "route53"
    assert (decoded.step_index, decoded.ttl_seconds) == (None, 60)
    assert (decoded.previous_step_percent, decoded.next_step_percent) == (10, 25)
    assert [member.label for member in decoded.members] == ["old", "new", "canary"]
    assert decoded.read_back and decoded.error is None
    assert journaled(SignalKind.TRAFFIC, decoded.as_values()) == journaled(
        SignalKind.TRAFFIC, values
    )


def test_traffic_values_round_trip() -> None:
    values = TrafficValues(
        weights=SplitPercent(75.0, 25.0),
        raw_weights=RawWeightsRow(75, 25),
        members=(TrafficMember("old", "old", "old", 75, 75.0, "192.0.2.10"),),
        backend="alb",
        steps=STEPS,
        step_index=3,
        next_step_percent=50,
        previous_step_percent=10,
        maintenance_rule=False,
    )
    assert TrafficValues.from_values(values.as_values()) == values


def test_odd_traffic_values_read_as_not_known() -> None:
    decoded = TrafficValues.from_values(
        {"weights": [75, 25], "raw_weights": {"old": "75", "new": 25}, "steps": "0,5,10"}
    )
    assert decoded.weights is None and decoded.new_percent is None
    assert decoded.raw_weights == RawWeightsRow(None, 25)
    assert decoded.steps is None


def test_a_failed_traffic_poll_is_not_read_back() -> None:
    decoded = TrafficValues.from_values({"error": "throttled"})
    assert not decoded.read_back and decoded.error == "throttled"
