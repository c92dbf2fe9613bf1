"""Guards: named preconditions over the live state that say why an action may not run yet.

Pure: (state, config, now, session facts) -> GuardResult. Fail closed: a reading that is missing,
or STALE or UNKNOWN at `now`, blocks with a reason naming the signal (and its age when stale).
Every result carries the values it looked at and their ages, so the confirm screen and the
journal show what the decision rested on ("byte lag 0 B (1s ago)").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from cockpit.config import Config
from cockpit.io.traffic import split_percent
from cockpit.live.state import State
from cockpit.model import Reading, SignalKind, Status
from cockpit.rules.verdicts import GuardFact, GuardResult, SessionFacts
from cockpit.sources import dns_values, errors_values
from cockpit.sources.integrity_values import integrity_verdict
from cockpit.sources.logical_values import LogicalValues, sequence_rows
from cockpit.sources.maintenance_values import SIGNAL_ID as MAINTENANCE_SIGNAL
from cockpit.sources.maintenance_values import MaintenanceValues
from cockpit.sources.replication_values import SIGNAL_ID as REPLICATION_SIGNAL
from cockpit.sources.replication_values import ReplicationValues
from cockpit.sources.targets_values import TargetsValues, new_side_target_ids
from cockpit.sources.traffic_values import SIGNAL_ID as TRAFFIC_SIGNAL
from cockpit.sources.traffic_values import TrafficValues
from cockpit.units import age_text, latency_ms_text, percent_number, ratio_percent_text, size_text

PERCENT_TOLERANCE = 1e-6
MAINTENANCE_ON_ACTION = "maintenance-on"
NO_KEY = "?"


@dataclass(frozen=True)
class GuardInputs:
    """Everything a guard may look at: the latest readings, the config, the time, the session.

    keys: each action's key label by action id, so a reason can name the key that helps.
    """

    state: State
    config: Config
    now: datetime
    session: SessionFacts
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def maintenance_on_key(self) -> str:
        """The key that turns maintenance on ('?' when no action is bound to it)."""
        return self.keys.get(MAINTENANCE_ON_ACTION, NO_KEY)


Guard = Callable[[GuardInputs], GuardResult]


@dataclass(frozen=True)
class Verdict:
    """A judgement before it is named: why it blocks (None: it passes) and what it looked at."""

    reason: str | None
    facts: tuple[GuardFact, ...] = ()


Judge = Callable[[Reading, GuardInputs], Verdict]


# --- readings: usable or why not ---------------------------------------------------------------


def unusable_reason(reading: Reading, now: datetime) -> str | None:
    """Why a reading proves nothing at `now` (it is STALE or UNKNOWN), or None when it can."""
    status = reading.status_at(now)
    if status is Status.STALE:
        return f"{reading.signal_id} reading STALE, {age_text(reading.age_seconds(now))} old"
    if status is Status.UNKNOWN:
        why = f": {reading.detail}" if reading.detail else ""
        return f"{reading.signal_id} UNKNOWN{why}"
    return None


def reading_fact(label: str, value: str, reading: Reading, now: datetime) -> GuardFact:
    """A value a guard read from `reading`, with the reading's age at `now`."""
    return GuardFact(label, value, reading.signal_id, reading.age_seconds(now))


def _unusable_verdict(reading: Reading, reason: str, now: datetime) -> Verdict:
    status = reading.status_at(now).value.upper()
    fact = reading_fact(reading.signal_id, status, reading, now)
    if reading.status_at(now) is Status.STALE:
        reason += ": wait for a fresh reading (is its source answering?)"
    return Verdict(reason, (fact,))


def _missing_verdict(signal_id: str, reason: str) -> Verdict:
    return Verdict(reason, (GuardFact(signal_id, "no reading", signal_id),))


def _no_reading(signal_id: str, section: str, configured: bool) -> str:
    """Why a signal has no reading: its section is missing from the config, or no poll came yet."""
    if configured:
        return f"no {signal_id} reading yet: wait for its first poll"
    return f"no {signal_id} reading: the config has no [{section}] section; add one"


def _judge_one(inputs: GuardInputs, signal_id: str, missing: str, judge: Judge) -> Verdict:
    """The judge's verdict on one signal's latest reading; blocks when it is not usable."""
    reading = inputs.state.latest(signal_id)
    if reading is None:
        return _missing_verdict(signal_id, missing)
    reason = unusable_reason(reading, inputs.now)
    if reason:
        return _unusable_verdict(reading, reason, inputs.now)
    return judge(reading, inputs)


def _judge_all(
    inputs: GuardInputs, signal_ids: Iterable[str], none_expected: str, judge: Judge
) -> Verdict:
    """Passes when every signal's reading is usable and passes; else names each one that blocks."""
    verdicts = [
        _judge_one(inputs, signal_id, _no_reading(signal_id, "", configured=True), judge)
        for signal_id in signal_ids
    ]
    return _combined(verdicts, none_expected)


def _combined(verdicts: Sequence[Verdict], none_expected: str) -> Verdict:
    """Passes when every verdict passes; blocks naming each one that does not (or none at all)."""
    if not verdicts:
        return Verdict(none_expected)
    reasons = [verdict.reason for verdict in verdicts if verdict.reason]
    facts = tuple(fact for verdict in verdicts for fact in verdict.facts)
    return Verdict("; ".join(reasons) if reasons else None, facts)


def _result(guard_id: str, title: str, verdict: Verdict) -> GuardResult:
    return GuardResult(guard_id, title, verdict.reason, verdict.facts)


def _name(signal_id: str) -> str:
    """'web-new' for 'targets:web-new': the part after the family."""
    return signal_id.partition(":")[2] or signal_id


def _of_kind(state: State, kind: SignalKind) -> tuple[Reading, ...]:
    return tuple(reading for reading in state.readings() if reading.kind is kind)


def _sorted_ids(*groups: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({signal_id for group in groups for signal_id in group}))


# --- maintenance -------------------------------------------------------------------------------


