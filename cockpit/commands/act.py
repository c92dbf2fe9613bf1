"""`cockpit act ACTION`: the same registry, guards, runner and journal as the screen, headless."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from cockpit.actions.approval import ApprovalCheck
from cockpit.actions.approving import guard_lines, plan_lines
from cockpit.actions.confirmation import OVERRIDE_WORD, Confirmation
from cockpit.actions.model import ActionId
from cockpit.actions.registry import action
from cockpit.actions.runner import ActionRunner, AwaitingApproval, Outcome, Prepared, Refresh
from cockpit.actions.session_log import SessionLog, session_log_of
from cockpit.clock import Clock, system_clock
from cockpit.config import Config, ConfigError, load_config, read_config_text
from cockpit.exit_codes import EXIT_COULD_NOT_RUN, EXIT_NOT_DONE, EXIT_OK
from cockpit.io.backends import build_backends
from cockpit.io.context import SourceContext
from cockpit.io.failures import describe_failure
from cockpit.journal.chain import operator_name
from cockpit.journal.opening import SessionBusy, open_session_journal, resumable_journal
from cockpit.journal.writer import JournalWriter
from cockpit.live.poller import poll_all_once
from cockpit.live.state import State
from cockpit.redact import Redactor, redactor_for_config
from cockpit.session.live import LiveSession, ScreenShot
from cockpit.sources.build import build_sources
from cockpit.visible import visible

APPROVAL_POLL_SECONDS = 1.0

Ask = Callable[[str], str]
Say = Callable[[str], None]
Pause = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class ActRequest:
    """What the command line asked for."""

    action_id: ActionId
    config_path: Path
    dry_run: bool = False
    yes: bool = False
    confirm_name: str | None = None
    override_reason: str | None = None
    journal_dir: Path | None = None
    break_glass_reason: str | None = None


def run_act(
    request: ActRequest,
    environ: Mapping[str, str],
    *,
    ask: Ask = input,
    say: Say = print,
    clock: Clock = system_clock,
    pause: Pause = asyncio.sleep,
) -> int:
    """Runs one action to its end; 0 when it succeeded (or dry-ran), 1 when not, 2 on usage.

    `pause` is how it waits between looks for a second operator's approval.
    """
    try:
        config = load_config(request.config_path)
        config_text = read_config_text(request.config_path)
    except ConfigError as error:
        say(error.report())
        return EXIT_COULD_NOT_RUN
    say = _cleaned(say, redactor_for_config(config, environ))
    mode = "dry-run" if request.dry_run else "live"
    try:
        journal = open_session_journal(
            config,
            config_text=config_text,
            mode=mode,
            environ=environ,
            clock=clock,
            journal_dir=request.journal_dir,
        )
    except SessionBusy as busy:
        say(f"cockpit act: {busy}: run the action there, or quit that cockpit first")
        return EXIT_NOT_DONE
    except OSError as error:
        where = request.journal_dir or config.journal_dir
        say(
            f"cockpit act: cannot open the session journal in {where}: "
            f"{describe_failure(error)}; nothing was done (an action is never run unrecorded)"
        )
        return EXIT_NOT_DONE
    try:
        session = _session_so_far(config, journal, request.journal_dir, clock)
        talk = _Talk(ask, say, pause)
        return asyncio.run(_act(request, config, environ, journal, session, talk, clock))
    except OSError as error:
        say(
            f"cockpit act: stopped: the session journal {journal.path} cannot be written "
            f"({describe_failure(error)}). If the action had started it may have changed "
            "something: run `cockpit check` before acting again."
        )
        return EXIT_NOT_DONE
    finally:
        journal.close()
        say(f"session journal: {journal.path}")
        if journal.anchor_problem is not None:
            say(f"journal anchors not written: {journal.anchor_problem}")


def _cleaned(say: Say, redactor: Redactor) -> Say:
    """`say` with every secret this config names redacted and escapes spelled out, line by line."""

    def say_cleanly(text: str) -> None:
        say(visible(redactor.text(text), multiline=True))

    return say_cleanly


def _session_so_far(
    config: Config, journal: JournalWriter, journal_dir: Path | None, clock: Clock
) -> SessionLog:
    """What this session changed before now: from its own journal, or (dry run) the live one."""
    log = session_log_of(journal.path)
    if log.baseline is not None or log.inverses:
        return log
    earlier = resumable_journal(config, journal_dir or config.journal_dir, clock)
    return session_log_of(earlier) if earlier is not None and earlier != journal.path else log


def _live_session(
    config: Config,
    environ: Mapping[str, str],
    clock: Clock,
    journal: JournalWriter,
    session: SessionLog,
    mode: str,
    say: Say,
) -> LiveSession:
    """The session behind one `act`: a fresh poll of every source on every refresh, journaled.

    One odd reading proves a drift here: `act` polls too seldom to wait for a second.
    """
    context = SourceContext(config, environ, clock)
    sources = build_sources(context)
    backends = build_backends(config, environ, context.aws, mode=mode)

    async def refresh() -> State:
        live.receive(await poll_all_once(sources, clock))
        live.refresh()
        _say_notices(live, say)
        _stop_unrecorded(live)
        return live.state

    def runner(refresh: Refresh) -> ActionRunner:
        return ActionRunner(
            config=config,
            mode=mode,
            backends=backends,
            refresh=refresh,
            journal=journal,
            session=session,
            clock=clock,
        )

    live = LiveSession(
        config=config,
        clock=clock,
        journal=journal,
        redactor=redactor_for_config(config, environ),
        operator=operator_name(environ),
        actions=runner,
        refresh=refresh,
        drift_sightings=1,
    )
    return live


def _say_notices(live: LiveSession, say: Say) -> None:
    for notice in live.take_notices():
        loud = notice.severity != "information"
        say(f"{notice.severity.upper()}: {notice.text}" if loud else notice.text)


def _stop_unrecorded(live: LiveSession) -> None:
    """Raises the journal's write failure: `act` never goes on unrecorded."""
    if live.write_failure is not None:
        raise live.write_failure


