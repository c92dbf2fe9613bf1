"""A multiplexing async UDP DNS client: one socket per address family, many queries in flight.

A truncated UDP answer (TC set) is asked again over TCP, as resolvers do.

Each query gets a random 16-bit id that no other query in flight holds, and a response counts
only if its id, source address and question all match; anything else is dropped as stray. A
datagram with the right id from the right server that does not parse is remembered: if no
proper answer follows before the timeout, the query reports "malformed answer". dnspython is
used for its message codec only.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import socket
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

log = logging.getLogger(__name__)

Server = tuple[str, int]
Question = tuple[dns.name.Name, dns.rdatatype.RdataType, dns.rdataclass.RdataClass]

ID_COUNT = 65536
EDNS_PAYLOAD_BYTES = 1232
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024
# A query still unanswered after this share of its timeout is sent once more (UDP may drop it).
RESEND_AFTER_FRACTION = 0.5
MAX_CNAME_FOLLOWUPS = 3
MAX_CHAIN_LENGTH = 16
# Parsed responses kept per client, by their bytes after the id: many resolvers send the same.
PARSE_CACHE_SIZE = 4096


@dataclass(frozen=True)
class DnsAnswer:
    """What one server answered for one name and type, after following CNAMEs.

    ttl_seconds is the longest TTL in the answer; hop_ttls holds each RRset's own TTL in
    chain order (each CNAME's, then the final records'), because in a chain the record that
    changed decides when an old answer expires, not the longest TTL.
    """

    rcode: str | None
    answers: tuple[str, ...]
    ttl_seconds: int | None
    cname_chain: tuple[str, ...]
    error: str | None
    hop_ttls: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


def failed_answer(reason: str, rcode: str | None = None, chain: tuple[str, ...] = ()) -> DnsAnswer:
    """An answer that carries no records, only why."""
    return DnsAnswer(rcode, (), None, chain, reason)


@dataclass(frozen=True)
class AnswerStep:
    """What one response says for (name, type): records, a CNAME chain, or where it stops."""

    rcode: str
    answers: tuple[str, ...] = ()
    ttls: tuple[int, ...] = ()
    cname_chain: tuple[str, ...] = ()
    dangling: dns.name.Name | None = None
    error: str | None = None


def _name_text(name: dns.name.Name) -> str:
    return name.to_text(omit_final_dot=True)


def _find(
    response: dns.message.Message, name: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> dns.rrset.RRset | None:
    for rrset in response.answer:
        if rrset.name == name and rrset.rdtype == rdtype and rrset.rdclass == dns.rdataclass.IN:
            return rrset
    return None


def _rdata_text(rdata: object) -> str:
    target = getattr(rdata, "target", None)
    return _name_text(target) if isinstance(target, dns.name.Name) else str(rdata)


def read_step(
    response: dns.message.Message, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> AnswerStep:
    """The answer one response gives for (qname, rdtype), following the CNAMEs it contains."""
    rcode = dns.rcode.to_text(response.rcode())
    if response.flags & dns.flags.TC:
        return AnswerStep(rcode, error="truncated answer")
    if rcode != "NOERROR":
        return AnswerStep(rcode, error=rcode)
    if rdtype == dns.rdatatype.CNAME:
        return _records_step(response, qname, rdtype, (), ())
    return _walk_chain(response, qname, rdtype)


def _records_step(
    response: dns.message.Message,
    name: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
    chain: tuple[str, ...],
    ttls: tuple[int, ...],
) -> AnswerStep:
    rrset = _find(response, name, rdtype)
    if rrset is None:
        type_text = dns.rdatatype.to_text(rdtype)
        return AnswerStep("NOERROR", cname_chain=chain, error=f"no {type_text} record (NODATA)")
    answers = tuple(sorted({_rdata_text(rdata) for rdata in rrset}))
    return AnswerStep("NOERROR", answers, (*ttls, rrset.ttl), chain)


def _walk_chain(
    response: dns.message.Message, qname: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> AnswerStep:
    name, seen = qname, {qname}
    chain: tuple[str, ...] = ()
    ttls: tuple[int, ...] = ()
    for _ in range(MAX_CHAIN_LENGTH):
        if _find(response, name, rdtype) is not None:
            return _records_step(response, name, rdtype, chain, ttls)
        cname = _find(response, name, dns.rdatatype.CNAME)
        if cname is None:
            break
        name = cname[0].target
        chain, ttls = (*chain, _name_text(name)), (*ttls, cname.ttl)
        if name in seen:
            return AnswerStep("NOERROR", cname_chain=chain, error=f"CNAME loop at {name}")
        seen.add(name)
    else:
        return AnswerStep("NOERROR", cname_chain=chain, error="CNAME chain too long")
    if chain:
        return AnswerStep("NOERROR", ttls=ttls, cname_chain=chain, dangling=name)
    return _records_step(response, name, rdtype, (), ())


def answers_question(response: dns.message.Message, question: Question) -> bool:
    """Whether `response` is a response to `question` (an error may omit the question)."""
    if not response.flags & dns.flags.QR or response.opcode() != dns.opcode.QUERY:
        return False
    if not response.question:
        return response.rcode() != dns.rcode.NOERROR
    if len(response.question) != 1:
        return False
    asked = response.question[0]
    return (asked.name, asked.rdtype, asked.rdclass) == question


def parse_response(wire: bytes) -> dns.message.Message | None:
    """The message in `wire` (a truncated one too, TC set); None when it does not parse."""
    try:
        return dns.message.from_wire(wire, raise_on_truncation=True)
    except dns.message.Truncated as truncated:
        message = truncated.kwargs.get("message")
        return message if isinstance(message, dns.message.Message) else None
    except (dns.exception.DNSException, ValueError, IndexError, UnicodeError):
        return None


@dataclass(frozen=True)
class _Template:
    """A query's wire form (any id) and the question a response must echo."""

    wire: bytes
    question: Question


