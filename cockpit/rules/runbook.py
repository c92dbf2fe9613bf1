"""The cutover checklist: which runbook steps the live signals prove done, still to do, or unknown.

A step is DONE only when fresh, known readings prove it; a reading that is missing, stale or
UNKNOWN at `now` makes its step UNKNOWN, never DONE. Two steps are passed once the replica is
promoted (a one-way door): "Maintenance on" and "Replication caught up".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING

from cockpit.live.state import State
from cockpit.model import Reading, SignalKind, Status
from cockpit.rules.guards import new_percent_of, unusable_reason
from cockpit.sources import dns_values, errors_values
from cockpit.sources.maintenance_values import SIGNAL_ID as MAINTENANCE_SIGNAL
from cockpit.sources.maintenance_values import MaintenanceValues
from cockpit.sources.replication_values import SIGNAL_ID as REPLICATION_SIGNAL
from cockpit.sources.replication_values import ReplicationValues
from cockpit.sources.targets_values import TargetsValues, new_side_target_ids
from cockpit.sources.traffic_values import SIGNAL_ID as TRAFFIC_SIGNAL
from cockpit.units import age_text, percent_number, size_text

if TYPE_CHECKING:
    from cockpit.config import Config

FULL_PERCENT = 100.0
PERCENT_TOLERANCE = 1e-6


class StepState(StrEnum):
    """Where a runbook step stands: proven done, proven not done, or not provable now."""

    DONE = "done"
    PENDING = "pending"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class RunbookStep:
    """One checklist step and the signal value that proves it."""

    step_id: str
    title: str
    proven_by: str


@dataclass(frozen=True)
class StepCheck:
    """A step's state at one moment and the value that says so."""

    step: RunbookStep
    state: StepState
    evidence: str


TTL_LOWERED = RunbookStep(
    "ttl-lowered",
    "DNS TTL lowered",
    "every dns:<record> reading has ttl_preflight_ok true "
    "(authoritative TTL at or under dns.max_ttl_seconds)",
)
MAINTENANCE_ON = RunbookStep(
    "maintenance-on",
    "Maintenance on",
    "the maintenance reading's on is true (front door answers the maintenance status); "
    "passed once the replica is promoted",
)
REPLICATION_CAUGHT_UP = RunbookStep(
    "replication-caught-up",
    "Replication caught up",
    "replication replay_lag_bytes is 0 with the replica in recovery, or the replica is promoted",
)
REPLICA_PROMOTED = RunbookStep(
    "replica-promoted",
    "Replica promoted",
    "replication promoted is true (the replica left recovery)",
)
NEW_TARGETS_HEALTHY = RunbookStep(
    "new-targets-healthy",
    "New targets healthy",
    "every new-side targets:<name> reading (side new in the config or the reading) is OK "
    "with healthy == total > 0",
)
TRAFFIC_ON_NEW = RunbookStep(
    "traffic-on-new",
    "Traffic fully on new",
    "the traffic reading's weights give the new side 100 %",
)
DNS_CONVERGED = RunbookStep(
    "dns-converged",
    "DNS converged",
    "every dns:<record> reading has converged_fraction 1 and authoritative_matches new",
)
NEW_ERRORS_OK = RunbookStep(
    "new-errors-ok",
    "New side error rate OK",
    "every errors:<backend>:new reading is OK with a measured 5xx ratio",
)

RUNBOOK: tuple[RunbookStep, ...] = (
    TTL_LOWERED,
    MAINTENANCE_ON,
    REPLICATION_CAUGHT_UP,
    REPLICA_PROMOTED,
    NEW_TARGETS_HEALTHY,
    TRAFFIC_ON_NEW,
    DNS_CONVERGED,
    NEW_ERRORS_OK,
)

Verdict = tuple[StepState, str]


# --- wording (the core cannot use the widgets' formatting, which needs rich) --------------------


def _name(reading: Reading) -> str:
    """'app.example.com' for 'dns:app.example.com': the part after the family."""
    return reading.signal_id.partition(":")[2] or reading.signal_id


def _withage_text(verdict: Verdict, readings: Sequence[Reading], now: datetime) -> Verdict:
    """The evidence with the age of the oldest reading behind it."""
    state, evidence = verdict
    if state is StepState.UNKNOWN or not readings:
        return verdict
    oldest = max(reading.age_seconds(now) for reading in readings)
    return state, f"{evidence} ({age_text(oldest)} ago)"


# --- which readings a step rests on ------------------------------------------------------------


