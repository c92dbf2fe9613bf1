"""The DNS propagation source and its UDP client: pure rules, then against the sandbox's servers."""

from __future__ import annotations

import asyncio
import math
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from cockpit.clock import FrozenClock, system_clock
from cockpit.config import (
    Config,
    DnsRecord,
    Resolver,
    config_from_data,
    load_config,
    parse_host_port,
)
from cockpit.io.context import SourceContext
from cockpit.model import Reading, Status, reading_to_json
from cockpit.redact import redactor_for, remember_secrets
from cockpit.sandbox.dns import AuthoritativeServer
from cockpit.sandbox.lifecycle import SandboxHandle
from cockpit.sandbox.shared import WeightedRecordSet, free_port
from cockpit.sources.dns import (
    DnsSource,
    RecordView,
    ServerAnswer,
    build_dns_sources,
    classify,
    converged_fraction,
    old_expires_in_seconds,
    old_gone_at,
    record_detail,
    record_status,
    record_values,
    server_answer,
)
from cockpit.sources.dns_client import (
    Ask,
    DnsAnswer,
    DnsClient,
    IdPool,
    answers_question,
    failed_answer,
    read_step,
)
from tests.sandbox.test_sandbox import upsert_weights

RECORD_NAME = "app.cutover.test"
NOW = datetime(2026, 11, 22, 1, 2, 3, tzinfo=UTC)
NEW = ("198.51.100.21", "198.51.100.20")
OLD = ("192.0.2.10",)


def record(
    expect: Sequence[str] = ("198.51.100.20", "198.51.100.21"),
    old: Sequence[str] = ("192.0.2.10",),
    record_type: str = "A",
) -> DnsRecord:
    data = {"name": "shop.example.com", "type": record_type, "expect": tuple(expect)}
    return DnsRecord.model_validate({**data, "old": tuple(old)})


def answer(*answers: str, ttl: int = 30, error: str | None = None) -> DnsAnswer:
    if error is not None:
        return failed_answer(error, rcode=None if "timeout" in error else error)
    return DnsAnswer("NOERROR", answers, ttl, (), None)


def server(
    label: str, matches: str, ttl: int | None = 30, role: str = "resolver", error: str = ""
) -> ServerAnswer:
    answers = {"new": NEW, "old": OLD, "other": ("203.0.113.9",), "error": ()}[matches]
    return ServerAnswer(
        label=label,
        address="127.0.0.1:53",
        role=role,  # type: ignore[arg-type]
        answers=tuple(sorted(answers)),
        ttl_seconds=None if matches == "error" else ttl,
        matches=matches,  # type: ignore[arg-type]
        error=(error or "timeout after 0.8 s") if matches == "error" else None,
    )


def view(
    resolvers: Sequence[ServerAnswer],
    authoritative: Sequence[ServerAnswer] = (),
    max_ttl: int = 60,
) -> RecordView:
    return RecordView(record(), tuple(resolvers), tuple(authoritative), max_ttl, NOW)


def auth(matches: str, ttl: int = 30, error: str = "") -> ServerAnswer:
    return server("ns1", matches, ttl, role="authoritative", error=error)


# --- classification ----------------------------------------------------------------------------


def test_the_new_set_matches_in_any_order() -> None:
    assert classify(record(), answer("198.51.100.21", "198.51.100.20")) == "new"
    assert classify(record(), answer("192.0.2.10")) == "old"


def test_a_subset_superset_or_stranger_is_other() -> None:
    assert classify(record(), answer("198.51.100.20")) == "other"
    assert classify(record(), answer("198.51.100.20", "198.51.100.21", "192.0.2.10")) == "other"
    assert classify(record(), answer("203.0.113.9")) == "other"


def test_ipv6_answers_compare_in_canonical_form() -> None:
    aaaa = record(expect=("2001:db8::1",), old=("2001:db8::2",), record_type="AAAA")
    assert classify(aaaa, answer("2001:0db8:0:0::1")) == "new"


def test_cname_targets_compare_without_case_or_final_dot() -> None:
    cname = record(
        expect=("New-LB.example.net.",), old=("old-lb.example.net",), record_type="CNAME"
    )
    assert classify(cname, answer("new-lb.EXAMPLE.net")) == "new"
    assert classify(cname, answer("old-lb.example.net")) == "old"
    assert classify(cname, answer("elsewhere.example.net")) == "other"


@pytest.mark.parametrize(
    "reason", ["SERVFAIL", "NXDOMAIN", "REFUSED", "timeout after 1 s", "malformed answer"]
)
def test_every_failure_is_an_error_not_an_answer(reason: str) -> None:
    assert classify(record(), answer(error=reason)) == "error"


# --- responses as recorded on the wire -----------------------------------------------------------


def recorded(text: str) -> dns.message.Message:
    return dns.message.from_text(text)


