"""Walks an action through its life: guards, plan, confirm, re-check, execute, verify, record.

Headless: the cockpit screen and `cockpit act` drive the same runner, so both see the same
guards, run single-flight and leave the same fsync'ed journal lines.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cockpit.actions import approval
from cockpit.actions.approval import (
    ApprovalCheck,
    ApprovalRequest,
    ApprovalUnavailable,
    Person,
    RequestSpec,
    clock_time,
    current_person,
    new_request,
)
from cockpit.actions.confirmation import (
    Confirmation,
    SecondPerson,
    confirmation_problem,
    needs_second_person,
)
from cockpit.actions.context import StepContext
from cockpit.actions.model import ActionId, Plan, Verification, plan_from_json
from cockpit.actions.registry import KEY_LABELS, action, available_actions, evaluate_guards
from cockpit.actions.session_log import (
    ACTION_KIND,
    BASELINE_KIND,
    COMPLETED,
    UNKNOWN_OUTCOME,
    SessionLog,
    UnfinishedRun,
)
from cockpit.actions.spec import ActionSpec
from cockpit.actions.weights import plan_weights
from cockpit.actions.weights_json import weights_from_json, weights_json
from cockpit.clock import Clock, system_clock
from cockpit.config import Config
from cockpit.io.backends import Backends
from cockpit.io.failures import ActionFailed, describe_failure
from cockpit.io.traffic import split_percent
from cockpit.io.weights import RawWeights
from cockpit.journal.chain import format_timestamp
from cockpit.journal.writer import JournalWriter
from cockpit.jsonvalue import JsonValue
from cockpit.live.state import State
from cockpit.model import SignalKind
from cockpit.rules.guards import (
    Guard,
    GuardInputs,
    demoted_primary_reason_for_weights,
    run_guard,
)
from cockpit.rules.verdicts import GuardResult, blocking
from cockpit.sources import traffic_values
from cockpit.sources.traffic_values import TrafficValues

Refresh = Callable[[], Awaitable[State]]
VERIFY_RETRY_SECONDS = 0.5
AUTO_ABORT_ACTOR = "auto-abort"
RESULT_SIGNAL_KINDS = (SignalKind.TRAFFIC, SignalKind.MAINTENANCE, SignalKind.REPLICATION)
RECONCILED = "reconciled"


@dataclass(frozen=True)
class Outcome:
    """How an attempt ended, in one sentence for the screen, with what it saw."""

    action_id: ActionId
    result: str
    message: str
    run_id: str | None = None
    guards: tuple[GuardResult, ...] = ()
    plan: Plan | None = None

    @property
    def succeeded(self) -> bool:
        return self.result in ("succeeded", "dry-run")


@dataclass(frozen=True)
class Prepared:
    """An action planned and waiting for its confirmation."""

    spec: ActionSpec
    run_id: str
    guards: tuple[GuardResult, ...]
    plan: Plan
    actor: str

    @property
    def blocked(self) -> tuple[GuardResult, ...]:
        return blocking(self.guards)


@dataclass(frozen=True)
class AwaitingApproval:
    """A confirmed action waiting for a second operator to approve its plan.

    unshared: why the request could not be put where `cockpit approve` finds it (None: it is
    there); only a break-glass can run it then.
    """

    prepared: Prepared
    confirmation: Confirmation
    request: ApprovalRequest
    unshared: str | None = None

    def approved(self, given: approval.Approval) -> Confirmation:
        """The operator's words with the second operator's approval."""
        return replace(self.confirmation, approval=given)

    def broken_glass(self, word: str | None, reason: str | None) -> Confirmation:
        """The operator's words with a break-glass instead of an approval."""
        return replace(self.confirmation, break_glass_word=word, break_glass_reason=reason)

    def words(self, command: str = "cockpit approve") -> str:
        """The line the operator reads while the action waits for a second operator."""
        if self.unshared is not None:
            return f"{self.unshared}: break glass to run it without a second operator"
        return (
            f"waiting for a second operator: run `{command}` as another user "
            f"(expires {clock_time(self.request.expires_at)})"
        )


def weights_held_since(state: State) -> datetime | None:
    """When the current split was first seen in the unbroken run of traffic readings held."""
    latest = state.latest(traffic_values.SIGNAL_ID)
    if latest is None or not TrafficValues.from_reading(latest).read_back:
        return None
    return state.held_since(traffic_values.SIGNAL_ID, "raw_weights")


