"""`cockpit check`: one poll of every source, then the verdicts, without a screen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from cockpit.clock import Clock, system_clock
from cockpit.config import Config
from cockpit.exit_codes import EXIT_COULD_NOT_RUN, EXIT_CRITICAL, EXIT_OK, EXIT_WARN
from cockpit.io.context import SourceContext
from cockpit.journal.dns_ttl_history import dns_ttl_seen_for
from cockpit.jsonvalue import JsonValue
from cockpit.live.poller import poll_all_once
from cockpit.live.state import State, apply
from cockpit.model import Reading, Status, reading_to_json, worst
from cockpit.redact import redacted_reading, redactor_for_config
from cockpit.rules.idle_side import settled_idle_sides
from cockpit.sources import traffic_values
from cockpit.sources.background import BackgroundCheck
from cockpit.sources.base import Source
from cockpit.sources.build import aws_services_in_use, build_sources
from cockpit.status_words import STATUS_WORDS
from cockpit.visible import visible_json

if TYPE_CHECKING:
    from cockpit.actions.session_log import SessionLog

EXIT_BY_STATUS = {
    Status.OK: EXIT_OK,
    Status.WARN: EXIT_WARN,
    Status.UNKNOWN: EXIT_WARN,
    Status.STALE: EXIT_WARN,
    Status.CRITICAL: EXIT_CRITICAL,
}


@dataclass(frozen=True)
class CheckResult:
    """What one check saw: every reading, when, and the verdict as an exit code.

    loose_ends: actions of this cutover that a process started and never finished; their
    outcome is unknown until a live cockpit or `cockpit act` reads the state and records it.
    """

    readings: tuple[Reading, ...]
    checked_at: datetime
    guards: tuple[dict[str, JsonValue], ...] = ()
    loose_ends: tuple[str, ...] = ()

    @property
    def worst_status(self) -> Status:
        found = worst(r.status_at(self.checked_at) for r in self.readings)
        return worst((found, Status.UNKNOWN)) if self.loose_ends else found

    @property
    def exit_code(self) -> int:
        return EXIT_BY_STATUS[self.worst_status]


def run_check(
    config: Config, environ: Mapping[str, str], clock: Clock = system_clock
) -> CheckResult:
    """Polls every configured source once, concurrently, each within its own timeout.

    The redactor is built first, so the sources' own outside text is redacted whole too.
    """
    redactor = redactor_for_config(config, environ)
    context = SourceContext(config, environ, clock)
    context.dns_ttl_seen = dns_ttl_seen_for(config, config.journal_dir)
    sources = build_sources(context)
    polled = asyncio.run(poll_with_clients_made(context, sources, clock))
    redacted = [redacted_reading(redactor, reading) for reading in polled]
    traffic = next((r for r in redacted if r.signal_id == traffic_values.SIGNAL_ID), None)
    readings = settled_idle_sides(redacted, traffic)
    checked_at = clock()
    session = live_session_log(config, clock)
    guards = guards_now(config, readings, checked_at, session)
    ordered = tuple(sorted(readings, key=lambda r: r.signal_id))
    return CheckResult(ordered, checked_at, guards, loose_ends_of(session))


async def poll_with_clients_made(
    context: SourceContext, sources: Sequence[Source], clock: Clock
) -> list[Reading]:
    """One poll of every source, after the AWS clients exist (a one-shot has no second poll).

    A source that checks in the background (integrity) is polled again once its check is done,
    so a one-shot reports its result, not "checking".
    """
    if context.config.aws is not None:
        await context.prepare_aws(aws_services_in_use(context.config))
    readings = await poll_all_once(sources, clock)
    checks = [(source, _background(source)) for source in sources]
    waited = [(source, check) for source, check in checks if check is not None]
    if not waited:
        return readings
    await asyncio.gather(*(asyncio.to_thread(check.wait) for _, check in waited))
    again = await poll_all_once([source for source, _ in waited], clock)
    redone = {reading.signal_id for reading in again}
    return [reading for reading in readings if reading.signal_id not in redone] + again


def _background(source: Source) -> BackgroundCheck[Any, Any] | None:
    check = getattr(source, "check", None)
    return check if isinstance(check, BackgroundCheck) else None


def live_session_log(config: Config, clock: Clock) -> SessionLog:
    """What the cutover's live journal knows (empty when there is none to continue)."""
    from cockpit.actions.session_log import SessionLog, session_log_of
    from cockpit.journal.opening import resumable_journal

    journal = resumable_journal(config, config.journal_dir, clock)
    return session_log_of(journal) if journal is not None else SessionLog()


def loose_ends_of(session: SessionLog) -> tuple[str, ...]:
    """One sentence per action that started and never finished."""
    return tuple(
        f"{run.action_id.value} (run {run.run_id}, pid {run.pid}) stopped after "
        f"'{run.last_phase}' without finishing: OUTCOME UNKNOWN; open the cockpit or run "
        "`cockpit act` to read the state and record it"
        for run in session.unfinished
    )


def guards_now(
    config: Config, readings: Sequence[Reading], now: datetime, session: SessionLog
) -> tuple[dict[str, JsonValue], ...]:
    """Every action's guards on this one poll, with what the session journal knows."""
    from cockpit.actions.registry import ACTIONS, KEY_LABELS, evaluate_guards
    from cockpit.actions.runner import weights_held_since
    from cockpit.rules.guards import GuardInputs

    state, _ = apply(State(), readings)
    inputs = GuardInputs(state, config, now, session.facts(weights_held_since(state)), KEY_LABELS)
    return tuple(
        {
            "action": spec.action_id.value,
            "ready": all(result.passed for result in results),
            "guards": [result.to_json() for result in results],
        }
        for spec in ACTIONS
        for results in (evaluate_guards(spec, inputs),)
    )


def check_json(result: CheckResult, config: Config, environ: Mapping[str, str]) -> JsonValue:
    """The --json document scripts rely on; secrets are redacted like everywhere else."""
    redactor = redactor_for_config(config, environ)
    readings: list[JsonValue] = []
    for reading in result.readings:
        data = reading_to_json(reading)
        status = reading.status_at(result.checked_at)
        data["status"], data["word"] = status.value, STATUS_WORDS[status]
        readings.append(data)
    document: JsonValue = {
        "checked_at": result.checked_at.isoformat(),
        "status": result.worst_status.value,
        "word": STATUS_WORDS[result.worst_status],
        "exit_code": result.exit_code,
        "readings": readings,
        "guards": list(result.guards),
        "loose_ends": list(result.loose_ends),
    }
    return visible_json(redactor.scrub(document), multiline=False)


def describe_empty(config: Config) -> str | None:
    """Why a check has nothing to show, when the config names no source at all."""
    sections: Sequence[object] = (
        config.replication,
        config.targets,
        config.dns,
        config.errors,
        config.traffic,
    )
    if any(section is not None for section in sections):
        return None
    return "the config names no source ([replication], [targets], [dns], [errors], [traffic])"


def watch(
    check_once: Callable[[], int],
    every_seconds: float,
    count: int | None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """check_once() every `every_seconds` until ctrl-c or `count` checks; the last one's code
    (3, could not run, if none finished)."""
    code = EXIT_COULD_NOT_RUN
    done = 0
    try:
        while count is None or done < count:
            if done:
                sleep(every_seconds)
            code = check_once()
            done += 1
    except KeyboardInterrupt:
        pass
    return code
