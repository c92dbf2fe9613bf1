"""The go/no-go overview: every signal family at a glance, then the next step and whether to go.

For a step an action moves forward (maintenance on, promote, weight up) GO or NO-GO is exactly
that action's guards as the session judged them; any other step waits for its evidence.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from cockpit.actions.registry import ACTIONS
from cockpit.live.state import State
from cockpit.model import Reading, SignalKind, Status, worst
from cockpit.rules.runbook import StepCheck, current_step_index
from cockpit.session.action_rows import ActionRow
from cockpit.sources import dns_values, dns_world_values, errors_values
from cockpit.sources.integrity_values import verdict_of
from cockpit.sources.maintenance_values import MaintenanceValues
from cockpit.sources.replication_values import ReplicationValues
from cockpit.sources.targets_values import TargetsValues, new_side_target_ids
from cockpit.sources.traffic_values import TrafficValues
from cockpit.units import fine_duration_text, percent_number, ratio_percent_text, size_text

if TYPE_CHECKING:
    from cockpit.config import Config

FAMILY_NAMES: Mapping[SignalKind, str] = MappingProxyType(
    {
        SignalKind.REPLICATION: "replication",
        SignalKind.TARGETS: "targets",
        SignalKind.DNS: "DNS",
        SignalKind.WORLD_DNS: "world DNS",
        SignalKind.ERRORS: "errors",
        SignalKind.TRAFFIC: "traffic",
        SignalKind.MAINTENANCE: "maintenance",
        SignalKind.INTEGRITY: "integrity",
    }
)
"""Each family's name on its overview line, in the order the lines are shown."""
NO_ACTIONS = "READ-ONLY session: no action can run"
WAITING = "no reading yet"
STEPS_WITH_ACTIONS = frozenset(spec.advances.step_id for spec in ACTIONS if spec.advances)
"""The runbook steps some action moves forward; the others are waited for."""


class Go(StrEnum):
    """The verdict on the next step."""

    GO = "GO"
    NO_GO = "NO-GO"
    WAIT = "WAIT"
    RUNNING = "RUNNING"
    UNJUDGED = "NOT JUDGED"
    DONE = "DONE"


@dataclass(frozen=True)
class FamilyLine:
    """One signal family: its worst status (None before any reading), key number and age."""

    kind: SignalKind
    name: str
    status: Status | None
    key_number: str
    age_seconds: float | None


@dataclass(frozen=True)
class NextStep:
    """The first runbook step not done, the verdict on it, and every reason behind the verdict.

    number: its place in the runbook, from 1 (None when every step is done);
    key_label and action_title: the action that moves it forward ('' when none does).
    """

    number: int | None
    title: str
    verdict: Go
    reasons: tuple[str, ...] = ()
    key_label: str = ""
    action_title: str = ""


STARTING = NextStep(None, "", Go.UNJUDGED, ("no runbook step judged yet",))


@dataclass(frozen=True)
class Overview:
    """The go/no-go at one moment: one line per configured family, then the next step."""

    families: tuple[FamilyLine, ...] = ()
    next_step: NextStep = STARTING


def overview(
    state: State,
    now: datetime,
    *,
    checks: Sequence[StepCheck],
    actions: Sequence[ActionRow],
    configured_kinds: frozenset[SignalKind],
    config: Config | None = None,
    no_actions_reason: str | None = None,
) -> Overview:
    """The overview of this state at `now`, with the guards the session judged for `actions`."""
    readings = tuple(state.readings())
    families = tuple(
        family_line(kind, [r for r in readings if r.kind is kind], now, config)
        for kind in FAMILY_NAMES
        if kind in configured_kinds
    )
    return Overview(families, next_step(checks, actions, no_actions_reason or NO_ACTIONS))


# --- the families ------------------------------------------------------------------------------


def family_line(
    kind: SignalKind, readings: Sequence[Reading], now: datetime, config: Config | None
) -> FamilyLine:
    """The family's worst status at `now`, its key number and the age of its newest reading."""
    name = FAMILY_NAMES[kind]
    if not readings:
        return FamilyLine(kind, name, None, WAITING, None)
    ordered = sorted(readings, key=lambda reading: reading.signal_id)
    status = worst(reading.status_at(now) for reading in ordered)
    newest = min(reading.age_seconds(now) for reading in ordered)
    return FamilyLine(kind, name, status, _KEY_NUMBERS[kind](ordered, config), newest)


def _replication_number(readings: Sequence[Reading], config: Config | None) -> str:
    """'lag 1.9 MiB / 13.9 s', or 'promoted' once the replica left recovery."""
    values = ReplicationValues.from_reading(readings[0])
    if values.promoted is True:
        return "cut over" if values.engine in ("logical", "dms") else "promoted"
    if values.in_recovery is False:
        return "out of recovery"
    lag_bytes, lag_seconds = values.replay_lag_bytes, values.replay_lag_seconds
    if lag_bytes is None:
        return "lag not known" if lag_seconds is None else f"lag {fine_duration_text(lag_seconds)}"
    seconds = "" if lag_seconds is None else f" / {fine_duration_text(lag_seconds)}"
    return f"lag {size_text(lag_bytes)}{seconds}"


def _health_counts(readings: Sequence[Reading]) -> str:
    """'2/2' healthy of total over the readings; 'not known' when one cannot say."""
    decoded = [TargetsValues.from_reading(reading) for reading in readings]
    healthy = [values.healthy for values in decoded]
    total = [values.total for values in decoded]
    if None in healthy or None in total:
        return "not known"
    return f"{sum(h or 0 for h in healthy)}/{sum(t or 0 for t in total)}"


