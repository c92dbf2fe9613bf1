"""What this session has changed, folded from its journal: baseline, undo stack, last steps.

The journal is the single source of truth, so a cockpit restarted after a dropped SSH session,
or a `cockpit act` run between two others, knows exactly what rollback has to undo.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from cockpit.actions.model import ActionId, Inverse, SessionFacts
from cockpit.journal import JournalError, read_journal
from cockpit.jsonvalue import JsonValue

ACTION_KIND = "action"
BASELINE_KIND = "baseline"
COMPLETED = "completed"
UNDONE = "undone"
STARTED_OUTCOMES = frozenset({"succeeded", "failed", "unverified"})
WEIGHT_ACTIONS = frozenset({ActionId.WEIGHT_UP, ActionId.WEIGHT_DOWN, ActionId.ROLLBACK})


@dataclass(frozen=True)
class SessionLog:
    """The session's changes so far; a new SessionLog per record, never mutated."""

    baseline: Mapping[str, JsonValue] | None = None
    inverses: tuple[Inverse, ...] = ()
    weights_changed_at: datetime | None = None
    promoted: bool = False
    maintenance_on: bool = False

    def facts(self, weights_seen_since: datetime | None) -> SessionFacts:
        """The guard inputs: weights held since the later of our last change and what we saw."""
        known = [t for t in (self.weights_changed_at, weights_seen_since) if t is not None]
        return SessionFacts(
            weights_since=max(known) if known else None,
            promoted_this_session=self.promoted,
            maintenance_on_by_session=self.maintenance_on,
            undoable_changes=sum(1 for inverse in self.inverses if inverse.undoable),
        )

    def with_record(self, kind: str, at: datetime, data: Mapping[str, JsonValue]) -> SessionLog:
        """The log after one journal record (records of other kinds change nothing)."""
        if kind == BASELINE_KIND and self.baseline is None:
            return replace(self, baseline=dict(data))
        if kind != ACTION_KIND:
            return self
        if data.get("phase") == UNDONE:
            return replace(self, inverses=self.inverses[:-1])
        if data.get("phase") == COMPLETED:
            return self._completed(at, data)
        return self

    def _completed(self, at: datetime, data: Mapping[str, JsonValue]) -> SessionLog:
        outcome = data.get("outcome")
        if outcome not in STARTED_OUTCOMES:
            return self
        action = ActionId(str(data.get("action")))
        log = self
        if action in WEIGHT_ACTIONS:
            log = replace(log, weights_changed_at=at)
        if action is ActionId.PROMOTE and outcome == "succeeded":
            log = replace(log, promoted=True)
        if action in (ActionId.MAINTENANCE_ON, ActionId.MAINTENANCE_OFF):
            log = replace(log, maintenance_on=action is ActionId.MAINTENANCE_ON)
        inverse = data.get("inverse")
        if isinstance(inverse, dict):
            log = replace(log, inverses=(*log.inverses, Inverse.from_json(inverse)))
        return log


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