def _unusable(readings: Sequence[Reading], now: datetime) -> str | None:
    """Why these readings prove nothing at `now` (one is stale or unknown), or None.

    The same words as the guards use, so a step and its guard never disagree on why.
    """
    reasons = (unusable_reason(reading, now) for reading in readings)
    return next((reason for reason in reasons if reason is not None), None)


def _of_kind(state: State, kind: SignalKind) -> tuple[Reading, ...]:
    return tuple(sorted((r for r in state.readings() if r.kind is kind), key=_signal_id))


def _signal_id(reading: Reading) -> str:
    return reading.signal_id


def _new_side_errors(state: State) -> tuple[Reading, ...]:
    readings = _of_kind(state, SignalKind.ERRORS)
    return tuple(r for r in readings if errors_values.is_new_side(r.signal_id))


def _fresh(state: State, signal_id: str, now: datetime) -> Reading | None:
    """The signal's latest reading when it is neither stale nor unknown at `now`."""
    reading = state.latest(signal_id)
    if reading is None or _unusable((reading,), now):
        return None
    return reading


def _each(
    readings: Sequence[Reading],
    now: datetime,
    missing: str,
    judge: Callable[[Reading], Verdict],
    done: Callable[[Sequence[Reading]], str],
) -> Verdict:
    """DONE when every reading is judged done; else the first not-done reading's verdict."""
    if not readings:
        return StepState.UNKNOWN, missing
    reason = _unusable(readings, now)
    if reason:
        return StepState.UNKNOWN, reason
    verdicts = [judge(reading) for reading in readings]
    for wanted in (StepState.UNKNOWN, StepState.PENDING):
        for state, evidence in verdicts:
            if state is wanted:
                return _withage_text((state, evidence), readings, now)
    return _withage_text((StepState.DONE, done(readings)), readings, now)


def _only(
    state: State,
    signal_id: str,
    now: datetime,
    judge: Callable[[Reading], Verdict],
) -> Verdict:
    """The verdict on one signal's latest reading; UNKNOWN when it is missing, stale or unknown."""
    reading = state.latest(signal_id)
    if reading is None:
        return StepState.UNKNOWN, f"no {signal_id} reading"
    reason = _unusable((reading,), now)
    if reason:
        return StepState.UNKNOWN, reason
    return _withage_text(judge(reading), (reading,), now)


# --- one proof per step ------------------------------------------------------------------------


def _ttl_of(reading: Reading) -> Verdict:
    values = dns_values.from_reading(reading)
    ttl = values.authoritative_ttl_seconds
    ttl_text = "not known" if ttl is None else f"{ttl:.0f} s"
    preflight_ok = values.ttl_preflight_ok
    if preflight_ok is True:
        return StepState.DONE, f"authoritative TTL {ttl_text} (preflight ok)"
    if preflight_ok is False:
        return StepState.PENDING, f"{_name(reading)}: authoritative TTL {ttl_text}, over the limit"
    return StepState.UNKNOWN, f"{_name(reading)}: authoritative TTL not known"


def _ttls_done(readings: Sequence[Reading]) -> str:
    decoded = (dns_values.from_reading(reading) for reading in readings)
    ttls = [t for t in (values.authoritative_ttl_seconds for values in decoded) if t is not None]
    highest = f"{max(ttls):.0f} s" if ttls else "not known"
    if len(readings) == 1:
        return f"authoritative TTL {highest} (preflight ok)"
    return f"{len(readings)} records, authoritative TTL at most {highest} (preflight ok)"


def _ttl_lowered(state: State, now: datetime) -> Verdict:
    readings = _of_kind(state, SignalKind.DNS)
    return _each(readings, now, "no DNS reading", _ttl_of, _ttls_done)


def _promoted_reading(state: State, now: datetime) -> Reading | None:
    """The fresh replication reading when it says the replica is promoted."""
    reading = _fresh(state, REPLICATION_SIGNAL, now)
    promoted = reading is not None and ReplicationValues.from_reading(reading).promoted is True
    return reading if promoted else None


def _maintenance_of(reading: Reading) -> Verdict:
    on = MaintenanceValues.from_reading(reading).on
    if on is True:
        return StepState.DONE, reading.detail
    if on is False:
        return StepState.PENDING, reading.detail
    return StepState.UNKNOWN, f"maintenance not known: {reading.detail or 'no reason given'}"


def _maintenance_on(state: State, now: datetime) -> Verdict:
    promoted = _promoted_reading(state, now)
    if promoted:
        return _withage_text((StepState.DONE, "passed: replica promoted"), (promoted,), now)
    return _only(state, MAINTENANCE_SIGNAL, now, _maintenance_of)