class ActionRunner:
    """One session's actions: single-flight, guarded, journaled, verified."""

    def __init__(
        self,
        *,
        config: Config,
        mode: str,
        backends: Backends,
        refresh: Refresh,
        journal: JournalWriter | None = None,
        session: SessionLog | None = None,
        clock: Clock = system_clock,
        identity: Person | None = None,
    ) -> None:
        self.config = config
        self.mode = mode
        self.session = session or SessionLog()
        self.identity = identity or current_person()
        self._requests: dict[str, ApprovalRequest] = {}
        self._refusals_said: dict[str, str] = {}
        self._backends = backends
        self._refresh = refresh
        self._journal = journal
        self._clock = clock
        self._running: ActionId | None = None
        self._run_ids = itertools.count(1)
        self.actions = available_actions(mode)

    @property
    def running(self) -> ActionId | None:
        """The action in flight, if any."""
        return self._running

    # --- guards -----------------------------------------------------------------------------

    def guard_inputs(self, state: State) -> GuardInputs:
        facts = self.session.facts(weights_held_since(state))
        return GuardInputs(state, self.config, self._clock(), facts, KEY_LABELS)

    def guards(self, action_id: ActionId, state: State) -> tuple[GuardResult, ...]:
        """The action's guards on this state, now: what the screen shows before any key."""
        return evaluate_guards(action(action_id), self.guard_inputs(state))

    def every_action_guards(self, state: State) -> dict[ActionId, tuple[GuardResult, ...]]:
        """Each action's guards on this state, now; a guard several actions share runs once."""
        inputs = self.guard_inputs(state)
        judged: dict[Guard, GuardResult] = {}

        def judge(guard: Guard) -> GuardResult:
            if guard not in judged:
                judged[guard] = run_guard(guard, inputs)
            return judged[guard]

        return {spec.action_id: tuple(map(judge, spec.every_guard)) for spec in self.actions}

    def _spec(self, action_id: ActionId) -> ActionSpec | None:
        return next((spec for spec in self.actions if spec.action_id is action_id), None)

    # --- press -> plan ----------------------------------------------------------------------

    async def prepare(
        self, action_id: ActionId, state: State, *, actor: str, override: bool = False
    ) -> Prepared | Outcome:
        """Guards, then the plan; blocked (without override), busy or unplannable is an Outcome."""
        spec = self._spec(action_id)
        if spec is None:
            return Outcome(
                action_id, "refused", f"{action_id} is not available in {self.mode} mode"
            )
        if self._running is not None:
            return self._busy(action_id)
        guards = self.guards(action_id, state)
        run_id = self._new_run_id()
        if blocking(guards) and not override:
            self._record(spec.action_id, run_id, "refused", actor, {"guards": _guards_json(guards)})
            return Outcome(action_id, "refused", _blocked_message(spec, guards), run_id, guards)
        try:
            plan = await asyncio.to_thread(spec.plan, self._context(run_id, actor))
        except Exception as error:
            reason = _failure_text(error)
            self._record(action_id, run_id, "unplannable", actor, {"error": reason})
            return Outcome(
                action_id, "failed", f"{spec.title}: cannot plan: {reason}", run_id, guards
            )
        self._record(action_id, run_id, "planned", actor, _planned_json(plan, guards))
        return Prepared(spec, run_id, guards, plan, actor)

    def cancel(self, prepared: Prepared, why: str = "cancelled at the confirm screen") -> Outcome:
        self._record(
            prepared.spec.action_id, prepared.run_id, "cancelled", prepared.actor, {"why": why}
        )
        message = f"{prepared.spec.title} cancelled: {why}"
        self._complete(prepared, "cancelled", message, None)
        return Outcome(
            prepared.spec.action_id, "cancelled", message, prepared.run_id, prepared.guards
        )

    # --- confirm -> a second operator -------------------------------------------------------

    def needs_second_person(self, prepared: Prepared) -> bool:
        """Whether this action waits for a second operator's approval before it runs."""
        return needs_second_person(self.config, prepared.spec.action_id)

    async def request_approval(
        self, prepared: Prepared, confirmation: Confirmation
    ) -> AwaitingApproval | Outcome:
        """Confirmed by the operator: the request goes where `cockpit approve` finds it."""
        if self._running is not None:
            return self._busy(prepared.spec.action_id)
        problem = confirmation_problem(prepared.plan, prepared.blocked, confirmation)
        if problem:
            return self.cancel(prepared, problem)
        request = new_request(
            self._request_spec(prepared), prepared.plan, prepared.guards, self._clock()
        )
        self._requests[prepared.run_id] = request
        try:
            await asyncio.to_thread(self._share, request)
        except (ApprovalUnavailable, OSError) as error:
            why = str(error) if isinstance(error, ApprovalUnavailable) else _failure_text(error)
            unshared = f"the request for a second operator could not be written: {why}"
            self._record_phase(prepared, "approval-unavailable", {"why": unshared})
            return AwaitingApproval(prepared, confirmation, request, unshared)
        self._record_phase(prepared, "approval-requested", _request_json(request))
        return AwaitingApproval(prepared, confirmation, request)

    def _request_spec(self, prepared: Prepared) -> RequestSpec:
        section = self.config.approval
        return RequestSpec(
            run_id=prepared.run_id,
            title=prepared.spec.title,
            cutover=self.config.cutover.name,
            requester=self.identity,
            operator=prepared.actor,
            expires_minutes=section.expires_minutes if section is not None else 0.0,
            dry_run=self.mode != "live",
        )

    def _share(self, request: ApprovalRequest) -> None:
        directory = self.config.approvals_dir
        approval.open_folder(
            directory, self.config.approval.group if self.config.approval else None
        )
        approval.write_request(directory, request)

    async def check_approval(self, waiting: AwaitingApproval) -> ApprovalCheck:
        """What the approvals folder says now; an approval that does not count is journaled once."""
        check = await asyncio.to_thread(
            approval.check_approval, self.config.approvals_dir, waiting.request, self._clock()
        )
        run_id = waiting.prepared.run_id
        if check.problem and not check.expired and self._refusals_said.get(run_id) != check.problem:
            self._refusals_said[run_id] = check.problem
            self._record_phase(waiting.prepared, "approval-refused", {"why": check.problem})
        return check

    def withdraw(self, waiting: AwaitingApproval, why: str, *, expired: bool = False) -> Outcome:
        """No approval will come: the request is taken back, journaled, and the press ends."""
        phase = "approval-expired" if expired else "approval-withdrawn"
        self._record_phase(waiting.prepared, phase, {"why": why})
        return self.cancel(waiting.prepared, why)

    # --- confirm -> run ---------------------------------------------------------------------

    async def run(self, prepared: Prepared, confirmation: Confirmation) -> Outcome:
        """Confirmed: re-check guards on fresh data, execute, verify, record the inverse."""
        if self._running is not None:
            return self._busy(prepared.spec.action_id)
        problem = confirmation_problem(
            prepared.plan, prepared.blocked, confirmation, self._second_person(prepared)
        )
        if problem:
            return self.cancel(prepared, problem)
        self._running = prepared.spec.action_id
        try:
            self._record_confirmation(prepared, confirmation)
            return await self._recheck_and_execute(prepared)
        finally:
            self._running = None

    def _second_person(self, prepared: Prepared) -> SecondPerson | None:
        if not self.needs_second_person(prepared):
            return None
        return SecondPerson(self._requests.get(prepared.run_id), self._clock())

    def _record_second_person(self, prepared: Prepared, confirmation: Confirmation) -> None:
        """Who let a two-person action run: the approval with both names, or the break-glass."""
        if not self.needs_second_person(prepared):
            return
        request = self._requests.get(prepared.run_id)
        requester = request.requester if request is not None else self.identity
        if confirmation.breaks_glass:
            data: dict[str, JsonValue] = {
                "reason": confirmation.break_glass_reason,
                "requester": requester.name,
                "requester_uid": requester.uid,
                "requested": request is not None,
            }
            self._record_phase(prepared, "break-glass", data)
            return
        given = confirmation.approval
        assert given is not None and request is not None
        self._record_phase(prepared, "approved", _approved_json(request, given))

    def _record_confirmation(self, prepared: Prepared, confirmation: Confirmation) -> None:
        spec, run_id, actor = prepared.spec, prepared.run_id, prepared.actor
        self._record_second_person(prepared, confirmation)
        if prepared.blocked:
            data = {
                "reason": confirmation.override_reason,
                "guards": _guards_json(prepared.blocked),
            }
            self._record(spec.action_id, run_id, "override", actor, data)
        typed = confirmation.typed_word is not None and prepared.plan.confirm_word is not None
        self._record(spec.action_id, run_id, "confirmed", actor, {"typed_name": typed})

    async def _recheck_and_execute(self, prepared: Prepared) -> Outcome:
        state = await self._refresh()
        fresh = self.guards(prepared.spec.action_id, state)
        overridden = {guard.guard_id for guard in prepared.blocked}
        newly_blocked = [g for g in blocking(fresh) if g.guard_id not in overridden]
        self._record_phase(prepared, "rechecked", {"guards": _guards_json(fresh)})
        if newly_blocked:
            message = f"{prepared.spec.title} aborted: guards changed since the plan: " + "; ".join(
                str(g.reason) for g in newly_blocked
            )
            self._record_phase(prepared, "aborted", {"why": message})
            self._complete(prepared, "aborted", message, None)
            return Outcome(prepared.spec.action_id, "aborted", message, prepared.run_id, fresh)
        if self.mode != "live":
            return self._dry_run(prepared)
        return await self._execute(prepared)

    def _dry_run(self, prepared: Prepared) -> Outcome:
        title = prepared.spec.title
        message = f"{title}: dry run: nothing changed; would have: {prepared.plan.summary}"
        self._complete(prepared, "dry-run", message, None)
        return Outcome(
            prepared.spec.action_id,
            "dry-run",
            message,
            prepared.run_id,
            prepared.guards,
            prepared.plan,
        )

    async def _execute(self, prepared: Prepared) -> Outcome:
        spec = prepared.spec
        await self._capture_baseline()
        self._record_phase(prepared, "started", {})
        context = self._context(prepared.run_id, prepared.actor)
        try:
            execution = await asyncio.to_thread(spec.execute, context, prepared.plan)
        except Exception as error:
            return await self._failed(prepared, context, _failure_text(error))
        self._record_phase(prepared, "executed", execution.to_json())
        verification = await self._verify(spec, context, prepared.plan)
        self._record_phase(prepared, "verified", verification.to_json())
        result = "succeeded" if verification.ok else "unverified"
        inverse = spec.inverse(context, prepared.plan)
        message = (
            f"{spec.title}: {'done' if verification.ok else 'NOT VERIFIED'}: {verification.detail}"
        )
        self._complete(prepared, result, message, inverse.to_json() if inverse else None)
        await self._refresh()
        return Outcome(
            spec.action_id, result, message, prepared.run_id, prepared.guards, prepared.plan
        )

    async def _failed(self, prepared: Prepared, context: StepContext, reason: str) -> Outcome:
        """Journals the error, re-reads what is true now, and keeps the inverse for rollback."""
        spec = prepared.spec
        self._record_phase(prepared, "failed", {"error": reason})
        now_true = await self._what_is_true_now()
        self._record_phase(prepared, "reread", {"now": list(now_true)})
        inverse = spec.inverse(context, prepared.plan)
        message = f"{spec.title} FAILED: {reason}. Now: " + ("; ".join(now_true) or "unknown")
        self._complete(prepared, "failed", message, inverse.to_json() if inverse else None)
        return Outcome(
            spec.action_id, "failed", message, prepared.run_id, prepared.guards, prepared.plan
        )

    async def _what_is_true_now(self) -> tuple[str, ...]:
        state = await self._refresh()
        now = self._clock()
        return tuple(
            f"{r.signal_id} {r.status_at(now).value.upper()}: {r.detail}"
            for r in sorted(state.readings(), key=lambda r: r.signal_id)
            if r.kind in RESULT_SIGNAL_KINDS
        )

    async def _verify(self, spec: ActionSpec, context: StepContext, plan: Plan) -> Verification:
        """Reads back until the change shows or the action's verify time runs out."""
        deadline = time.monotonic() + spec.verify_within_seconds(context.config)
        while True:
            try:
                verification = await asyncio.to_thread(spec.verify, context, plan)
            except Exception as error:
                verification = Verification(False, f"read-back failed: {_failure_text(error)}")
            if verification.ok or time.monotonic() >= deadline:
                return verification
            await asyncio.sleep(VERIFY_RETRY_SECONDS)

    async def _capture_baseline(self) -> None:
        """Before the session's first change: the weights and maintenance state to return to."""
        if self.session.baseline is not None:
            return
        baseline = await asyncio.to_thread(self._read_baseline)
        self._append(BASELINE_KIND, baseline)

    def _read_baseline(self) -> dict[str, JsonValue]:
        baseline: dict[str, JsonValue] = {"weights": None, "maintenance_on": None}
        if self._backends.weights is not None:
            try:
                baseline["weights"] = weights_json(self._backends.weights.read())
            except Exception as error:
                baseline["weights_error"] = _failure_text(error)
        if self._backends.maintenance is not None:
            baseline["maintenance_on"] = self._backends.maintenance.read().on
        return baseline

    # --- loose ends -------------------------------------------------------------------------

    async def reconcile(self, actor: str) -> tuple[Outcome, ...]:
        """Ends every action a dead process left between `started` and its end.

        Its outcome is unknown: what is true now is read and journaled, and the inverse from
        its recorded plan joins the undo stack, so rollback can still restore the baseline.
        """
        if self.mode != "live" or self._running is not None:
            return ()
        outcomes = []
        for run in self.session.unfinished:
            self._running = run.action_id
            try:
                outcomes.append(await self._reconcile_one(run, actor))
            finally:
                self._running = None
        return tuple(outcomes)

    async def _reconcile_one(self, run: UnfinishedRun, actor: str) -> Outcome:
        spec = action(run.action_id)
        plan = plan_from_json(run.plan, run.action_id)
        prepared = Prepared(spec, run.run_id, (), plan, run.actor)
        context = self._context(run.run_id, actor)
        now_true = await self._what_is_true_now()
        promoted = await asyncio.to_thread(self._promoted_now)
        who = f"pid {run.pid}" if run.pid is not None else "its process"
        message = (
            f"{spec.title}: OUTCOME UNKNOWN: {who} stopped after '{run.last_phase}' without "
            "finishing; now: " + ("; ".join(now_true) or "unknown")
        )
        data: dict[str, JsonValue] = {
            "now": list(now_true),
            "stopped_after": run.last_phase,
            "reconciles": True,
        }
        self._record(run.action_id, run.run_id, RECONCILED, actor, data)
        inverse = spec.inverse(context, plan) if run.action_id is not ActionId.ROLLBACK else None
        extra: dict[str, JsonValue] = {"reconciles": True}
        if spec.one_way:
            extra["promoted"] = promoted
        inverse_json = inverse.to_json() if inverse is not None else None
        self._complete(prepared, UNKNOWN_OUTCOME, message, inverse_json, extra)
        return Outcome(run.action_id, UNKNOWN_OUTCOME, message, run.run_id, (), plan)

    def _promoted_now(self) -> bool | None:
        """Whether the replica has left recovery, read from it; None when it cannot be read."""
        reader = self._backends.promotion
        if reader is None:
            return None
        try:
            return not reader.in_recovery()
        except Exception:
            return None

    # --- auto-abort -------------------------------------------------------------------------

    async def shift_back(self, reason: str, facts: Mapping[str, JsonValue]) -> Outcome:
        """Auto-abort: weights back to before the last step, without asking, saying why."""
        action_id = ActionId.WEIGHT_DOWN
        if self._running is not None:
            return self._busy(action_id)
        last = next(
            (i for i in reversed(self.session.inverses) if i.action_id is ActionId.WEIGHT_DOWN),
            None,
        )
        after = last.target.get("after") if last else None
        if not isinstance(after, dict) or (self.mode != "live" and self.mode != "dry-run"):
            return Outcome(
                action_id, "refused", "auto-abort: no weight step of this session to undo"
            )
        run_id = self._new_run_id()
        context = self._context(run_id, AUTO_ABORT_ACTOR)
        try:
            target = weights_from_json(after)
            held = await self._split_brain_hold(target)
            if held is not None:
                self._record(action_id, run_id, "refused", AUTO_ABORT_ACTOR, {"why": held})
                return Outcome(action_id, "refused", held, run_id)
            before = await asyncio.to_thread(self._read_weights)
            plan = plan_weights(context, action_id, before, target)
        except Exception as error:
            message = f"auto-abort could not plan: {_failure_text(error)}"
            self._record(action_id, run_id, "unplannable", AUTO_ABORT_ACTOR, {"error": message})
            return Outcome(action_id, "failed", message, run_id)
        plan = replace(plan, summary=f"AUTO-ABORT ({reason}): {plan.summary}")
        data = _planned_json(plan, ()) | {"auto_abort": {"reason": reason, **facts}}
        self._record(action_id, run_id, "planned", AUTO_ABORT_ACTOR, data)
        prepared = Prepared(action(action_id), run_id, (), plan, AUTO_ABORT_ACTOR)
        self._running = action_id
        try:
            if self.mode != "live":
                return self._dry_run(prepared)
            return await self._execute(prepared)
        finally:
            self._running = None

    async def _split_brain_hold(self, target: RawWeights) -> str | None:
        """Why auto-abort holds the weights instead of sending everyone to a demoted primary."""
        _, new_percent = split_percent(target.old, target.new)
        if new_percent > 0:
            return None
        state = await self._refresh()
        reason = demoted_primary_reason_for_weights(self.guard_inputs(state), new_percent)
        return None if reason is None else f"auto-abort held the weights: {reason}"

    def _read_weights(self) -> Any:
        if self._backends.weights is None:
            raise ActionFailed("no [traffic] backend")
        return self._backends.weights.read()

    # --- journal ----------------------------------------------------------------------------

    def _context(self, run_id: str, actor: str) -> StepContext:
        def progress(phase: str, data: dict[str, JsonValue]) -> None:
            self._record(ActionId.ROLLBACK, run_id, phase, actor, data)

        return StepContext(self.config, self._backends, self.session, progress)

    def _new_run_id(self) -> str:
        return f"{os.getpid()}-{int(time.time())}-{next(self._run_ids)}"

    def _busy(self, action_id: ActionId) -> Outcome:
        running = self._running.value if self._running else "an action"
        spec = self._spec(action_id)
        title = spec.title if spec is not None else action_id.value
        message = f"{title} not started: {running} is still running: wait for it to finish"
        return Outcome(action_id, "busy", message)

    def _record_phase(self, prepared: Prepared, phase: str, data: Mapping[str, JsonValue]) -> None:
        self._record(prepared.spec.action_id, prepared.run_id, phase, prepared.actor, data)

    def _complete(
        self,
        prepared: Prepared,
        result: str,
        message: str,
        inverse: dict[str, JsonValue] | None,
        extra: Mapping[str, JsonValue] | None = None,
    ) -> None:
        data = {"outcome": result, "message": message, "inverse": inverse, **(extra or {})}
        self._record_phase(prepared, COMPLETED, data)
        self._close_request(prepared.run_id)

    def _close_request(self, run_id: str) -> None:
        """The run is over: its request and approval leave the folder, so none is reused."""
        self._refusals_said.pop(run_id, None)
        if self._requests.pop(run_id, None) is not None:
            approval.withdraw(self.config.approvals_dir, run_id)

    def _record(
        self,
        action_id: ActionId,
        run_id: str,
        phase: str,
        actor: str,
        data: Mapping[str, JsonValue],
    ) -> None:
        record: dict[str, JsonValue] = {
            "action": action_id.value,
            "run": run_id,
            "phase": phase,
            "actor": actor,
            "mode": self.mode,
            **data,
        }
        self._append(ACTION_KIND, record)

    def _append(self, kind: str, data: dict[str, JsonValue]) -> None:
        """Journals (fsync'ed) and folds the record into the session log, in that order."""
        if self._journal is not None:
            self._journal.append(kind, data, sync=True)
        self.session = self.session.with_record(kind, self._clock(), data)


