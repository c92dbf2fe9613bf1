"""DNS readings against the truth: every reading compared with what dnspython itself sees.

Runs on the sandbox's real servers: knot authoritative for the hand-managed zone (www CNAME with
a long TTL -> app A/AAAA with the short one), the Python authoritative server for the weighted
Route 53 record, the Python caching resolvers and a real unbound in front of both.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dns.exception
import dns.message
import dns.query
import dns.rdatatype
import pytest

from cockpit.config import config_from_data, parse_host_port
from cockpit.io.context import SourceContext
from cockpit.model import Reading, Status, reading_to_json
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sources.dns import DnsSource, build_dns_sources

MARGIN_SECONDS = 2.0
POLL_PAUSE_SECONDS = 0.3
DEADLINE_SECONDS = 60.0


# --- the truth, taken like dig -------------------------------------------------------------------


@dataclass(frozen=True)
class Truth:
    """What one server answered a direct dnspython query, and when that query was sent."""

    sent_at: datetime
    answers: tuple[str, ...]
    ttl_by_type: dict[str, int]
    error: str | None


def dig(address: str, name: str, rdtype: str = "A", *, recursion: bool = True) -> Truth:
    host, port = parse_host_port(address)
    query = dns.message.make_query(name, rdtype)
    if not recursion:
        query.flags = 0
    sent_at = datetime.now(UTC)
    try:
        response = dns.query.udp(query, host, port=port, timeout=1.0)
    except dns.exception.Timeout:
        return Truth(sent_at, (), {}, "timeout")
    wanted = dns.rdatatype.from_text(rdtype)
    answers = tuple(
        sorted(
            rdata.to_text()
            for rrset in response.answer
            if rrset.rdtype == wanted
            for rdata in rrset
        )
    )
    ttls = {dns.rdatatype.to_text(rrset.rdtype): rrset.ttl for rrset in response.answer}
    return Truth(sent_at, answers, ttls, None)


# --- sandbox and source --------------------------------------------------------------------------


def hand_zone(sandbox: SandboxHandle) -> dict[str, Any]:
    zone = sandbox.info["dns"].get("hand_zone")
    if not zone:
        pytest.skip("knot is not installed: the sandbox runs without the hand-managed zone")
    return dict(zone)


def resolvers_of(sandbox: SandboxHandle, *, python_only: bool = False) -> list[dict[str, str]]:
    dns_info = sandbox.info["dns"]
    pairs = zip(dns_info["resolvers"], dns_info["resolver_names"], strict=True)
    return [
        {"address": address, "name": name}
        for address, name in pairs
        if not (python_only and name == "unbound")
    ]


def source_for(
    sandbox: SandboxHandle, record: dict[str, Any], resolvers: list[dict[str, str]]
) -> DnsSource:
    data = {
        "cutover": {"name": "dns truth"},
        "dns": {
            "timeout_seconds": 1.0,
            "stuck_margin_seconds": MARGIN_SECONDS,
            "resolvers": resolvers,
            "records": [record],
        },
    }
    config = config_from_data(data, source="test", base_dir=Path())
    [source] = build_dns_sources(SourceContext(config, {**os.environ, **sandbox.env}))
    assert isinstance(source, DnsSource)
    return source


def chain_record(zone: dict[str, Any], rdtype: str = "A") -> dict[str, Any]:
    suffix = "6" if rdtype == "AAAA" else ""
    servers = [zone["authoritative"], *([zone["authoritative6"]] if zone["authoritative6"] else [])]
    return {
        "name": zone["record_name"],
        "type": rdtype,
        "expect": zone[f"new_answers{suffix}"],
        "old": zone[f"old_answers{suffix}"],
        "authoritative": servers,
    }


async def read_one(source: DnsSource) -> Reading:
    [reading] = await source.read()
    return reading


def values_of(reading: Reading) -> dict[str, Any]:
    values = reading_to_json(reading)["values"]
    assert isinstance(values, dict)
    return values


def entries(reading: Reading) -> dict[str, dict[str, Any]]:
    return {e["resolver"]: e for e in values_of(reading)["resolvers"] if e["role"] == "resolver"}


async def read_until(
    source: DnsSource, done: Callable[[Reading], bool], within: float = DEADLINE_SECONDS
) -> list[Reading]:
    """Readings until one satisfies `done` (all of them, in order); fails after `within` s."""
    readings = [await read_one(source)]
    deadline = time.monotonic() + within
    while not done(readings[-1]):
        assert time.monotonic() < deadline, readings[-1].detail
        await asyncio.sleep(POLL_PAUSE_SECONDS)
        readings.append(await read_one(source))
    return readings


def moment(text: str | None) -> datetime:
    assert text is not None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- CNAME chain: only the A changed ------------------------------------------------------------


@pytest.mark.parametrize("rdtype", ["A", "AAAA"])
async def test_only_the_changed_a_decides_when_the_chain_turns_new(
    sandbox: SandboxHandle, rdtype: str
) -> None:
    zone = hand_zone(sandbox)
    resolvers = resolvers_of(sandbox)
    source = source_for(sandbox, chain_record(zone, rdtype), resolvers)
    switched, read_started = await switch_while_cached(sandbox, source)
    truths = {r["name"]: dig(r["address"], zone["record_name"], rdtype) for r in resolvers}
    # TTLs count down between the reading and dig: allow what elapsed, in whole seconds.
    drift = 1 + math.ceil(time.monotonic() - read_started)
    suffix = "6" if rdtype == "AAAA" else ""
    old = sorted(zone[f"old_answers{suffix}"])
    expires_in = values_of(switched)["old_expires_in_seconds"]
    assert expires_in is not None and expires_in <= zone["ttl"], switched.detail
    for name, entry in entries(switched).items():
        truth = truths[name]
        if entry["matches"] == "old" and list(truth.answers) == old:
            # The TTL shown is the A/AAAA's (the record that changed), as dig sees it.
            assert 0 <= entry["ttl"] - truth.ttl_by_type[rdtype] <= drift, (name, entry, truth)
            assert entry["ttl"] <= zone["ttl"] < zone["cname_ttl"]
    await assert_all_turn_new_by(
        resolvers, zone, rdtype, moment(values_of(switched)["old_gone_at"])
    )
    final = (await read_until(source, lambda r: values_of(r)["converged_fraction"] == 1.0))[-1]
    assert final.status == Status.OK and final.detail.startswith("converged: ")


async def switch_while_cached(sandbox: SandboxHandle, source: DnsSource) -> tuple[Reading, float]:
    """The first reading after the zone switch, taken while some resolver still holds old, and
    the monotonic time just before it was taken."""
    for _ in range(3):
        primed = await read_one(source)
        assert primed.status == Status.OK, primed.detail
        sandbox.client.inject("zone-switch")
        read_started = time.monotonic()
        switched = await read_one(source)
        if values_of(switched)["old_count"]:
            return switched, read_started
        sandbox.client.reset()  # every cache turned over before the first look: again
    pytest.fail("no resolver still held the old answer right after the switch")


async def assert_all_turn_new_by(
    resolvers: list[dict[str, str]], zone: dict[str, Any], rdtype: str, gone_at: datetime
) -> None:
    """Every resolver answers new by `gone_at`: the last query answered old was sent before."""
    suffix = "6" if rdtype == "AAAA" else ""
    new = sorted(zone[f"new_answers{suffix}"])
    last_old_sent: dict[str, datetime] = {}
    deadline = time.monotonic() + DEADLINE_SECONDS
    pending = {r["name"]: r["address"] for r in resolvers}
    while pending:
        assert time.monotonic() < deadline, pending
        for name, address in list(pending.items()):
            truth = await asyncio.to_thread(dig, address, zone["record_name"], rdtype)
            if list(truth.answers) == new:
                del pending[name]
            elif truth.error is None:
                last_old_sent[name] = truth.sent_at
        await asyncio.sleep(0.1)
    late = {name: sent for name, sent in last_old_sent.items() if sent > gone_at}
    assert not late, f"answered old after the predicted {gone_at:%H:%M:%S.%f}: {late}"


async def test_unbound_holds_the_cname_longer_than_the_a_it_points_to(
    sandbox: SandboxHandle,
) -> None:
    zone = hand_zone(sandbox)
    unbound = [r for r in resolvers_of(sandbox) if r["name"] == "unbound"]
    if not unbound:
        pytest.skip("unbound is not installed")
    source = source_for(sandbox, chain_record(zone), unbound)
    await read_one(source)
    truth = dig(unbound[0]["address"], zone["record_name"])
    assert truth.ttl_by_type["CNAME"] > zone["ttl"] >= truth.ttl_by_type["A"]
    sandbox.client.inject("zone-switch")
    reading = await read_one(source)
    entry = entries(reading)["unbound"]
    if entry["matches"] == "old":
        assert entry["ttl"] <= zone["ttl"], "the CNAME's TTL was taken for the A's"
        assert values_of(reading)["old_expires_in_seconds"] <= zone["ttl"]


# --- a stuck resolver ----------------------------------------------------------------------------


async def test_a_resolver_answering_old_past_every_ttl_is_stuck(sandbox: SandboxHandle) -> None:
    zone = hand_zone(sandbox)
    resolvers = resolvers_of(sandbox)
    stuck = resolvers[0]
    source = source_for(sandbox, chain_record(zone), resolvers)
    await read_one(source)
    sandbox.client.inject("resolver-stuck", resolver=0)
    sandbox.client.inject("zone-switch")
    readings = await read_until(source, lambda r: values_of(r)["stuck_count"] > 0)
    reading = readings[-1]
    values = values_of(reading)
    new_since = moment(values["new_since"])
    stuck_since = moment(entries(reading)[stuck["name"]]["stuck_since"])
    # Truth: the authoritative answers new, the stuck resolver still old, the others new.
    assert list(dig(zone["authoritative"], zone["record_name"], recursion=False).answers) == sorted(
        zone["new_answers"]
    )
    stuck_truth = dig(stuck["address"], zone["record_name"])
    assert list(stuck_truth.answers) == sorted(zone["old_answers"])
    assert stuck_truth.ttl_by_type["A"] <= zone["ttl"], "a refreshed TTL, not a growing one"
    # STUCK only once every TTL it could have cached has run out.
    assert stuck_since >= new_since + timedelta(seconds=zone["ttl"] + MARGIN_SECONDS)
    for earlier in readings[:-1]:
        assert values_of(earlier)["stuck_count"] == 0
    assert reading.status == Status.WARN
    assert reading.detail.startswith(f"STUCK: {stuck['name']}: old since ")
    assert "cannot be estimated" in reading.detail
    assert values["old_gone_at"] is None and values["old_expires_in_seconds"] is None
    assert "STUCK" in values["old_expiry_unknown_reason"]
    later = (await read_until(source, lambda r: r.observed_at > reading.observed_at))[-1]
    assert moment(entries(later)[stuck["name"]]["stuck_since"]) == stuck_since
    sandbox.client.inject("resolver-normal", resolver=0)
    recovered = await read_until(source, lambda r: values_of(r)["converged_fraction"] == 1.0)
    assert recovered[-1].status == Status.OK
    assert values_of(recovered[-1])["stuck_count"] == 0


# --- every resolver silent -----------------------------------------------------------------------


async def test_no_eta_from_resolvers_that_did_not_answer(sandbox: SandboxHandle) -> None:
    zone = hand_zone(sandbox)
    resolvers = resolvers_of(sandbox, python_only=True)
    source = source_for(sandbox, chain_record(zone), resolvers)
    await read_one(source)
    sandbox.client.inject("zone-switch")
    for index in range(len(resolvers)):
        sandbox.client.inject("resolver-timeout", resolver=index)
    reading = await read_one(source)
    for resolver in resolvers:
        assert dig(resolver["address"], zone["record_name"]).error == "timeout"
    values = values_of(reading)
    assert reading.status == Status.UNKNOWN
    assert values["old_gone_at"] is None and values["old_expires_in_seconds"] is None
    assert values["old_expiry_unknown_reason"] == "no resolver answered"
    assert "cannot be estimated" in reading.detail
    sandbox.client.inject("resolver-normal", resolver=0)
    partly = await read_one(source)
    answered = entries(partly)[resolvers[0]["name"]]
    truth = dig(resolvers[0]["address"], zone["record_name"])
    assert answered["error"] is None
    if answered["matches"] == "old":
        assert values_of(partly)["old_expires_in_seconds"] <= truth.ttl_by_type["A"] + 1
    assert f"{len(resolvers) - 1} not answering" in partly.detail


# --- a weighted split ----------------------------------------------------------------------------


def weighted_record(sandbox: SandboxHandle, *, weighted: bool) -> dict[str, Any]:
    aws = sandbox.info["aws"]
    return {
        "name": aws["record_name"],
        "type": "A",
        "expect": aws["new_answers"],
        "old": aws["old_answers"],
        "weighted": weighted,
        "authoritative": [sandbox.info["dns"]["authoritative"]],
    }


def split_counts_match(reading: Reading, sandbox: SandboxHandle) -> None:
    """The counts shown are the resolvers' answers shown, and each holds old or new."""
    values = values_of(reading)
    kinds = [entry["matches"] for entry in entries(reading).values()]
    assert set(kinds) <= {"old", "new"}, reading.detail
    assert (values["old_count"], values["new_count"]) == (kinds.count("old"), kinds.count("new"))
    shown = f"resolvers see {kinds.count('old')} old, {kinds.count('new')} new"
    assert shown in reading.detail