@dataclass(frozen=True)
class _Talk:
    """How `act` talks with the operator: asks, says, and waits between looks."""

    ask: Ask
    say: Say
    pause: Pause


class _Transcript:
    """What `act` showed the operator, kept so the journal holds the screen they decided on."""

    def __init__(self, say: Say, ask: Ask) -> None:
        self._say, self._ask = say, ask
        self.lines: list[str] = []

    def say(self, line: str) -> None:
        self.lines.append(line)
        self._say(line)

    def ask(self, prompt: str) -> str:
        answer = self._ask(prompt)
        self.lines.append(f"{prompt}{answer}")
        return answer

    def keep(self, live: LiveSession, action_id: ActionId, run_id: str | None, phase: str) -> None:
        """Journals (fsync'ed) the transcript so far as this action's screen at `phase`."""
        shot = ScreenShot("\n".join(self.lines), "cli")
        live.record_screen(shot, "action", action=action_id.value, run=run_id, phase=phase)
        _stop_unrecorded(live)


async def _act(
    request: ActRequest,
    config: Config,
    environ: Mapping[str, str],
    journal: JournalWriter,
    session: SessionLog,
    talk: _Talk,
    clock: Clock,
) -> int:
    transcript = _Transcript(talk.say, talk.ask)
    say, ask = transcript.say, transcript.ask
    mode = "dry-run" if request.dry_run else "live"
    live = _live_session(config, environ, clock, journal, session, mode, say)
    runner = live.runner
    assert runner is not None
    for loose_end in await live.reconcile():
        _say_outcome(loose_end, say)
    state = await _watch(live, request.action_id, config, say)
    live.journal_what_is_shown()
    prepared = await runner.prepare(
        request.action_id, state, actor=live.actor, override=request.override_reason is not None
    )
    if isinstance(prepared, Outcome):
        _say_signals(state, clock(), say)
        _say_outcome(prepared, say)
        transcript.keep(live, request.action_id, prepared.run_id, "refused")
        return EXIT_NOT_DONE
    _say_signals(state, clock(), say)
    _say_plan(prepared, say, dry_run=request.dry_run)
    transcript.keep(live, request.action_id, prepared.run_id, "planned")
    confirmation = _confirm(prepared, request, ask, say)
    if request.break_glass_reason is not None and not runner.needs_second_person(prepared):
        say(f"--break-glass ignored: {prepared.spec.title} needs no second operator")
    if confirmation is None:
        outcome = runner.cancel(prepared)
    elif runner.needs_second_person(prepared):
        talked = _Talk(ask, say, talk.pause)
        outcome = await _second_person(runner, prepared, confirmation, request, talked)
    else:
        outcome = await runner.run(prepared, confirmation)
    _say_outcome(outcome, say)
    transcript.keep(live, request.action_id, prepared.run_id, "completed")
    return EXIT_OK if outcome.succeeded else EXIT_NOT_DONE