CHAINED = """id 4660
opcode QUERY
rcode NOERROR
flags QR RD RA
;QUESTION
www.example.com. IN A
;ANSWER
www.example.com. 300 IN CNAME lb.example.net.
lb.example.net. 60 IN A 192.0.2.2
lb.example.net. 60 IN A 192.0.2.1
"""


def qname(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def test_a_cname_chain_is_followed_to_the_addresses_and_the_longest_ttl() -> None:
    step = read_step(recorded(CHAINED), qname("www.example.com"), dns.rdatatype.A)
    assert step.answers == ("192.0.2.1", "192.0.2.2")
    assert step.cname_chain == ("lb.example.net",)
    assert max(step.ttls) == 300
    assert step.error is None and step.dangling is None


def test_asking_for_the_cname_itself_answers_its_target() -> None:
    text = CHAINED.replace("www.example.com. IN A", "www.example.com. IN CNAME")
    step = read_step(recorded(text), qname("www.example.com"), dns.rdatatype.CNAME)
    assert step.answers == ("lb.example.net",)
    assert step.ttls == (300,)


def test_a_chain_ending_at_a_cname_names_where_to_ask_next() -> None:
    text = "\n".join(line for line in CHAINED.splitlines() if " A 192" not in line)
    step = read_step(recorded(text), qname("www.example.com"), dns.rdatatype.A)
    assert step.dangling == qname("lb.example.net")
    assert step.answers == ()


def test_a_cname_loop_is_an_error() -> None:
    lines = [line for line in CHAINED.splitlines() if " A 192" not in line]
    text = "\n".join([*lines, "lb.example.net. 60 IN CNAME www.example.com."])
    step = read_step(recorded(text), qname("www.example.com"), dns.rdatatype.A)
    assert step.error == "CNAME loop at www.example.com."


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (("rcode NOERROR", "rcode SERVFAIL"), "SERVFAIL"),
        (("rcode NOERROR", "rcode NXDOMAIN"), "NXDOMAIN"),
        (("flags QR RD RA", "flags QR RD RA TC"), "truncated answer"),
        (("IN A 192.0.2", "IN TXT 192.0.2"), "no A record (NODATA)"),
    ],
)
def test_failed_responses_say_why(change: tuple[str, str], error: str) -> None:
    text = CHAINED.replace("www.example.com. 300 IN CNAME lb.example.net.\n", "").replace(*change)
    text = text.replace("lb.example.net.", "www.example.com.")
    step = read_step(recorded(text), qname("www.example.com"), dns.rdatatype.A)
    assert step.error == error


def test_a_response_counts_only_for_its_own_question() -> None:
    response = recorded(CHAINED)
    asked = (qname("WWW.example.com"), dns.rdatatype.A, dns.rdataclass.IN)
    assert answers_question(response, asked)
    assert not answers_question(response, (qname("www.example.com"), dns.rdatatype.AAAA, 1))
    assert not answers_question(response, (qname("api.example.com"), dns.rdatatype.A, 1))
    as_query = recorded(CHAINED.replace("flags QR RD RA", "flags RD"))
    assert not answers_question(as_query, asked)


# --- convergence maths ---------------------------------------------------------------------------


def test_converged_fraction_counts_errors_as_not_converged() -> None:
    resolvers = [server("a", "new"), server("b", "new"), server("c", "old"), server("d", "error")]
    assert converged_fraction(resolvers) == 0.5


def test_nothing_answered_is_unknown_not_zero() -> None:
    resolvers = [server("a", "error"), server("b", "error")]
    assert converged_fraction(resolvers) is None
    assert old_expires_in_seconds(resolvers) is None
    assert old_gone_at(NOW, resolvers) is None


def test_the_last_old_answer_sets_when_old_is_gone() -> None:
    resolvers = [server("a", "old", ttl=12), server("b", "old", ttl=42), server("c", "new", 300)]
    assert old_expires_in_seconds(resolvers) == 42
    assert old_gone_at(NOW, resolvers) == NOW + timedelta(seconds=42)


def test_old_gone_at_rounds_up_to_the_whole_second() -> None:
    observed = NOW + timedelta(microseconds=250_000)
    assert old_gone_at(observed, [server("a", "old", ttl=3)]) == NOW + timedelta(seconds=4)


def test_no_old_answer_left_means_zero_and_no_time() -> None:
    resolvers = [server("a", "new"), server("b", "error")]
    assert old_expires_in_seconds(resolvers) == 0
    assert old_gone_at(NOW, resolvers) is None


