"""The go/no-go overview on the real sandbox: through the demo story's beats, then followed
step by step to the end of the runbook, its verdict is always the next step's action guards."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from cockpit.actions.confirmation import Confirmation
from cockpit.actions.model import ActionId
from cockpit.actions.runner import ActionRunner, Prepared
from cockpit.clock import FrozenClock
from cockpit.config import load_config
from cockpit.io.backends import build_backends
from cockpit.io.context import SourceContext
from cockpit.live.poller import poll_all_once
from cockpit.live.state import State
from cockpit.model import SignalKind, Status, worst
from cockpit.redact import Redactor
from cockpit.rules.verdicts import blocking
from cockpit.sandbox.demo_story import STORY
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.session.live import LiveSession
from cockpit.session.overview import Go, NextStep
from cockpit.sources.build import build_sources
from cockpit.sources.maintenance_values import MaintenanceValues
from cockpit.sources.replication_values import ReplicationValues
from cockpit.sources.traffic_values import TrafficValues
from tests.actions.support import sandbox_environ, write_config
from tests.test_overview import advancing

WAIT_SECONDS = 120.0
"""How long one beat may take to show, or the runbook to move, on a busy machine."""
POLL_GAP_SECONDS = 0.5


class Walk:
    """A live session on the sandbox whose clock is the time of its latest poll."""

    def __init__(self, sandbox: SandboxHandle, folder: Path) -> None:
        config = load_config(write_config(sandbox, folder))
        environ = sandbox_environ(sandbox)
        context = SourceContext(config, environ)
        self.sources = build_sources(context)
        self.clock = FrozenClock(datetime.now(UTC))
        backends = build_backends(config, environ, context.aws, mode="live")

        def runner(refresh: object) -> ActionRunner:
            return ActionRunner(
                config=config, mode="live", backends=backends, refresh=self.poll, clock=self.clock
            )

        self.session = LiveSession(
            config=config,
            clock=self.clock,
            journal=None,
            redactor=Redactor(),
            operator="walker",
            actions=runner,
            refresh=self.poll,
        )
        self.steps_seen: list[tuple[str, Go]] = []

    async def poll(self) -> State:
        readings = await poll_all_once(self.sources)
        self.clock.now = datetime.now(UTC)
        self.session.receive(readings)
        self.session.refresh()
        return self.session.state

    async def next_step(self) -> NextStep:
        """Polls, then the overview's next step, checked against the guards it stands for."""
        await self.poll()
        step = self.session.view(self.clock.now).overview.next_step
        assert_is_the_guards(self.session, step)
        if not self.steps_seen or self.steps_seen[-1] != (step.title, step.verdict):
            self.steps_seen.append((step.title, step.verdict))
        return step

    async def until(self, what: str, shown: object) -> None:
        """Polls (checking the overview each time) until `shown()` holds."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            await self.next_step()
            if shown(self.session.state):  # type: ignore[operator]
                return
            await asyncio.sleep(POLL_GAP_SECONDS)
        raise AssertionError(f"{what} never showed in {WAIT_SECONDS} s")


def assert_is_the_guards(session: LiveSession, step: NextStep) -> None:
    """GO exactly when the action that moves the step has no blocking guard; its reasons else."""
    spec = advancing(step.title) if step.number else None
    if spec is None:
        assert step.verdict in (Go.WAIT, Go.DONE), step
        return
    assert session.runner is not None
    reasons = [
        str(g.reason) for g in blocking(session.runner.guards(spec.action_id, session.state))
    ]
    assert step.verdict is (Go.NO_GO if reasons else Go.GO), (step, reasons)
    assert step.reasons == tuple(dict.fromkeys(reasons)), (step, reasons)


def new_percent(state: State) -> float | None:
    reading = state.latest("traffic")
    return None if reading is None else TrafficValues.from_reading(reading).weights.new


def lagging(state: State) -> bool:
    reading = state.latest("replication")
    lag = None if reading is None else ReplicationValues.from_reading(reading).replay_lag_bytes
    return bool(lag)


def errors_raised(state: State) -> bool:
    statuses = [r.status for r in state.readings() if r.kind is SignalKind.ERRORS]
    return bool(statuses) and worst(statuses) is not Status.OK


SHOWN = {
    "traffic-split": lambda args: lambda s: new_percent(s) == 100 * args["ratio"],
    "lag-spike": lambda args: lagging,
    "error-burst": lambda args: errors_raised,
    "resolver-stuck": lambda args: lambda s: s.latest("dns:app.cutover.test") is not None,
}
"""Per demo scenario, what the readings show once it has taken hold."""


async def test_through_the_demo_story_the_verdict_is_the_guards(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    walk = Walk(sandbox, tmp_path)
    for beat in STORY:
        lasting = {k: v for k, v in beat.args.items() if k != "for_seconds"}
        sandbox.client.inject(beat.scenario, **lasting)
        await walk.until(f"{beat.scenario} {lasting}", SHOWN[beat.scenario](lasting))
    assert len(walk.steps_seen) >= 1


def next_action(walk: Walk, step: NextStep) -> ActionId | None:
    """What the operator presses now: maintenance off once promoted (and its guards let it),
    else the key the overview says GO for."""
    state = walk.session.state
    if maintenance_on(state) and promoted(state):
        assert walk.session.runner is not None
        guards = walk.session.runner.guards(ActionId.MAINTENANCE_OFF, state)
        return None if blocking(guards) else ActionId.MAINTENANCE_OFF
    spec = advancing(step.title) if step.verdict is Go.GO else None
    return None if spec is None else spec.action_id


def maintenance_on(state: State) -> bool:
    reading = state.latest("maintenance")
    return reading is not None and MaintenanceValues.from_reading(reading).on is True


def promoted(state: State) -> bool:
    reading = state.latest("replication")
    return reading is not None and ReplicationValues.from_reading(reading).promoted is True


async def clients_follow_the_weights(walk: Walk, sandbox: SandboxHandle) -> None:
    """The sandbox's clients move to the new side's share of the weights, as real ones do once
    their resolvers' answers expire; the demo story stands in for them the same way."""
    await walk.poll()
    percent = new_percent(walk.session.state)
    if percent:
        sandbox.client.inject("traffic-split", ratio=percent / 100)


async def test_following_the_overview_walks_the_runbook_to_its_end(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    walk = Walk(sandbox, tmp_path)
    deadline = time.monotonic() + 3 * WAIT_SECONDS
    step = await walk.next_step()
    while step.verdict is not Go.DONE and time.monotonic() < deadline:
        action = next_action(walk, step)
        prepared = None if action is None else await walk.session.prepare(action)
        if isinstance(prepared, Prepared):
            typed = Confirmation(typed_word=prepared.plan.confirm_word)
            outcome = await walk.session.run(prepared, typed)
            assert outcome.result == "succeeded", outcome.message
            await clients_follow_the_weights(walk, sandbox)
        else:
            await asyncio.sleep(POLL_GAP_SECONDS)
        step = await walk.next_step()
    assert step.verdict is Go.DONE, walk.steps_seen
    titles = [title for title, _ in walk.steps_seen]
    assert {"Maintenance on", "Replica promoted", "Traffic fully on new"} <= set(titles)
    assert not maintenance_on(walk.session.state)
