"""The runbook and the event log, headless: each step's DONE / PENDING / UNKNOWN, phases, events.

Readings are rebuilt from `cockpit check --json` output recorded from the sandbox (lists of
resolvers and targets trimmed), with observed_at set to a frozen moment.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cockpit.live.events import DEFAULT_EVENT_LOG_SIZE, Event, EventLog, events_from_changes
from cockpit.live.state import State, apply
from cockpit.model import Reading, Status, reading_from_json
from cockpit.rules.runbook import (
    DNS_CONVERGED,
    MAINTENANCE_ON,
    NEW_ERRORS_OK,
    NEW_TARGETS_HEALTHY,
    REPLICA_PROMOTED,
    REPLICATION_CAUGHT_UP,
    RUNBOOK,
    TRAFFIC_ON_NEW,
    TTL_LOWERED,
    RunbookStep,
    StepCheck,
    StepState,
    current_phase,
    current_step_index,
    evaluate_runbook,
)

T0 = datetime(2026, 11, 23, 0, 56, 0, tzinfo=UTC)
NOW = T0 + timedelta(seconds=2)
LONG_AFTER = T0 + timedelta(minutes=10)

RECORDED: dict[str, dict[str, Any]] = {
    "replication_caught_up": {
        "signal": "replication",
        "kind": "replication",
        "status": "ok",
        "values": {
            "replay_lag_bytes": 0,
            "replay_lag_seconds": None,
            "state": "streaming",
            "in_recovery": True,
            "replay_paused": False,
            "catchup_eta_seconds": 0.0,
            "promoted": False,
        },
        "detail": "caught up; no transactions replayed yet",
        "stale_after_seconds": 5.0,
    },
    "replication_lagging": {
        "signal": "replication",
        "kind": "replication",
        "status": "warn",
        "values": {
            "replay_lag_bytes": 4857856,
            "replay_lag_seconds": 6.879928,
            "state": "streaming",
            "in_recovery": True,
            "replay_paused": True,
            "catchup_eta_seconds": None,
            "promoted": False,
        },
        "detail": "replay paused, 4.9 MB behind",
        "stale_after_seconds": 5.0,
    },
    "replication_promoted": {
        "signal": "replication",
        "kind": "replication",
        "status": "ok",
        "values": {
            "replay_lag_bytes": None,
            "replay_lag_seconds": None,
            "state": None,
            "in_recovery": False,
            "replay_paused": None,
            "catchup_eta_seconds": None,
            "promoted": True,
        },
        "detail": "promoted: no longer replicating (left recovery)",
        "stale_after_seconds": 5.0,
    },
    "dns_old": {
        "signal": "dns:app.cutover.test",
        "kind": "dns",
        "status": "ok",
        "values": {
            "converged_fraction": 0.0,
            "authoritative_ttl_seconds": 30,
            "ttl_preflight_ok": True,
            "authoritative_matches": "old",
            "new_count": 0,
            "old_count": 4,
            "other_count": 0,
            "error_count": 0,
        },
        "detail": "not switched yet: authoritative and 4/4 resolvers answer old",
        "stale_after_seconds": 4.0,
    },
    "dns_authoritative_down": {
        "signal": "dns:app.cutover.test",
        "kind": "dns",
        "status": "critical",
        "values": {
            "converged_fraction": None,
            "authoritative_ttl_seconds": None,
            "ttl_preflight_ok": None,
            "authoritative_matches": "error",
            "new_count": 0,
            "old_count": 0,
            "other_count": 0,
            "error_count": 4,
        },
        "detail": "authoritative servers not answering: authoritative: timeout after 0.8 s",
        "stale_after_seconds": 4.0,
    },
    "targets_app_new": {
        "signal": "targets:app-new",
        "kind": "targets",
        "status": "ok",
        "values": {"healthy": 1, "unhealthy": 0, "total": 1, "side": "new", "status_code": 200},
        "detail": "HTTP 200 in 8.6 ms",
        "stale_after_seconds": 8.0,
    },
    "targets_tg_new": {
        "signal": "targets:tg-new",
        "kind": "targets",
        "status": "ok",
        "values": {"healthy": 1, "unhealthy": 0, "total": 1, "side": "new"},
        "detail": "1/1 healthy",
        "stale_after_seconds": 8.0,
    },
    "targets_tg_new_down": {
        "signal": "targets:tg-new",
        "kind": "targets",
        "status": "critical",
        "values": {"healthy": 0, "unhealthy": 1, "total": 1, "side": "new"},
        "detail": "0/1 healthy; 127.0.20.1:54275 unhealthy: "
        "Target.ResponseCodeMismatch (Health checks failed with "
        "these codes: [503])",
        "stale_after_seconds": 8.0,
    },
    "targets_tg_old": {
        "signal": "targets:tg-old",
        "kind": "targets",
        "status": "ok",
        "values": {"healthy": 1, "unhealthy": 0, "total": 1, "side": "old"},
        "detail": "1/1 healthy",
        "stale_after_seconds": 8.0,
    },
    "traffic_route53": {
        "signal": "traffic",
        "kind": "traffic",
        "status": "ok",
        "values": {
            "weights": {"old": 100.0, "new": 0.0},
            "backend": "route53",
            "step_index": 0,
            "ttl_seconds": 30,
            "maintenance_rule": None,
        },
        "detail": "old 100 % / new 0 % (step 1 of 7: 0 %)",
        "stale_after_seconds": 8.0,
    },
    "maintenance_on": {
        "signal": "maintenance",
        "kind": "maintenance",
        "status": "ok",
        "values": {"on": True, "probe_status": 503, "rule_present": True, "backend": "alb"},
        "detail": "ON: front door answers 503",
        "stale_after_seconds": 9.0,
    },
    "maintenance_off": {
        "signal": "maintenance",
        "kind": "maintenance",
        "status": "ok",
        "values": {"on": False, "probe_status": 200, "rule_present": False, "backend": "alb"},
        "detail": "off: front door answers 200",
        "stale_after_seconds": 9.0,
    },
    "maintenance_disagree": {
        "signal": "maintenance",
        "kind": "maintenance",
        "status": "unknown",
        "values": {"on": None, "probe_status": 200, "rule_present": True, "backend": "alb"},
        "detail": "fixed-response rule at priority 1 is in place but the front door answers 200 "
        "(maintenance answers 503)",
        "stale_after_seconds": 9.0,
    },
    "errors_access_log_new": {
        "signal": "errors:access_log:new",
        "kind": "errors",
        "status": "ok",
        "values": {
            "error_ratio": 0.0,
            "requests": 2,
            "errors_5xx": 0,
            "p95_seconds": 0.0,
            "window_seconds": 60,
            "threshold_ratio": 0.01,
        },
        "detail": "0 % 5xx (0 of 2 requests, last 60 s), p95 0.0 ms",
        "stale_after_seconds": 20.0,
    },
    "errors_access_log_new_burst": {
        "signal": "errors:access_log:new",
        "kind": "errors",
        "status": "critical",
        "values": {
            "error_ratio": 0.3333333333333333,
            "requests": 6,
            "errors_5xx": 2,
            "p95_seconds": 0.002,
            "window_seconds": 60,
            "threshold_ratio": 0.01,
        },
        "detail": "33 % 5xx (2 of 6 requests, last 60 s) over the 1 % limit, p95 2.0 ms",
        "stale_after_seconds": 20.0,
    },
    "errors_cloudwatch_new_idle": {
        "signal": "errors:cloudwatch:new",
        "kind": "errors",
        "status": "unknown",
        "values": {
            "error_ratio": None,
            "requests": 0,
            "errors_5xx": 0,
            "p95_seconds": None,
            "window_seconds": 60,
            "threshold_ratio": 0.01,
        },
        "detail": "no requests in the last 60 s",
        "stale_after_seconds": 20.0,
    },
    "errors_access_log_old": {
        "signal": "errors:access_log:old",
        "kind": "errors",
        "status": "ok",
        "values": {
            "error_ratio": 0.0,
            "requests": 196,
            "errors_5xx": 0,
            "p95_seconds": 0.002,
            "window_seconds": 60,
            "threshold_ratio": 0.01,
        },
        "detail": "0 % 5xx (0 of 196 requests, last 60 s), p95 2.0 ms",
        "stale_after_seconds": 20.0,
    },
}


def recorded(
    name: str,
    *,
    at: datetime = T0,
    status: str | None = None,
    detail: str | None = None,
    signal: str | None = None,
    **values: Any,
) -> Reading:
    """A recorded reading observed at `at`, with some values (or its status) changed."""
    data = copy.deepcopy(RECORDED[name])
    data["observed_at"] = at.isoformat()
    data["values"].update(values)
    if status is not None:
        data["status"] = status
    if detail is not None:
        data["detail"] = detail
    if signal is not None:
        data["signal"] = signal
    return reading_from_json(data)


def maintenance(on: bool | None, **changes: Any) -> Reading:
    """The recorded maintenance reading: on, off, or unknown (probe and ALB rule disagree)."""
    name = {True: "maintenance_on", False: "maintenance_off", None: "maintenance_disagree"}[on]
    return recorded(name, **changes)


def traffic(new: float, **changes: Any) -> Reading:
    """The recorded traffic reading with the new side at `new` percent."""
    weights = {"old": 100.0 - new, "new": new}
    return recorded("traffic_route53", **{"weights": weights, **changes})


def dns_converged(**changes: Any) -> Reading:
    """The recorded DNS reading once every resolver and the authoritative servers answer new."""
    converged = {
        "converged_fraction": 1.0,
        "authoritative_matches": "new",
        "new_count": 4,
        "old_count": 0,
    }
    return recorded("dns_old", **{**converged, **changes})


def state_of(*readings: Reading) -> State:
    return apply(State(), readings)[0]


def check_of(step: RunbookStep, state: State, now: datetime = NOW) -> StepCheck:
    checks = {check.step.step_id: check for check in evaluate_runbook(state, now)}
    return checks[step.step_id]


def all_done() -> State:
    """A finished cutover: promoted, all traffic and DNS on new, new side healthy and clean."""
    return state_of(
        recorded("replication_promoted"),
        dns_converged(),
        recorded("targets_app_new"),
        recorded("targets_tg_new"),
        recorded("targets_tg_old"),
        maintenance(False),
        traffic(100.0),
        recorded("errors_access_log_new"),
        recorded("errors_access_log_old"),
    )


# --- the checklist as a whole ------------------------------------------------------------------


def test_runbook_lists_the_cutover_in_order() -> None:
    titles = [step.title for step in RUNBOOK]
    assert titles == [
        "DNS TTL lowered",
        "Maintenance on",
        "Replication caught up",
        "Replica promoted",
        "New targets healthy",
        "Traffic fully on new",
        "DNS converged",
        "New side error rate OK",
    ]
    assert len({step.step_id for step in RUNBOOK}) == len(RUNBOOK)
    assert all(step.proven_by for step in RUNBOOK)


def test_no_readings_at_all_leaves_every_step_unknown() -> None:
    checks = evaluate_runbook(State(), NOW)
    assert [check.step for check in checks] == list(RUNBOOK)
    assert {check.state for check in checks} == {StepState.UNKNOWN}
    assert all(check.evidence for check in checks)


def test_a_finished_cutover_is_all_done() -> None:
    checks = evaluate_runbook(all_done(), NOW)
    assert {check.state for check in checks} == {StepState.DONE}
    assert current_step_index(checks) is None


def test_a_finished_cutover_read_much_later_is_all_unknown_never_done() -> None:
    checks = evaluate_runbook(all_done(), LONG_AFTER)
    assert {check.state for check in checks} == {StepState.UNKNOWN}
    assert all("STALE" in check.evidence for check in checks)


def test_current_step_is_the_first_not_done() -> None:
    state = state_of(recorded("dns_old"), recorded("replication_caught_up"), traffic(0.0))
    checks = evaluate_runbook(state, NOW)
    assert current_step_index(checks) == 1
    assert checks[1].step is MAINTENANCE_ON


# --- one step at a time ------------------------------------------------------------------------

STEP_CASES = [
    # 1 DNS TTL lowered
    (TTL_LOWERED, [recorded("dns_old")], StepState.DONE, "authoritative TTL 30 s (preflight ok)"),
    (
        TTL_LOWERED,
        [
            recorded("dns_old"),
            recorded(
                "dns_old",
                signal="dns:api.cutover.test",
                status="warn",
                ttl_preflight_ok=False,
                authoritative_ttl_seconds=3600,
            ),
        ],
        StepState.PENDING,
        "api.cutover.test: authoritative TTL 3600 s, over the limit",
    ),
    (
        TTL_LOWERED,
        [recorded("dns_authoritative_down")],
        StepState.UNKNOWN,
        "authoritative TTL not known",
    ),
    (TTL_LOWERED, [], StepState.UNKNOWN, "no DNS reading"),
    # 2 Maintenance on
    (MAINTENANCE_ON, [traffic(0.0)], StepState.UNKNOWN, "no maintenance reading"),
    (MAINTENANCE_ON, [], StepState.UNKNOWN, "no maintenance reading"),
    (
        MAINTENANCE_ON,
        [maintenance(True)],
        StepState.DONE,
        "ON: front door answers 503 (2s ago)",
    ),
    (MAINTENANCE_ON, [maintenance(False)], StepState.PENDING, "off: front door answers 200"),
    (
        MAINTENANCE_ON,
        [maintenance(None)],
        StepState.UNKNOWN,
        "maintenance UNKNOWN: fixed-response rule at priority 1 is in place but the front door "
        "answers 200",
    ),
    (
        MAINTENANCE_ON,
        [recorded("maintenance_on", status="warn", on=None, detail="")],
        StepState.UNKNOWN,
        "maintenance not known: no reason given",
    ),
    (
        MAINTENANCE_ON,
        [
            recorded(
                "maintenance_off",
                status="unknown",
                on=None,
                probe_status=None,
                rule_present=None,
                detail="timeout after 3 s",
            )
        ],
        StepState.UNKNOWN,
        "maintenance UNKNOWN: timeout after 3 s",
    ),
    (
        MAINTENANCE_ON,
        [maintenance(False), recorded("replication_promoted")],
        StepState.DONE,
        "passed: replica promoted",
    ),
    (
        MAINTENANCE_ON,
        [traffic(0.0, backend="alb", maintenance_rule=True)],
        StepState.UNKNOWN,
        "no maintenance reading",
    ),
    # 3 Replication caught up
    (
        REPLICATION_CAUGHT_UP,
        [recorded("replication_caught_up")],
        StepState.DONE,
        "byte lag 0 B (2s ago)",
    ),
    (
        REPLICATION_CAUGHT_UP,
        [recorded("replication_lagging")],
        StepState.PENDING,
        "byte lag 4.6 MiB",
    ),
    (
        REPLICATION_CAUGHT_UP,
        [recorded("replication_promoted")],
        StepState.DONE,
        "passed: replica promoted",
    ),
    (
        REPLICATION_CAUGHT_UP,
        [recorded("replication_caught_up", replay_lag_bytes=None)],
        StepState.UNKNOWN,
        "byte lag not reported",
    ),
    (
        REPLICATION_CAUGHT_UP,
        [recorded("replication_caught_up", status="unknown", detail="replica: connection refused")],
        StepState.UNKNOWN,
        "replication UNKNOWN: replica: connection refused",
    ),
    (REPLICATION_CAUGHT_UP, [], StepState.UNKNOWN, "no replication reading"),
    # 4 Replica promoted
    (REPLICA_PROMOTED, [recorded("replication_promoted")], StepState.DONE, "left recovery"),
    (
        REPLICA_PROMOTED,
        [recorded("replication_caught_up")],
        StepState.PENDING,
        "replica still in recovery",
    ),
    (
        REPLICA_PROMOTED,
        [recorded("replication_caught_up", promoted=None)],
        StepState.UNKNOWN,
        "promotion state not known",
    ),
    # 5 New targets healthy
    (
        NEW_TARGETS_HEALTHY,
        [recorded("targets_app_new"), recorded("targets_tg_new"), recorded("targets_tg_old")],
        StepState.DONE,
        "app-new 1/1 healthy, tg-new 1/1 healthy",
    ),
    (
        NEW_TARGETS_HEALTHY,
        [recorded("targets_app_new"), recorded("targets_tg_new_down")],
        StepState.PENDING,
        "tg-new: 0/1 healthy; 127.0.20.1:54275 unhealthy",
    ),
    (
        NEW_TARGETS_HEALTHY,
        [recorded("targets_tg_new", status="critical", healthy=0, total=0, detail="")],
        StepState.PENDING,
        "tg-new 0/0 healthy",
    ),
    (
        NEW_TARGETS_HEALTHY,
        [recorded("targets_tg_old")],
        StepState.UNKNOWN,
        "no new-side target reading",
    ),
    (
        NEW_TARGETS_HEALTHY,
        [recorded("targets_app_new"), recorded("targets_tg_new", status="unknown", detail="")],
        StepState.UNKNOWN,
        "targets:tg-new UNKNOWN",
    ),
    # 6 Traffic fully on new
    (TRAFFIC_ON_NEW, [traffic(0.0)], StepState.PENDING, "old 100 % / new 0 %"),
    (TRAFFIC_ON_NEW, [traffic(25.0)], StepState.PENDING, "old 75 % / new 25 %"),
    (TRAFFIC_ON_NEW, [traffic(99.95)], StepState.PENDING, "new 99.95 %"),
    (TRAFFIC_ON_NEW, [traffic(100.0)], StepState.DONE, "old 0 % / new 100 % (2s ago)"),
    (
        TRAFFIC_ON_NEW,
        [recorded("traffic_route53", status="critical", weights=None)],
        StepState.UNKNOWN,
        "weights not read back",
    ),
    (TRAFFIC_ON_NEW, [], StepState.UNKNOWN, "no traffic reading"),
    # 7 DNS converged
    (
        DNS_CONVERGED,
        [dns_converged()],
        StepState.DONE,
        "app.cutover.test 100 % converged, authoritative new",
    ),
    (
        DNS_CONVERGED,
        [recorded("dns_old")],
        StepState.PENDING,
        "app.cutover.test 0 % converged, authoritative old",
    ),
    (
        DNS_CONVERGED,
        [dns_converged(), recorded("dns_old", signal="dns:api.cutover.test")],
        StepState.PENDING,
        "api.cutover.test 0 % converged",
    ),
    (
        DNS_CONVERGED,
        [dns_converged(authoritative_matches=None)],
        StepState.UNKNOWN,
        "authoritative answer not known",
    ),
    (
        DNS_CONVERGED,
        [recorded("dns_authoritative_down")],
        StepState.UNKNOWN,
        "no resolver answered",
    ),
    # 8 New side error rate OK
    (
        NEW_ERRORS_OK,
        [
            recorded("errors_access_log_new"),
            recorded("errors_access_log_new", signal="errors:cloudwatch:new"),
            recorded("errors_access_log_old"),
        ],
        StepState.DONE,
        "access_log:new 0 % 5xx, cloudwatch:new 0 % 5xx",
    ),
    (
        NEW_ERRORS_OK,
        [recorded("errors_access_log_new_burst")],
        StepState.PENDING,
        "access_log:new CRITICAL: 33 % 5xx (2 of 6 requests",
    ),
    (
        NEW_ERRORS_OK,
        [recorded("errors_access_log_new"), recorded("errors_cloudwatch_new_idle")],
        StepState.UNKNOWN,
        "errors:cloudwatch:new UNKNOWN: no requests in the last 60 s",
    ),
    (
        NEW_ERRORS_OK,
        [recorded("errors_access_log_new", error_ratio=None)],
        StepState.UNKNOWN,
        "access_log:new: no data",
    ),
    (
        NEW_ERRORS_OK,
        [recorded("errors_access_log_old")],
        StepState.UNKNOWN,
        "no new-side error-rate reading",
    ),
]


@pytest.mark.parametrize(("step", "readings", "expected", "evidence"), STEP_CASES)
def test_step_state_and_evidence(
    step: RunbookStep, readings: list[Reading], expected: StepState, evidence: str
) -> None:
    check = check_of(step, state_of(*readings))
    assert check.state is expected
    assert evidence in check.evidence


STALE_CASES = [
    (TTL_LOWERED, recorded("dns_old"), "dns:app.cutover.test reading STALE, 10m00s old"),
    (MAINTENANCE_ON, maintenance(True), "maintenance reading STALE"),
    (REPLICATION_CAUGHT_UP, recorded("replication_caught_up"), "replication reading STALE"),
    (REPLICA_PROMOTED, recorded("replication_promoted"), "replication reading STALE"),
    (NEW_TARGETS_HEALTHY, recorded("targets_tg_new"), "targets:tg-new reading STALE"),
    (TRAFFIC_ON_NEW, traffic(100.0), "traffic reading STALE"),
    (DNS_CONVERGED, dns_converged(), "dns:app.cutover.test reading STALE"),
    (NEW_ERRORS_OK, recorded("errors_access_log_new"), "errors:access_log:new reading STALE"),
]


@pytest.mark.parametrize(("step", "reading", "evidence"), STALE_CASES)
def test_a_stale_reading_makes_its_step_unknown(
    step: RunbookStep, reading: Reading, evidence: str
) -> None:
    assert check_of(step, state_of(reading), NOW).state is StepState.DONE
    check = check_of(step, state_of(reading), LONG_AFTER)
    assert check.state is StepState.UNKNOWN
    assert evidence in check.evidence


def test_one_stale_reading_among_fresh_ones_makes_the_step_unknown() -> None:
    fresh = recorded("targets_app_new", at=LONG_AFTER - timedelta(seconds=1))
    old = recorded("targets_tg_new")
    check = check_of(NEW_TARGETS_HEALTHY, state_of(fresh, old), LONG_AFTER)
    assert check.state is StepState.UNKNOWN
    assert "targets:tg-new reading STALE" in check.evidence


def test_promotion_seen_on_a_stale_reading_passes_nothing() -> None:
    state = state_of(recorded("replication_promoted"), maintenance(False, at=LONG_AFTER))
    check = check_of(MAINTENANCE_ON, state, LONG_AFTER)
    assert check.state is StepState.PENDING
    assert check_of(REPLICATION_CAUGHT_UP, state, LONG_AFTER).state is StepState.UNKNOWN


# --- the phase phrase --------------------------------------------------------------------------

PHASE_CASES = [
    ([], "unknown"),
    ([recorded("replication_caught_up"), traffic(0.0)], "before promotion: caught up"),
    ([recorded("replication_lagging"), traffic(0.0)], "before promotion"),
    ([recorded("replication_lagging"), maintenance(False)], "before the window"),
    ([recorded("replication_lagging"), maintenance(True)], "maintenance on: waiting for lag 0"),
    ([recorded("replication_caught_up"), maintenance(True)], "maintenance on: ready to promote"),
    ([recorded("replication_caught_up"), maintenance(None)], "before promotion: caught up"),
    ([recorded("replication_lagging"), traffic(25.0)], "new 25 % before promotion"),
    ([recorded("replication_promoted"), traffic(0.0)], "promoted"),
    ([recorded("replication_promoted")], "promoted: traffic unknown"),
    ([recorded("replication_promoted"), traffic(25.0)], "shifting traffic: new 25 %"),
    (
        [recorded("replication_promoted"), traffic(100.0), recorded("dns_old")],
        "all on new: DNS converging",
    ),
    ([recorded("replication_promoted"), traffic(100.0)], "all on new: DNS unknown"),
    ([recorded("replication_promoted"), traffic(100.0), dns_converged()], "done: all on new"),
]


@pytest.mark.parametrize(("readings", "phase"), PHASE_CASES)
def test_phase_phrase(readings: list[Reading], phase: str) -> None:
    state = state_of(*readings)
    assert current_phase(evaluate_runbook(state, NOW), state, NOW) == phase


def test_phase_is_unknown_when_replication_is_stale() -> None:
    state = state_of(recorded("replication_promoted"), traffic(100.0, at=LONG_AFTER))
    assert current_phase(evaluate_runbook(state, LONG_AFTER), state, LONG_AFTER) == "unknown"


def test_phase_does_not_trust_stale_traffic() -> None:
    state = state_of(recorded("replication_promoted", at=LONG_AFTER), traffic(100.0))
    checks = evaluate_runbook(state, LONG_AFTER)
    assert current_phase(checks, state, LONG_AFTER) == "promoted: traffic unknown"


# --- events ------------------------------------------------------------------------------------


def test_first_reading_and_status_change_wording() -> None:
    state, first = apply(State(), [recorded("replication_caught_up")])
    _, changed = apply(state, [recorded("replication_lagging", at=T0 + timedelta(seconds=5))])
    events = events_from_changes(first) + events_from_changes(changed)
    assert [event.text for event in events] == [
        "replication: ok (first reading): caught up; no transactions replayed yet",
        "replication: ok → warn: replay paused, 4.9 MB behind",
    ]
    assert [event.at for event in events] == [T0, T0 + timedelta(seconds=5)]
    assert [event.status for event in events] == [Status.OK, Status.WARN]
    assert {event.kind for event in events} == {"status"}
    assert {event.signal_id for event in events} == {"replication"}


def test_change_without_detail_has_no_trailing_colon() -> None:
    _, changes = apply(State(), [recorded("targets_tg_new", status="unknown", detail="")])
    (event,) = events_from_changes(changes)
    assert event.text == "targets:tg-new: unknown (first reading)"


def test_unchanged_status_makes_no_event() -> None:
    state, _ = apply(State(), [recorded("targets_tg_new")])
    _, changes = apply(state, [recorded("targets_tg_new", at=T0 + timedelta(seconds=2))])
    assert events_from_changes(changes) == []


def note(second: int) -> Event:
    return Event(T0 + timedelta(seconds=second), "", "note", None, f"note {second}")


def test_event_log_keeps_the_newest_last_and_drops_the_oldest() -> None:
    log = EventLog(maxlen=3)
    log.add(note(second) for second in range(5))
    assert len(log) == 3
    assert [event.text for event in log.latest(10)] == ["note 2", "note 3", "note 4"]
    assert [event.text for event in log.latest(2)] == ["note 3", "note 4"]
    assert log.latest(0) == ()


def test_event_log_defaults_to_500_and_refuses_no_room() -> None:
    log = EventLog()
    log.add(note(second) for second in range(DEFAULT_EVENT_LOG_SIZE + 20))
    assert len(log) == log.maxlen == DEFAULT_EVENT_LOG_SIZE == 500
    assert log.latest(1)[0].text == f"note {DEFAULT_EVENT_LOG_SIZE + 19}"
    with pytest.raises(ValueError, match="at least one"):
        EventLog(maxlen=0)