@dataclass
class _Parsed:
    """A parsed response and what it says, read once however many servers sent the same bytes."""

    message: dns.message.Message
    steps: dict[tuple[dns.name.Name, int], AnswerStep] = field(default_factory=dict)

    def step(self, qname: dns.name.Name, qtype: dns.rdatatype.RdataType) -> AnswerStep:
        key = (qname, int(qtype))
        step = self.steps.get(key)
        if step is None:
            step = self.steps[key] = read_step(self.message, qname, qtype)
        return step


@dataclass
class _Pending:
    """One query in flight, waiting for its response."""

    server: Server
    question: Question
    future: asyncio.Future[_Parsed]
    malformed: bool = False


@dataclass(frozen=True)
class _Failure:
    """Why an exchange got no usable response: "timeout", "malformed answer" or a socket error."""

    reason: str


class IdPool:
    """Random query ids, never one that is still in flight; acquire() waits when all are."""

    def __init__(self, size: int = ID_COUNT) -> None:
        self._free = list(range(size))
        self._available = asyncio.Semaphore(size)
        self._random = random.SystemRandom()

    @property
    def free_count(self) -> int:
        return len(self._free)

    async def acquire(self) -> int:
        await self._available.acquire()
        index = self._random.randrange(len(self._free))
        self._free[index], self._free[-1] = self._free[-1], self._free[index]
        return self._free.pop()

    def release(self, query_id: int) -> None:
        self._free.append(query_id)
        self._available.release()


class _Protocol(asyncio.DatagramProtocol):
    """Hands every datagram the socket receives to the client."""

    def __init__(self, client: DnsClient) -> None:
        self._client = client

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self._client.on_datagram(data, (str(addr[0]), int(addr[1])))

    def error_received(self, exc: Exception) -> None:
        log.debug("DNS client socket error (the query it concerns will time out): %s", exc)


@dataclass
class _Transports:
    """The client's sockets by address family, opened on first use."""

    by_family: dict[int, asyncio.DatagramTransport] = field(default_factory=dict)
    opening: asyncio.Lock = field(default_factory=asyncio.Lock)