def _maintenance_backend(config: Config) -> str | None:
    section = config.maintenance
    if section is None:
        return None
    for backend in ("alb", "webhook", "command"):
        if getattr(section, backend) is not None:
            return backend
    return None


def maintenance_backend_configured(inputs: GuardInputs) -> GuardResult:
    """A [maintenance] backend exists to switch maintenance mode with."""
    backend = _maintenance_backend(inputs.config)
    fact = GuardFact("maintenance backend", backend or "not configured")
    reason = (
        None
        if backend
        else "no [maintenance] section: add [maintenance.alb], [maintenance.webhook] or "
        "[maintenance.command] to switch maintenance mode from the cockpit"
    )
    return _result(
        "maintenance-backend-configured", "Maintenance backend configured", Verdict(reason, (fact,))
    )


def _backend_readable_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    values = MaintenanceValues.from_reading(reading)
    backend, rule_present = values.backend, values.rule_present
    if backend != "alb":
        return Verdict(
            None, (reading_fact("maintenance backend", str(backend), reading, inputs.now),)
        )
    text = "not read" if rule_present is None else "read"
    facts = (reading_fact("ALB listener rules", text, reading, inputs.now),)
    if rule_present is None:
        return Verdict(
            f"the ALB listener's rules cannot be read ({reading.detail}): the switch would "
            "fail or act blind; fix AWS access first",
            facts,
        )
    return Verdict(None, facts)


def maintenance_backend_readable(inputs: GuardInputs) -> GuardResult:
    """The maintenance switch's own state can be read (for an ALB: its listener rules)."""
    configured = inputs.config.maintenance is not None
    missing = _no_reading(MAINTENANCE_SIGNAL, "maintenance", configured)
    verdict = _judge_one(inputs, MAINTENANCE_SIGNAL, missing, _backend_readable_of)
    return _result("maintenance-backend-readable", "Maintenance backend readable", verdict)


def _maintenance_fact(reading: Reading, now: datetime) -> GuardFact:
    on = MaintenanceValues.from_reading(reading).on
    text = "on" if on is True else "off" if on is False else "not known"
    return reading_fact("maintenance", text, reading, now)


def _maintenance_verdict(inputs: GuardInputs, wanted_on: bool, blocked_reason: str) -> Verdict:
    """Passes when the maintenance reading says on == wanted_on."""

    def judge(reading: Reading, inputs: GuardInputs) -> Verdict:
        facts = (_maintenance_fact(reading, inputs.now),)
        on = MaintenanceValues.from_reading(reading).on
        if on is wanted_on:
            return Verdict(None, facts)
        if isinstance(on, bool):
            return Verdict(blocked_reason, facts)
        why = reading.detail or "the probe did not say"
        return Verdict(f"maintenance state not known: {why}", facts)

    configured = inputs.config.maintenance is not None
    missing = _no_reading(MAINTENANCE_SIGNAL, "maintenance", configured)
    return _judge_one(inputs, MAINTENANCE_SIGNAL, missing, judge)


def maintenance_is_off(inputs: GuardInputs) -> GuardResult:
    """Maintenance is off now, so there is something to turn on."""
    verdict = _maintenance_verdict(inputs, False, "maintenance is already on: nothing to turn on")
    return _result("maintenance-is-off", "Maintenance is off", verdict)


def maintenance_is_on(inputs: GuardInputs) -> GuardResult:
    """Maintenance is on now, so there is something to turn off."""
    verdict = _maintenance_verdict(inputs, True, "maintenance is already off: nothing to turn off")
    return _result("maintenance-is-on", "Maintenance is on", verdict)


# --- promotion ---------------------------------------------------------------------------------


def _replication_missing(inputs: GuardInputs) -> str:
    return _no_reading(REPLICATION_SIGNAL, "replication", inputs.config.replication is not None)


def _is_rds(inputs: GuardInputs) -> bool:
    replication = inputs.config.replication
    return replication is not None and replication.rds is not None


def _promotion_backend_text(config: Config) -> str | None:
    section, replication = config.promotion, config.replication
    if section is None:
        return None
    if section.postgres is not None:
        return f"postgres replica {section.postgres.replica_name}"
    if section.rds is not None:
        return f"rds {section.rds.replica_instance_id}"
    if section.logical is not None and replication is not None and replication.logical:
        return f"logical replication, subscription {replication.logical.subscription}"
    if section.dms is not None and replication is not None and replication.dms:
        return f"DMS task {replication.dms.task_identifier}"
    return None


def _replication_engine(inputs: GuardInputs) -> str | None:
    """Which [replication] backend the config names."""
    replication = inputs.config.replication
    if replication is None:
        return None
    return next(
        (name for name in ("postgres", "rds", "logical", "dms") if getattr(replication, name)),
        None,
    )


def promotion_backend_configured(inputs: GuardInputs) -> GuardResult:
    """A [promotion] backend exists to promote the replica with."""
    backend = _promotion_backend_text(inputs.config)
    reason = (
        None
        if backend
        else "no [promotion] section: add [promotion.postgres], [promotion.rds], "
        "[promotion.logical] or [promotion.dms] to promote or cut over from the cockpit"
    )
    fact = GuardFact("promotion backend", backend or "not configured")
    return _result(
        "promotion-backend-configured", "Promotion backend configured", Verdict(reason, (fact,))
    )


def promotion_requires_maintenance(inputs: GuardInputs) -> GuardResult:
    """Maintenance is on before promotion, unless guards.promote_requires_maintenance is false."""
    guard_id, title = "promotion-requires-maintenance", "Maintenance on before promotion"
    if not inputs.config.guards.promote_requires_maintenance:
        fact = GuardFact("maintenance", "not required by config")
        return _result(guard_id, title, Verdict(None, (fact,)))
    blocked = f"maintenance is off: turn it on first ({inputs.maintenance_on_key})"
    return _result(guard_id, title, _maintenance_verdict(inputs, True, blocked))


