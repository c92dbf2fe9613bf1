"""Guards, headless: each passes, blocks with a reason, and fails closed on stale/unknown/missing.

Readings are built here with a frozen clock; configs are parsed from small TOML strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cockpit.actions.model import ActionId
from cockpit.actions.registry import KEY_LABELS, action
from cockpit.config import Config, parse_config
from cockpit.live.state import State, apply
from cockpit.model import Reading, SignalKind, Status
from cockpit.rules.guards import (
    Guard,
    GuardInputs,
    dns_ttl_preflight,
    maintenance_backend_configured,
    maintenance_backend_readable,
    maintenance_is_off,
    maintenance_is_on,
    new_error_ratio_under_threshold,
    new_p95_under_threshold,
    new_side_healthy_after_promotion,
    new_targets_healthy,
    next_step_exists,
    previous_step_exists,
    primary_quiet,
    promotion_backend_configured,
    promotion_requires_maintenance,
    replica_in_recovery,
    replication_caught_up,
    rollback_spares_demoted_primary,
    run_guard,
    step_dwell_elapsed,
    traffic_backend_configured,
    weight_down_spares_demoted_primary,
    weights_known_on_plan,
)
from cockpit.rules.verdicts import GuardFact, GuardResult, SessionFacts

NOW = datetime(2026, 11, 23, 1, 30, 0, tzinfo=UTC)
STALE_AFTER = 5.0
ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012"

SECTIONS: dict[str, str] = {
    "cutover": '[cutover]\nname = "shop"\n',
    "aws": '[aws]\nregion = "eu-west-1"\n',
    "replication": """
[replication.postgres]
primary_dsn = "host=127.0.0.1 port=5432 dbname=shop"
replica_dsn = "host=127.0.0.1 port=5433 dbname=shop"
""",
    "targets": f"""
[[targets.target_groups]]
name = "web-old"
side = "old"
arn = "{ARN}:targetgroup/web-old/6d0ecf831eec9f09"
[[targets.target_groups]]
name = "web-new"
side = "new"
arn = "{ARN}:targetgroup/web-new/2f1c7e5a9b3d4e11"
[[targets.http]]
name = "new-app-1"
side = "new"
url = "http://127.0.0.1:8080/health"
""",
    "dns": """
[dns]
resolvers = ["127.0.0.1:5353"]
[[dns.records]]
name = "shop.example.com"
expect = "198.51.100.20"
old = "192.0.2.10"
""",
    "errors": f"""
[errors.cloudwatch]
load_balancer_arn = "{ARN}:loadbalancer/app/shop/50dc6c495c0c9188"
old_target_group_arn = "{ARN}:targetgroup/web-old/6d0ecf831eec9f09"
new_target_group_arn = "{ARN}:targetgroup/web-new/2f1c7e5a9b3d4e11"
""",
    "traffic": """
[traffic.route53]
hosted_zone_id = "Z0123456789ABCDEFGHIJ"
record_name = "shop.example.com"
old_set_identifier = "old"
new_set_identifier = "new"
""",
    "maintenance": f"""