def _latency_caught_up(values: ReplicationValues) -> Verdict:
    """DMS: caught up when its CDC latency (seconds only) is 0."""
    latency = values.replay_lag_seconds
    if latency is None:
        return StepState.UNKNOWN, "CDC latency not known"
    if latency == 0:
        return StepState.DONE, "CDC latency 0 s"
    return StepState.PENDING, f"CDC latency {age_text(latency)}"


def _caught_up_of(reading: Reading) -> Verdict:
    values = ReplicationValues.from_reading(reading)
    if values.promoted is True:
        return StepState.DONE, "passed: replica promoted"
    if values.engine == "dms":
        return _latency_caught_up(values)
    lag_bytes = values.replay_lag_bytes
    if lag_bytes is None:
        return StepState.UNKNOWN, "byte lag not reported"
    if values.in_recovery is not True:
        return StepState.UNKNOWN, "replica recovery state not known"
    if lag_bytes == 0:
        return StepState.DONE, "byte lag 0 B"
    eta = values.catchup_eta_seconds
    eta_text = "" if eta is None else f", ETA {age_text(eta)}"
    return StepState.PENDING, f"byte lag {size_text(lag_bytes)}{eta_text}"


def _replication_caught_up(state: State, now: datetime) -> Verdict:
    return _only(state, REPLICATION_SIGNAL, now, _caught_up_of)


def _promotion_of(reading: Reading) -> Verdict:
    promoted = ReplicationValues.from_reading(reading).promoted
    if promoted is True:
        return StepState.DONE, "replica left recovery"
    if promoted is False:
        return StepState.PENDING, "replica still in recovery"
    return StepState.UNKNOWN, "promotion state not known"


def _replica_promoted(state: State, now: datetime) -> Verdict:
    return _only(state, REPLICATION_SIGNAL, now, _promotion_of)


def _health_of(reading: Reading) -> Verdict:
    values = TargetsValues.from_reading(reading)
    healthy, total = values.healthy, values.total
    if healthy is None or total is None:
        return StepState.UNKNOWN, f"{_name(reading)}: health not known"
    counts = f"{_name(reading)} {healthy:.0f}/{total:.0f} healthy"
    if reading.status is Status.OK and total > 0 and healthy == total:
        return StepState.DONE, counts
    return StepState.PENDING, f"{_name(reading)}: {reading.detail}" if reading.detail else counts


def _all_healthy(readings: Sequence[Reading]) -> str:
    return ", ".join(_health_of(reading)[1] for reading in readings)


def _new_targets_healthy(state: State, now: datetime, config: Config | None = None) -> Verdict:
    """Every new-side target healthy; the new side is picked as the guards pick it."""
    signal_ids = new_side_target_ids(config, state.readings())
    latest = [(signal_id, state.latest(signal_id)) for signal_id in signal_ids]
    missing = [signal_id for signal_id, reading in latest if reading is None]
    if missing:
        return StepState.UNKNOWN, f"no {missing[0]} reading"
    readings = [reading for _, reading in latest if reading is not None]
    return _each(readings, now, "no new-side target reading", _health_of, _all_healthy)


def _traffic_of(reading: Reading) -> Verdict:
    new = new_percent_of(reading)
    if new is None:
        return StepState.UNKNOWN, "weights not read back"
    split = f"old {percent_number(FULL_PERCENT - new)} % / new {percent_number(new)} %"
    if new >= FULL_PERCENT - PERCENT_TOLERANCE:
        return StepState.DONE, split
    return StepState.PENDING, split


def _traffic_on_new(state: State, now: datetime) -> Verdict:
    return _only(state, TRAFFIC_SIGNAL, now, _traffic_of)


def _convergence_of(reading: Reading) -> Verdict:
    values = dns_values.from_reading(reading)
    fraction, authoritative = values.converged_fraction, values.authoritative_matches
    if fraction is None:
        return StepState.UNKNOWN, f"{_name(reading)}: no resolver answered"
    if authoritative is None or authoritative == "error":
        return StepState.UNKNOWN, f"{_name(reading)}: authoritative answer not known"
    converged = percent_number(fraction * 100)
    said = f"{_name(reading)} {converged} % converged, authoritative {authoritative}"
    if fraction == 1 and authoritative == "new":
        return StepState.DONE, said
    return StepState.PENDING, said


def _all_converged(readings: Sequence[Reading]) -> str:
    if len(readings) == 1:
        return _convergence_of(readings[0])[1]
    return f"{len(readings)} records 100 % converged, authoritative new"


def _dns_converged(state: State, now: datetime) -> Verdict:
    readings = _of_kind(state, SignalKind.DNS)
    return _each(readings, now, "no DNS reading", _convergence_of, _all_converged)


