"""knot as the authoritative server of a hand-managed zone, switched by editing its zone file."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rdatatype
import pytest
import tomli_w

from cockpit.config import parse_config, parse_host_port
from cockpit.sandbox.dns import CachingResolver, UnboundResolver
from cockpit.sandbox.files import cockpit_config
from cockpit.sandbox.knot import HandZone, KnotServer, free_knot_port
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sandbox.shared import SandboxError, free_port
from cockpit.sources.dns_client import DnsAnswer, DnsClient

needs_knot = pytest.mark.skipif(
    not KnotServer.available(), reason="knot is not installed (apt-get install knot)"
)
ZONE = HandZone(
    origin="shop.test.",
    ttl_seconds=3,
    addresses={"old": "127.0.10.1", "new": "127.0.20.1"},
    addresses6={"old": "2001:db8:10::1", "new": "2001:db8:20::1"},
    nameserver_host="127.0.0.1",
)


def udp_port(host: str) -> int:
    return free_port(host, 2)


def ask(
    address: str, name: str, rdtype: str = "A", *, recursion: bool = True
) -> dns.message.Message:
    host, port = parse_host_port(address)
    query = dns.message.make_query(name, rdtype)
    if not recursion:
        query.flags = 0
    return dns.query.udp(query, host, port=port, timeout=2.0)


def records(response: dns.message.Message, rdtype: str) -> dict[str, tuple[int, list[str]]]:
    """{owner: (ttl, values)} of the answer's RRsets of `rdtype`."""
    wanted = dns.rdatatype.from_text(rdtype)
    return {
        rrset.name.to_text(): (rrset.ttl, sorted(r.to_text() for r in rrset))
        for rrset in response.answer
        if rrset.rdtype == wanted
    }


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short private folder (unix socket paths are limited to 107 characters), removed after."""
    folder = Path(tempfile.mkdtemp(prefix="cockpit-knot-test-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def knot(short_dir: Path) -> Iterator[KnotServer]:
    server = KnotServer("127.0.0.1", free_knot_port("127.0.0.1"), ZONE, work_dir=short_dir / "knot")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@needs_knot
def test_knot_answers_the_chain_with_each_records_own_ttl(knot: KnotServer) -> None:
    response = ask(knot.address, ZONE.www, recursion=False)
    assert records(response, "CNAME") == {ZONE.www: (12, [ZONE.app])}
    assert records(response, "A") == {ZONE.app: (3, ["127.0.10.1"])}
    assert knot.address6 is not None
    over_ipv6 = ask(knot.address6, ZONE.www, "AAAA", recursion=False)
    assert records(over_ipv6, "AAAA") == {ZONE.app: (3, ["2001:db8:10::1"])}


@needs_knot
def test_a_rewritten_zone_file_with_a_higher_serial_is_served_after_reload(
    knot: KnotServer,
) -> None:
    before = knot.serial()
    knot.switch("new")
    assert knot.serial() == (before or 0) + 1
    response = ask(knot.address, ZONE.www, recursion=False)
    assert records(response, "A") == {ZONE.app: (3, ["127.0.20.1"])}
    assert records(response, "CNAME") == {ZONE.www: (12, [ZONE.app])}, "the CNAME is unchanged"
    knot.switch("old")
    assert records(ask(knot.address, ZONE.app, recursion=False), "A")[ZONE.app][1] == ["127.0.10.1"]


@needs_knot
def test_stopping_knot_leaves_no_process(short_dir: Path) -> None:
    server = KnotServer("127.0.0.1", free_knot_port("127.0.0.1"), ZONE, work_dir=short_dir / "knot")
    server.start()
    pid = server.pid
    assert pid is not None
    server.stop()
    server.stop()
    assert server.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_control_socket_path_too_long_for_unix_sockets_is_refused(tmp_path: Path) -> None:
    server = KnotServer("127.0.0.1", 5353, ZONE, work_dir=tmp_path / ("x" * 100))
    with pytest.raises(SandboxError, match="too long"):
        server.start()
    assert server.pid is None


@needs_knot
def test_a_caching_resolver_asks_knot_for_its_zone_and_holds_the_a_for_its_ttl(
    knot: KnotServer,
) -> None:
    resolver = CachingResolver(
        "127.0.0.2",
        udp_port("127.0.0.2"),
        ("127.0.0.1", udp_port("127.0.0.1")),
        name="cache-knot",
        zone_upstreams={ZONE.origin: parse_host_port(knot.address)},
    )
    resolver.start()
    try:
        assert records(ask(resolver.address, ZONE.www), "A")[ZONE.app][1] == ["127.0.10.1"]
        knot.switch("new")
        assert records(ask(resolver.address, ZONE.www), "A")[ZONE.app][1] == ["127.0.10.1"]
        deadline = time.monotonic() + 30
        while records(ask(resolver.address, ZONE.www), "A")[ZONE.app][1] != ["127.0.20.1"]:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        resolver.stop()


@needs_knot
@pytest.mark.skipif(not UnboundResolver.available(), reason="unbound is not installed")
def test_unbound_resolves_the_knot_zone_through_its_stub_zone(
    knot: KnotServer, short_dir: Path
) -> None:
    work_dir = short_dir / "unbound"
    unbound = UnboundResolver(
        "127.0.0.3",
        udp_port("127.0.0.3"),
        ("127.0.0.1", udp_port("127.0.0.1")),
        zone="cutover.test.",
        work_dir=work_dir,
        more_zones={ZONE.origin: parse_host_port(knot.address)},
    )
    unbound.start()
    try:
        response = ask(unbound.address, ZONE.www, "AAAA")
        assert records(response, "AAAA")[ZONE.app][1] == ["2001:db8:10::1"]
        knot.switch("new")
        unbound.flush()
        flushed = ask(unbound.address, ZONE.www, "AAAA")
        assert records(flushed, "AAAA")[ZONE.app][1] == ["2001:db8:20::1"]
    finally:
        unbound.stop()


def client_answer(address: str, name: str, *, recursion: bool) -> DnsAnswer:
    """What the cockpit's own DNS client reads from `address`."""

    async def query() -> DnsAnswer:
        async with DnsClient() as client:
            server = parse_host_port(address)
            return await client.query(
                server, name, "A", timeout_seconds=5.0, recursion_desired=recursion
            )

    return asyncio.run(query())