def test_values_carry_every_documented_name() -> None:
    values = record_values(view([server("a", "new"), server("b", "old", ttl=42)], [auth("new")]))
    assert values["converged_fraction"] == 0.5
    assert values["old_expires_in_seconds"] == 42
    assert values["old_gone_at"] == "2026-11-22T01:02:45Z"
    assert values["authoritative_ttl_seconds"] == 30
    assert values["ttl_preflight_ok"] is True
    assert values["authoritative_matches"] == "new"
    assert (values["new_count"], values["old_count"]) == (1, 1)
    assert (values["other_count"], values["error_count"]) == (0, 0)
    assert [entry["role"] for entry in values["resolvers"]] == ["resolver"] * 2 + ["authoritative"]
    assert set(values["resolvers"][0]) == {
        "resolver",
        "address",
        "role",
        "answers",
        "ttl",
        "matches",
        "error",
        "chain",
        "stuck_since",
    }
    assert values["old_expiry_unknown_reason"] is None
    assert (values["stuck_count"], values["weighted"], values["split"]) == (0, False, False)


# --- status rules ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    resolvers: tuple[str, ...]
    authoritative: tuple[str, ...]
    status: Status
    detail: str
    max_ttl: int = 60


STATUS_CASES = {
    "converged": Case(
        ("new",) * 5, ("new",), Status.OK, "converged: 5/5 resolvers answer the new addresses"
    ),
    "before the switch": Case(
        ("old",) * 5,
        ("old",),
        Status.OK,
        "not switched yet: authoritative and 5/5 resolvers answer old",
    ),
    "propagating": Case(
        ("new",) * 3 + ("old",) * 2,
        ("new",),
        Status.WARN,
        "propagating: 3/5 new, 2 old (last old answer expires in 30 s, at 01:02:33Z)",
    ),
    "switched, nobody has it yet": Case(
        ("old",) * 2, ("new",), Status.WARN, "propagating: 0/2 new, 2 old"
    ),
    "a wrong answer": Case(("new", "other"), ("new",), Status.CRITICAL, "wrong answer"),
    "authoritative wrong": Case(("old",), ("other",), Status.CRITICAL, "wrong answer"),
    "authoritative silent": Case(
        ("old",), ("error",), Status.CRITICAL, "authoritative servers not answering"
    ),
    "no resolver answered": Case(("error",) * 3, ("new",), Status.UNKNOWN, "no resolver answered"),
    "a resolver errors": Case(
        ("new", "new", "error"), ("new",), Status.WARN, "1 not answering (r2: timeout"
    ),
    "TTL too high": Case(
        ("old",),
        ("old",),
        Status.WARN,
        "TTL preflight failed: authoritative TTL 30 s > max 10 s",
        10,
    ),
    "authoritative split": Case(
        ("old",), ("old", "new"), Status.WARN, "authoritative servers disagree (1 new, 1 old)"
    ),
    "rollback propagating": Case(
        ("new", "old"), ("old",), Status.WARN, "authoritative answers old but 1/2"
    ),
    "no authoritative, all new": Case(("new", "new"), (), Status.OK, "converged: 2/2"),
    "no authoritative, mixed": Case(("new", "old"), (), Status.WARN, "propagating: 1/2 new, 1 old"),
}


@pytest.mark.parametrize("case", STATUS_CASES.values(), ids=STATUS_CASES.keys())
def test_status_rules(case: Case) -> None:
    resolvers = [server(f"r{i}", m) for i, m in enumerate(case.resolvers)]
    authoritative = [
        server(f"ns{i}", m, role="authoritative") for i, m in enumerate(case.authoritative)
    ]
    record_view = view(resolvers, authoritative, case.max_ttl)
    assert record_status(record_view) == case.status
    assert case.detail in record_detail(record_view)


def test_errors_of_many_resolvers_are_summarised() -> None:
    resolvers = [server(f"r{i}", "error", error="SERVFAIL") for i in range(6)]
    detail = record_detail(view([server("ok", "new"), *resolvers], [auth("new")]))
    assert "6 not answering (r0: SERVFAIL, r1: SERVFAIL, r2: SERVFAIL and 3 more)" in detail


# --- query ids ---------------------------------------------------------------------------------


async def test_ids_in_flight_are_never_handed_out_twice_and_exhaustion_waits() -> None:
    pool = IdPool()
    taken = [await pool.acquire() for _ in range(65536)]
    assert sorted(taken) == list(range(65536))
    assert pool.free_count == 0
    waiting = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0.01)
    assert not waiting.done()
    pool.release(taken[123])
    assert await asyncio.wait_for(waiting, 1.0) == taken[123]


# --- a scripted UDP server for what the sandbox never sends --------------------------------------

Script = Callable[[dns.message.Message], list[bytes]]