def _in_recovery_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    values = ReplicationValues.from_reading(reading)
    in_recovery = values.in_recovery
    text = "yes" if in_recovery is True else "no" if in_recovery is False else "not known"
    facts = (reading_fact("replica in recovery", text, reading, inputs.now),)
    if in_recovery is True and values.promoted is not True:
        return Verdict(None, facts)
    if values.left_recovery and values.engine in ("logical", "dms"):
        return Verdict("replication already stopped (cut over): nothing to cut over", facts)
    if values.left_recovery:
        return Verdict("the replica already left recovery (promoted): nothing to promote", facts)
    why = reading.detail or "the replica did not say"
    return Verdict(f"cannot tell whether the replica is in recovery: {why}", facts)


def replica_in_recovery(inputs: GuardInputs) -> GuardResult:
    """The replica is still in recovery, so there is a replica to promote."""
    verdict = _judge_one(inputs, REPLICATION_SIGNAL, _replication_missing(inputs), _in_recovery_of)
    return _result("replica-in-recovery", "Replica still in recovery", verdict)


def _lag_facts(reading: Reading, inputs: GuardInputs) -> tuple[GuardFact, ...]:
    values = ReplicationValues.from_reading(reading)
    lag_bytes = values.replay_lag_bytes
    lag_text = "not reported" if lag_bytes is None else size_text(lag_bytes)
    facts = [reading_fact("byte lag", lag_text, reading, inputs.now)]
    eta = values.catchup_eta_seconds
    if lag_bytes and eta is not None:
        facts.append(reading_fact("catch-up ETA", age_text(eta), reading, inputs.now))
    return tuple(facts)


def _lag_unknown_reason(inputs: GuardInputs) -> str:
    if _is_rds(inputs):
        return (
            "byte lag not known: RDS reports replica lag in seconds only; make sure the replica "
            "has caught up, then override with a reason"
        )
    return "byte lag not reported yet: wait for the replica to report a replay position"


def _lag_reason(reading: Reading, lag_bytes: float, limit: int) -> str:
    values = ReplicationValues.from_reading(reading)
    eta = values.catchup_eta_seconds
    lag = f"byte lag {size_text(lag_bytes)}"
    if values.replay_paused is True:
        return (
            f"{lag}, replay paused: resume replay on the replica, then wait for {size_text(limit)}"
        )
    if eta is not None:
        lag += f" (ETA {age_text(eta)})"
    return f"{lag}: wait for {size_text(limit)}"


def _latency_caught_up_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    """DMS reports CDC latency in seconds only: caught up is 0 s at source and target."""
    latency = ReplicationValues.from_reading(reading).replay_lag_seconds
    text = "not known" if latency is None else age_text(latency)
    facts = (reading_fact("CDC latency", text, reading, inputs.now),)
    if latency is None:
        return Verdict("CDC latency not known: wait for CloudWatch to report it", facts)
    if latency > 0:
        return Verdict(f"CDC latency {age_text(latency)}: wait for 0 s", facts)
    return Verdict(None, facts)


def _caught_up_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    if ReplicationValues.from_reading(reading).engine == "dms":
        return _latency_caught_up_of(reading, inputs)
    facts = _lag_facts(reading, inputs)
    lag_bytes = ReplicationValues.from_reading(reading).replay_lag_bytes
    limit = inputs.config.guards.promote_max_lag_bytes
    if lag_bytes is None:
        return Verdict(_lag_unknown_reason(inputs), facts)
    if lag_bytes > limit:
        return Verdict(_lag_reason(reading, lag_bytes, limit), facts)
    return Verdict(None, facts)


def replication_caught_up(inputs: GuardInputs) -> GuardResult:
    """Byte lag at most guards.promote_max_lag_bytes (default 0): bytes, not seconds, prove it."""
    limit = inputs.config.guards.promote_max_lag_bytes
    verdict = _judge_one(inputs, REPLICATION_SIGNAL, _replication_missing(inputs), _caught_up_of)
    if _replication_engine(inputs) == "dms":
        title = "Replication caught up (CDC latency 0 s)"
    elif limit:
        title = f"Replication byte lag at most {size_text(limit)}"
    else:
        title = "Replication caught up (byte lag 0 B)"
    return _result("replication-caught-up", title, verdict)


def _quiet_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    needed = inputs.config.guards.promote_quiet_seconds
    values = ReplicationValues.from_reading(reading)
    quiet = values.primary_quiet_seconds
    text = "not known" if quiet is None else age_text(quiet)
    facts = (reading_fact("primary quiet for", text, reading, inputs.now),)
    if quiet is None and not values.sees_primary_writes:
        return Verdict(
            "this replication source cannot see writes on the primary: make sure writes are "
            "stopped, then override with a reason",
            facts,
        )
    if quiet is None:
        return Verdict("primary quiet time not known yet: wait for a second poll", facts)
    if quiet < needed:
        return Verdict(
            f"the primary has been quiet for only {age_text(quiet)} of the {age_text(needed)} "
            "needed: stop writes to it and wait",
            facts,
        )
    return Verdict(None, facts)


def primary_quiet(inputs: GuardInputs) -> GuardResult:
    """No writes moved the primary's WAL for guards.promote_quiet_seconds (0: not required)."""
    needed = inputs.config.guards.promote_quiet_seconds
    title = f"Primary quiet for {age_text(needed)}"
    if needed <= 0:
        fact = GuardFact("primary quiet for", "not required by config")
        return _result("primary-quiet", title, Verdict(None, (fact,)))
    verdict = _judge_one(inputs, REPLICATION_SIGNAL, _replication_missing(inputs), _quiet_of)
    return _result("primary-quiet", title, verdict)


# --- logical replication: tables and sequences -------------------------------------------------


def _not_logical(guard_id: str, title: str) -> GuardResult:
    fact = GuardFact("replication", "not logical replication: nothing to check")
    return _result(guard_id, title, Verdict(None, (fact,)))