class DnsClient:
    """Sends DNS queries over UDP from one socket per address family; an async context manager."""

    def __init__(self, *, id_pool: IdPool | None = None) -> None:
        self._ids = id_pool or IdPool()
        self._pending: dict[int, _Pending] = {}
        self._templates: dict[tuple[dns.name.Name, int, bool], _Template] = {}
        self._transports = _Transports()
        self._parsed: dict[bytes, _Parsed | None] = {}
        self._names: dict[str, dns.name.Name] = {}
        self.stray_datagrams = 0

    async def __aenter__(self) -> DnsClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the sockets; queries still in flight run into their timeout."""
        for transport in self._transports.by_family.values():
            transport.close()
        self._transports.by_family.clear()

    async def query(
        self,
        server: Server,
        name: str,
        rdtype: str,
        *,
        timeout_seconds: float,
        recursion_desired: bool = True,
        deadline: float | None = None,
    ) -> DnsAnswer:
        """`server`'s answer for (name, rdtype), waiting at most timeout_seconds from the send.

        CNAME follow-ups share that one timeout, and nothing waits past `deadline` (the event
        loop's time), so a poll of many servers ends on time however long sending took; the
        reason still reads "timeout after <timeout_seconds> s".
        """
        qname = self._names.get(name) or self._names.setdefault(name, dns.name.from_text(name))
        qtype = dns.rdatatype.from_text(rdtype)
        timeout_text = f"timeout after {timeout_seconds:g} s"
        loop = asyncio.get_running_loop()
        cutoff = math.inf if deadline is None else deadline
        chain: tuple[str, ...] = ()
        ttls: tuple[int, ...] = ()
        for hop in range(MAX_CNAME_FOLLOWUPS + 1):
            if cutoff <= loop.time():
                return failed_answer(timeout_text, chain=chain)
            question = (qname, qtype, recursion_desired)
            sent_at, outcome = await self._exchange(server, question, timeout_seconds, cutoff)
            cutoff = min(cutoff, sent_at + timeout_seconds)
            if _truncated(outcome):
                outcome = await _over_tcp(server, question, cutoff - loop.time())
            if isinstance(outcome, _Failure):
                reason = timeout_text if outcome.reason == "timeout" else outcome.reason
                return failed_answer(_about_target(reason, hop, qname), chain=chain)
            step = outcome.step(qname, qtype)
            chain, ttls = chain + step.cname_chain, ttls + step.ttls
            if step.error is not None:
                return failed_answer(_about_target(step.error, hop, qname), step.rcode, chain)
            if step.dangling is None:
                return DnsAnswer(step.rcode, step.answers, max(ttls), chain, None, ttls)
            qname = step.dangling
        return failed_answer(f"CNAME chain unresolved after {MAX_CNAME_FOLLOWUPS} follow-ups")

    async def zone_serial(
        self, server: Server, name: str, *, timeout_seconds: float, deadline: float | None = None
    ) -> int | None:
        """The SOA serial of the zone `name` is in, as `server` (authoritative for it) says:
        the SOA in the answer at the apex, else in the authority section. None when the
        server does not say."""
        qname = self._names.get(name) or self._names.setdefault(name, dns.name.from_text(name))
        cutoff = math.inf if deadline is None else deadline
        question = (qname, dns.rdatatype.SOA, False)
        _, outcome = await self._exchange(server, question, timeout_seconds, cutoff)
        if isinstance(outcome, _Failure):
            return None
        return soa_serial(outcome.message)

    async def _exchange(
        self,
        server: Server,
        question: tuple[dns.name.Name, dns.rdatatype.RdataType, bool],
        timeout_seconds: float,
        cutoff: float,
    ) -> tuple[float, _Parsed | _Failure]:
        """(when it was sent, the matching response or why there is none)."""
        loop = asyncio.get_running_loop()
        try:
            transport = await self._transport_for(server)
        except OSError as error:
            return loop.time(), _Failure(f"cannot open a UDP socket: {error.strerror or error}")
        template = self._template(*question)
        query_id = await self._ids.acquire()
        pending = _Pending(server, template.question, loop.create_future())
        self._pending[query_id] = pending
        wire = query_id.to_bytes(2, "big") + template.wire[2:]
        sent_at = loop.time()
        expires_at = min(cutoff, sent_at + timeout_seconds)
        resend_at = sent_at + (expires_at - sent_at) * RESEND_AFTER_FRACTION
        resend = loop.call_at(resend_at, _send, transport, wire, server, pending)
        try:
            _send(transport, wire, server, pending)
            async with asyncio.timeout_at(expires_at):
                return sent_at, await pending.future
        except TimeoutError:
            return sent_at, _Failure("malformed answer" if pending.malformed else "timeout")
        finally:
            resend.cancel()
            del self._pending[query_id]
            self._ids.release(query_id)

    def on_datagram(self, data: bytes, source: Server) -> None:
        """Hands a datagram to the query it answers; drops it if it answers none."""
        pending = self._pending.get(int.from_bytes(data[:2], "big")) if len(data) >= 2 else None
        if pending is None or pending.future.done() or pending.server != source:
            self.stray_datagrams += 1
            return
        parsed = self._parse(data)
        if parsed is None:
            pending.malformed = True
            self.stray_datagrams += 1
            return
        if not answers_question(parsed.message, pending.question):
            self.stray_datagrams += 1
            return
        pending.future.set_result(parsed)

    def _parse(self, data: bytes) -> _Parsed | None:
        """parse_response(), once per distinct response (the id aside); the result is only read."""
        key = data[2:]
        if key in self._parsed:
            return self._parsed[key]
        if len(self._parsed) >= PARSE_CACHE_SIZE:
            self._parsed.clear()
        message = parse_response(data)
        parsed = self._parsed[key] = None if message is None else _Parsed(message)
        return parsed

    def _template(
        self, qname: dns.name.Name, qtype: dns.rdatatype.RdataType, recursion_desired: bool
    ) -> _Template:
        key = (qname, int(qtype), recursion_desired)
        template = self._templates.get(key)
        if template is None:
            flags = dns.flags.RD if recursion_desired else dns.flags.Flag(0)
            query = dns.message.make_query(
                qname, qtype, use_edns=0, payload=EDNS_PAYLOAD_BYTES, flags=flags
            )
            question = (qname, qtype, dns.rdataclass.IN)
            template = self._templates[key] = _Template(query.to_wire(), question)
        return template

    async def _transport_for(self, server: Server) -> asyncio.DatagramTransport:
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        transport = self._transports.by_family.get(family)
        if transport is not None:
            return transport
        async with self._transports.opening:
            transport = self._transports.by_family.get(family)
            if transport is None:
                transport = await self._open(family)
                self._transports.by_family[family] = transport
            return transport

    async def _open(self, family: int) -> asyncio.DatagramTransport:
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
            sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _Protocol(self), sock=sock)
        return transport


def soa_serial(response: dns.message.Message) -> int | None:
    """The serial of the first SOA record in the answer or the authority section."""
    for rrset in (*response.answer, *response.authority):
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return int(rrset[0].serial)
    return None


def _truncated(outcome: _Parsed | _Failure) -> bool:
    return isinstance(outcome, _Parsed) and bool(outcome.message.flags & dns.flags.TC)


async def _over_tcp(
    server: Server,
    question: tuple[dns.name.Name, dns.rdatatype.RdataType, bool],
    seconds_left: float,
) -> _Parsed | _Failure:
    """The question asked again over TCP, as a resolver does after a truncated UDP answer
    (TC set: the answer did not fit), within what is left of the query's timeout."""
    import dns.asyncquery  # only a truncated answer needs it: kept off the startup path

    if seconds_left <= 0:
        return _Failure("truncated answer over UDP, no time left to ask over TCP")
    qname, qtype, recursion_desired = question
    flags = dns.flags.RD if recursion_desired else dns.flags.Flag(0)
    query = dns.message.make_query(
        qname, qtype, use_edns=0, payload=EDNS_PAYLOAD_BYTES, flags=flags
    )
    try:
        response = await dns.asyncquery.tcp(query, server[0], seconds_left, server[1])
    except dns.exception.Timeout:
        return _Failure("truncated answer over UDP, and TCP timed out")
    except (OSError, dns.exception.DNSException, ValueError) as error:
        return _Failure(f"truncated answer over UDP, and TCP failed: {type(error).__name__}")
    return _Parsed(response)


def _send(
    transport: asyncio.DatagramTransport, wire: bytes, server: Server, pending: _Pending
) -> None:
    if not pending.future.done() and not transport.is_closing():
        transport.sendto(wire, server)


def _about_target(reason: str, hop: int, qname: dns.name.Name) -> str:
    """A follow-up's failure names the CNAME target it was about."""
    return reason if hop == 0 else f"{reason} for CNAME target {_name_text(qname)}"