class ScriptedServer(asyncio.DatagramProtocol):
    """Answers each query with the datagrams its script returns (and can spoof from elsewhere)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.transport: asyncio.DatagramTransport | None = None
        self.impostor = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.impostor.bind(("127.0.0.1", 0))
        self.queries: list[dns.message.Message] = []
        self.clients: list[tuple[str, int]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        query = dns.message.from_wire(data)
        self.queries.append(query)
        self.clients.append((str(addr[0]), int(addr[1])))
        assert self.transport is not None
        self.impostor.sendto(spoofed(query), addr)
        for wire in self.script(query):
            self.transport.sendto(wire, addr)

    @property
    def address(self) -> tuple[str, int]:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return str(host), int(port)


def response_to(query: dns.message.Message, *addresses: str, ttl: int = 60) -> dns.message.Message:
    response = dns.message.make_response(query)
    name = query.question[0].name
    if addresses:
        response.answer.append(dns.rrset.from_text_list(name, ttl, "IN", "A", list(addresses)))
    return response


def spoofed(query: dns.message.Message) -> bytes:
    """The right id and question with a wrong answer, sent from another port."""
    return response_to(query, "203.0.113.66").to_wire()


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[[Script], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    async def start(script: Script) -> ScriptedServer:
        loop = asyncio.get_running_loop()
        _, protocol = await loop.create_datagram_endpoint(
            lambda: ScriptedServer(script), local_addr=("127.0.0.1", 0)
        )
        servers.append(protocol)
        return protocol

    yield start  # type: ignore[misc]
    for started in servers:
        assert started.transport is not None
        started.transport.close()
        started.impostor.close()


def with_id(wire: bytes, query_id: int) -> bytes:
    return query_id.to_bytes(2, "big") + wire[2:]


async def test_stray_and_mismatched_datagrams_are_ignored(scripted: Any) -> None:
    def script(query: dns.message.Message) -> list[bytes]:
        right = response_to(query, "192.0.2.1").to_wire()
        wrong_question = response_to(dns.message.make_query("evil.example.", "A"), "203.0.113.7")
        return [
            b"\x00\x01junk",
            with_id(response_to(query, "203.0.113.8").to_wire(), (query.id + 1) % 65536),
            with_id(wrong_question.to_wire(), query.id),
            right,
        ]

    server = await scripted(script)
    async with DnsClient() as client:
        result = await client.query(server.address, "app.example", "A", timeout_seconds=2)
        assert result == DnsAnswer("NOERROR", ("192.0.2.1",), 60, (), None, (60,))
        assert client.stray_datagrams >= 4


async def test_a_bogus_datagram_to_the_clients_socket_changes_nothing(scripted: Any) -> None:
    server = await scripted(lambda query: [])
    async with DnsClient() as client:
        task = asyncio.ensure_future(
            client.query(server.address, "app.example", "A", timeout_seconds=2)
        )
        while not server.queries:
            await asyncio.sleep(0.01)
        query, client_address = server.queries[0], server.clients[0]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as stranger:
            stranger.sendto(b"hello", client_address)
            stranger.sendto(response_to(query, "203.0.113.99").to_wire(), client_address)
        await asyncio.sleep(0.1)
        assert not task.done()
        assert server.transport is not None
        server.transport.sendto(response_to(query, "192.0.2.5").to_wire(), client_address)
        assert (await task).answers == ("192.0.2.5",)
        assert client.stray_datagrams >= 3


async def test_a_malformed_answer_is_reported_as_such(scripted: Any) -> None:
    server = await scripted(lambda query: [query.id.to_bytes(2, "big") + b"\x81\x80garbage"])
    async with DnsClient() as client:
        result = await client.query(server.address, "app.example", "A", timeout_seconds=0.3)
    assert result.error == "malformed answer"


def cname_to_lb(query: dns.message.Message) -> list[bytes]:
    """www.example is a CNAME to lb.example (TTL 300), which is 192.0.2.7 (TTL 20)."""
    name = query.question[0].name
    if name == qname("www.example"):
        response = dns.message.make_response(query)
        response.answer.append(dns.rrset.from_text(name, 300, "IN", "CNAME", "lb.example."))
        return [response.to_wire()]
    return [response_to(query, "192.0.2.7", ttl=20).to_wire()]


async def test_a_chain_leaving_the_response_is_asked_again_at_the_same_server(
    scripted: Any,
) -> None:
    server = await scripted(cname_to_lb)
    async with DnsClient() as client:
        result = await client.query(
            server.address, "www.example", "A", timeout_seconds=1, recursion_desired=False
        )
    assert result == DnsAnswer("NOERROR", ("192.0.2.7",), 300, ("lb.example",), None, (300, 20))
    assert [q.question[0].name for q in server.queries] == [
        qname("www.example"),
        qname("lb.example"),
    ]
    assert not server.queries[0].flags & dns.flags.RD


async def test_questions_asked_together_are_answered_each_as_alone(scripted: Any) -> None:
    answering = await scripted(lambda query: [response_to(query, "192.0.2.1").to_wire()])
    silent = await scripted(lambda query: [])
    chain = await scripted(cname_to_lb)
    asks = [
        Ask(answering.address, "app.example", "A"),
        Ask(silent.address, "app.example", "A"),
        Ask(chain.address, "www.example", "A", recursion_desired=False),
        Ask(answering.address, "api.example", "A"),
    ]
    async with DnsClient() as client:
        started = asyncio.get_running_loop().time()
        answers = await client.query_many(asks, timeout_seconds=0.4)
        took = asyncio.get_running_loop().time() - started
    assert answers == [
        DnsAnswer("NOERROR", ("192.0.2.1",), 60, (), None, (60,)),
        failed_answer("timeout after 0.4 s"),
        DnsAnswer("NOERROR", ("192.0.2.7",), 300, ("lb.example",), None, (300, 20)),
        DnsAnswer("NOERROR", ("192.0.2.1",), 60, (), None, (60,)),
    ]
    assert len(silent.queries) == 2, "sent once, and once more halfway to the timeout"
    assert [q.question[0].name for q in chain.queries] == [
        qname("www.example"),
        qname("lb.example"),
    ]
    assert took < 2


async def test_nothing_waits_past_the_deadline(scripted: Any) -> None:
    server = await scripted(lambda query: [])
    async with DnsClient() as client:
        deadline = asyncio.get_running_loop().time() + 0.2
        asking = client.query(
            server.address, "app.example", "A", timeout_seconds=30, deadline=deadline
        )
        result = await asyncio.wait_for(asking, 10)
    assert result.error == "timeout after 30 s"
    assert len(server.queries) == 2, "sent once, and once more halfway to the deadline"


@pytest.fixture
def big_zone() -> Iterator[AuthoritativeServer]:
    addresses = tuple(f"10.0.{i // 250}.{i % 250}" for i in range(200))
    records = {("big.bench.test.", "A"): [WeightedRecordSet("big.bench.test.", "A", 60, addresses)]}
    host = "127.0.0.1"
    server = AuthoritativeServer(
        host,
        free_port(host, socket.SOCK_DGRAM),
        "bench.test.",
        lambda n, t: records.get((n, t), []),
    )
    server.start()
    yield server
    server.stop()


async def test_a_truncated_answer_without_tcp_is_an_error(big_zone: AuthoritativeServer) -> None:
    """This stand-in answers over UDP only: the client tries TCP after the truncated answer
    and says both (knot and unbound, which do answer over TCP: tests/sandbox/test_knot.py)."""
    async with DnsClient() as client:
        result = await client.query(
            parse_host_port(big_zone.address), "big.bench.test", "A", timeout_seconds=2
        )
    assert result.error is not None
    assert result.error.startswith("truncated answer over UDP, and TCP ")
    assert result.answers == ()


# --- the client against the sandbox's DNS servers ------------------------------------------------


def direct(
    address: str, name: str = RECORD_NAME, *, recursion: bool = True, timeout: float = 2.0
) -> DnsAnswer:
    """The same question asked with dnspython's own per-query path, for comparison."""
    host, port = parse_host_port(address)
    flags = dns.flags.RD if recursion else 0
    request = dns.message.make_query(name if name.endswith(".") else name + ".", "A", flags=flags)
    try:
        response = dns.query.udp(request, host, port=port, timeout=timeout)
    except dns.exception.Timeout:
        return failed_answer("timeout")
    rcode = dns.rcode.to_text(response.rcode())
    if rcode != "NOERROR":
        return failed_answer(rcode, rcode)
    rrset = next(r for r in response.answer if r.rdtype == dns.rdatatype.A)
    return DnsAnswer(rcode, tuple(sorted(r.to_text() for r in rrset)), rrset.ttl, (), None)