[maintenance.alb]
listener_arn = "{ARN}:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2"
""",
    "promotion": '[promotion.postgres]\nreplica_name = "shop-db-new"\n',
}
P95_LIMIT = "weight_max_new_p95_ms = 300.0"


def config(*guard_lines: str, drop: tuple[str, ...] = ()) -> Config:
    """The full test config without the `drop` sections, with these [guards] lines."""
    tables = [text for name, text in SECTIONS.items() if name not in drop]
    text = "\n".join([*tables, "[guards]", *guard_lines])
    return parse_config(text, source="test.toml", base_dir=Path("/srv/cutover"))


CONFIG = config(P95_LIMIT)


def reading(
    signal_id: str,
    kind: SignalKind,
    values: Mapping[str, Any],
    *,
    status: Status = Status.OK,
    age: float = 1.0,
    detail: str = "",
) -> Reading:
    return Reading(
        signal_id=signal_id,
        kind=kind,
        status=status,
        observed_at=NOW - timedelta(seconds=age),
        values=values,
        detail=detail,
        stale_after_seconds=STALE_AFTER,
    )


def targets(name: str, side: str, healthy: int, total: int) -> Reading:
    values = {"side": side, "healthy": healthy, "total": total}
    status = Status.OK if healthy == total > 0 else Status.WARN
    return reading(f"targets:{name}", SignalKind.TARGETS, values, status=status)


GOOD: dict[str, Reading] = {
    r.signal_id: r
    for r in (
        reading(
            "replication",
            SignalKind.REPLICATION,
            {
                "in_recovery": True,
                "promoted": False,
                "replay_lag_bytes": 0,
                "replay_paused": False,
                "primary_quiet_seconds": 30.0,
                "catchup_eta_seconds": 0.0,
            },
            detail="caught up",
        ),
        reading(
            "maintenance",
            SignalKind.MAINTENANCE,
            {"on": True, "probe_status": 503, "backend": "alb", "rule_present": True},
        ),
        targets("web-old", "old", 3, 3),
        targets("web-new", "new", 3, 3),
        targets("new-app-1", "new", 1, 1),
        reading(
            "errors:cloudwatch:new",
            SignalKind.ERRORS,
            {"error_ratio": 0.002, "requests": 500, "errors_5xx": 1, "p95_seconds": 0.12},
        ),
        reading(
            "dns:shop.example.com",
            SignalKind.DNS,
            {"ttl_preflight_ok": True, "authoritative_ttl_seconds": 60, "max_ttl_seconds": 300},
        ),
        reading(
            "traffic",
            SignalKind.TRAFFIC,
            {
                "weights": {"old": 75.0, "new": 25.0},
                "raw_weights": {"old": 75, "new": 25},
                "backend": "route53",
                "steps": [0, 5, 10, 25, 50, 75, 100],
                "step_index": 3,
                "next_step_percent": 50,
                "previous_step_percent": 10,
            },
        ),
    )
}
SESSION = SessionFacts(weights_since=NOW - timedelta(minutes=10))


def with_values(signal_id: str, **values: Any) -> Reading:
    """The good reading of `signal_id` with some values changed."""
    good = GOOD[signal_id]
    return replace(good, values={**good.values, **values})


def inputs(
    *changed: Reading,
    without: tuple[str, ...] = (),
    cfg: Config = CONFIG,
    session: SessionFacts = SESSION,
) -> GuardInputs:
    """The good readings, with `changed` ones replacing theirs and `without` ones removed."""
    readings = {**GOOD, **{r.signal_id: r for r in changed}}
    kept = [r for signal_id, r in readings.items() if signal_id not in without]
    state, _ = apply(State(), kept)
    return GuardInputs(state, cfg, NOW, session, KEY_LABELS)


def evaluate(action_id: ActionId, inputs: GuardInputs) -> tuple[GuardResult, ...]:
    """Every guard the action declares (not those on the session), in order, on `inputs`."""
    return tuple(run_guard(guard, inputs) for guard in action(action_id).guards)


def blocked_reason(result: GuardResult) -> str:
    assert result.reason is not None, f"{result.guard_id} passed: {result.facts}"
    return result.reason


MAINTENANCE_OFF_READING = with_values("maintenance", on=False, probe_status=200)
PROMOTED = with_values("replication", in_recovery=False, promoted=True, replay_lag_bytes=None)


# --- every guard passes on good readings ---------------------------------------------------------

PASSING: list[tuple[Guard, tuple[Reading, ...]]] = [
    (maintenance_backend_configured, ()),
    (maintenance_backend_readable, ()),
    (rollback_spares_demoted_primary, ()),
    (weight_down_spares_demoted_primary, ()),
    (maintenance_is_off, (MAINTENANCE_OFF_READING,)),
    (maintenance_is_on, ()),
    (new_side_healthy_after_promotion, ()),
    (new_side_healthy_after_promotion, (PROMOTED,)),
    (promotion_backend_configured, ()),
    (promotion_requires_maintenance, ()),
    (replica_in_recovery, ()),
    (replication_caught_up, ()),
    (primary_quiet, ()),
    (traffic_backend_configured, ()),
    (weights_known_on_plan, ()),
    (next_step_exists, ()),
    (previous_step_exists, ()),
    (new_targets_healthy, ()),
    (new_error_ratio_under_threshold, ()),
    (new_p95_under_threshold, ()),
    (dns_ttl_preflight, ()),
    (step_dwell_elapsed, ()),
]


@pytest.mark.parametrize(("guard", "changed"), PASSING, ids=lambda v: getattr(v, "__name__", ""))
def test_guard_passes_on_good_readings(guard: Guard, changed: tuple[Reading, ...]) -> None:
    result = guard(inputs(*changed))
    assert result.passed, result.reason
    assert result.facts
    assert result.title


def test_facts_carry_value_signal_and_age() -> None:
    result = replication_caught_up(inputs())
    assert result.facts == (GuardFact("byte lag", "0 B", "replication", 1.0),)
    assert result.to_json()["facts"] == [
        {"label": "byte lag", "value": "0 B", "signal": "replication", "age_seconds": 1.0}
    ]


# --- every guard blocks, with a reason that says what would unblock ------------------------------

BLOCKING: list[tuple[Guard, tuple[Reading, ...], str]] = [
    (maintenance_is_off, (), "maintenance is already on: nothing to turn on"),
    (maintenance_is_on, (MAINTENANCE_OFF_READING,), "maintenance is already off"),
    (
        maintenance_is_on,
        (with_values("maintenance", on=None),),
        "maintenance state not known",
    ),
    (
        promotion_requires_maintenance,
        (MAINTENANCE_OFF_READING,),
        "maintenance is off: turn it on first (m)",
    ),
    (replica_in_recovery, (PROMOTED,), "already left recovery (promoted): nothing to promote"),
    (
        replica_in_recovery,
        (with_values("replication", in_recovery=None, promoted=None),),
        "cannot tell whether the replica is in recovery",
    ),
    (
        replication_caught_up,
        (with_values("replication", replay_lag_bytes=1_258_291, catchup_eta_seconds=40.0),),
        "byte lag 1.2 MiB (ETA 40s): wait for 0 B",
    ),
    (
        replication_caught_up,
        (with_values("replication", replay_lag_bytes=4096, replay_paused=True),),
        "byte lag 4.0 KiB, replay paused: resume replay on the replica, then wait for 0 B",
    ),
    (
        replication_caught_up,
        (with_values("replication", replay_lag_bytes=None),),
        "byte lag not reported yet",
    ),
    (
        primary_quiet,
        (with_values("replication", primary_quiet_seconds=2.0),),
        "quiet for only 2s of the 5s needed: stop writes to it and wait",
    ),
    (
        primary_quiet,
        (with_values("replication", primary_quiet_seconds=None),),
        "primary quiet time not known yet",
    ),
    (
        weights_known_on_plan,
        (with_values("traffic", weights=None),),
        "traffic weights not read back",
    ),
    (
        weights_known_on_plan,
        (with_values("traffic", weights={"old": 70.0, "new": 30.0}, step_index=None),),
        "new 30 % is not a planned step (0, 5, 10, 25, 50, 75, 100 %)",
    ),
    (
        weights_known_on_plan,
        (with_values("traffic", raw_weights={"old": 0, "new": 0}),),
        "both weights are 0",
    ),
    (
        next_step_exists,
        (with_values("traffic", weights={"old": 0, "new": 100}, next_step_percent=None),),
        "already at the last step: nothing to shift up (new 100 %)",
    ),
    (
        previous_step_exists,
        (with_values("traffic", weights={"old": 100, "new": 0}, previous_step_percent=None),),
        "already at the first step: nothing to shift back (new 0 %)",
    ),
    (
        new_targets_healthy,
        (targets("web-new", "new", 2, 3),),
        "web-new 2/3 healthy: wait until all are healthy",
    ),
    (
        new_targets_healthy,
        (targets("web-new", "new", 0, 0),),
        "web-new has no registered targets",
    ),
    (
        new_side_healthy_after_promotion,
        (PROMOTED, targets("new-app-1", "new", 0, 1)),
        "the replica is promoted, so the new side must serve: new-app-1 0/1 healthy",
    ),
    (
        new_error_ratio_under_threshold,
        (with_values("errors:cloudwatch:new", error_ratio=0.04, errors_5xx=20),),
        "cloudwatch:new 5xx 4 %, over the 1 % limit: wait for it to fall, or roll back",
    ),
    (
        new_error_ratio_under_threshold,
        (with_values("errors:cloudwatch:new", error_ratio=None, requests=0, errors_5xx=0),),
        "cloudwatch:new: no data on the new side's 5xx rate",
    ),
    (
        new_p95_under_threshold,
        (with_values("errors:cloudwatch:new", p95_seconds=0.45),),
        "cloudwatch:new p95 450 ms, over the 300 ms limit",
    ),
    (
        new_p95_under_threshold,
        (with_values("errors:cloudwatch:new", p95_seconds=None),),
        "p95 latency is not known",
    ),
    (
        dns_ttl_preflight,
        (
            with_values(
                "dns:shop.example.com", ttl_preflight_ok=False, authoritative_ttl_seconds=3600
            ),
        ),
        "shop.example.com: authoritative TTL 3600 s is over the limit (limit 300 s): lower the TTL",
    ),
    (
        dns_ttl_preflight,
        (with_values("dns:shop.example.com", ttl_preflight_ok=None),),
        "shop.example.com: authoritative TTL not known",
    ),
]


@pytest.mark.parametrize(
    ("guard", "changed", "expected"), BLOCKING, ids=lambda v: getattr(v, "__name__", "")
)
def test_guard_blocks_with_a_reason(
    guard: Guard, changed: tuple[Reading, ...], expected: str
) -> None:
    assert expected in blocked_reason(guard(inputs(*changed)))


# --- fail closed: stale, unknown and missing readings block --------------------------------------

ON_READINGS: list[tuple[Guard, str, tuple[Reading, ...]]] = [
    (maintenance_is_off, "maintenance", (MAINTENANCE_OFF_READING,)),
    (maintenance_is_on, "maintenance", ()),
    (promotion_requires_maintenance, "maintenance", ()),
    (new_side_healthy_after_promotion, "replication", ()),
    (new_side_healthy_after_promotion, "targets:web-new", (PROMOTED,)),
    (replica_in_recovery, "replication", ()),
    (replication_caught_up, "replication", ()),
    (primary_quiet, "replication", ()),
    (weights_known_on_plan, "traffic", ()),
    (next_step_exists, "traffic", ()),
    (previous_step_exists, "traffic", ()),
    (new_targets_healthy, "targets:web-new", ()),
    (new_targets_healthy, "targets:new-app-1", ()),
    (new_error_ratio_under_threshold, "errors:cloudwatch:new", ()),
    (new_p95_under_threshold, "errors:cloudwatch:new", ()),
    (dns_ttl_preflight, "dns:shop.example.com", ()),
    (step_dwell_elapsed, "traffic", ()),
]
ON_READINGS_IDS = [f"{guard.__name__}-{signal}" for guard, signal, _ in ON_READINGS]


@pytest.mark.parametrize(("guard", "signal_id", "changed"), ON_READINGS, ids=ON_READINGS_IDS)
def test_stale_reading_blocks(guard: Guard, signal_id: str, changed: tuple[Reading, ...]) -> None:
    base = {r.signal_id: r for r in changed}.get(signal_id, GOOD[signal_id])
    result = guard(inputs(*changed, replace(base, observed_at=NOW - timedelta(seconds=12))))
    reason = blocked_reason(result)
    assert f"{signal_id} reading STALE, 12s old" in reason
    assert "wait for a fresh reading" in reason
    assert GuardFact(signal_id, "STALE", signal_id, 12.0) in result.facts


@pytest.mark.parametrize(("guard", "signal_id", "changed"), ON_READINGS, ids=ON_READINGS_IDS)
def test_unknown_reading_blocks(guard: Guard, signal_id: str, changed: tuple[Reading, ...]) -> None:
    base = {r.signal_id: r for r in changed}.get(signal_id, GOOD[signal_id])
    unknown = replace(base, status=Status.UNKNOWN, detail="timed out after 2 s")
    result = guard(inputs(*changed, unknown))
    assert f"{signal_id} UNKNOWN: timed out after 2 s" in blocked_reason(result)


@pytest.mark.parametrize(("guard", "signal_id", "changed"), ON_READINGS, ids=ON_READINGS_IDS)
def test_missing_reading_blocks(guard: Guard, signal_id: str, changed: tuple[Reading, ...]) -> None:
    result = guard(inputs(*changed, without=(signal_id,)))
    assert f"no {signal_id} reading yet: wait for its first poll" in blocked_reason(result)
    assert GuardFact(signal_id, "no reading", signal_id) in result.facts


def test_a_reading_stale_only_by_its_own_limit_still_passes() -> None:
    within_limit = replace(GOOD["replication"], observed_at=NOW - timedelta(seconds=4.9))
    assert replication_caught_up(inputs(within_limit)).passed


def test_a_warn_reading_is_judged_by_its_values() -> None:
    paused_but_caught_up = replace(
        with_values("replication", replay_paused=True), status=Status.WARN
    )
    assert replication_caught_up(inputs(paused_but_caught_up)).passed


# --- config: missing sections and overrides -------------------------------------------------------

MISSING_SECTION: list[tuple[Guard, str, str]] = [
    (maintenance_backend_configured, "maintenance", "no [maintenance] section: add"),
    (promotion_backend_configured, "promotion", "no [promotion] section: add"),
    (traffic_backend_configured, "traffic", "no [traffic] section: add"),
    (new_targets_healthy, "targets", "no new-side targets to check"),
    (new_error_ratio_under_threshold, "errors", "no new-side error rate to check"),
    (
        dns_ttl_preflight,
        "dns",
        "no [dns] section to prove the TTL preflight; add one or set "
        "guards.weight_requires_ttl_preflight = false",
    ),
]


@pytest.mark.parametrize(
    ("guard", "section", "expected"), MISSING_SECTION, ids=lambda v: getattr(v, "__name__", v)
)
def test_a_missing_section_blocks(guard: Guard, section: str, expected: str) -> None:
    result = guard(inputs(cfg=config(P95_LIMIT, drop=(section,)), without=tuple(GOOD)))
    assert expected in blocked_reason(result)


def test_no_reading_names_the_missing_section() -> None:
    cfg = config(drop=("replication", "promotion"))
    result = replication_caught_up(inputs(cfg=cfg, without=("replication",)))
    assert "the config has no [replication] section; add one" in blocked_reason(result)


def test_a_configured_target_without_a_reading_blocks_though_others_are_healthy() -> None:
    result = new_targets_healthy(inputs(without=("targets:new-app-1",)))
    assert "no targets:new-app-1 reading yet" in blocked_reason(result)


def test_promotion_without_maintenance_when_config_allows() -> None:
    allowed = config("promote_requires_maintenance = false")
    result = promotion_requires_maintenance(inputs(MAINTENANCE_OFF_READING, cfg=allowed))
    assert result.passed
    assert result.facts == (GuardFact("maintenance", "not required by config"),)
    assert not promotion_requires_maintenance(inputs(MAINTENANCE_OFF_READING)).passed


def test_ttl_preflight_not_required_by_config() -> None:
    over = with_values("dns:shop.example.com", ttl_preflight_ok=False)
    relaxed = config("weight_requires_ttl_preflight = false")
    assert not dns_ttl_preflight(inputs(over)).passed
    assert dns_ttl_preflight(inputs(over, cfg=relaxed)).passed
    no_dns = config("weight_requires_ttl_preflight = false", drop=("dns",))
    result = dns_ttl_preflight(inputs(cfg=no_dns, without=("dns:shop.example.com",)))
    assert result.facts == (GuardFact("TTL preflight", "not required by config"),)


def test_p95_judged_only_when_a_limit_is_configured() -> None:
    slow = with_values("errors:cloudwatch:new", p95_seconds=0.45)
    assert not new_p95_under_threshold(inputs(slow)).passed
    no_limit = new_p95_under_threshold(inputs(slow, cfg=config()))
    assert no_limit.passed
    assert no_limit.facts == (GuardFact("new p95 limit", "no p95 limit configured"),)
    assert new_p95_under_threshold(inputs(slow, cfg=config("weight_max_new_p95_ms = 500"))).passed


def test_error_ratio_limit_from_config() -> None:
    two_percent = with_values("errors:cloudwatch:new", error_ratio=0.02)
    assert not new_error_ratio_under_threshold(inputs(two_percent)).passed
    relaxed = config("weight_max_new_error_ratio = 0.05")
    assert new_error_ratio_under_threshold(inputs(two_percent, cfg=relaxed)).passed


def test_lag_limit_from_config() -> None:
    small_lag = with_values("replication", replay_lag_bytes=512)
    assert not replication_caught_up(inputs(small_lag)).passed
    assert replication_caught_up(
        inputs(small_lag, cfg=config("promote_max_lag_bytes = 1024"))
    ).passed


def test_quiet_period_from_config() -> None:
    just_written = with_values("replication", primary_quiet_seconds=0.0)
    assert not primary_quiet(inputs(just_written)).passed
    assert primary_quiet(inputs(just_written, cfg=config("promote_quiet_seconds = 0"))).passed


def test_rds_replication_cannot_prove_byte_lag_or_quiet() -> None:
    rds = parse_config(
        "\n".join(
            [
                SECTIONS["cutover"],
                SECTIONS["aws"],
                '[replication.rds]\nreplica_instance_id = "shop-db-new"',
            ]
        ),
        source="test.toml",
        base_dir=Path("/srv/cutover"),
    )
    values = {"in_recovery": True, "promoted": False, "replay_lag_bytes": None}
    rds_reading = reading("replication", SignalKind.REPLICATION, values)
    assert "RDS reports replica lag in seconds only" in blocked_reason(
        replication_caught_up(inputs(rds_reading, cfg=rds))
    )
    assert "cannot see writes on the primary" in blocked_reason(
        primary_quiet(inputs(rds_reading, cfg=rds))
    )


# --- dwell and promotion state from the session ---------------------------------------------------


def test_dwell_blocks_until_the_minimum_has_passed() -> None:
    recent = SessionFacts(weights_since=NOW - timedelta(seconds=40))
    reason = blocked_reason(step_dwell_elapsed(inputs(session=recent)))
    assert reason == "new 25 % held for 40s of the 2m00s minimum: wait 1m20s more"
    shorter = config("weight_min_dwell_seconds = 30")
    assert step_dwell_elapsed(inputs(session=recent, cfg=shorter)).passed


def test_dwell_passes_before_any_step() -> None:
    at_zero = with_values("traffic", weights={"old": 100.0, "new": 0.0})
    result = step_dwell_elapsed(inputs(at_zero, session=SessionFacts()))
    assert result.passed
    assert GuardFact("held for", "no step taken yet") in result.facts


def test_dwell_blocks_when_nobody_knows_since_when() -> None:
    reason = blocked_reason(step_dwell_elapsed(inputs(session=SessionFacts())))
    assert "cannot tell how long old 75 % / new 25 % has been held" in reason


def test_maintenance_off_before_promotion_ignores_new_side_health() -> None:
    unhealthy = targets("web-new", "new", 0, 3)
    result = new_side_healthy_after_promotion(inputs(unhealthy))
    assert result.passed
    assert GuardFact("replica promoted", "no", "replication", 1.0) in result.facts


def test_promoted_this_session_needs_the_new_side_healthy_even_without_a_reading() -> None:
    session = SessionFacts(weights_since=None, promoted_this_session=True)
    unhealthy = targets("web-new", "new", 1, 3)
    result = new_side_healthy_after_promotion(
        inputs(unhealthy, without=("replication",), session=session)
    )
    assert "web-new 1/3 healthy" in blocked_reason(result)


def test_no_replication_section_trusts_the_session_for_promotion() -> None:
    cfg = config(drop=("replication", "promotion"))
    unhealthy = targets("web-new", "new", 0, 3)
    result = new_side_healthy_after_promotion(inputs(unhealthy, cfg=cfg, without=("replication",)))
    assert result.passed


# --- per action ----------------------------------------------------------------------------------

EXPECTED_ORDER: dict[ActionId, list[str]] = {
    ActionId.MAINTENANCE_ON: [
        "maintenance-backend-configured",
        "maintenance-backend-readable",
        "maintenance-is-off",
    ],
    ActionId.MAINTENANCE_OFF: [
        "maintenance-backend-configured",
        "maintenance-backend-readable",
        "maintenance-is-on",
        "new-side-healthy-after-promotion",
        "sequences-caught-up",
        "integrity-clean",
    ],
    ActionId.PROMOTE: [
        "promotion-backend-configured",
        "promotion-requires-maintenance",
        "replica-in-recovery",
        "replication-caught-up",
        "primary-quiet",
        "subscription-tables-ready",
        "integrity-clean",
    ],
    ActionId.WEIGHT_UP: [
        "traffic-backend-configured",
        "weights-known-on-plan",
        "next-step-exists",
        "new-targets-healthy",
        "new-error-ratio",
        "new-p95",
        "dns-ttl-preflight",
        "step-dwell-elapsed",
        "sequences-caught-up",
        "integrity-clean",
    ],
    ActionId.WEIGHT_DOWN: [
        "traffic-backend-configured",
        "weights-known-on-plan",
        "previous-step-exists",
        "no-split-brain",
    ],
    ActionId.ROLLBACK: ["no-split-brain"],
}


@pytest.mark.parametrize("action_id", list(ActionId))
def test_evaluate_runs_the_action_guards_in_order(action_id: ActionId) -> None:
    results = evaluate(action_id, inputs())
    assert [result.guard_id for result in results] == EXPECTED_ORDER[action_id]
    assert len(action(action_id).guards) == len(results)


def test_evaluate_on_good_readings_blocks_only_maintenance_on() -> None:
    verdicts = {
        action_id: [r.reason for r in evaluate(action_id, inputs()) if not r.passed]
        for action_id in ActionId
    }
    assert verdicts[ActionId.MAINTENANCE_ON] == ["maintenance is already on: nothing to turn on"]
    assert all(not reasons for a, reasons in verdicts.items() if a is not ActionId.MAINTENANCE_ON)


def test_evaluate_promote_before_the_window() -> None:
    lagging = with_values(
        "replication", replay_lag_bytes=2048, primary_quiet_seconds=0.0, catchup_eta_seconds=None
    )
    results = evaluate(ActionId.PROMOTE, inputs(MAINTENANCE_OFF_READING, lagging))
    reasons = {result.guard_id: result.reason for result in results}
    assert reasons == {
        "promotion-backend-configured": None,
        "promotion-requires-maintenance": "maintenance is off: turn it on first (m)",
        "replica-in-recovery": None,
        "replication-caught-up": "byte lag 2.0 KiB: wait for 0 B",
        "primary-quiet": "the primary has been quiet for only 0s of the 5s needed: "
        "stop writes to it and wait",
        "subscription-tables-ready": None,
        "integrity-clean": None,
    }


def test_a_crashing_guard_blocks() -> None:
    def broken_guard(inputs: GuardInputs) -> GuardResult:
        raise KeyError("weights")

    result = run_guard(broken_guard, inputs())
    assert not result.passed
    assert "guard broken-guard failed (KeyError" in blocked_reason(result)


def test_at_new_zero_a_counted_zero_requests_is_nothing_to_measure_yet() -> None:
    at_zero = with_values("traffic", weights={"old": 100.0, "new": 0.0}, step_index=0)
    no_requests = replace(
        with_values("errors:cloudwatch:new", requests=0, error_ratio=None),
        status=Status.UNKNOWN,
        detail="no requests in the last 60 s",
    )
    result = new_error_ratio_under_threshold(inputs(at_zero, no_requests))
    assert result.passed
    assert any(fact.value == "no requests yet (new 0 %)" for fact in result.facts)
    at_five = with_values("traffic", weights={"old": 95.0, "new": 5.0}, step_index=1)
    assert "no requests" in blocked_reason(
        new_error_ratio_under_threshold(inputs(at_five, no_requests))
    )
    failed = replace(no_requests, values={"error": "timeout after 5 s"}, detail="timeout")
    assert not new_error_ratio_under_threshold(inputs(at_zero, failed)).passed


def test_at_new_zero_an_unknown_p95_with_no_requests_does_not_block_the_first_step() -> None:
    at_zero = with_values("traffic", weights={"old": 100.0, "new": 0.0}, step_index=0)
    no_requests = replace(
        with_values("errors:cloudwatch:new", requests=0, error_ratio=None, p95_seconds=None),
        status=Status.UNKNOWN,
        detail="no requests in the last 60 s",
    )
    result = new_p95_under_threshold(inputs(at_zero, no_requests))
    assert result.passed
    assert any(fact.value == "no requests yet (new 0 %)" for fact in result.facts)
    at_five = with_values("traffic", weights={"old": 95.0, "new": 5.0}, step_index=1)
    assert not new_p95_under_threshold(inputs(at_five, no_requests)).passed


# --- the one-way door: nothing back to a demoted primary -----------------------------------------

ROLLBACK_TO_ZERO = SessionFacts(
    weights_since=NOW - timedelta(minutes=10),
    undoable_changes=3,
    rollback_weights={"old": 100, "new": 0},
    rollback_maintenance_on=False,
)


def test_an_alb_maintenance_switch_whose_rules_cannot_be_read_blocks() -> None:
    unread = with_values("maintenance", on=False, rule_present=None)
    unread = replace(unread, detail="off: front door answers 200 (ALB rule not read: timeout)")
    result = maintenance_backend_readable(inputs(unread))
    assert "the ALB listener's rules cannot be read" in blocked_reason(result)
    assert "ALB rule not read: timeout" in blocked_reason(result)
    webhook = with_values("maintenance", backend="webhook", rule_present=None)
    assert maintenance_backend_readable(inputs(webhook)).passed


def test_rollback_after_promotion_is_blocked_as_split_brain() -> None:
    result = rollback_spares_demoted_primary(inputs(PROMOTED, session=ROLLBACK_TO_ZERO))
    reason = blocked_reason(result)
    assert "the old primary is no longer the primary" in reason
    assert "new 25 % → 0 %" in reason and "turn maintenance off" in reason
    assert "keep maintenance on" in reason


def test_rollback_before_promotion_passes() -> None:
    assert rollback_spares_demoted_primary(inputs(session=ROLLBACK_TO_ZERO)).passed


def test_rollback_after_promotion_that_sends_nothing_back_passes() -> None:
    safe = SessionFacts(rollback_weights={"old": 50, "new": 50}, rollback_maintenance_on=True)
    assert rollback_spares_demoted_primary(inputs(PROMOTED, session=safe)).passed


def test_rollback_when_promotion_cannot_be_told_fails_closed() -> None:
    unknown = with_values("replication", promoted=None, in_recovery=None)
    unknown = replace(unknown, status=Status.UNKNOWN, detail="replica unreachable")
    reason = blocked_reason(
        rollback_spares_demoted_primary(inputs(unknown, session=ROLLBACK_TO_ZERO))
    )
    assert "cannot tell whether the replica was promoted" in reason


def test_promotion_by_this_cutover_counts_without_a_replication_reading() -> None:
    session = replace(ROLLBACK_TO_ZERO, promoted_this_session=True)
    result = rollback_spares_demoted_primary(inputs(without=("replication",), session=session))
    assert "split-brain" in blocked_reason(result)


def test_weight_down_to_zero_after_promotion_is_blocked() -> None:
    at_five = with_values("traffic", weights={"old": 95.0, "new": 5.0}, previous_step_percent=0)
    assert "split-brain" in blocked_reason(
        weight_down_spares_demoted_primary(inputs(at_five, PROMOTED))
    )
    assert weight_down_spares_demoted_primary(inputs(at_five)).passed
    assert weight_down_spares_demoted_primary(inputs(PROMOTED)).passed