def _tables_ready_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    values = LogicalValues.from_reading(reading)
    total, not_ready = values.tables_total, values.tables_not_ready
    if total is None:
        fact = reading_fact("tables ready", "not known", reading, inputs.now)
        return Verdict("table sync states not known: wait for the subscriber to answer", (fact,))
    ready = f"{total - len(not_ready)} of {total}"
    facts = (reading_fact("tables ready", ready, reading, inputs.now),)
    if not_ready:
        named = ", ".join(f"{row.get('table')} ({row.get('words')})" for row in not_ready[:3])
        more = f" and {len(not_ready) - 3} more" if len(not_ready) > 3 else ""
        return Verdict(f"tables still syncing: {named}{more}: wait until they are ready", facts)
    return Verdict(None, facts)


def subscription_tables_ready(inputs: GuardInputs) -> GuardResult:
    """With logical replication, every subscribed table has finished its initial sync."""
    guard_id, title = "subscription-tables-ready", "Every subscribed table ready"
    if _replication_engine(inputs) != "logical":
        return _not_logical(guard_id, title)
    verdict = _judge_one(inputs, REPLICATION_SIGNAL, _replication_missing(inputs), _tables_ready_of)
    return _result(guard_id, title, verdict)


def _sequences_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    values = LogicalValues.from_reading(reading)
    if values.promoted is not True:
        fact = reading_fact(
            "cut over", "not yet: the old database takes the writes", reading, inputs.now
        )
        return Verdict(None, (fact,))
    total, behind = values.sequences_total, values.sequences_behind or 0
    if total is None or values.sequences_unknown:
        fact = reading_fact("sequences", "not known", reading, inputs.now)
        return Verdict(
            "sequence values not known at both ends: the cockpit's role needs SELECT on them",
            (fact,),
        )
    facts = (reading_fact("sequences behind", f"{behind} of {total}", reading, inputs.now),)
    if behind:
        rows = [row for row in sequence_rows(values) if row.behind][:3]
        named = ", ".join(
            f"{row.name} at {row.subscriber_value}, needs {row.needed}" for row in rows
        )
        return Verdict(
            f"{behind} subscriber sequences behind the publisher's + {values.sequence_margin}: "
            f"{named}; new rows would reuse ids",
            facts,
        )
    return Verdict(None, facts)


def sequences_caught_up(inputs: GuardInputs) -> GuardResult:
    """After a logical-replication cutover, the new database's sequences are at or past the
    publisher's plus the margin before it takes writes (sequences are not replicated)."""
    guard_id = "sequences-caught-up"
    title = "Subscriber sequences at the publisher's + margin"
    if _replication_engine(inputs) != "logical":
        return _not_logical(guard_id, title)
    verdict = _judge_one(inputs, REPLICATION_SIGNAL, _replication_missing(inputs), _sequences_of)
    return _result(guard_id, title, verdict)


# --- integrity ---------------------------------------------------------------------------------


RECHECK_KEY = "i"
"""The key that starts the integrity checks again (the app's binding)."""


def _integrity_not_needed(inputs: GuardInputs, action: str) -> str | None:
    """Why this action does not wait for an integrity check now, or None when it does."""
    integrity = inputs.config.integrity
    if integrity is None or action not in integrity.guard_actions:
        return "not required by config"
    if action == "maintenance-off":
        promoted, _ = _promotion_state(inputs)
        return (
            "before the promotion, users go back to the old database" if promoted is False else None
        )
    if action == "weight-up":
        traffic = inputs.state.latest(TRAFFIC_SIGNAL)
        new = None if traffic is None else new_percent_of(traffic)
        return f"not the first step (new at {split_text(new)})" if new else None
    return None


def _writes_stopped_at(inputs: GuardInputs) -> datetime | None:
    """When the old database last took a write, by the replication source's quiet time."""
    reading = inputs.state.latest(REPLICATION_SIGNAL)
    if reading is None or unusable_reason(reading, inputs.now):
        return None
    quiet = ReplicationValues.from_reading(reading).primary_quiet_seconds
    return None if quiet is None else inputs.now - timedelta(seconds=quiet)


def _integrity_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    verdict, started = integrity_verdict(reading)
    name = _name(reading.signal_id)
    when = "never" if started is None else started.strftime("%H:%M:%SZ")
    facts = (
        reading_fact(f"integrity {name}", f"{verdict}, run started {when}", reading, inputs.now),
    )
    stopped = _writes_stopped_at(inputs)
    if verdict == "UNCHECKED" or started is None:
        return Verdict(
            f"integrity {name} not checked yet: wait for it ({RECHECK_KEY} re-checks)", facts
        )
    if stopped is None:
        return Verdict(
            f"integrity {name}: cannot tell when writes stopped on the old database (no "
            "replication reading of its writes): make sure they did, then override with a reason",
            facts,
        )
    if started < stopped:
        moving = " (found while writes still flowed: moving)" if verdict != "OK" else ""
        return Verdict(
            f"integrity {name} was checked before writes stopped{moving}: re-check it now "
            f"({RECHECK_KEY})",
            facts,
        )
    if verdict != "OK":
        return Verdict(f"integrity {name} {verdict}: {reading.detail}", facts)
    return Verdict(None, facts)


def integrity_clean(action: str) -> Guard:
    """For `action`: every integrity check (database and buckets) ran since writes stopped on
    the old database and found nothing DIFFERENT, where [integrity] guard_actions asks for it
    (maintenance-off only after the promotion, weight-up only for the first step)."""

    def guard(inputs: GuardInputs) -> GuardResult:
        guard_id, title = "integrity-clean", "Integrity checked since writes stopped, no DIFFERENT"
        not_needed = _integrity_not_needed(inputs, action)
        if not_needed is not None:
            return _result(guard_id, title, Verdict(None, (GuardFact("integrity", not_needed),)))
        ids = [r.signal_id for r in _of_kind(inputs.state, SignalKind.INTEGRITY)]
        none = "no integrity reading yet: wait for the first check to start"
        return _result(guard_id, title, _judge_all(inputs, sorted(ids), none, _integrity_of))

    guard.__name__ = f"integrity_clean_{action.replace('-', '_')}"
    return guard