def same_as_direct(ours: DnsAnswer, theirs: DnsAnswer, max_drift_seconds: int = 1) -> bool:
    """Same answer and rcode; the TTL may have ticked down a little in between."""
    if (ours.rcode, ours.answers, ours.error is None) != (
        theirs.rcode,
        theirs.answers,
        theirs.error is None,
    ):
        return False
    if ours.ttl_seconds is None or theirs.ttl_seconds is None:
        return ours.ttl_seconds == theirs.ttl_seconds
    return 0 <= ours.ttl_seconds - theirs.ttl_seconds <= max_drift_seconds


def endpoints(sandbox: SandboxHandle) -> list[tuple[str, bool]]:
    """(address, recursion desired) for every resolver, then the authoritative server."""
    dns_info = sandbox.info["dns"]
    return [(r, True) for r in dns_info["resolvers"]] + [(dns_info["authoritative"], False)]


async def test_client_answers_and_ttls_agree_with_dnspython(sandbox: SandboxHandle) -> None:
    async with DnsClient() as client:
        for _ in range(2):  # cold caches, then answers from cache with TTLs counting down
            ours = await asyncio.gather(
                *(
                    client.query(
                        parse_host_port(a),
                        RECORD_NAME,
                        "A",
                        timeout_seconds=1,
                        recursion_desired=rd,
                    )
                    for a, rd in endpoints(sandbox)
                )
            )
            theirs = [direct(a, recursion=rd) for a, rd in endpoints(sandbox)]
            assert all(same_as_direct(o, t) for o, t in zip(ours, theirs, strict=True)), (
                ours,
                theirs,
            )
            assert {o.answers for o in ours} == {tuple(sandbox.info["aws"]["old_answers"])}
            await asyncio.sleep(1.1)


