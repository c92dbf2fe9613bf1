"""What this cutover has changed, folded from its journal: baseline, undo stack, loose ends.

The journal is the single source of truth, so a cockpit restarted after a dropped SSH session,
or a `cockpit act` run between two others, knows exactly what rollback has to undo, and which
action a dead process left between `started` and its end.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from cockpit.actions.context import UNDONE
from cockpit.actions.model import ActionId, Inverse
from cockpit.actions.registry import BY_ID
from cockpit.actions.resources import MAINTENANCE_RESOURCE, REPLICA_RESOURCE, WEIGHTS_RESOURCE
from cockpit.actions.rollback import resource_of, restore_targets
from cockpit.actions.spec import ActionSpec
from cockpit.journal.chain import HEADER_KIND, RESUME_KIND, JournalError
from cockpit.journal.reader import read_journal
from cockpit.jsonvalue import JsonValue, json_string
from cockpit.rules.verdicts import SessionFacts

ACTION_KIND = "action"
BASELINE_KIND = "baseline"
PLANNED = "planned"
STARTED = "started"
COMPLETED = "completed"
UNKNOWN_OUTCOME = "unknown"
STARTED_OUTCOMES = frozenset({"succeeded", "failed", "unverified", UNKNOWN_OUTCOME})
DRIFT_KIND = "drift"
CHANGED_OUTCOMES = frozenset({"succeeded"})
TOUCHED_OUTCOMES = frozenset({"failed", "unverified", UNKNOWN_OUTCOME})


def expected_after(
    action_id: ActionId, result: str, target: Mapping[str, JsonValue]
) -> dict[str, JsonValue]:
    """What our own action left each resource it touched as (None: not known)."""
    touched = BY_ID[action_id].touches(target)
    if result in CHANGED_OUTCOMES:
        return touched
    if result in TOUCHED_OUTCOMES:
        return dict.fromkeys(touched)
    return {}


@dataclass(frozen=True)
class UnfinishedRun:
    """An action whose journal has its plan (and maybe `started`) but no end yet.

    started: whether it went past confirmation into changing things; a run that never started
    changed nothing and needs no reconciling.
    """

    action_id: ActionId
    run_id: str
    actor: str
    plan: Mapping[str, JsonValue]
    started: bool = False
    last_phase: str = PLANNED
    pid: int | None = None


@dataclass(frozen=True)
class SessionLog:
    """The cutover's changes so far; a new SessionLog per record, never mutated."""

    baseline: Mapping[str, JsonValue] | None = None
    inverses: tuple[Inverse, ...] = ()
    weights_changed_at: datetime | None = None
    promoted: bool = False
    maintenance_on: bool = False
    runs: Mapping[str, UnfinishedRun] = field(default_factory=dict)
    pid: int | None = None
    last_values: Mapping[str, JsonValue] = field(default_factory=dict)

    def facts(self, weights_seen_since: datetime | None) -> SessionFacts:
        """The guard inputs: weights held since the later of our last change and what we saw."""
        known = [t for t in (self.weights_changed_at, weights_seen_since) if t is not None]
        targets = restore_targets(self.inverses)
        weights, maintenance = targets.get(WEIGHTS_RESOURCE), targets.get(MAINTENANCE_RESOURCE)
        return SessionFacts(
            weights_since=max(known) if known else None,
            promoted_this_session=self.promoted,
            maintenance_on_by_session=self.maintenance_on,
            undoable_changes=sum(1 for inverse in self.inverses if inverse.undoable),
            rollback_weights=weights if isinstance(weights, dict) else None,
            rollback_maintenance_on=maintenance if isinstance(maintenance, bool) else None,
        )

    def expected_values(self) -> dict[str, JsonValue]:
        """What each resource should read now; None where an unfinished run may have changed it."""
        values = dict(self.last_values)
        for run in self.unfinished:
            target = run.plan.get("target")
            touched = BY_ID[run.action_id].touches(target if isinstance(target, dict) else {})
            values.update(dict.fromkeys(touched))
        return values

    @property
    def unfinished(self) -> tuple[UnfinishedRun, ...]:
        """Runs that started changing things and have no end: their outcome is unknown."""
        return tuple(run for run in self.runs.values() if run.started)

    def with_record(self, kind: str, at: datetime, data: Mapping[str, JsonValue]) -> SessionLog:
        """The log after one journal record (records of other kinds change nothing)."""
        if kind in (HEADER_KIND, RESUME_KIND):
            pid = data.get("pid")
            return replace(self, pid=pid if isinstance(pid, int) else None)
        if kind == BASELINE_KIND and self.baseline is None:
            return replace(self, baseline=dict(data))
        if kind == DRIFT_KIND:
            return self._with_values({str(data.get("resource")): data.get("after")})
        if kind != ACTION_KIND:
            return self
        phase = data.get("phase")
        log = self._completed(at, data) if phase == COMPLETED else self
        log = log._tracked(data)
        return log._undone(data) if phase == UNDONE else log

    def _with_values(self, values: Mapping[str, JsonValue]) -> SessionLog:
        return replace(self, last_values={**self.last_values, **values})

    def _tracked(self, data: Mapping[str, JsonValue]) -> SessionLog:
        """Follows each run from its plan to its end, so a run without an end can be found."""
        run_id, phase = str(data.get("run")), data.get("phase")
        plan = data.get("plan")
        if phase == PLANNED and isinstance(plan, dict):
            try:
                action = ActionId(str(data.get("action")))
            except ValueError:
                return self
            run = UnfinishedRun(action, run_id, str(data.get("actor") or ""), plan, pid=self.pid)
            return replace(self, runs={**self.runs, run_id: run})
        known = self.runs.get(run_id)
        if known is None or not isinstance(phase, str):
            return self
        if phase == COMPLETED:
            return replace(self, runs={k: v for k, v in self.runs.items() if k != run_id})
        started = known.started or phase == STARTED
        moved = replace(known, started=started, last_phase=phase)
        return replace(self, runs={**self.runs, run_id: moved})

    def _undone(self, data: Mapping[str, JsonValue]) -> SessionLog:
        """A rollback step: every inverse of the resource it restored is gone from the stack."""
        resource = data.get("resource")
        if not isinstance(resource, str):
            return replace(self, inverses=self.inverses[:-1])
        kept = tuple(inverse for inverse in self.inverses if resource_of(inverse) != resource)
        return replace(self, inverses=kept)

    def _moved(self, spec: ActionSpec, at: datetime, promoted: bool) -> SessionLog:
        """The facts a completed run of `spec` changes: the dwell start, promotion, maintenance."""
        log = self
        if spec.moves_weights:
            log = replace(log, weights_changed_at=at)
        if spec.resource == REPLICA_RESOURCE and promoted:
            log = replace(log, promoted=True)
        if spec.resource == MAINTENANCE_RESOURCE:
            on = spec.touches({}).get(MAINTENANCE_RESOURCE) is True
            log = replace(log, maintenance_on=on)
        return log

    def _completed(self, at: datetime, data: Mapping[str, JsonValue]) -> SessionLog:
        outcome = json_string(data.get("outcome"))
        if outcome not in STARTED_OUTCOMES:
            return self
        try:
            action = ActionId(str(data.get("action")))
        except ValueError:
            return self
        log = self._moved(BY_ID[action], at, outcome == "succeeded" or data.get("promoted") is True)
        inverse = _inverse(data.get("inverse"))
        if inverse is not None:
            log = replace(log, inverses=(*log.inverses, inverse))
        run = self.runs.get(str(data.get("run")))
        plan_target = run.plan.get("target") if run is not None else None
        target = plan_target if isinstance(plan_target, dict) else {}
        return log._with_values(expected_after(action, str(outcome), target))


def _inverse(value: JsonValue) -> Inverse | None:
    """A journaled inverse; None when the record holds none, or one for no known action."""
    if not isinstance(value, dict):
        return None
    try:
        return Inverse.from_json(value)
    except (KeyError, ValueError):
        return None


def fold_records(records: Iterable[tuple[str, datetime, Mapping[str, JsonValue]]]) -> SessionLog:
    """The session log after every (kind, time, data) record, oldest first."""
    log = SessionLog()
    for kind, at, data in records:
        log = log.with_record(kind, at, data)
    return log


def session_log_of(path: Path) -> SessionLog:
    """The session log of a journal file; empty when it cannot be read (it is then new)."""
    try:
        records, _ = read_journal(path)
    except JournalError:
        return SessionLog()
    return fold_records((record.kind, record.t, record.data) for record in records)