def _targets_number(readings: Sequence[Reading], config: Config | None) -> str:
    """'new 2/2 healthy, old 2/2': the new side as the guards pick it, then the rest."""
    new_ids = set(new_side_target_ids(config, readings))
    new = [reading for reading in readings if reading.signal_id in new_ids]
    old = [reading for reading in readings if reading.signal_id not in new_ids]
    parts = [f"new {_health_counts(new)} healthy"] if new else ["no new-side target"]
    if old:
        parts.append(f"old {_health_counts(old)}")
    return ", ".join(parts)


def _dns_number(readings: Sequence[Reading], config: Config | None) -> str:
    """'67 % converged': the least converged record's share of resolvers answering new.

    Before the authoritative servers answer new, it says so, so that an OK beside '0 %' reads
    as 'not switched yet' rather than as a stuck switch.
    """
    values = [dns_values.from_reading(reading) for reading in readings]
    known = [(v.converged_fraction, v) for v in values if v.converged_fraction is not None]
    if not known:
        return "no resolver answered"
    fraction, least = min(known, key=lambda pair: pair[0])
    share = ratio_percent_text(fraction)
    of = f" (lowest of {len(readings)} records)" if len(readings) > 1 else ""
    if least.authoritative_matches in (None, "new"):
        return f"{share} converged{of}"
    where = "weighted split" if least.split else f"authoritative {least.authoritative_matches}"
    return f"{share} on new, {where}{of}"


def _world_dns_number(readings: Sequence[Reading], config: Config | None) -> str:
    """'50 % of probes on new': the record the world sees least on new, by any service."""
    values = [dns_world_values.from_reading(reading) for reading in readings]
    known = [v.new_fraction for v in values if v.new_fraction is not None]
    if not known:
        measured = any(v.has_results for v in values)
        return "no probe answered" if measured else "no measurement yet"
    of = f" (lowest of {len(readings)})" if len(readings) > 1 else ""
    return f"{ratio_percent_text(min(known))} of probes on new{of}"


def _highest_ratio(readings: Sequence[Reading]) -> str:
    ratios = [errors_values.from_reading(reading).error_ratio for reading in readings]
    known = [ratio for ratio in ratios if ratio is not None]
    return ratio_percent_text(max(known)) if known else "no data"


def _errors_number(readings: Sequence[Reading], config: Config | None) -> str:
    """'new 5xx 0.4 %, old 0.1 %': each side's highest 5xx ratio over its backends."""
    new = [reading for reading in readings if errors_values.is_new_side(reading.signal_id)]
    old = [reading for reading in readings if not errors_values.is_new_side(reading.signal_id)]
    first = f"new 5xx {_highest_ratio(new)}" if new else "new side not measured"
    return f"{first}, old {_highest_ratio(old)}" if old else first


def _traffic_number(readings: Sequence[Reading], config: Config | None) -> str:
    """'old 75 / new 25' as read back."""
    weights = TrafficValues.from_reading(readings[0]).weights
    if weights is None or weights.old is None or weights.new is None:
        return "weights not read back"
    return f"old {percent_number(weights.old)} / new {percent_number(weights.new)}"


def _maintenance_number(readings: Sequence[Reading], config: Config | None) -> str:
    """'on', 'off' or 'not known'."""
    on = MaintenanceValues.from_reading(readings[0]).on
    return "not known" if on is None else ("on" if on else "off")


def _integrity_number(readings: Sequence[Reading], config: Config | None) -> str:
    """'2/2 OK', or how many differ (or differ while writes flow), or how many are OK so far."""
    words = [verdict_of(reading) for reading in readings]
    for word in ("DIFFERENT", "MOVING"):
        if word in words:
            return f"{words.count(word)}/{len(words)} {word}"
    ok = words.count("OK")
    return f"{ok}/{len(words)} OK" if ok == len(words) else f"{ok}/{len(words)} checked OK"


KeyNumber = Callable[[Sequence[Reading], "Config | None"], str]
_KEY_NUMBERS: Mapping[SignalKind, KeyNumber] = MappingProxyType(
    {
        SignalKind.REPLICATION: _replication_number,
        SignalKind.TARGETS: _targets_number,
        SignalKind.DNS: _dns_number,
        SignalKind.WORLD_DNS: _world_dns_number,
        SignalKind.ERRORS: _errors_number,
        SignalKind.TRAFFIC: _traffic_number,
        SignalKind.MAINTENANCE: _maintenance_number,
        SignalKind.INTEGRITY: _integrity_number,
    }
)


# --- the next step ----------------------------------------------------------------------------


def next_step(
    checks: Sequence[StepCheck], actions: Sequence[ActionRow], no_actions_reason: str
) -> NextStep:
    """The first step not done: GO or NO-GO by the guards of its action, or WAIT for evidence."""
    if not checks:
        return STARTING
    index = current_step_index(checks)
    if index is None:
        return NextStep(None, f"all {len(checks)} steps done", Go.DONE)
    check = checks[index]
    step_id = check.step.step_id
    if step_id not in STEPS_WITH_ACTIONS:
        return NextStep(index + 1, check.step.title, Go.WAIT, (check.evidence,))
    row = next((row for row in actions if row.advances == step_id), None)
    if row is None:
        return NextStep(index + 1, check.step.title, Go.UNJUDGED, (no_actions_reason,))
    return _judged(index + 1, check.step.title, row)


def _judged(number: int, title: str, row: ActionRow) -> NextStep:
    """GO when none of the action's guards blocks, NO-GO with every blocking reason (once each)."""
    reasons = tuple(dict.fromkeys(str(guard.reason) for guard in row.blocked))
    if row.running:
        verdict, reasons = Go.RUNNING, (f"{row.title} is running",)
    else:
        verdict = Go.NO_GO if reasons else Go.GO
    return NextStep(number, title, verdict, reasons, row.key_label, row.title)