async def test_a_silent_resolver_costs_its_timeout_while_the_others_answer(
    sandbox: SandboxHandle,
) -> None:
    resolvers = sandbox.info["dns"]["resolvers"]
    sandbox.client.inject("resolver-timeout", resolver=0)
    async with DnsClient() as client:
        tasks = [
            asyncio.ensure_future(
                client.query(parse_host_port(r), RECORD_NAME, "A", timeout_seconds=1.5)
            )
            for r in resolvers
        ]
        answered = await asyncio.gather(*tasks[1:])
        assert not tasks[0].done(), "the silent resolver held up nobody, and nobody waited for it"
        assert all(
            a.ok and a.answers == tuple(sandbox.info["aws"]["old_answers"]) for a in answered
        )
        silent = await tasks[0]
    assert silent.error == "timeout after 1.5 s"
    assert direct(resolvers[0], timeout=0.5).error == "timeout"
    sandbox.client.inject("resolver-normal", resolver=0)
    async with DnsClient() as client:
        again = await client.query(
            parse_host_port(resolvers[0]), RECORD_NAME, "A", timeout_seconds=1
        )
    assert again.ok


async def test_servfail_and_nxdomain_are_errors(sandbox: SandboxHandle) -> None:
    resolvers = sandbox.info["dns"]["resolvers"]
    sandbox.client.inject("resolver-servfail", resolver=0)
    async with DnsClient() as client:
        servfail = await client.query(
            parse_host_port(resolvers[0]), RECORD_NAME, "A", timeout_seconds=1
        )
        missing = await client.query(
            parse_host_port(resolvers[1]), "nope.cutover.test", "A", timeout_seconds=1
        )
    assert (servfail.rcode, servfail.error, servfail.answers) == ("SERVFAIL", "SERVFAIL", ())
    assert direct(resolvers[0]).rcode == "SERVFAIL"
    assert (missing.rcode, missing.error) == ("NXDOMAIN", "NXDOMAIN")
    assert direct(resolvers[1], "nope.cutover.test").rcode == "NXDOMAIN"


# --- the source against the sandbox --------------------------------------------------------------


def sandbox_config(sandbox: SandboxHandle, **dns_changes: Any) -> Config:
    config = load_config(sandbox.config_path)
    assert config.dns is not None
    return config.model_copy(update={"dns": config.dns.model_copy(update=dns_changes)})


def dns_source(sandbox: SandboxHandle, clock: Any = system_clock, **dns_changes: Any) -> DnsSource:
    context = SourceContext(
        sandbox_config(sandbox, **dns_changes), {**os.environ, **sandbox.env}, clock
    )
    [source] = build_dns_sources(context)
    assert isinstance(source, DnsSource)
    return source


async def read_one(source: DnsSource) -> Reading:
    [reading] = await source.read()
    assert reading.signal_id == f"dns:{RECORD_NAME}"
    return reading


def values_of(reading: Reading) -> dict[str, Any]:
    """The reading's values as plain JSON (lists, dicts), as scripts see them."""
    values = reading_to_json(reading)["values"]
    assert isinstance(values, dict)
    return values


def by_label(reading: Reading) -> dict[str, Any]:
    return {entry["resolver"]: entry for entry in values_of(reading)["resolvers"]}


async def assert_matches_direct(
    sandbox: SandboxHandle, reading: Reading, poll_seconds: float = 0.0
) -> None:
    """Each server's entry agrees with direct dnspython queries made (at once) after the reading.

    A poll that waited `poll_seconds` on a silent server returns TTLs taken that much earlier.
    """
    max_drift = 1 + math.ceil(poll_seconds)
    entries = by_label(reading)
    names = [*sandbox.info["dns"]["resolver_names"], "authoritative"]
    asked = endpoints(sandbox)
    answers = await asyncio.gather(
        *(asyncio.to_thread(direct, address, recursion=rd, timeout=1.0) for address, rd in asked)
    )
    for (address, _), label, theirs in zip(asked, names, answers, strict=True):
        entry = entries[label]
        assert entry["address"] == address
        if entry["ttl"] is not None and entry["ttl"] <= max_drift:
            continue  # about to expire: the direct query may already see the refetched answer
        if entry["error"] is not None:
            assert theirs.error is not None and theirs.error in entry["error"], (entry, theirs)
            continue
        ours = DnsAnswer("NOERROR", tuple(entry["answers"]), entry["ttl"], (), None)
        assert same_as_direct(ours, theirs, max_drift), (label, entry, theirs)


async def read_until(
    source: DnsSource, done: Callable[[Reading], bool], *, within: float = 15.0
) -> list[Reading]:
    """Readings every 0.25 s until one satisfies `done` (all of them, in order)."""
    readings = [await read_one(source)]
    deadline = asyncio.get_running_loop().time() + within
    while not done(readings[-1]):
        assert asyncio.get_running_loop().time() < deadline, readings[-1]
        await asyncio.sleep(0.25)
        readings.append(await read_one(source))
    return readings


