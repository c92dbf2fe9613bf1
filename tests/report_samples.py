"""Synthetic session journals for the report tests, written with the real journal writer.

The story: alice watches a quiet start, a replication lag spike, a refused weight step, an
errors signal going stale, an overridden weight step with its screens, an auto-abort, a burst of
flapping, maintenance on and a promotion; then bob's `cockpit act` (a second process, whose run
ids start again at 1) rolls back what can be undone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.clock import FrozenClock
from cockpit.journal.chain import session_header
from cockpit.journal.writer import JournalWriter
from cockpit.jsonvalue import JsonValue
from cockpit.model import Reading, SignalKind, Status, reading_to_json
from cockpit.redact import Redactor

START = datetime(2026, 11, 22, 1, 0, 0, tzinfo=UTC)
END_SECONDS = 3600
ALICE = {"USER": "alice", "SSH_CLIENT": "10.0.0.5 50000 22"}
BOB = {"USER": "bob", "SSH_CONNECTION": "10.0.0.9 50001 10.0.0.1 22"}
LAG_SPIKE_BYTES = 50 * 1024 * 1024
ERRORS_NEW = "errors:access_log:new"
ERRORS_OLD = "errors:access_log:old"
DNS = "dns:app.example.com"
PLANNED_SCREEN = "WEIGHT-UP CONFIRM\nold 100 % / new 0 % -> old 95 % / new 5 %\n[y] confirm"
COMPLETED_SCREEN = "Weight up one step: done\nold 95 % / new 5 %"
OVERRIDE_REASON = "resolver 3 is known slow; TTL already low since Tuesday"
NOTE_ALICE = "starting the weight steps; bob watches the error panel"
NOTE_BOB = "rolled back after the promotion: app team to investigate"
FLAP_CHANGES = 8
REQUEST_ID = "request id REQ-WEIGHT-0001"


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


def guard(
    guard_id: str, title: str, reason: str | None, facts: list[tuple[str, str, str | None, float]]
) -> dict[str, JsonValue]:
    """A guard verdict as the runner journals it."""
    return {
        "guard": guard_id,
        "title": title,
        "passed": reason is None,
        "reason": reason,
        "facts": [
            {"label": label, "value": value, "signal": signal, "age_seconds": age}
            for label, value, signal, age in facts
        ],
    }


ERROR_GUARD_BLOCKED = guard(
    "new-error-ratio",
    "New side 5xx at most 1 %",
    "errors:access_log:new 5xx 3.2 % is over 1 %",
    [("access_log:new 5xx", "3.2 % (16 of 500)", ERRORS_NEW, 1.5)],
)
WEIGHTS_GUARD = guard(
    "weights-known-on-plan",
    "Weights known and on a planned step",
    None,
    [("weights", "old 100 % / new 0 %", "traffic", 0.4)],
)
TTL_GUARD_BLOCKED = guard(
    "dns-ttl-preflight",
    "DNS TTL low in advance",
    "TTL lowered only 10m ago, less than one old TTL",
    [("ttl lowered", "10m ago", DNS, 2.0)],
)


def weights_plan(before: tuple[int, int], after: tuple[int, int], action: str) -> JsonValue:
    where = "Route 53 zone Z1, record app.example.com A"
    before_text = f"old {before[0]} % / new {before[1]} %"
    after_text = f"old {after[0]} % / new {after[1]} %"
    return {
        "action": action,
        "summary": f"Shift {where} from {before_text} to {after_text}",
        "changes": [{"resource": where, "before": before_text, "after": after_text}],
        "calls": ["route53 ChangeResourceRecordSets on zone Z1: one change batch of 2 UPSERTs"],
        "target": {
            "before": {"old": before[0], "new": before[1]},
            "after": {"old": after[0], "new": after[1]},
        },
        "one_way": False,
        "notes": [],
    }


@dataclass
class StoryWriter:
    """Writes records at chosen seconds after START through one journal writer."""

    writer: JournalWriter
    clock: FrozenClock
    actor: str

    def at(self, seconds: float) -> StoryWriter:
        self.clock.now = at(seconds)
        return self

    def append(self, kind: str, data: dict[str, JsonValue]) -> None:
        self.writer.append(kind, data, sync=False)

    def reading(
        self,
        signal: str,
        kind: SignalKind,
        status: Status,
        values: dict[str, JsonValue],
        detail: str = "",
    ) -> None:
        reading = Reading(signal, kind, status, self.clock.now, values, detail, 30.0)
        self.append("reading", reading_to_json(reading))

    def status(self, signal: str, before: str | None, after: str, detail: str) -> None:
        self.append(
            "status", {"signal": signal, "before": before, "after": after, "detail": detail}
        )

    def action(self, action: str, run: str, phase: str, **data: JsonValue) -> None:
        record: dict[str, JsonValue] = {
            "action": action,
            "run": run,
            "phase": phase,
            "actor": self.actor,
            "mode": "live",
        }
        self.append("action", record | data)

    def screen(self, action: str, run: str, phase: str, text: str) -> None:
        self.append(
            "screen",
            {
                "reason": "action",
                "action": action,
                "run": run,
                "phase": phase,
                "source": "cockpit",
                "width": 80,
                "height": 24,
                "text": text,
            },
        )


def write_story(directory: Path) -> Path:
    """The whole two-process story; returns the journal's path."""
    clock = FrozenClock(START)
    path = _first_process(directory, clock)
    _second_process(path, clock)
    return path


