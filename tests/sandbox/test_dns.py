"""The DNS stand-ins over real UDP: authoritative answers, weighted draws, caching and faults."""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from cockpit.sandbox.dns import AuthoritativeServer, CachingResolver, UnboundResolver
from cockpit.sandbox.shared import SandboxError, WeightedRecordSet, free_port

ZONE = "cutover.test."
APP = "app.cutover.test."
OLD_ADDRESS = "127.0.10.1"
NEW_ADDRESS = "127.0.20.1"

needs_unbound = pytest.mark.skipif(
    not UnboundResolver.available(), reason="unbound is not installed (apt-get install unbound)"
)


class DictRecords:
    """A record source the test edits in place; it can fail or hold one name until released."""

    def __init__(self) -> None:
        self.record_sets: dict[tuple[str, str], list[WeightedRecordSet]] = {}
        self.failure: Exception | None = None
        self.held_name: str | None = None
        self.holding = threading.Event()
        self.release = threading.Event()

    def __call__(self, name: str, rtype: str) -> list[WeightedRecordSet]:
        if self.failure is not None:
            raise self.failure
        if name == self.held_name:
            self.holding.set()
            self.release.wait(10)
        return list(self.record_sets.get((name, rtype), []))

    def set_app_weights(self, old_weight: int, new_weight: int, ttl: int = 30) -> None:
        self.record_sets[(APP, "A")] = [
            WeightedRecordSet(APP, "A", ttl, (OLD_ADDRESS,), "old", old_weight),
            WeightedRecordSet(APP, "A", ttl, (NEW_ADDRESS,), "new", new_weight),
        ]

    def set_simple(self, name: str, rtype: str, ttl: int, *values: str) -> None:
        self.record_sets[(name, rtype)] = [WeightedRecordSet(name, rtype, ttl, values)]