def old_new(sandbox: SandboxHandle) -> tuple[list[str], list[str]]:
    aws = sandbox.info["aws"]
    return sorted(aws["old_answers"]), sorted(aws["new_answers"])


async def test_before_the_switch_everything_answers_old_and_is_ok(sandbox: SandboxHandle) -> None:
    clock = FrozenClock(NOW)
    reading = await read_one(dns_source(sandbox, clock))
    await assert_matches_direct(sandbox, reading)
    old, _ = old_new(sandbox)
    resolver_count = len(sandbox.info["dns"]["resolvers"])
    assert reading.status == Status.OK
    counts = f"{resolver_count}/{resolver_count}"
    assert reading.detail == f"not switched yet: authoritative and {counts} resolvers answer old"
    assert all(entry["answers"] == old for entry in values_of(reading)["resolvers"])
    assert values_of(reading)["converged_fraction"] == 0.0
    assert values_of(reading)["authoritative_matches"] == "old"
    assert values_of(reading)["authoritative_ttl_seconds"] == sandbox.info["aws"]["ttl"]
    assert values_of(reading)["ttl_preflight_ok"] is True
    expires_in = values_of(reading)["old_expires_in_seconds"]
    assert 1 <= expires_in <= sandbox.info["aws"]["ttl"]
    gone_at = NOW + timedelta(seconds=expires_in)
    assert values_of(reading)["old_gone_at"] == gone_at.isoformat().replace("+00:00", "Z")
    assert reading.observed_at == NOW


async def test_a_switch_propagates_as_ttls_expire_then_converges(sandbox: SandboxHandle) -> None:
    source = dns_source(sandbox)
    _, new = old_new(sandbox)
    upsert_weights(sandbox, 100, 0)  # no change: boto3 is warm, so the switch below is quick
    assert (await read_one(source)).status == Status.OK  # every cache now holds the old answer
    upsert_weights(sandbox, 0, 100)
    first = await read_one(source)
    await assert_matches_direct(sandbox, first)
    assert values_of(first)["authoritative_matches"] == "new"
    assert first.status == Status.WARN
    assert first.detail.startswith("propagating: ")
    assert 1 <= values_of(first)["old_expires_in_seconds"] <= sandbox.info["aws"]["ttl"]
    readings = await read_until(source, lambda r: r.status == Status.OK)
    for reading in readings[:-1]:
        assert reading.status == Status.WARN and reading.detail.startswith("propagating: ")
        assert values_of(reading)["old_count"] + values_of(reading)["new_count"] == len(
            sandbox.info["dns"]["resolvers"]
        )
    final = readings[-1]
    await assert_matches_direct(sandbox, final)
    assert values_of(final)["converged_fraction"] == 1.0
    assert values_of(final)["old_expires_in_seconds"] == 0
    assert values_of(final)["old_gone_at"] is None
    assert all(entry["answers"] == new for entry in values_of(final)["resolvers"])
    assert final.detail.startswith("converged: ")


async def test_a_stuck_resolver_keeps_it_warn_until_it_recovers(sandbox: SandboxHandle) -> None:
    source = dns_source(sandbox)
    stuck = sandbox.info["dns"]["resolver_names"][0]
    upsert_weights(sandbox, 100, 0)  # no change: boto3 is warm, so the switch below is quick
    await read_one(source)
    sandbox.client.inject("resolver-stuck", resolver=0)
    upsert_weights(sandbox, 0, 100)

    def others_new(reading: Reading) -> bool:
        return bool(values_of(reading)["new_count"] == len(sandbox.info["dns"]["resolvers"]) - 1)

    propagated = (await read_until(source, others_new))[-1]
    # The others' caches expired, filled at the same moment: the stuck one's did too, and it held.
    await asyncio.sleep(1.0)
    for reading in (propagated, await read_one(source)):
        assert reading.status == Status.WARN
        assert by_label(reading)[stuck]["matches"] == "old"
        assert values_of(reading)["old_count"] == 1
        assert reading.detail.startswith("propagating: ")
    await assert_matches_direct(sandbox, reading)
    sandbox.client.reset()
    recovered = await read_one(source)
    assert recovered.status == Status.OK and recovered.detail.startswith("not switched yet")