def _header(environ: dict[str, str]) -> dict[str, JsonValue]:
    return session_header(
        cutover_name="app.example.com to AWS",
        config_digest="sha256:abc",
        mode="live",
        environ=environ,
        started_at=START,
    )


def _first_process(directory: Path, clock: FrozenClock) -> Path:
    header = _header(ALICE)
    writer = JournalWriter.create(
        directory, header=header, redactor=Redactor(), clock=clock, name_hint="app"
    )
    story = StoryWriter(writer, clock, str(header["operator"]))
    _quiet_start(story)
    _lag_spike(story)
    _refused_step(story)
    _errors_go_stale(story)
    _overridden_step(story)
    _auto_abort(story)
    _flapping(story)
    _maintenance_and_promotion(story)
    story.at(1800)
    writer.close()
    return writer.path


def _quiet_start(story: StoryWriter) -> None:
    story.at(1)
    story.reading("replication", SignalKind.REPLICATION, Status.OK, {"replay_lag_bytes": 0})
    story.status("replication", None, "ok", "caught up")
    for signal in (ERRORS_NEW, ERRORS_OLD):
        story.reading(signal, SignalKind.ERRORS, Status.OK, {"error_ratio": 0.0})
        story.status(signal, None, "ok", "0 % 5xx")
    story.reading(DNS, SignalKind.DNS, Status.OK, {"converged_fraction": 0.0})
    story.reading("traffic", SignalKind.TRAFFIC, Status.OK, {"weights": {"old": 100, "new": 0}})
    story.reading("maintenance", SignalKind.MAINTENANCE, Status.OK, {"on": False})


def _lag_spike(story: StoryWriter) -> None:
    story.at(600).reading(
        "replication", SignalKind.REPLICATION, Status.WARN, {"replay_lag_bytes": LAG_SPIKE_BYTES}
    )
    story.status("replication", "ok", "warn", "50.0 MiB behind")
    story.at(640).reading("replication", SignalKind.REPLICATION, Status.OK, {"replay_lag_bytes": 0})
    story.status("replication", "warn", "ok", "caught up")


def _refused_step(story: StoryWriter) -> None:
    story.at(700).reading(ERRORS_NEW, SignalKind.ERRORS, Status.WARN, {"error_ratio": 0.032})
    story.status(ERRORS_NEW, "ok", "warn", "3.2 % 5xx")
    story.at(710).action("weight-up", "1", "refused", guards=[WEIGHTS_GUARD, ERROR_GUARD_BLOCKED])


def _errors_go_stale(story: StoryWriter) -> None:
    """errors:…:new stops answering at 900 s and is back at 1200 s: a gap, not a zero."""
    story.at(900).append(
        "stale", {"signal": ERRORS_NEW, "stale": True, "observed_at": at(700).isoformat()}
    )
    story.at(1200).reading(ERRORS_NEW, SignalKind.ERRORS, Status.OK, {"error_ratio": 0.0})
    story.append("stale", {"signal": ERRORS_NEW, "stale": False, "observed_at": None})
    story.status(ERRORS_NEW, "warn", "ok", "0 % 5xx")
    story.at(1210).append("note", {"text": NOTE_ALICE, "operator": story.actor})


def _overridden_step(story: StoryWriter) -> None:
    plan = weights_plan((100, 0), (95, 5), "weight-up")
    story.at(1250).action(
        "weight-up", "2", "planned", plan=plan, guards=[WEIGHTS_GUARD, TTL_GUARD_BLOCKED]
    )
    story.screen("weight-up", "2", "planned", PLANNED_SCREEN)
    story.at(1255).action(
        "weight-up", "2", "override", reason=OVERRIDE_REASON, guards=[TTL_GUARD_BLOCKED]
    )
    story.action("weight-up", "2", "confirmed", typed_name=False)
    story.action("weight-up", "2", "rechecked", guards=[WEIGHTS_GUARD])
    story.action("weight-up", "2", "started")
    story.at(1256).action("weight-up", "2", "executed", evidence=[REQUEST_ID])
    story.action(
        "weight-up",
        "2",
        "verified",
        ok=True,
        detail="weights read back old 95 % / new 5 %",
        observed={"old": 95, "new": 5},
    )
    inverse = {
        "action": "weight-down",
        "description": "set weights back to old 100 % / new 0 %",
        "target": {"before": {"old": 95, "new": 5}, "after": {"old": 100, "new": 0}},
        "undoable": True,
    }
    story.at(1257).action(
        "weight-up",
        "2",
        "completed",
        outcome="succeeded",
        message="Weight up one step: done: weights read back old 95 % / new 5 %",
        inverse=inverse,
    )
    story.screen("weight-up", "2", "completed", COMPLETED_SCREEN)
    story.reading("traffic", SignalKind.TRAFFIC, Status.OK, {"weights": {"old": 95, "new": 5}})


