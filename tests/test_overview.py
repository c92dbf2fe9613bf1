"""The go/no-go overview, headless: family lines, and GO/NO-GO as the next step's action guards."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from cockpit.actions.registry import ACTIONS
from cockpit.actions.spec import ActionSpec
from cockpit.live.state import State, apply
from cockpit.model import Reading, SignalKind, Status
from cockpit.rules.runbook import evaluate_runbook
from cockpit.rules.verdicts import blocking
from cockpit.session.live import LiveSession
from cockpit.session.overview import Go, NextStep, overview
from cockpit.session.view import configured_kinds
from tests.test_guards import CONFIG, GOOD, NOW, PROMOTED, with_values
from tests.test_live_session import FrozenClock, live_session

MAINTENANCE_OFF = with_values("maintenance", on=False, probe_status=200, rule_present=False)
LAGGING = with_values(
    "replication", replay_lag_bytes=2_000_000, replay_lag_seconds=13.9, catchup_eta_seconds=20.0
)
PRIMARY_WRITING = with_values("replication", primary_quiet_seconds=0.0)
ERROR_BURST = replace(
    with_values("errors:cloudwatch:new", error_ratio=0.3, errors_5xx=150),
    status=Status.CRITICAL,
)
DNS_CONVERGED = with_values(
    "dns:shop.example.com", converged_fraction=1.0, authoritative_matches="new"
)


def traffic(new: int, index: int) -> Reading:
    """The traffic reading with the new side at `new` percent, step `index` of the plan."""
    steps = (0, 5, 10, 25, 50, 75, 100)
    following = steps[index + 1] if index + 1 < len(steps) else None
    previous = steps[index - 1] if index > 0 else None
    return with_values(
        "traffic",
        weights={"old": 100.0 - new, "new": float(new)},
        raw_weights={"old": 100 - new, "new": new},
        step_index=index,
        next_step_percent=following,
        previous_step_percent=previous,
    )


PHASES: dict[str, tuple[tuple[Reading, ...], str, Go]] = {
    "before maintenance": ((MAINTENANCE_OFF, traffic(0, 0)), "Maintenance on", Go.GO),
    "maintenance on with lag": ((LAGGING, traffic(0, 0)), "Replication caught up", Go.WAIT),
    "caught up": ((traffic(0, 0),), "Replica promoted", Go.GO),
    "caught up, primary still written": (
        (PRIMARY_WRITING, traffic(0, 0)),
        "Replica promoted",
        Go.NO_GO,
    ),
    "promoted": ((PROMOTED, traffic(0, 0)), "Traffic fully on new", Go.GO),
    "weights just stepped": ((PROMOTED, traffic(25, 3)), "Traffic fully on new", Go.NO_GO),
    "weights stepping, new side failing": (
        (PROMOTED, traffic(25, 3), ERROR_BURST),
        "Traffic fully on new",
        Go.NO_GO,
    ),
    "fully on new": ((PROMOTED, traffic(100, 6)), "DNS converged", Go.WAIT),
    "done": ((PROMOTED, traffic(100, 6), DNS_CONVERGED), "", Go.DONE),
}


def session_with(*changed: Reading) -> LiveSession:
    """A dry-run live session that has folded the good readings with `changed` ones instead."""
    session = live_session(None, CONFIG, FrozenClock(NOW))  # type: ignore[arg-type]
    session.receive(list({**GOOD, **{r.signal_id: r for r in changed}}.values()))
    session.refresh()
    return session


def advancing(title: str) -> ActionSpec | None:
    """The registered action that moves the runbook step called `title` forward, if any."""
    return next((s for s in ACTIONS if s.advances and s.advances.title == title), None)


@pytest.mark.parametrize(("changed", "title", "verdict"), PHASES.values(), ids=PHASES.keys())
def test_go_no_go_is_the_next_steps_action_guards(
    changed: tuple[Reading, ...], title: str, verdict: Go
) -> None:
    live = session_with(*changed)
    step = live.view(NOW).overview.next_step
    assert (step.title if step.number else "", step.verdict) == (title, verdict)
    spec = advancing(title)
    if spec is None:
        return
    assert live.runner is not None
    guards = live.runner.guards(spec.action_id, live.state)
    reasons = [str(guard.reason) for guard in blocking(guards)]
    assert step.reasons == tuple(dict.fromkeys(reasons))
    assert set(step.reasons) == set(reasons)
    assert (step.verdict is Go.GO) == (not reasons)
    assert step.key_label == spec.key_label


def test_a_waiting_step_gives_its_evidence() -> None:
    step = session_with(LAGGING, traffic(0, 0)).view(NOW).overview.next_step
    assert step.reasons == ("byte lag 1.9 MiB, ETA 20s (1s ago)",)


def test_a_step_no_guard_was_judged_for_says_so() -> None:
    state = apply(State(), list({**GOOD, **{r.signal_id: r for r in (MAINTENANCE_OFF,)}}.values()))[
        0
    ]
    checks = evaluate_runbook(state, NOW, CONFIG)
    judged = overview(
        state, NOW, checks=checks, actions=(), configured_kinds=frozenset(), config=CONFIG
    )
    assert judged.next_step == NextStep(
        2, "Maintenance on", Go.UNJUDGED, ("READ-ONLY session: no action can run",)
    )


def test_one_line_per_configured_family_with_its_key_number() -> None:
    session = session_with(LAGGING, traffic(25, 3), ERROR_BURST)
    lines = {line.name: line for line in session.view(NOW).overview.families}
    assert list(lines) == ["replication", "targets", "DNS", "errors", "traffic", "maintenance"]
    assert lines["replication"].key_number == "lag 1.9 MiB / 13.9 s"
    assert lines["targets"].key_number == "new 4/4 healthy, old 3/3"
    assert lines["errors"].key_number == "new 5xx 30 %"
    assert lines["errors"].status is Status.CRITICAL
    assert lines["traffic"].key_number == "old 75 / new 25"
    assert lines["maintenance"].key_number == "on"
    assert lines["DNS"].key_number == "no resolver answered"
    assert lines["traffic"].age_seconds == 1.0


def test_a_family_without_reading_waits_and_a_missing_section_is_left_out() -> None:
    state = apply(State(), [GOOD["replication"]])[0]
    kinds = frozenset({SignalKind.REPLICATION, SignalKind.DNS})
    judged = overview(state, NOW, checks=(), actions=(), configured_kinds=kinds)
    assert [(line.name, line.status) for line in judged.families] == [
        ("replication", Status.OK),
        ("DNS", None),
    ]
    assert judged.families[1].key_number == "no reading yet"


def test_stale_readings_make_the_family_stale() -> None:
    session = session_with()
    later = NOW + timedelta(minutes=5)
    lines = session.view(later).overview.families
    assert {line.status for line in lines} == {Status.STALE}
    assert configured_kinds(CONFIG) >= {line.kind for line in lines}


@pytest.mark.parametrize(
    ("values", "said"),
    [
        (
            {"converged_fraction": 0.0, "authoritative_matches": "old"},
            "0 % on new, authoritative old",
        ),
        (
            {"converged_fraction": 0.25, "authoritative_matches": "old", "split": True},
            "25 % on new, weighted split",
        ),
        ({"converged_fraction": 0.5, "authoritative_matches": "new"}, "50 % converged"),
    ],
)
def test_dns_says_whether_the_authoritative_servers_have_switched(
    values: dict[str, object], said: str
) -> None:
    session = session_with(with_values("dns:shop.example.com", **values))
    lines = {line.name: line for line in session.view(NOW).overview.families}
    assert lines["DNS"].key_number == said


@pytest.mark.parametrize("changed", [case[0] for case in PHASES.values()], ids=PHASES.keys())
def test_guards_judged_together_equal_each_actions_own(changed: tuple[Reading, ...]) -> None:
    """A guard shared by several actions runs once per refresh, with the same result."""
    live = session_with(*changed)
    assert live.runner is not None
    together = live.runner.every_action_guards(live.state)
    one_by_one = {s.action_id: live.runner.guards(s.action_id, live.state) for s in ACTIONS}
    assert together == one_by_one