def _error_rate_of(reading: Reading) -> Verdict:
    ratio = errors_values.from_reading(reading).error_ratio
    if ratio is None:
        return StepState.UNKNOWN, f"{_name(reading)}: no data"
    if reading.status is Status.OK:
        return StepState.DONE, f"{_name(reading)} {percent_number(ratio * 100)} % 5xx"
    return StepState.PENDING, f"{_name(reading)} {reading.status.value.upper()}: {reading.detail}"


def _all_error_rates(readings: Sequence[Reading]) -> str:
    return ", ".join(_error_rate_of(reading)[1] for reading in readings)


def _new_errors_ok(state: State, now: datetime) -> Verdict:
    readings = _new_side_errors(state)
    return _each(readings, now, "no new-side error-rate reading", _error_rate_of, _all_error_rates)


Proof = Callable[[State, datetime], Verdict]
_PROOFS: Mapping[str, Proof] = MappingProxyType(
    {
        TTL_LOWERED.step_id: _ttl_lowered,
        MAINTENANCE_ON.step_id: _maintenance_on,
        REPLICATION_CAUGHT_UP.step_id: _replication_caught_up,
        REPLICA_PROMOTED.step_id: _replica_promoted,
        NEW_TARGETS_HEALTHY.step_id: _new_targets_healthy,
        TRAFFIC_ON_NEW.step_id: _traffic_on_new,
        DNS_CONVERGED.step_id: _dns_converged,
        NEW_ERRORS_OK.step_id: _new_errors_ok,
    }
)


def evaluate_runbook(
    state: State, now: datetime, config: Config | None = None
) -> tuple[StepCheck, ...]:
    """Every runbook step, in order, with its state at `now` and the evidence for it.

    With the config, the new side's targets are those the guards check (without it, those whose
    readings say side new), so a step cannot tick while its guard blocks.
    """
    proofs: Mapping[str, Proof] = {
        **_PROOFS,
        NEW_TARGETS_HEALTHY.step_id: partial(_new_targets_healthy, config=config),
    }
    checks = []
    for step in RUNBOOK:
        step_state, evidence = proofs[step.step_id](state, now)
        checks.append(StepCheck(step, step_state, evidence))
    return tuple(checks)


def current_step_index(checks: Sequence[StepCheck]) -> int | None:
    """The index of the first step not DONE (the one to work on); None when all are done."""
    return next((i for i, check in enumerate(checks) if check.state is not StepState.DONE), None)


# --- the phase phrase for the header -----------------------------------------------------------


def _states(checks: Sequence[StepCheck]) -> dict[str, StepState]:
    return {check.step.step_id: check.state for check in checks}


def _before_promotion(states: Mapping[str, StepState]) -> str:
    caught_up = states.get(REPLICATION_CAUGHT_UP.step_id) is StepState.DONE
    maintenance = states.get(MAINTENANCE_ON.step_id, StepState.UNKNOWN)
    if maintenance is StepState.DONE:
        return (
            "maintenance on: ready to promote" if caught_up else "maintenance on: waiting for lag 0"
        )
    if maintenance is StepState.PENDING:
        return "before the window"
    return "before promotion: caught up" if caught_up else "before promotion"


def _after_promotion(states: Mapping[str, StepState], new_percent: float | None) -> str:
    if new_percent is None:
        return "promoted: traffic unknown"
    if new_percent <= PERCENT_TOLERANCE:
        return "promoted"
    if new_percent < FULL_PERCENT - PERCENT_TOLERANCE:
        return f"shifting traffic: new {percent_number(new_percent)} %"
    dns = states.get(DNS_CONVERGED.step_id, StepState.UNKNOWN)
    if dns is StepState.DONE:
        return "done: all on new"
    return "all on new: DNS converging" if dns is StepState.PENDING else "all on new: DNS unknown"


def current_phase(checks: Sequence[StepCheck], state: State, now: datetime) -> str:
    """A short phrase for the header: where the cutover stands, 'unknown' when it cannot be said."""
    states = _states(checks)
    promoted = states.get(REPLICA_PROMOTED.step_id, StepState.UNKNOWN)
    if promoted is StepState.UNKNOWN:
        return "unknown"
    traffic = _fresh(state, TRAFFIC_SIGNAL, now)
    new_percent = None if traffic is None else new_percent_of(traffic)
    if promoted is StepState.DONE:
        return _after_promotion(states, new_percent)
    if new_percent is not None and new_percent > PERCENT_TOLERANCE:
        return f"new {percent_number(new_percent)} % before promotion"
    return _before_promotion(states)
