"""Scenario controls: the faults and loads a sandbox can be given, declared once.

The CLI (`cockpit sandbox inject`), the control API and the Python client all use this table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from cockpit.sandbox.logical import ADVANCED_SEQUENCES, LATE_TABLE
from cockpit.sandbox.shared import SIDES, SandboxError, Side

if TYPE_CHECKING:
    from cockpit.sandbox.http import AppServer
    from cockpit.sandbox.runner import Sandbox


@dataclass(frozen=True)
class ScenarioArgs:
    """The knobs a scenario may take; each scenario reads only those it needs."""

    side: Side = "new"
    resolver: int = -1
    ratio: float = 0.2
    ms: float = 500.0
    rows_per_second: int = 2000
    steps: int = 500
    for_seconds: float | None = None
    reason: str = "injected fault"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScenarioArgs:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and v is not None}
        args = cls(**known)
        if args.side not in SIDES:
            raise SandboxError(f"side must be old or new, not {args.side!r}")
        if not 0.0 <= args.ratio <= 1.0:
            raise SandboxError(f"ratio must be between 0 and 1, not {args.ratio}")
        if args.steps < 1:
            raise SandboxError(f"steps must be at least 1, not {args.steps}")
        return args


Apply = Callable[["Sandbox", ScenarioArgs], str]


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    apply: Apply
    undo: str | None = None  # the scenario that reverts this one, for --for SECONDS


def _lag_spike(sandbox: Sandbox, args: ScenarioArgs) -> str:
    pair = sandbox.pair()
    pair.pause_replay()
    pair.start_write_load(args.rows_per_second)
    return f"replay paused on the replica, writing ~{args.rows_per_second} rows/s on the primary"


def _catch_up(sandbox: Sandbox, args: ScenarioArgs) -> str:
    pair = sandbox.pair()
    pair.stop_write_load()
    pair.resume_replay()
    return "writes stopped, replay resumed: the replica catches up"


def _writes_on(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.pair().start_write_load(args.rows_per_second)
    return f"writing ~{args.rows_per_second} rows/s on the primary"


def _writes_off(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.pair().stop_write_load()
    return "writes on the primary stopped"


def _replica_down(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.pair().stop_replica()
    sandbox.write_pids()
    return "replica stopped"


def _replica_up(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.pair().start_replica()
    sandbox.write_pids()
    return "replica started again (still a standby)"


def _other_standby_pause(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.pair().pause_replay("other_standby")
    return "replay paused on the second standby (the one the cockpit does not watch)"


def _other_standby_resume(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.pair().resume_replay("other_standby")
    return "replay resumed on the second standby"


def _replica_slot_off(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.pair().stream_without_slot()
    return "the replica streams without its slot: both standbys look alike on the primary"


def _replica_slot_on(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.pair().stream_through_slot()
    return "the replica streams through its slot again"


def _promote(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.pair().promote()
    return "replica promoted: it left recovery and no longer replicates"


def _require_following(sandbox: Sandbox, what: str) -> None:
    """The old database stops taking writes once the subscription is cut over (disabled)."""
    if not sandbox.logical_pair().subscription_enabled():
        raise SandboxError(f"{what}: the subscription is cut over (disabled); reset to start again")


def _logical_lag(sandbox: Sandbox, args: ScenarioArgs) -> str:
    _require_following(sandbox, "no lag to build")
    pair = sandbox.logical_pair()
    pair.hold_apply()
    pair.start_write_load(args.rows_per_second)
    return (
        "the subscriber's orders locked, so its apply worker waits; "
        f"writing ~{args.rows_per_second} rows/s on the publisher"
    )


def _logical_catch_up(sandbox: Sandbox, args: ScenarioArgs) -> str:
    pair = sandbox.logical_pair()
    pair.stop_write_load()
    pair.release_apply()
    return "writes on the publisher stopped, the subscriber's orders unlocked: apply catches up"


def _logical_table_syncing(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.logical_pair().hold_table_sync()
    return f"{LATE_TABLE} added to the subscription, its copy held on the subscriber: not ready"


def _logical_table_synced(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.logical_pair().release_table_sync()
    return f"{LATE_TABLE}'s copy let go on the subscriber: it finishes syncing"


def _logical_sequence_behind(sandbox: Sandbox, args: ScenarioArgs) -> str:
    _require_following(sandbox, "the publisher's sequences stay")
    sandbox.logical_pair().advance_publisher_sequences(args.steps)
    names = " and ".join(ADVANCED_SEQUENCES)
    return f"{names} advanced {args.steps} on the publisher; the subscriber's stay put"


def _logical_stuck_slot(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.logical_pair().break_apply()
    return (
        "a customers row on the subscriber takes the id the publisher just used: "
        "apply fails on it at every retry and the slot stops"
    )


def _logical_slot_mended(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.logical_pair().mend_apply()
    return "the conflicting customers row deleted on the subscriber: apply goes on"


def _traffic_split(sandbox: Sandbox, args: ScenarioArgs) -> str:
    new_percent = round(args.ratio * 100)
    sandbox.set_weights(new_percent)
    return f"weights set to old {100 - new_percent} / new {new_percent} (Route 53 and listener)"


def _aws_slow_reads(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.set_aws_read_delay(args.ms / 1000)
    return f"the AWS stand-in answers the cockpit's reads {args.ms:.0f} ms late"


def _aws_stall_after_write(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.set_aws_read_delay(args.ms / 1000, after_next_write=True)
    return f"after the next change, the AWS stand-in answers reads {args.ms:.0f} ms late"


def _aws_normal(sandbox: Sandbox, args: ScenarioArgs) -> str:
    sandbox.set_aws_read_delay(0.0)
    return "the AWS stand-in answers reads at once again"


def _on_app(change: Callable[[AppServer, ScenarioArgs], None], says: str) -> Apply:
    """A scenario that turns one knob of one side's application server."""

    def apply(sandbox: Sandbox, args: ScenarioArgs) -> str:
        change(sandbox.app(args.side), args)
        return says.format(side=args.side, ratio=args.ratio, ms=args.ms, reason=args.reason)

    return apply