@needs_knot
@pytest.mark.skipif(not UnboundResolver.available(), reason="unbound is not installed")
def test_a_truncated_udp_answer_is_asked_again_over_tcp(knot: KnotServer, short_dir: Path) -> None:
    """knot and unbound both answer the big pool with TC set over UDP; the client reads the
    whole set over TCP from each, as a resolver would."""
    truncated = ask(knot.address, ZONE.pool, recursion=False)
    assert truncated.flags & dns.flags.TC, "the pool must not fit a UDP answer for this test"
    from_knot = client_answer(knot.address, ZONE.pool, recursion=False)
    assert from_knot.error is None and sorted(from_knot.answers) == sorted(ZONE.pool_addresses())
    assert from_knot.ttl_seconds == ZONE.ttl_seconds

    unbound = UnboundResolver(
        "127.0.0.3",
        free_knot_port("127.0.0.3"),
        ("127.0.0.1", udp_port("127.0.0.1")),
        zone="cutover.test.",
        work_dir=short_dir / "unbound",
        more_zones={ZONE.origin: parse_host_port(knot.address)},
        tcp=True,
    )
    unbound.start()
    try:
        assert ask(unbound.address, ZONE.pool).flags & dns.flags.TC
        through_unbound = client_answer(unbound.address, ZONE.pool, recursion=True)
    finally:
        unbound.stop()
    assert through_unbound.error is None
    assert sorted(through_unbound.answers) == sorted(ZONE.pool_addresses())


# --- in the sandbox ------------------------------------------------------------------------------


def hand_zone(sandbox: SandboxHandle) -> dict[str, object]:
    zone = sandbox.info["dns"].get("hand_zone")
    if not zone:
        pytest.skip("knot is not installed: the sandbox runs without the hand-managed zone")
    return dict(zone)


def served_app_address(zone: dict[str, object]) -> list[str]:
    response = ask(str(zone["authoritative"]), str(zone["target_name"]), recursion=False)
    return records(response, "A")[str(zone["target_name"])][1]


def test_knot_is_a_recorded_child_and_reset_puts_the_zone_back(sandbox: SandboxHandle) -> None:
    zone = hand_zone(sandbox)
    pids = sandbox.client.status()["pids"]["children"]
    assert "knot" in pids
    os.kill(pids["knot"], 0)
    outcome = sandbox.client.inject("zone-switch")
    assert "serial bumped" in outcome
    assert served_app_address(zone) == zone["new_answers"]
    sandbox.client.reset()
    assert served_app_address(zone) == zone["old_answers"]
    sandbox.client.inject("zone-switch")
    sandbox.client.inject("zone-switch-back")
    assert served_app_address(zone) == zone["old_answers"]


def test_the_sandbox_config_can_watch_the_hand_managed_record(sandbox: SandboxHandle) -> None:
    zone = hand_zone(sandbox)
    info = {**sandbox.info, "dns": {**sandbox.info["dns"], "watch_hand_zone": True}}
    config = parse_config(tomli_w.dumps(cockpit_config(info)), source="t", base_dir=Path())
    assert config.dns is not None
    [record] = [r for r in config.dns.records if r.name == str(zone["record_name"]).rstrip(".")]
    assert record.authoritative is not None
    addresses = [server.address for server in record.authoritative]
    assert addresses[0] == zone["authoritative"]
    assert addresses[1:] == ([zone["authoritative6"]] if zone["authoritative6"] else [])