# --- target health -----------------------------------------------------------------------------


def _new_target_ids(inputs: GuardInputs) -> tuple[str, ...]:
    return new_side_target_ids(inputs.config, inputs.state.readings())


def _health_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    values = TargetsValues.from_reading(reading)
    healthy, total = values.healthy, values.total
    name = _name(reading.signal_id)
    if healthy is None or total is None:
        fact = reading_fact(f"{name} healthy", "not known", reading, inputs.now)
        return Verdict(f"{name}: health not known ({reading.detail})", (fact,))
    counts = f"{healthy:.0f}/{total:.0f}"
    facts = (reading_fact(f"{name} healthy", counts, reading, inputs.now),)
    if total <= 0:
        return Verdict(f"{name} has no registered targets: register the new targets", facts)
    if healthy < total or reading.status is not Status.OK:
        detail = f" ({reading.detail})" if reading.detail else ""
        return Verdict(f"{name} {counts} healthy{detail}: wait until all are healthy", facts)
    return Verdict(None, facts)


NO_NEW_TARGETS = (
    "no new-side targets to check: add [[targets.target_groups]] or [[targets.http]] "
    'with side = "new"'
)


def _new_targets_verdict(inputs: GuardInputs) -> Verdict:
    return _judge_all(inputs, _new_target_ids(inputs), NO_NEW_TARGETS, _health_of)


def new_targets_healthy(inputs: GuardInputs) -> GuardResult:
    """Every new-side target group and health URL reports all of its targets healthy."""
    return _result("new-targets-healthy", "New targets healthy", _new_targets_verdict(inputs))


def _promoted_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    """Passes whenever the reading says either way; only 'not known' blocks."""
    promoted = ReplicationValues.from_reading(reading).promoted
    text = "yes" if promoted is True else "no" if promoted is False else "not known"
    facts = (reading_fact("replica promoted", text, reading, inputs.now),)
    if isinstance(promoted, bool):
        return Verdict(None, facts)
    return Verdict("promotion state not reported", facts)


def _promotion_state(inputs: GuardInputs) -> tuple[bool | None, Verdict]:
    """Whether the replica is promoted (None: cannot tell, and the verdict says why)."""
    if inputs.session.promoted_this_session:
        return True, Verdict(None, (GuardFact("replica promoted", "yes, this session"),))
    if inputs.config.replication is None:
        fact = GuardFact("replica promoted", "not this session (no [replication] to read)")
        return False, Verdict(None, (fact,))
    verdict = _judge_one(inputs, REPLICATION_SIGNAL, _replication_missing(inputs), _promoted_of)
    if verdict.reason:
        reason = f"cannot tell whether the replica was promoted: {verdict.reason}"
        return None, Verdict(reason, verdict.facts)
    reading = inputs.state.latest(REPLICATION_SIGNAL)
    promoted = reading is not None and ReplicationValues.from_reading(reading).promoted is True
    return promoted, verdict


def new_side_healthy_after_promotion(inputs: GuardInputs) -> GuardResult:
    """Once the replica is promoted, maintenance goes off only onto a healthy new side.

    Before promotion it passes: turning maintenance off then sends users back to the old side.
    """
    guard_id, title = "new-side-healthy-after-promotion", "New side healthy (after promotion)"
    promoted, promotion = _promotion_state(inputs)
    if not promoted:
        return _result(guard_id, title, promotion)
    targets = _new_targets_verdict(inputs)
    reason = (
        targets.reason and f"the replica is promoted, so the new side must serve: {targets.reason}"
    )
    return _result(guard_id, title, Verdict(reason, promotion.facts + targets.facts))


# --- the one-way door: nothing back to a demoted primary ---------------------------------------


def _promoted_or_unknown(inputs: GuardInputs) -> tuple[bool | None, Verdict]:
    """Whether the replica was promoted (this cutover, another process, or the database says so)."""
    return _promotion_state(inputs)


def _demoted_primary_reason(
    what: str, promoted: bool | None, promotion: Verdict, maintenance_on_key: str
) -> str | None:
    """Why `what` (which sends traffic or writes to the old side) may not run; None if it may."""
    if promoted is False:
        return None
    if promoted is None:
        return (
            f"{promotion.reason}; {what} would send users back to the old side: "
            "prove the old primary is still the primary first"
        )
    return (
        f"the replica was promoted: the old primary is no longer the primary, and {what} "
        "would send users back to it (split-brain). Safe now: keep maintenance on "
        f"({maintenance_on_key}) and hold the weights; override only if the old side no longer "
        "writes to the old database"
    )


def _weights_rollback_risk(inputs: GuardInputs) -> str | None:
    """'move traffic back (new 50 % → 0 %)' when rollback lowers the new side's share."""
    target = inputs.session.rollback_weights
    if target is None:
        return None
    old, new = target.get("old"), target.get("new")
    if not isinstance(old, int) or not isinstance(new, int):
        return "move traffic to weights that were not recorded"
    _, target_new = split_percent(old, new)
    reading = inputs.state.latest(TRAFFIC_SIGNAL)
    now_new = None if reading is None else new_percent_of(reading)
    if now_new is not None and target_new >= now_new - PERCENT_TOLERANCE:
        return None
    now_text = "not known" if now_new is None else f"{percent_number(now_new)} %"
    return f"move traffic back to the old side (new {now_text} → {percent_number(target_new)} %)"


def _maintenance_rollback_risk(inputs: GuardInputs) -> str | None:
    """'turn maintenance off' when rollback would open writes again."""
    if inputs.session.rollback_maintenance_on is not False:
        return None
    reading = inputs.state.latest(MAINTENANCE_SIGNAL)
    if reading is not None and MaintenanceValues.from_reading(reading).on is False:
        return None
    return "turn maintenance off (writes open again)"