def _resolver_mode(mode: str) -> Apply:
    def apply(sandbox: Sandbox, args: ScenarioArgs) -> str:
        index = args.resolver if args.resolver >= 0 else len(sandbox.resolvers) + args.resolver
        resolver = sandbox.resolver(index)
        set_mode = getattr(resolver, "set_mode", None)
        if set_mode is None:
            raise SandboxError(f"resolver {resolver.name} is a real unbound: it takes no faults")
        set_mode(mode)
        return f"resolver {resolver.name} ({resolver.address}) is now {mode}"

    return apply


def _hand_zone(side: Literal["old", "new"]) -> Apply:
    def apply(sandbox: Sandbox, args: ScenarioArgs) -> str:
        return sandbox.switch_hand_zone(side)

    return apply


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("lag-spike", "pause replay and write on the primary", _lag_spike, "catch-up"),
        Scenario("catch-up", "stop writes and resume replay", _catch_up),
        Scenario("writes-on", "steady writes on the primary", _writes_on, "writes-off"),
        Scenario("writes-off", "stop writes on the primary", _writes_off),
        Scenario("replica-down", "stop the replica (a fault)", _replica_down, "replica-up"),
        Scenario("replica-up", "start the replica again", _replica_up),
        Scenario("promote", "promote the replica for real", _promote),
        Scenario(
            "other-standby-pause",
            "pause replay on the second standby",
            _other_standby_pause,
            "other-standby-resume",
        ),
        Scenario(
            "other-standby-resume", "resume replay on the second standby", _other_standby_resume
        ),
        Scenario(
            "replica-slot-off",
            "the replica streams without its slot (standbys look alike)",
            _replica_slot_off,
            "replica-slot-on",
        ),
        Scenario("replica-slot-on", "the replica streams through its slot", _replica_slot_on),
        Scenario(
            "logical-lag",
            "hold apply on the subscriber and write on the publisher",
            _logical_lag,
            "logical-catch-up",
        ),
        Scenario("logical-catch-up", "stop writes and let apply go on", _logical_catch_up),
        Scenario(
            "logical-table-syncing",
            "a new table whose initial copy waits on the subscriber",
            _logical_table_syncing,
            "logical-table-synced",
        ),
        Scenario("logical-table-synced", "let the new table's copy finish", _logical_table_synced),
        Scenario(
            "logical-sequence-behind",
            "advance the publisher's sequences --steps",
            _logical_sequence_behind,
        ),
        Scenario(
            "logical-stuck-slot",
            "a conflicting row stops apply and the slot",
            _logical_stuck_slot,
            "logical-slot-mended",
        ),
        Scenario("logical-slot-mended", "remove the conflicting row", _logical_slot_mended),
        Scenario("traffic-split", "weights: --ratio of traffic to new", _traffic_split),
        Scenario(
            "target-unhealthy",
            "a side's /health fails",
            _on_app(
                lambda app, a: app.set_healthy(False, a.reason),
                "{side} target's /health answers 503 ({reason})",
            ),
            "target-healthy",
        ),
        Scenario(
            "target-healthy",
            "a side's /health passes again",
            _on_app(lambda app, a: app.set_healthy(True), "{side} target healthy again"),
        ),
        Scenario(
            "error-burst",
            "a side answers 500 to --ratio",
            _on_app(
                lambda app, a: app.set_error_rate(a.ratio),
                "{side} side answers 500 to {ratio:.0%} of requests",
            ),
            "errors-off",
        ),
        Scenario(
            "errors-off",
            "a side stops answering 500",
            _on_app(lambda app, a: app.set_error_rate(0.0), "{side} side errors stopped"),
        ),
        Scenario(
            "latency",
            "a side answers --ms slower",
            _on_app(
                lambda app, a: app.set_latency_ms(a.ms), "{side} side answers {ms:.0f} ms slower"
            ),
            "latency-off",
        ),
        Scenario(
            "latency-off",
            "a side's latency back to normal",
            _on_app(lambda app, a: app.set_latency_ms(0.0), "{side} side latency back to normal"),
        ),
        Scenario(
            "app-maintenance",
            "a side's application serves its maintenance page",
            _on_app(
                lambda app, a: app.set_maintenance(True),
                "{side} application serves its 503 maintenance page",
            ),
            "app-maintenance-off",
        ),
        Scenario(
            "app-maintenance-off",
            "a side's application serves again",
            _on_app(
                lambda app, a: app.set_maintenance(False), "{side} application serves normally"
            ),
        ),
        Scenario(
            "resolver-stuck",
            "a resolver keeps the old answer",
            _resolver_mode("stuck"),
            "resolver-normal",
        ),
        Scenario(
            "resolver-timeout",
            "a resolver stops answering",
            _resolver_mode("timeout"),
            "resolver-normal",
        ),
        Scenario(
            "resolver-servfail",
            "a resolver answers SERVFAIL",
            _resolver_mode("servfail"),
            "resolver-normal",
        ),
        Scenario("resolver-normal", "a resolver behaves again", _resolver_mode("normal")),
        Scenario(
            "zone-switch",
            "the hand-managed zone (knot) answers new",
            _hand_zone("new"),
            "zone-switch-back",
        ),
        Scenario("zone-switch-back", "the hand-managed zone (knot) answers old", _hand_zone("old")),
        Scenario("aws-slow-reads", "AWS reads answer --ms late", _aws_slow_reads, "aws-normal"),
        Scenario(
            "aws-stall-after-write",
            "after the next AWS change, reads answer --ms late",
            _aws_stall_after_write,
            "aws-normal",
        ),
        Scenario("aws-normal", "AWS reads answer at once again", _aws_normal),
    )
}


def inject(sandbox: Sandbox, name: str, args: ScenarioArgs) -> str:
    """Applies a scenario; with for_seconds, its undo follows by itself after that long."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise SandboxError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    outcome = scenario.apply(sandbox, args)
    if args.for_seconds is not None:
        if scenario.undo is None:
            raise SandboxError(f"{name} has no undo, so --for does not apply")
        undo = SCENARIOS[scenario.undo]
        sandbox.later(args.for_seconds, lambda: undo.apply(sandbox, args))
        outcome += f"; {undo.name} in {args.for_seconds:g} s"
    return outcome