def _auto_abort(story: StoryWriter) -> None:
    saved_actor, story.actor = story.actor, "auto-abort"
    plan = weights_plan((95, 5), (100, 0), "weight-down")
    story.at(1300).action(
        "weight-down",
        "3",
        "planned",
        plan=plan,
        guards=[],
        auto_abort={"reason": "new side 5xx 12 % over 1 % for 30 s"},
    )
    story.action("weight-down", "3", "started")
    story.action("weight-down", "3", "executed", evidence=["request id REQ-ABORT-0002"])
    story.action(
        "weight-down",
        "3",
        "verified",
        ok=True,
        detail="weights read back old 100 % / new 0 %",
        observed={"old": 100, "new": 0},
    )
    story.at(1301).action(
        "weight-down",
        "3",
        "completed",
        outcome="succeeded",
        message="Weight down one step: done",
        inverse=None,
    )
    story.reading("traffic", SignalKind.TRAFFIC, Status.OK, {"weights": {"old": 100, "new": 0}})
    story.actor = saved_actor


def _flapping(story: StoryWriter) -> None:
    """FLAP_CHANGES status changes of one signal, 5 s apart: one collapsed line in Markdown."""
    statuses = ["ok", "warn"]
    for index in range(FLAP_CHANGES):
        before, after = statuses[index % 2], statuses[(index + 1) % 2]
        story.at(1400 + 5 * index).status(DNS, before, after, f"flap {index}")


def _maintenance_and_promotion(story: StoryWriter) -> None:
    story.at(1500).action(
        "maintenance-on",
        "4",
        "planned",
        plan={
            "action": "maintenance-on",
            "summary": "Turn maintenance on: ALB rule (fixed 503)",
            "changes": [{"resource": "maintenance", "before": "off", "after": "on"}],
            "calls": ["elbv2 CreateRule"],
            "target": {"on": True},
            "one_way": False,
            "notes": [],
        },
        guards=[],
    )
    story.action(
        "maintenance-on",
        "4",
        "verified",
        ok=True,
        detail="maintenance on",
        observed={"on": True, "probe_status": 503},
    )
    story.at(1502).action(
        "maintenance-on",
        "4",
        "completed",
        outcome="succeeded",
        message="Maintenance on: done",
        inverse={
            "action": "maintenance-off",
            "description": "turn maintenance off",
            "target": {"on": False},
            "undoable": True,
        },
    )
    story.reading("maintenance", SignalKind.MAINTENANCE, Status.OK, {"on": True})
    story.reading(DNS, SignalKind.DNS, Status.OK, {"converged_fraction": 1.0})
    story.at(1600).action(
        "promote",
        "5",
        "planned",
        plan={
            "action": "promote",
            "summary": "Promote replica-db to primary — ONE-WAY DOOR",
            "changes": [{"resource": "replica-db", "before": "read replica", "after": "primary"}],
            "calls": ["SELECT pg_promote()"],
            "target": {"name": "replica-db"},
            "one_way": True,
            "notes": ["cannot be undone"],
        },
        guards=[],
    )
    story.action(
        "promote",
        "5",
        "verified",
        ok=True,
        detail="the replica left recovery",
        observed={"in_recovery": False},
    )
    story.at(1601).action(
        "promote",
        "5",
        "completed",
        outcome="succeeded",
        message="Promote: done",
        inverse={
            "action": "promote",
            "description": "promotion cannot be undone",
            "target": {},
            "undoable": False,
        },
    )


def _second_process(path: Path, clock: FrozenClock) -> None:
    """bob's `cockpit act rollback`: a resumed journal whose run ids start at 1 again."""
    clock.now = at(3000)
    header = _header(BOB)
    writer = JournalWriter.resume(path, data=header, redactor=Redactor(), clock=clock)
    story = StoryWriter(writer, clock, str(header["operator"]))
    story.at(3010).action(
        "rollback",
        "1",
        "planned",
        plan={
            "action": "rollback",
            "summary": "Roll back 2 change(s) of this session, newest first",
            "changes": [],
            "calls": [],
            "target": {},
            "one_way": False,
            "notes": ["NOT UNDONE: promotion cannot be undone"],
        },
        guards=[],
    )
    story.action(
        "rollback",
        "1",
        "undone",
        undone={"description": "turn maintenance off"},
        evidence=["elbv2 DeleteRule (request id REQ-ROLL-1)"],
    )
    story.action(
        "rollback",
        "1",
        "verified",
        ok=True,
        detail="weights and maintenance back",
        observed={"weights": {"old": 100, "new": 0}, "maintenance_on": False},
    )
    story.at(3015).action(
        "rollback", "1", "completed", outcome="succeeded", message="Roll back: done", inverse=None
    )
    story.at(3020).append("note", {"text": NOTE_BOB, "operator": story.actor})
    story.at(END_SECONDS)
    writer.close()