def rollback_spares_demoted_primary(inputs: GuardInputs) -> GuardResult:
    """After a promotion, rollback may not send traffic or writes back to the old side."""
    guard_id, title = "no-split-brain", "Nothing sent back to a demoted primary"
    risks = [r for r in (_weights_rollback_risk(inputs), _maintenance_rollback_risk(inputs)) if r]
    if not risks:
        fact = GuardFact("rollback sends back to the old side", "nothing")
        return _result(guard_id, title, Verdict(None, (fact,)))
    promoted, promotion = _promoted_or_unknown(inputs)
    what = "rolling back (" + " and ".join(risks) + ")"
    facts = (*promotion.facts, GuardFact("rollback would", "; ".join(risks)))
    reason = _demoted_primary_reason(what, promoted, promotion, inputs.maintenance_on_key)
    return _result(guard_id, title, Verdict(reason, facts))


def demoted_primary_reason_for_weights(inputs: GuardInputs, new_percent_after: float) -> str | None:
    """Why setting the new side to `new_percent_after` splits the brain (only 0 % does)."""
    if new_percent_after > PERCENT_TOLERANCE:
        return None
    promoted, promotion = _promoted_or_unknown(inputs)
    return _demoted_primary_reason("new 0 %", promoted, promotion, inputs.maintenance_on_key)


def _down_to_zero_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    previous = TrafficValues.from_reading(reading).previous_step_percent
    text = "none" if previous is None else f"{percent_number(previous)} %"
    facts = (reading_fact("previous step", text, reading, inputs.now),)
    if previous is None:
        return Verdict(None, facts)
    return Verdict(demoted_primary_reason_for_weights(inputs, previous), facts)


def weight_down_spares_demoted_primary(inputs: GuardInputs) -> GuardResult:
    """After a promotion, a step down may not put the new side at 0 %."""
    verdict = _judge_one(inputs, TRAFFIC_SIGNAL, _traffic_missing(inputs), _down_to_zero_of)
    return _result("no-split-brain", "Not back to 0 % on a demoted primary", verdict)


# --- error rates -------------------------------------------------------------------------------


def _configured_new_errors(config: Config) -> tuple[str, ...]:
    """The new side's error signal ids (as the sources in sources/errors_*.py name them)."""
    errors = config.errors
    if errors is None:
        return ()
    ids = []
    if errors.cloudwatch is not None:
        ids.append(errors_values.signal_id(errors_values.CLOUDWATCH, errors_values.NEW_SIDE))
    if errors.prometheus is not None:
        ids.append(errors_values.signal_id(errors_values.PROMETHEUS, errors_values.NEW_SIDE))
    if any(log.side == errors_values.NEW_SIDE for log in errors.access_logs):
        ids.append(errors_values.signal_id(errors_values.ACCESS_LOG, errors_values.NEW_SIDE))
    return tuple(ids)


def _new_error_ids(inputs: GuardInputs) -> tuple[str, ...]:
    seen = (
        r.signal_id
        for r in _of_kind(inputs.state, SignalKind.ERRORS)
        if errors_values.is_new_side(r.signal_id)
    )
    return _sorted_ids(_configured_new_errors(inputs.config), seen)


NO_NEW_ERRORS = (
    "no new-side error rate to check: add [errors.cloudwatch], [errors.prometheus] "
    'or an [[errors.access_logs]] with side = "new"'
)


def _ratio_text(reading: Reading) -> str:
    values = errors_values.from_reading(reading)
    ratio = values.error_ratio
    if ratio is None:
        return "no data"
    requests, errors = values.requests, values.errors_5xx
    counts = "" if requests is None or errors is None else f" ({errors:.0f} of {requests:.0f})"
    return f"{ratio_percent_text(ratio)}{counts}"


def _error_ratio_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    limit = inputs.config.guards.weight_max_new_error_ratio
    name = _name(reading.signal_id)
    facts = (reading_fact(f"{name} 5xx", _ratio_text(reading), reading, inputs.now),)
    ratio = errors_values.from_reading(reading).error_ratio
    if ratio is None:
        return Verdict(
            f"{name}: no data on the new side's 5xx rate: it must serve requests first", facts
        )
    if ratio > limit:
        return Verdict(
            f"{name} 5xx {ratio_percent_text(ratio)}, over the {ratio_percent_text(limit)} limit: "
            "wait for it to fall, or roll back",
            facts,
        )
    return Verdict(None, facts)


def _no_requests_yet(reading: Reading, now: datetime) -> bool:
    """A fresh reading that counted zero requests: nothing failed, the side just has no traffic."""
    counted_none = errors_values.from_reading(reading).counted_no_requests
    return counted_none and reading.status_at(now) is not Status.STALE


def _new_side_at_zero(inputs: GuardInputs) -> bool:
    """Whether a fresh traffic reading puts the new side at exactly 0 %."""
    reading = inputs.state.latest(TRAFFIC_SIGNAL)
    if reading is None or unusable_reason(reading, inputs.now):
        return False
    new_percent = new_percent_of(reading)
    return new_percent is not None and abs(new_percent) <= PERCENT_TOLERANCE


def _no_traffic_yet(inputs: GuardInputs, signal_id: str, measure: str) -> Verdict | None:
    """At new 0 %, a fresh reading that counted zero requests passes: there is nothing to measure.

    Only a counted zero passes that way: a failed source, a stale reading or errors block.
    """
    reading = inputs.state.latest(signal_id)
    if reading is None or not _no_requests_yet(reading, inputs.now):
        return None
    if not _new_side_at_zero(inputs):
        return None
    label = f"{_name(signal_id)} {measure}"
    return Verdict(None, (reading_fact(label, "no requests yet (new 0 %)", reading, inputs.now),))


def _judge_new_side(inputs: GuardInputs, signal_id: str, measure: str, judge: Judge) -> Verdict:
    """One new-side measure (5xx ratio or p95), with the first step's no-traffic exception."""
    exempt = _no_traffic_yet(inputs, signal_id, measure)
    if exempt is not None:
        return exempt
    missing = _no_reading(signal_id, "", configured=True)
    return _judge_one(inputs, signal_id, missing, judge)