async def test_a_silent_resolver_is_an_error_and_the_rest_still_counts(
    sandbox: SandboxHandle,
) -> None:
    source = dns_source(sandbox)
    silent = sandbox.info["dns"]["resolver_names"][0]
    sandbox.client.inject("resolver-timeout", resolver=0)
    reading = await read_one(source)
    entry = by_label(reading)[silent]
    # Each query may use 80 % of the source's timeout (the rest is the poll's own margin).
    query_timeout = f"timeout after {0.8 * source.schedule.timeout_seconds:g} s"
    assert (entry["matches"], entry["error"], entry["answers"]) == ("error", query_timeout, [])
    assert reading.status == Status.WARN
    assert f"1 not answering ({silent}: {query_timeout})" in reading.detail
    assert values_of(reading)["error_count"] == 1
    assert values_of(reading)["old_count"] == len(sandbox.info["dns"]["resolvers"]) - 1
    await assert_matches_direct(sandbox, reading, poll_seconds=source.schedule.timeout_seconds)
    sandbox.client.inject("resolver-normal", resolver=0)
    recovered = await read_one(source)
    assert recovered.status == Status.OK
    assert by_label(recovered)[silent]["matches"] == "old"


async def test_servfail_at_a_resolver_is_named_in_the_reading(sandbox: SandboxHandle) -> None:
    source = dns_source(sandbox)
    failing = sandbox.info["dns"]["resolver_names"][0]
    sandbox.client.inject("resolver-servfail", resolver=0)
    reading = await read_one(source)
    assert by_label(reading)[failing]["error"] == "SERVFAIL"
    assert reading.status == Status.WARN
    await assert_matches_direct(sandbox, reading)


async def test_a_ttl_above_the_limit_fails_the_preflight(sandbox: SandboxHandle) -> None:
    ttl = sandbox.info["aws"]["ttl"]
    reading = await read_one(dns_source(sandbox, max_ttl_seconds=ttl - 1))
    assert values_of(reading)["ttl_preflight_ok"] is False
    assert values_of(reading)["authoritative_ttl_seconds"] == ttl
    assert reading.status == Status.WARN
    assert f"TTL preflight failed: authoritative TTL {ttl} s > max {ttl - 1} s" in reading.detail


async def test_an_unreachable_authoritative_server_is_critical(sandbox: SandboxHandle) -> None:
    dead = f"127.0.0.1:{free_port('127.0.0.1', socket.SOCK_DGRAM)}"
    source = dns_source(sandbox, authoritative=(Resolver(address=dead),))
    reading = await read_one(source)
    assert reading.status == Status.CRITICAL
    assert values_of(reading)["authoritative_matches"] == "error"
    assert values_of(reading)["authoritative_ttl_seconds"] is None
    assert values_of(reading)["ttl_preflight_ok"] is None
    assert reading.detail.startswith(f"authoritative servers not answering: {dead}: timeout")


def test_no_dns_section_builds_no_source(sandbox: SandboxHandle) -> None:
    config = load_config(sandbox.config_path).model_copy(update={"dns": None})
    assert build_dns_sources(SourceContext(config, {})) == []


def test_every_record_gets_its_own_signal() -> None:
    data = {
        "cutover": {"name": "test"},
        "dns": {
            "resolvers": ["127.0.0.2:5353"],
            "records": [
                {"name": "a.example.com.", "expect": "192.0.2.1", "old": "192.0.2.2"},
                {
                    "name": "b.example.com",
                    "type": "CNAME",
                    "expect": "x.example.net",
                    "old": "y.example.net",
                },
            ],
        },
    }
    config = config_from_data(data, source="test", base_dir=Path())
    [source] = build_dns_sources(SourceContext(config, {}))
    assert source.signal_ids == ("dns:a.example.com", "dns:b.example.com")
    assert source.schedule.timeout_seconds == config.dns.timeout_seconds  # type: ignore[union-attr]


def test_text_from_a_server_is_made_printable_before_it_enters_a_reading() -> None:
    hostile = DnsAnswer(
        "NOERROR", ("evil\x1b[2J.example.net",), 30, ("lb\x07.example.net",), None, (30, 30)
    )
    entry = server_answer("r1", "127.0.0.1:53", "resolver", record(record_type="CNAME"), hostile)
    assert entry.answers == ("evil\\x1b[2J.example.net",)
    assert entry.chain == ("lb\\x07.example.net",)
    failed = server_answer("r1", "127.0.0.1:53", "resolver", record(), failed_answer("x\r\n" * 99))
    assert failed.error is not None and failed.error.isprintable() and len(failed.error) <= 201


def test_an_answer_seen_before_its_secret_was_known_is_redacted_once_it_is() -> None:
    secret = "s3cr3t-token-in-a-txt-style-answer"
    answer = DnsAnswer("NOERROR", (f"{secret}.example.net",), 30, (), None, (30,))
    cname = record(record_type="CNAME")
    before = server_answer("r1", "127.0.0.1:53", "resolver", cname, answer)
    assert before.answers == (f"{secret}.example.net",)
    remember_secrets(redactor_for([secret]))
    after = server_answer("r1", "127.0.0.1:53", "resolver", cname, answer)
    assert secret not in after.answers[0]
    again = server_answer("r2", "127.0.0.2:53", "resolver", cname, replace(answer, ttl_seconds=9))
    assert again.answers == after.answers and again.ttl_seconds == 9