async def _second_person(
    runner: ActionRunner,
    prepared: Prepared,
    confirmation: Confirmation,
    request: ActRequest,
    talk: _Talk,
) -> Outcome:
    """A second operator approves, or the glass is broken; either way the runner decides."""
    if request.break_glass_reason is not None:
        word = _ask(
            talk.ask, f"BREAK GLASS: type {OVERRIDE_WORD} to run without a second operator: "
        )
        glass = replace(
            confirmation, break_glass_word=word, break_glass_reason=request.break_glass_reason
        )
        return await runner.run(prepared, glass)
    waiting = await runner.request_approval(prepared, confirmation)
    if isinstance(waiting, Outcome):
        return waiting
    talk.say(waiting.words(f"cockpit approve -c {request.config_path}"))
    if waiting.unshared is not None:
        return await _break_glass_or_withdraw(runner, waiting, talk, "nobody could be asked")
    talk.say("Ctrl-C withdraws the request (or breaks the glass when nobody else is there)")
    try:
        check = await _wait_for_approval(runner, waiting, talk)
    except (KeyboardInterrupt, asyncio.CancelledError):
        _uncancel()
        withdrawn = "withdrawn with Ctrl-C while waiting for a second operator"
        return await _break_glass_or_withdraw(runner, waiting, talk, withdrawn)
    if check.approval is None:
        why = f"{check.problem}: run `cockpit act` again to ask anew"
        return runner.withdraw(waiting, why, expired=True)
    talk.say(f"approved by {check.approval.approver.words()}: {check.approval.reason}")
    return await runner.run(prepared, waiting.approved(check.approval))


async def _wait_for_approval(
    runner: ActionRunner, waiting: AwaitingApproval, talk: _Talk
) -> ApprovalCheck:
    """Looks at the approvals folder until an approval counts or the request lapses."""
    said = None
    while True:
        check = await runner.check_approval(waiting)
        if check.approval is not None or check.expired:
            return check
        if check.problem is not None and check.problem != said:
            talk.say(f"not counted: {check.problem}")
            said = check.problem
        await talk.pause(APPROVAL_POLL_SECONDS)


async def _break_glass_or_withdraw(
    runner: ActionRunner, waiting: AwaitingApproval, talk: _Talk, withdrawn: str
) -> Outcome:
    """No approval is coming: withdrawn (with `withdrawn` as why), unless the operator breaks
    the glass with OVERRIDE and a reason."""
    try:
        word = talk.ask(
            f"type {OVERRIDE_WORD} to break glass and run without a second operator, "
            "or press enter to withdraw: "
        ).strip()
        if word != OVERRIDE_WORD:
            return runner.withdraw(waiting, withdrawn)
        reason = talk.ask("reason (journaled as BREAK-GLASS): ").strip()
    except (KeyboardInterrupt, EOFError):
        return runner.withdraw(waiting, withdrawn)
    return await runner.run(waiting.prepared, waiting.broken_glass(word, reason))


def _uncancel() -> None:
    """Ctrl-C cancelled the waiting task; the withdrawal that follows must still run."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        task.uncancel()


def _say_signals(state: State, now: datetime, say: Say) -> None:
    """One line per signal, so the operator sees the state the guards judged."""
    say(f"signals at {now:%H:%M:%S}Z:")
    for reading in sorted(state.readings(), key=lambda reading: reading.signal_id):
        status = reading.status_at(now).value.upper()
        say(f"  {status:<8} {reading.signal_id}: {reading.detail}")


async def _watch(live: LiveSession, action_id: ActionId, config: Config, say: Say) -> State:
    """Polls once, and keeps polling through the settle time the action's guards need."""
    state = await live.fresh_state()
    settle = action(action_id).settle_seconds(config)
    if settle <= 0:
        return state
    assert config.replication is not None
    say(f"watching the primary for {settle:g} s to see whether it is quiet…")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settle
    while loop.time() < deadline:
        await asyncio.sleep(config.replication.interval_seconds)
        state = await live.fresh_state()
    return state


def _confirm(prepared: Prepared, request: ActRequest, ask: Ask, say: Say) -> Confirmation | None:
    """The operator's words; --yes answers the y/n, never a typed name or an override.

    The runner decides whether the words are right; this only collects them.
    """
    plan = prepared.plan
    override_word = None
    if prepared.blocked:
        override_word = _ask(ask, f"type {OVERRIDE_WORD} to override the blocked guards: ")
    typed = None
    if plan.confirm_word is not None:
        typed = request.confirm_name
        if typed is None:
            verb = plan.confirm_verb or "confirm"
            typed = _ask(ask, f"ONE-WAY DOOR: type {plan.confirm_word} to {verb}: ")
    elif not request.yes and _ask(ask, "go ahead? [y/N] ").lower() not in ("y", "yes"):
        return None
    return Confirmation(
        typed_word=typed, override_word=override_word, override_reason=request.override_reason
    )


def _ask(ask: Ask, prompt: str) -> str:
    try:
        return ask(prompt).strip()
    except EOFError:
        return ""


def _say_plan(prepared: Prepared, say: Say, *, dry_run: bool) -> None:
    for line in plan_lines(prepared.plan, prepared.guards, dry_run=dry_run):
        say(line)


def _say_outcome(outcome: Outcome, say: Say) -> None:
    say(f"{outcome.action_id.value}: {outcome.result.upper()}: {outcome.message}")
    if outcome.result == "refused":
        for line in guard_lines(outcome.guards):
            say(line)