def _guards_json(guards: Sequence[GuardResult]) -> list[JsonValue]:
    return [guard.to_json() for guard in guards]


def _planned_json(plan: Plan, guards: Sequence[GuardResult]) -> dict[str, JsonValue]:
    return {"plan": plan.to_json(), "guards": _guards_json(guards)}


def _request_json(request: ApprovalRequest) -> dict[str, JsonValue]:
    return {
        "digest": request.digest,
        "requester": request.requester.name,
        "requester_uid": request.requester.uid,
        "requested_at": format_timestamp(request.requested_at),
        "expires_at": format_timestamp(request.expires_at),
    }


def _approved_json(request: ApprovalRequest, given: approval.Approval) -> dict[str, JsonValue]:
    return {
        "digest": given.digest,
        "requester": request.requester.name,
        "requester_uid": request.requester.uid,
        "approver": given.approver.name,
        "approver_uid": given.approver.uid,
        "approved_at": format_timestamp(given.approved_at),
        "reason": given.reason,
    }


def _blocked_message(spec: ActionSpec, guards: Sequence[GuardResult]) -> str:
    reasons = "; ".join(str(guard.reason) for guard in blocking(guards))
    return f"{spec.title} blocked: {reasons}"


def _failure_text(error: BaseException) -> str:
    return str(error) if isinstance(error, ActionFailed) else describe_failure(error)
