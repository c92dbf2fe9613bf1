"""Judging DNS across polls: the changed record in a chain, STUCK, weighted splits."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from cockpit.config import DnsRecord
from cockpit.model import Status
from cockpit.sources.dns import (
    RecordView,
    ServerAnswer,
    record_detail,
    record_status,
    record_values,
    with_history,
)
from cockpit.sources.dns_propagation import (
    ChainAnswer,
    RecordHistory,
    changed_hop,
    deciding_ttl,
)

T0 = datetime(2026, 11, 22, 1, 0, 0, tzinfo=UTC)
MARGIN = 5.0
NEW, OLD = "198.51.100.20", "192.0.2.10"
APP = "app.example.com"


def record(*, weighted: bool = False) -> DnsRecord:
    data = {"name": "www.example.com", "expect": NEW, "old": OLD, "weighted": weighted}
    return DnsRecord.model_validate(data)


def server(
    label: str,
    matches: str,
    hop_ttls: tuple[int, ...] = (120, 30),
    chain: tuple[str, ...] = (APP,),
    role: str = "resolver",
) -> ServerAnswer:
    """A server answering www CNAME <chain> -> A old/new, with each RRset's TTL."""
    answers = {"new": (NEW,), "old": (OLD,), "error": ()}[matches]
    failed = matches == "error"
    return ServerAnswer(
        label=label,
        address="127.0.0.1:53",
        role=role,  # type: ignore[arg-type]
        answers=answers,
        ttl_seconds=None if failed else max(hop_ttls),
        matches=matches,  # type: ignore[arg-type]
        error="timeout after 0.8 s" if failed else None,
        chain=() if failed else chain,
        hop_ttls=() if failed else hop_ttls,
    )


@dataclass
class Poller:
    """Feeds polls through with_history() as the source does, keeping the history."""

    record: DnsRecord
    history: RecordHistory = field(default_factory=RecordHistory)

    def poll(
        self,
        at_seconds: float,
        resolvers: Sequence[ServerAnswer],
        authoritative: Sequence[ServerAnswer] = (),
    ) -> RecordView:
        at = T0 + timedelta(seconds=at_seconds)
        view = RecordView(self.record, tuple(resolvers), tuple(authoritative), 300, at)
        judged, self.history = with_history(view, self.history, MARGIN)
        return judged


def auth(matches: str, hop_ttls: tuple[int, ...] = (120, 30)) -> ServerAnswer:
    return server("ns1", matches, hop_ttls, role="authoritative")


# --- the record that changed decides -----------------------------------------------------------


def test_the_first_differing_rrset_is_the_changed_hop() -> None:
    assert changed_hop((APP,), (APP,)) == 1  # same chain: the final records changed
    assert changed_hop(("old-lb.example.net",), ("new-lb.example.net",)) == 0
    assert changed_hop((), (APP,)) == 0
    assert changed_hop(("a", "b"), ("a", "c")) == 1


def test_only_the_a_changed_so_its_ttl_decides_not_the_cnames() -> None:
    old = ChainAnswer("r", "old", (APP,), (109, 14))
    assert deciding_ttl(old, (APP,)) == 14


def test_the_cname_now_points_elsewhere_so_its_ttl_decides() -> None:
    old = ChainAnswer("r", "old", ("old-lb.example.net",), (109, 14))
    assert deciding_ttl(old, ("new-lb.example.net",)) == 109


def test_without_a_new_chain_to_compare_the_longest_ttl_is_kept() -> None:
    assert deciding_ttl(ChainAnswer("r", "old", (APP,), (109, 14)), None) == 109


def test_the_expiry_shown_is_the_changed_as_ttl() -> None:
    poller = Poller(record())
    view = poller.poll(0, [server("r1", "old", (109, 14)), server("r2", "new")], [auth("new")])
    values = record_values(view)
    assert values["old_expires_in_seconds"] == 14
    assert values["old_gone_at"] == "2026-11-22T01:00:14Z"
    assert "last old answer expires in 14 s" in record_detail(view)


# --- STUCK ---------------------------------------------------------------------------------------