def new_error_ratio_under_threshold(inputs: GuardInputs) -> GuardResult:
    """The new side's 5xx ratio is measured (no data blocks) and at most the configured limit.

    The one exception is the first step: at new 0 %, zero requests counted is not a failure.
    """
    limit = inputs.config.guards.weight_max_new_error_ratio
    verdicts = [
        _judge_new_side(inputs, signal_id, "5xx", _error_ratio_of)
        for signal_id in _new_error_ids(inputs)
    ]
    verdict = _combined(verdicts, NO_NEW_ERRORS)
    return _result("new-error-ratio", f"New side 5xx at most {ratio_percent_text(limit)}", verdict)


def _p95_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    limit_ms = inputs.config.guards.weight_max_new_p95_ms
    assert limit_ms is not None
    name = _name(reading.signal_id)
    p95 = errors_values.from_reading(reading).p95_seconds
    text = "not known" if p95 is None else latency_ms_text(p95)
    facts = (reading_fact(f"{name} p95", text, reading, inputs.now),)
    if p95 is None:
        return Verdict(f"{name}: the new side's p95 latency is not known", facts)
    if p95 * 1000 > limit_ms:
        limit = latency_ms_text(limit_ms / 1000)
        return Verdict(
            f"{name} p95 {text}, over the {limit} limit: wait for it to settle, or roll back",
            facts,
        )
    return Verdict(None, facts)


def new_p95_under_threshold(inputs: GuardInputs) -> GuardResult:
    """The new side's p95 latency is at most guards.weight_max_new_p95_ms, when that is set.

    As with the 5xx ratio, at new 0 % zero requests counted is not a failure.
    """
    limit_ms = inputs.config.guards.weight_max_new_p95_ms
    if limit_ms is None:
        fact = GuardFact("new p95 limit", "no p95 limit configured")
        return _result("new-p95", "New side p95 latency", Verdict(None, (fact,)))
    verdicts = [
        _judge_new_side(inputs, signal_id, "p95", _p95_of) for signal_id in _new_error_ids(inputs)
    ]
    verdict = _combined(verdicts, NO_NEW_ERRORS)
    title = f"New side p95 at most {latency_ms_text(limit_ms / 1000)}"
    return _result("new-p95", title, verdict)


# --- DNS ---------------------------------------------------------------------------------------


def _dns_ids(config: Config) -> tuple[str, ...]:
    """One signal id per configured record."""
    if config.dns is None:
        return ()
    return tuple(dns_values.signal_id(record.name) for record in config.dns.records)


def _ttl_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    name = _name(reading.signal_id)
    values = dns_values.from_reading(reading)
    ttl, limit = values.authoritative_ttl_seconds, values.max_ttl_seconds
    ttl_text = "not known" if ttl is None else f"{ttl:.0f} s"
    limit_text = "" if limit is None else f" (limit {limit:.0f} s)"
    facts = (reading_fact(f"{name} TTL", ttl_text + limit_text, reading, inputs.now),)
    preflight_ok = values.ttl_preflight_ok
    if preflight_ok is True:
        return _ttl_drained(name, values, reading, inputs, facts)
    if preflight_ok is False:
        return Verdict(
            f"{name}: authoritative TTL {ttl_text} is over the limit{limit_text}: "
            "lower the TTL and wait one old TTL",
            facts,
        )
    return Verdict(f"{name}: authoritative TTL not known", facts)


def _ttl_drained(
    name: str,
    values: dns_values.DnsValues,
    reading: Reading,
    inputs: GuardInputs,
    facts: tuple[GuardFact, ...],
) -> Verdict:
    """Low now; held only while it is known to have been low for less than one old TTL (an
    unknown 'since when' is shown, not held: the TTL itself is known)."""
    since, drained, before = values.ttl_low_since, values.ttl_drained_at, values.ttl_before_seconds
    since_text = "not known" if since is None else f"{since.astimezone(UTC):%Y-%m-%d %H:%MZ}"
    basis = f" ({values.ttl_low_basis})" if values.ttl_low_basis else ""
    facts = (*facts, reading_fact(f"{name} TTL low since", since_text + basis, reading, inputs.now))
    if drained is None or before is None or drained <= inputs.now:
        return Verdict(None, facts)
    return Verdict(
        f"{name}: TTL lowered only since {since_text}; caches may hold the old {before:.0f} s "
        f"TTL until {drained.astimezone(UTC):%H:%M:%SZ}: wait, or override with a reason",
        facts,
    )


def dns_ttl_preflight(inputs: GuardInputs) -> GuardResult:
    """Every moving record's TTL is low already, if guards.weight_requires_ttl_preflight."""
    guard_id, title = "dns-ttl-preflight", "DNS TTL preflight passed"
    if not inputs.config.guards.weight_requires_ttl_preflight:
        fact = GuardFact("TTL preflight", "not required by config")
        return _result(guard_id, title, Verdict(None, (fact,)))
    none_configured = (
        "no [dns] section to prove the TTL preflight; add one or set "
        "guards.weight_requires_ttl_preflight = false"
    )
    verdict = _judge_all(inputs, _dns_ids(inputs.config), none_configured, _ttl_of)
    return _result(guard_id, title, verdict)


# --- traffic weights ---------------------------------------------------------------------------


def traffic_backend_configured(inputs: GuardInputs) -> GuardResult:
    """A [traffic] backend exists to shift weights with."""
    section = inputs.config.traffic
    if section is not None and section.route53 is not None:
        backend = f"route53 {section.route53.record_name}"
    elif section is not None and section.alb is not None:
        backend = "alb weighted forward"
    else:
        backend = None
    reason = (
        None
        if backend
        else "no [traffic] section: add [traffic.route53] or [traffic.alb] to shift weights"
    )
    fact = GuardFact("traffic backend", backend or "not configured")
    return _result(
        "traffic-backend-configured", "Traffic backend configured", Verdict(reason, (fact,))
    )


def new_percent_of(reading: Reading) -> float | None:
    """The new side's share of traffic in percent, None when the weights are not known."""
    new = TrafficValues.from_reading(reading).new_percent
    return None if new is None else float(new)