class ManualClock:
    """A monotonic clock that moves only when the test advances it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def udp_port(host: str) -> int:
    return free_port(host, socket.SOCK_DGRAM)


def ask(
    address: str, name: str = APP, rtype: str = "A", *, timeout: float = 3.0, recursion: bool = True
) -> dns.message.Message:
    host, port = address.rsplit(":", 1)
    query = dns.message.make_query(name, rtype, flags=dns.flags.RD if recursion else 0)
    return dns.query.udp(query, host, port=int(port), timeout=timeout)


def addresses(response: dns.message.Message) -> list[str]:
    return sorted(
        rdata.to_text()
        for rrset in response.answer
        if rrset.rdtype == dns.rdatatype.A
        for rdata in rrset
    )


def a_ttl(response: dns.message.Message) -> int:
    return next(rrset.ttl for rrset in response.answer if rrset.rdtype == dns.rdatatype.A)


def can_bind_udp(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


@pytest.fixture
def records() -> Iterator[DictRecords]:
    source = DictRecords()
    source.set_app_weights(100, 0)
    yield source
    source.release.set()


@pytest.fixture
def authoritative(records: DictRecords) -> Iterator[AuthoritativeServer]:
    server = AuthoritativeServer(
        "127.0.0.1", udp_port("127.0.0.1"), ZONE, records, rng=random.Random(7)
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def upstream_of(server: AuthoritativeServer) -> tuple[str, int]:
    host, port = server.address.rsplit(":", 1)
    return host, int(port)


@pytest.fixture
def resolver(authoritative: AuthoritativeServer, clock: ManualClock) -> Iterator[CachingResolver]:
    server = CachingResolver(
        "127.0.0.2",
        udp_port("127.0.0.2"),
        upstream_of(authoritative),
        name="resolver-1",
        clock=clock,
        upstream_timeout_seconds=1.0,
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


# The authoritative server.


def test_authoritative_answer_has_aa_and_the_records_ttl(
    authoritative: AuthoritativeServer,
) -> None:
    response = ask(authoritative.address)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert addresses(response) == [OLD_ADDRESS]
    assert a_ttl(response) == 30


def test_a_change_at_the_source_shows_in_the_next_authoritative_answer(
    authoritative: AuthoritativeServer, records: DictRecords
) -> None:
    assert addresses(ask(authoritative.address)) == [OLD_ADDRESS]
    records.set_app_weights(0, 100)
    assert addresses(ask(authoritative.address)) == [NEW_ADDRESS]


@pytest.mark.parametrize(
    ("old_weight", "new_weight", "expected"),
    [(100, 0, OLD_ADDRESS), (0, 100, NEW_ADDRESS)],
)
def test_a_zero_weight_set_is_never_answered(
    authoritative: AuthoritativeServer,
    records: DictRecords,
    old_weight: int,
    new_weight: int,
    expected: str,
) -> None:
    records.set_app_weights(old_weight, new_weight)
    answers = {addresses(ask(authoritative.address))[0] for _ in range(40)}
    assert answers == {expected}


@pytest.mark.parametrize(("old_weight", "new_weight"), [(50, 50), (0, 0)])
def test_equal_weights_answer_both_sides_one_at_a_time(
    authoritative: AuthoritativeServer, records: DictRecords, old_weight: int, new_weight: int
) -> None:
    records.set_app_weights(old_weight, new_weight)
    answers = [addresses(ask(authoritative.address)) for _ in range(200)]
    assert all(len(answer) == 1 for answer in answers)
    assert {answer[0] for answer in answers} == {OLD_ADDRESS, NEW_ADDRESS}


def test_a_seeded_rng_draws_the_same_answers(records: DictRecords) -> None:
    records.set_app_weights(50, 50)
    sequences = []
    for _ in range(2):
        server = AuthoritativeServer(
            "127.0.0.1", udp_port("127.0.0.1"), ZONE, records, rng=random.Random(42)
        )
        server.start()
        try:
            sequences.append([addresses(ask(server.address))[0] for _ in range(30)])
        finally:
            server.stop()
    assert sequences[0] == sequences[1]
    assert len(set(sequences[0])) == 2


def test_a_missing_name_is_nxdomain_with_the_soa(authoritative: AuthoritativeServer) -> None:
    response = ask(authoritative.address, "missing.cutover.test.")
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.AA
    assert not response.answer
    [soa] = response.authority
    assert soa.rdtype == dns.rdatatype.SOA
    assert soa.ttl <= 5


def test_a_missing_type_is_nodata_with_the_soa(authoritative: AuthoritativeServer) -> None:
    response = ask(authoritative.address, APP, "AAAA")
    assert response.rcode() == dns.rcode.NOERROR
    assert not response.answer
    assert [rrset.rdtype for rrset in response.authority] == [dns.rdatatype.SOA]


def test_a_name_outside_the_zone_is_refused(authoritative: AuthoritativeServer) -> None:
    response = ask(authoritative.address, "example.com.")
    assert response.rcode() == dns.rcode.REFUSED
    assert not response.answer


def test_a_failing_source_gives_servfail_and_the_server_keeps_serving(
    authoritative: AuthoritativeServer, records: DictRecords
) -> None:
    records.failure = RuntimeError("AWS stand-in is down")
    assert ask(authoritative.address).rcode() == dns.rcode.SERVFAIL
    records.failure = None
    assert addresses(ask(authoritative.address)) == [OLD_ADDRESS]


def test_a_cname_in_the_zone_is_followed_to_the_targets_records(
    authoritative: AuthoritativeServer, records: DictRecords
) -> None:
    records.set_simple("www.cutover.test.", "CNAME", 60, APP)
    response = ask(authoritative.address, "www.cutover.test.")
    assert [rrset.rdtype for rrset in response.answer] == [dns.rdatatype.CNAME, dns.rdatatype.A]
    assert addresses(response) == [OLD_ADDRESS]


def test_a_cname_out_of_the_zone_is_answered_alone(
    authoritative: AuthoritativeServer, records: DictRecords
) -> None:
    records.set_simple("cdn.cutover.test.", "CNAME", 60, "edge.example.net.")
    response = ask(authoritative.address, "cdn.cutover.test.", "AAAA")
    assert response.rcode() == dns.rcode.NOERROR
    [cname] = response.answer
    assert cname[0].to_text() == "edge.example.net."


def test_the_apex_has_a_synthesized_soa_and_ns_with_glue(
    authoritative: AuthoritativeServer,
) -> None:
    soa = ask(authoritative.address, ZONE, "SOA")
    assert soa.flags & dns.flags.AA
    assert soa.answer[0][0].minimum == 5
    ns = ask(authoritative.address, ZONE, "NS")
    assert ns.answer[0][0].to_text() == "ns1.cutover.test."
    assert [rrset.name.to_text() for rrset in ns.additional] == ["ns1.cutover.test."]


def test_a_malformed_datagram_does_not_stop_the_server(
    authoritative: AuthoritativeServer,
) -> None:
    host, port = upstream_of(authoritative)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
        raw.settimeout(2)
        raw.sendto(b"\x12\x34\x01\x00\x00\x01garbage", (host, port))
        reply = raw.recv(512)
    assert reply[:2] == b"\x12\x34"
    assert reply[3] & 0x0F == dns.rcode.FORMERR
    assert addresses(ask(authoritative.address)) == [OLD_ADDRESS]


def test_stopping_the_authoritative_server_frees_its_port(records: DictRecords) -> None:
    port = udp_port("127.0.0.1")
    server = AuthoritativeServer("127.0.0.1", port, ZONE, records)
    server.start()
    assert not can_bind_udp("127.0.0.1", port)
    server.stop()
    server.stop()
    assert can_bind_udp("127.0.0.1", port)


def test_a_port_in_use_is_a_sandbox_error(records: DictRecords) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        port = squatter.getsockname()[1]
        server = AuthoritativeServer("127.0.0.1", port, ZONE, records)
        with pytest.raises(SandboxError, match="cannot listen"):
            server.start()


# The caching resolver.


def test_the_resolver_answers_recursively_not_authoritatively(resolver: CachingResolver) -> None:
    response = ask(resolver.address)
    assert response.flags & dns.flags.RA
    assert not response.flags & dns.flags.AA
    assert addresses(response) == [OLD_ADDRESS]
    assert a_ttl(response) == 30


def test_the_resolver_keeps_the_old_answer_counting_down_until_it_expires(
    resolver: CachingResolver, records: DictRecords, clock: ManualClock
) -> None:
    assert a_ttl(ask(resolver.address)) == 30
    records.set_app_weights(0, 100)
    clock.advance(12)
    held = ask(resolver.address)
    assert (addresses(held), a_ttl(held)) == ([OLD_ADDRESS], 18)
    clock.advance(17.5)
    held = ask(resolver.address)
    assert (addresses(held), a_ttl(held)) == ([OLD_ADDRESS], 1)
    clock.advance(0.5)
    fresh = ask(resolver.address)
    assert (addresses(fresh), a_ttl(fresh)) == ([NEW_ADDRESS], 30)


def test_the_resolver_on_the_real_clock_switches_after_a_short_ttl(
    authoritative: AuthoritativeServer, records: DictRecords
) -> None:
    records.set_app_weights(100, 0, ttl=2)
    resolver = CachingResolver(
        "127.0.0.3", udp_port("127.0.0.3"), upstream_of(authoritative), name="real-clock"
    )
    resolver.start()
    try:
        assert addresses(ask(resolver.address)) == [OLD_ADDRESS]
        records.set_app_weights(0, 100, ttl=2)
        assert addresses(ask(resolver.address)) == [OLD_ADDRESS]
        time.sleep(2.2)
        assert addresses(ask(resolver.address)) == [NEW_ADDRESS]
    finally:
        resolver.stop()


def test_a_negative_answer_is_cached_for_the_soa_minimum(
    resolver: CachingResolver, records: DictRecords, clock: ManualClock
) -> None:
    name = "late.cutover.test."
    assert ask(resolver.address, name).rcode() == dns.rcode.NXDOMAIN
    records.set_simple(name, "A", 30, NEW_ADDRESS)
    clock.advance(3)
    cached = ask(resolver.address, name)
    assert cached.rcode() == dns.rcode.NXDOMAIN
    assert cached.authority[0].ttl == 2
    clock.advance(2)
    assert addresses(ask(resolver.address, name)) == [NEW_ADDRESS]


def test_stuck_keeps_the_old_answer_after_expiry_with_its_original_ttl(
    resolver: CachingResolver, records: DictRecords, clock: ManualClock
) -> None:
    ask(resolver.address)
    records.set_app_weights(0, 100)
    resolver.set_mode("stuck")
    clock.advance(300)
    stuck = ask(resolver.address)
    assert (addresses(stuck), a_ttl(stuck)) == ([OLD_ADDRESS], 30)
    assert ask(resolver.address, "other.cutover.test.").rcode() == dns.rcode.SERVFAIL
    resolver.set_mode("normal")
    assert addresses(ask(resolver.address)) == [NEW_ADDRESS]


def test_timeout_mode_drops_every_query(resolver: CachingResolver) -> None:
    ask(resolver.address)
    resolver.set_mode("timeout")
    assert resolver.mode == "timeout"
    with pytest.raises(dns.exception.Timeout):
        ask(resolver.address, timeout=0.3)
    resolver.set_mode("normal")
    assert addresses(ask(resolver.address)) == [OLD_ADDRESS]


def test_servfail_mode_fails_everything_and_normal_keeps_the_cache(
    resolver: CachingResolver, records: DictRecords
) -> None:
    ask(resolver.address)
    records.set_app_weights(0, 100)
    resolver.set_mode("servfail")
    assert ask(resolver.address).rcode() == dns.rcode.SERVFAIL
    resolver.set_mode("normal")
    assert addresses(ask(resolver.address)) == [OLD_ADDRESS]


def test_an_unknown_mode_is_a_sandbox_error(resolver: CachingResolver) -> None:
    with pytest.raises(SandboxError, match="unknown mode"):
        resolver.set_mode("sleepy")  # type: ignore[arg-type]


def test_flush_forgets_the_cached_answer(resolver: CachingResolver, records: DictRecords) -> None:
    ask(resolver.address)
    records.set_app_weights(0, 100)
    assert addresses(ask(resolver.address)) == [OLD_ADDRESS]
    resolver.flush()
    assert addresses(ask(resolver.address)) == [NEW_ADDRESS]


def test_an_upstream_servfail_is_passed_on_and_not_cached(
    resolver: CachingResolver, records: DictRecords
) -> None:
    records.failure = RuntimeError("AWS stand-in is down")
    assert ask(resolver.address).rcode() == dns.rcode.SERVFAIL
    records.failure = None
    assert addresses(ask(resolver.address)) == [OLD_ADDRESS]


def test_a_query_without_recursion_is_answered_from_cache_only(
    resolver: CachingResolver,
) -> None:
    assert ask(resolver.address, recursion=False).rcode() == dns.rcode.REFUSED
    ask(resolver.address)
    assert addresses(ask(resolver.address, recursion=False)) == [OLD_ADDRESS]


def test_a_dead_upstream_gives_servfail_not_a_hang(clock: ManualClock) -> None:
    dead_upstream = ("127.0.0.1", udp_port("127.0.0.1"))
    resolver = CachingResolver(
        "127.0.0.2",
        udp_port("127.0.0.2"),
        dead_upstream,
        name="orphan",
        clock=clock,
        upstream_timeout_seconds=0.3,
    )
    resolver.start()
    try:
        assert ask(resolver.address, timeout=5).rcode() == dns.rcode.SERVFAIL
    finally:
        resolver.stop()


def test_a_slow_upstream_fetch_does_not_stall_answers_from_cache(
    authoritative: AuthoritativeServer, records: DictRecords, clock: ManualClock
) -> None:
    resolver = CachingResolver(
        "127.0.0.3",
        udp_port("127.0.0.3"),
        upstream_of(authoritative),
        name="patient",
        clock=clock,
        upstream_timeout_seconds=15,
    )
    resolver.start()
    slow_answers: list[dns.message.Message] = []
    asker = threading.Thread(
        target=lambda: slow_answers.append(ask(resolver.address, "slow.cutover.test.", timeout=20))
    )
    try:
        ask(resolver.address)
        records.held_name = "slow.cutover.test."
        asker.start()
        assert records.holding.wait(5)
        assert addresses(ask(resolver.address, timeout=2)) == [OLD_ADDRESS]
        assert not slow_answers
    finally:
        records.release.set()
        if asker.is_alive():
            asker.join()
        resolver.stop()
    assert [answer.rcode() for answer in slow_answers] == [dns.rcode.NXDOMAIN]


def test_stopping_the_resolver_frees_its_port(authoritative: AuthoritativeServer) -> None:
    port = udp_port("127.0.0.2")
    resolver = CachingResolver("127.0.0.2", port, upstream_of(authoritative), name="short-lived")
    resolver.start()
    assert addresses(ask(resolver.address)) == [OLD_ADDRESS]
    resolver.stop()
    resolver.stop()
    assert can_bind_udp("127.0.0.2", port)


def test_the_resolver_refuses_an_upstream_off_loopback() -> None:
    with pytest.raises(SandboxError, match="loopback"):
        CachingResolver("127.0.0.2", 5353, ("192.0.2.1", 53), name="escapee")


# unbound, when installed.


@pytest.fixture
def unbound(tmp_path: Path, authoritative: AuthoritativeServer) -> Iterator[UnboundResolver]:
    resolver = UnboundResolver(
        "127.0.0.2",
        udp_port("127.0.0.2"),
        upstream_of(authoritative),
        zone=ZONE,
        work_dir=tmp_path / "unbound",
    )
    resolver.start()
    try:
        yield resolver
    finally:
        resolver.stop()


@needs_unbound
def test_unbound_keeps_the_old_answer_until_its_ttl_runs_out(
    unbound: UnboundResolver, records: DictRecords
) -> None:
    records.set_app_weights(100, 0, ttl=3)
    first = ask(unbound.address)
    assert addresses(first) == [OLD_ADDRESS]
    records.set_app_weights(0, 100, ttl=3)
    time.sleep(1.1)
    held = ask(unbound.address)
    assert addresses(held) == [OLD_ADDRESS]
    assert a_ttl(held) < a_ttl(first)
    time.sleep(a_ttl(held) + 1.1)
    assert addresses(ask(unbound.address)) == [NEW_ADDRESS]


@needs_unbound
def test_unbound_flush_forgets_the_zone(unbound: UnboundResolver, records: DictRecords) -> None:
    assert addresses(ask(unbound.address)) == [OLD_ADDRESS]
    records.set_app_weights(0, 100)
    assert addresses(ask(unbound.address)) == [OLD_ADDRESS]
    unbound.flush()
    assert addresses(ask(unbound.address)) == [NEW_ADDRESS]


@needs_unbound
def test_unbound_refuses_names_outside_the_zone(unbound: UnboundResolver) -> None:
    assert ask(unbound.address, "example.com.").rcode() == dns.rcode.REFUSED


@needs_unbound
def test_stopping_unbound_leaves_no_process(
    tmp_path: Path, authoritative: AuthoritativeServer
) -> None:
    resolver = UnboundResolver(
        "127.0.0.3",
        udp_port("127.0.0.3"),
        upstream_of(authoritative),
        zone=ZONE,
        work_dir=tmp_path / "unbound",
        name="unbound-2",
    )
    resolver.start()
    pid = resolver.pid
    try:
        assert pid is not None
        assert addresses(ask(resolver.address)) == [OLD_ADDRESS]
    finally:
        resolver.stop()
    resolver.stop()
    assert resolver.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@needs_unbound
def test_unbound_that_cannot_bind_is_a_sandbox_error_with_its_log(
    tmp_path: Path, authoritative: AuthoritativeServer
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.2", 0))
        port = squatter.getsockname()[1]
        resolver = UnboundResolver(
            "127.0.0.2", port, upstream_of(authoritative), zone=ZONE, work_dir=tmp_path / "u"
        )
        with pytest.raises(SandboxError, match="log tail"):
            resolver.start()
    assert resolver.pid is None