def test_a_resolver_is_stuck_only_after_the_longest_ttl_plus_the_margin() -> None:
    poller = Poller(record())
    poller.poll(0, [server("r1", "old")], [auth("old")])
    poller.poll(10, [server("r1", "old", (120, 30)), server("r2", "new")], [auth("new")])
    deadline = 10 + 30 + MARGIN  # the A's longest TTL: the CNAME did not change
    before = poller.poll(deadline - 1, [server("r1", "old", (120, 30))], [auth("new")])
    assert record_values(before)["stuck_count"] == 0
    assert record_values(before)["old_expires_in_seconds"] == 30
    stuck = poller.poll(deadline + 1, [server("r1", "old", (120, 30))], [auth("new")])
    values = record_values(stuck)
    assert values["stuck_count"] == 1
    assert values["resolvers"][0]["stuck_since"] == "2026-11-22T01:00:46Z"
    assert values["new_since"] == "2026-11-22T01:00:10Z"
    assert (values["old_gone_at"], values["old_expires_in_seconds"]) == (None, None)
    assert values["old_expiry_unknown_reason"] == "STUCK: r1: old since 01:00:46Z"
    assert record_status(stuck) == Status.WARN
    assert record_detail(stuck) == (
        "STUCK: r1: old since 01:00:46Z, past every TTL since new at 01:00:10Z; "
        "0/1 new; old gone time cannot be estimated"
    )
    later = poller.poll(deadline + 20, [server("r1", "old", (120, 30))], [auth("new")])
    assert record_values(later)["resolvers"][0]["stuck_since"] == "2026-11-22T01:00:46Z"
    healed = poller.poll(deadline + 21, [server("r1", "new")], [auth("new")])
    assert record_values(healed)["stuck_count"] == 0
    assert record_status(healed) == Status.OK


def test_an_old_ttl_longer_than_the_new_one_still_counts() -> None:
    poller = Poller(record())
    poller.poll(0, [server("r1", "old", (300, 300))], [auth("old", (300, 300))])
    poller.poll(5, [server("r1", "old", (295, 295))], [auth("new", (60, 60))])
    held = poller.poll(5 + 60 + MARGIN + 1, [server("r1", "old", (229, 229))], [auth("new")])
    assert record_values(held)["stuck_count"] == 0


def test_a_changed_cname_waits_for_the_cnames_ttl() -> None:
    poller = Poller(record())
    lb_old, lb_new = ("old-lb.example.net",), ("new-lb.example.net",)
    poller.poll(0, [server("r1", "old", chain=lb_old)], [auth("old")])
    new_auth = server("ns1", "new", chain=lb_new, role="authoritative")
    poller.poll(1, [server("r1", "old", chain=lb_old)], [new_auth])
    before = poller.poll(1 + 120 + MARGIN - 1, [server("r1", "old", chain=lb_old)], [new_auth])
    assert record_values(before)["stuck_count"] == 0
    after = poller.poll(1 + 120 + MARGIN + 1, [server("r1", "old", chain=lb_old)], [new_auth])
    assert record_values(after)["stuck_count"] == 1


def test_without_authoritative_servers_the_first_new_resolver_starts_the_clock() -> None:
    poller = Poller(record())
    poller.poll(0, [server("r1", "old"), server("r2", "old")])
    poller.poll(3, [server("r1", "old"), server("r2", "new")])
    stuck = poller.poll(3 + 30 + MARGIN + 1, [server("r1", "old"), server("r2", "new")])
    assert record_values(stuck)["stuck_count"] == 1


# --- no ETA from silence -----------------------------------------------------------------------


def test_timeouts_never_give_an_expiry() -> None:
    poller = Poller(record())
    view = poller.poll(0, [server("r1", "error"), server("r2", "error")], [auth("new")])
    values = record_values(view)
    assert (values["old_gone_at"], values["old_expires_in_seconds"]) == (None, None)
    assert values["old_expiry_unknown_reason"] == "no resolver answered"
    assert record_status(view) == Status.UNKNOWN
    assert "old gone time cannot be estimated" in record_detail(view)