def split_text(new_percent: float) -> str:
    """'old 75 % / new 25 %'."""
    return f"old {percent_number(100 - new_percent)} % / new {percent_number(new_percent)} %"


def _traffic_missing(inputs: GuardInputs) -> str:
    return _no_reading(TRAFFIC_SIGNAL, "traffic", inputs.config.traffic is not None)


def _weights_fact(reading: Reading, inputs: GuardInputs) -> GuardFact:
    new = new_percent_of(reading)
    return reading_fact(
        "weights", "not known" if new is None else split_text(new), reading, inputs.now
    )


def _both_raw_zero(reading: Reading) -> bool:
    raw = TrafficValues.from_reading(reading).raw_weights
    return raw is not None and raw.both_zero


def _steps_text(reading: Reading) -> str:
    steps = TrafficValues.from_reading(reading).steps
    if steps is None:
        return "the step plan"
    return ", ".join(str(step) for step in steps) + " %"


def _on_plan_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    facts = (_weights_fact(reading, inputs),)
    new = new_percent_of(reading)
    if new is None:
        return Verdict(f"traffic weights not read back: {reading.detail or 'no weights'}", facts)
    if _both_raw_zero(reading):
        return Verdict("both weights are 0: set them to a planned step by hand", facts)
    if TrafficValues.from_reading(reading).step_index is None:
        return Verdict(
            f"new {percent_number(new)} % is not a planned step ({_steps_text(reading)}): "
            "put the weights on a planned step by hand, or roll back",
            facts,
        )
    return Verdict(None, facts)


def weights_known_on_plan(inputs: GuardInputs) -> GuardResult:
    """The weights were read back and sit on a planned step, so a step up or down is defined."""
    verdict = _judge_one(inputs, TRAFFIC_SIGNAL, _traffic_missing(inputs), _on_plan_of)
    return _result("weights-known-on-plan", "Weights known and on a planned step", verdict)


def _neighbour_verdict(
    reading: Reading, inputs: GuardInputs, step: int | None, label: str, at_end: str
) -> Verdict:
    new = new_percent_of(reading)
    text = "none" if step is None else f"{percent_number(step)} %"
    facts = (_weights_fact(reading, inputs), reading_fact(label, text, reading, inputs.now))
    if new is None:
        return Verdict(f"{label} not known: traffic weights not read back", facts)
    if step is None:
        return Verdict(f"{at_end} (new {percent_number(new)} %)", facts)
    return Verdict(None, facts)


def _next_step_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    at_end = "already at the last step: nothing to shift up"
    step = TrafficValues.from_reading(reading).next_step_percent
    return _neighbour_verdict(reading, inputs, step, "next step", at_end)


def _previous_step_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    at_end = "already at the first step: nothing to shift back"
    step = TrafficValues.from_reading(reading).previous_step_percent
    return _neighbour_verdict(reading, inputs, step, "previous step", at_end)


def next_step_exists(inputs: GuardInputs) -> GuardResult:
    """The step plan has a step above the current split."""
    verdict = _judge_one(inputs, TRAFFIC_SIGNAL, _traffic_missing(inputs), _next_step_of)
    return _result("next-step-exists", "A next step exists", verdict)


def previous_step_exists(inputs: GuardInputs) -> GuardResult:
    """The step plan has a step below the current split."""
    verdict = _judge_one(inputs, TRAFFIC_SIGNAL, _traffic_missing(inputs), _previous_step_of)
    return _result("previous-step-exists", "A previous step exists", verdict)


def _held_verdict(new: float, inputs: GuardInputs, facts: tuple[GuardFact, ...]) -> Verdict:
    minimum = inputs.config.guards.weight_min_dwell_seconds
    since = inputs.session.weights_since
    split = split_text(new)
    if since is None:
        return Verdict(
            f"cannot tell how long {split} has been held: override with a reason if you know "
            f"it has held for {age_text(minimum)}",
            (*facts, GuardFact("held for", "not known")),
        )
    held = (inputs.now - since).total_seconds()
    facts = (*facts, GuardFact("held for", f"{age_text(held)} (minimum {age_text(minimum)})"))
    if held < minimum:
        return Verdict(
            f"new {percent_number(new)} % held for {age_text(held)} of the {age_text(minimum)} "
            f"minimum: wait {age_text(minimum - held)} more",
            facts,
        )
    return Verdict(None, facts)


def _dwell_of(reading: Reading, inputs: GuardInputs) -> Verdict:
    facts = (_weights_fact(reading, inputs),)
    new = new_percent_of(reading)
    if new is None:
        return Verdict("cannot tell which split is held: traffic weights not read back", facts)
    if new <= PERCENT_TOLERANCE:
        return Verdict(None, (*facts, GuardFact("held for", "no step taken yet")))
    if inputs.config.guards.weight_min_dwell_seconds <= 0:
        return Verdict(None, (*facts, GuardFact("held for", "no minimum dwell configured")))
    return _held_verdict(new, inputs, facts)


def step_dwell_elapsed(inputs: GuardInputs) -> GuardResult:
    """The current split has been held for guards.weight_min_dwell_seconds (none needed at 0 %)."""
    minimum = inputs.config.guards.weight_min_dwell_seconds
    verdict = _judge_one(inputs, TRAFFIC_SIGNAL, _traffic_missing(inputs), _dwell_of)
    return _result("step-dwell-elapsed", f"Current step held {age_text(minimum)}", verdict)


# --- per action --------------------------------------------------------------------------------


def run_guard(guard: Guard, inputs: GuardInputs) -> GuardResult:
    """The guard's result; a guard that crashes blocks (fail closed) instead of passing."""
    try:
        return guard(inputs)
    except Exception as error:
        name = guard.__name__.replace("_", "-")
        reason = f"guard {name} failed ({type(error).__name__}: {error}): this is a bug; report it"
        return GuardResult(name, name.replace("-", " ").capitalize(), reason)
