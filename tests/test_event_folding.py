"""The event log's display: filters by kind, flapping folded into one line, actions named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cockpit.live.events import (
    FLAP_WINDOW_SECONDS,
    Event,
    EventFilter,
    action_event_text,
    filtered,
    flap_text,
    fold_flapping,
    next_filter,
)
from cockpit.model import Status

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
WORDS = {Status.OK: "OK", Status.WARN: "WARN", Status.CRITICAL: "CRIT"}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def status(seconds: float, signal: str, after: Status) -> Event:
    return Event(at(seconds), signal, "status", after, f"{signal}: → {after.value}")


def guard(seconds: float, action: str, ready: bool) -> Event:
    word = "READY" if ready else "BLOCKED: maintenance is off"
    return Event(at(seconds), action, "guard", Status.OK if ready else Status.WARN, word)


def flapping(signal: str, count: int, every: float, start: float = 0) -> list[Event]:
    states = (Status.WARN, Status.OK)
    return [status(start + n * every, signal, states[n % 2]) for n in range(count)]


def test_a_signal_flapping_within_the_window_folds_into_one_line_where_it_last_changed() -> None:
    events = flapping("dns:app", 12, every=25)
    note = Event(at(100), "note", "note", None, "note: watching dns")
    lines = fold_flapping([*events[:5], note, *events[5:]])
    assert len(lines) == 2
    assert lines[0].latest is note
    folded = lines[1]
    assert folded.events == tuple(events)
    assert flap_text(folded, WORDS.__getitem__) == "dns:app WARN⇄OK 12× in 4m"


def test_changes_further_apart_than_the_window_keep_their_own_lines() -> None:
    events = flapping("dns:app", 4, every=FLAP_WINDOW_SECONDS + 1)
    lines = fold_flapping(events)
    assert [line.events for line in lines] == [(event,) for event in events]


def test_two_changes_are_not_flapping() -> None:
    events = flapping("dns:app", 2, every=5)
    assert [len(line.events) for line in fold_flapping(events)] == [1, 1]


def test_each_signal_folds_on_its_own_and_others_stay_in_order() -> None:
    dns = flapping("dns:app", 3, every=10)
    lag = [status(12, "replication", Status.WARN)]
    errors = flapping("errors:cloudwatch:new", 4, every=10, start=15)
    events = sorted([*dns, *lag, *errors], key=lambda event: event.at)
    lines = fold_flapping(events)
    assert [line.latest for line in lines] == [lag[0], dns[-1], errors[-1]]
    assert [len(line.events) for line in lines] == [1, 3, 4]


def test_guard_transitions_of_one_action_fold_as_ready_and_blocked() -> None:
    events = [guard(n * 20, "promote", ready=n % 2 == 1) for n in range(55)]
    lines = fold_flapping(events)
    assert len(lines) == 1
    assert flap_text(lines[0], WORDS.__getitem__) == "promote BLOCKED⇄READY 55× in 18m"


def test_a_run_that_pauses_longer_than_the_window_starts_a_new_run() -> None:
    first = flapping("dns:app", 3, every=10)
    second = flapping("dns:app", 3, every=10, start=1000)
    lines = fold_flapping([*first, *second])
    assert [line.events for line in lines] == [tuple(first), tuple(second)]


def test_filters_cycle_through_every_kind_and_back_to_all() -> None:
    order = [EventFilter.ALL]
    for _ in EventFilter:
        order.append(next_filter(order[-1]))
    assert [f.value for f in order] == ["all", "actions", "guards", "signals", "notes", "all"]


def test_each_filter_lets_through_only_its_kinds() -> None:
    events = [
        status(0, "dns:app", Status.WARN),
        Event(at(1), "traffic", "drift", Status.WARN, "weights drifted"),
        guard(2, "promote", ready=False),
        Event(at(3), "promote", "action", Status.WARN, "Promote replica cancelled: typing"),
        Event(at(4), "note", "note", None, "note: hello"),
    ]
    kinds = {chosen: [e.kind for e in filtered(events, chosen)] for chosen in EventFilter}
    assert kinds[EventFilter.ALL] == ["status", "drift", "guard", "action", "note"]
    assert kinds[EventFilter.SIGNALS] == ["status", "drift"]
    assert kinds[EventFilter.GUARDS] == ["guard"]
    assert kinds[EventFilter.ACTIONS] == ["action"]
    assert kinds[EventFilter.NOTES] == ["note"]


def test_an_action_event_always_names_its_action() -> None:
    assert (
        action_event_text("Promote replica", "guards changed since the plan: lag 4 MiB")
        == "Promote replica: guards changed since the plan: lag 4 MiB"
    )
    named = "Promote replica cancelled: cancelled at the confirm screen"
    assert action_event_text("Promote replica", named) == named