def test_an_expiry_comes_only_from_the_resolvers_that_answered() -> None:
    poller = Poller(record())
    view = poller.poll(0, [server("r1", "old", (120, 7)), server("r2", "error")], [auth("new")])
    assert record_values(view)["old_expires_in_seconds"] == 7
    assert "1 not answering (r2: timeout after 0.8 s)" in record_detail(view)


# --- weighted splits -----------------------------------------------------------------------------


def split_polls(
    poller: Poller, rng: random.Random, new_share: float, polls: int, start: float = 0.0
) -> list[RecordView]:
    """`polls` polls 1 s apart of a weighted set, every server drawing old or new each time."""

    def draw() -> str:
        return "new" if rng.random() < new_share else "old"

    views = []
    for index in range(polls):
        resolvers = [server(f"r{i}", draw(), (3, 3)) for i in range(4)]
        authoritative = [server("ns1", draw(), (3, 3), role="authoritative")]
        views.append(poller.poll(start + index, resolvers, authoritative))
    return views


@pytest.mark.parametrize("new_share", [0.05, 0.5, 0.95])
def test_a_configured_weighted_split_never_flaps(new_share: float) -> None:
    poller = Poller(record(weighted=True))
    first = poller.poll(0, [server(f"r{i}", "old", (3, 3)) for i in range(4)], [auth("old")])
    assert record_detail(first).startswith("not switched yet")
    views = split_polls(poller, random.Random(7), new_share, 400, start=1)
    split = [view for view in views if record_values(view)["split"]]
    assert len(split) >= len(views) - 30, "the split begins at the first new answer"
    first_split = views.index(split[0])
    for view in views[first_split:]:
        values = record_values(view)
        assert record_status(view) == Status.OK, record_detail(view)
        assert record_detail(view).startswith("weighted split: resolvers see ")
        assert values["stuck_count"] == 0
        shown = f"see {values['old_count']} old, {values['new_count']} new"
        assert shown in record_detail(view)


def test_a_split_is_recognised_without_config_and_then_holds() -> None:
    poller = Poller(record())
    views = split_polls(poller, random.Random(11), 0.5, 300)
    recognised = next(i for i, view in enumerate(views) if record_values(view)["split"])
    assert recognised < 30
    for view in views[recognised:]:
        assert record_status(view) == Status.OK, record_detail(view)
        assert record_detail(view).startswith("weighted split: ")


def test_a_switch_and_a_later_rollback_are_not_a_split() -> None:
    poller = Poller(record())
    poller.poll(0, [server("r1", "old")], [auth("old")])
    poller.poll(10, [server("r1", "new")], [auth("new")])
    rollback = poller.poll(600, [server("r1", "new")], [auth("old")])
    assert record_values(rollback)["split"] is False
    assert record_values(rollback)["weighted"] is False
    assert record_status(rollback) == Status.WARN
    assert "authoritative answers old but 1/1 resolvers answer new" in record_detail(rollback)


def test_a_split_ends_when_the_set_has_answered_only_new_for_the_quiet_stretch() -> None:
    poller = Poller(record(weighted=True))
    split_polls(poller, random.Random(3), 0.5, 20)
    quiet = 10 * (3 + MARGIN)
    last = None
    for second in range(20, 20 + int(quiet) + 3):
        last = poller.poll(second, [server("r1", "new", (3, 3))], [auth("new", (3, 3))])
    assert last is not None
    assert record_values(last)["split"] is False
    assert record_detail(last).startswith("converged: ")


def test_a_resolver_stuck_on_old_keeps_no_split_alive_and_is_named_after_it() -> None:
    poller = Poller(record(weighted=True))
    split_polls(poller, random.Random(5), 0.5, 20)
    quiet = 10 * (3 + MARGIN)
    views = []
    for second in range(20, 20 + int(quiet) + 3 * 8):
        resolvers = [server("r0", "old", (3, 3)), server("r1", "new", (3, 3))]
        views.append(poller.poll(second, resolvers, [auth("new", (3, 3))]))
    assert record_values(views[0])["split"] is True
    assert record_values(views[-1])["split"] is False
    assert record_values(views[-1])["stuck_count"] == 1
    assert record_detail(views[-1]).startswith("STUCK: r0: old since ")