def assert_entries_match_dig(reading: Reading, sandbox: SandboxHandle) -> None:
    """Each resolver's answer is what dig gets from it now, unless its TTL was about to run out."""
    for resolver in resolvers_of(sandbox):
        entry = entries(reading)[resolver["name"]]
        if entry["ttl"] is None or entry["ttl"] <= 1:
            continue
        truth = dig(resolver["address"], sandbox.info["aws"]["record_name"])
        assert list(truth.answers) == entry["answers"], (resolver, entry, truth)


@pytest.mark.parametrize("configured", [True, False], ids=["configured", "recognised"])
async def test_a_weighted_split_shows_the_split_and_does_not_flap(
    sandbox: SandboxHandle, configured: bool
) -> None:
    record = weighted_record(sandbox, weighted=configured)
    source = source_for(sandbox, record, resolvers_of(sandbox))
    sandbox.client.inject("traffic-split", ratio=0.5)
    auth = sandbox.info["dns"]["authoritative"]
    seen = {dig(auth, record["name"], recursion=False).answers for _ in range(40)}
    assert len(seen) == 2, "the weighted set answers both old and new"
    # The split starts once the set is seen handing out both (configured: the first such poll;
    # recognised: once the authoritative answer turned three times); from then on it holds.
    await read_until(source, lambda r: values_of(r)["split"] is True)
    readings = [await read_one(source)]
    while len(readings) < 30 or len({values_of(r)["old_count"] for r in readings}) < 2:
        assert len(readings) < 300, "the resolvers never showed a mixed split"
        await asyncio.sleep(POLL_PAUSE_SECONDS)
        readings.append(await read_one(source))
    for reading in readings:
        assert reading.status == Status.OK, reading.detail
        assert reading.detail.startswith("weighted split: "), reading.detail
        assert values_of(reading)["split"] is True
        assert values_of(reading)["stuck_count"] == 0
        split_counts_match(reading, sandbox)
    assert_entries_match_dig(readings[-1], sandbox)
