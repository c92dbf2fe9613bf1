"""A multiplexing async UDP DNS client: one socket per address family, many queries in flight.

A truncated UDP answer (TC set) is asked again over TCP, as resolvers do. A poll's questions
go out together (query_many): sent in one pass, their responses read in bursts as the socket
has them, one timer for every resend; only CNAME follow-ups and TCP go one by one.

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
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

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
MAX_DATAGRAM_BYTES = 65535
DRAIN_DATAGRAMS = 4096
"""Datagrams read in one go when the socket is readable, before other callbacks get a turn."""


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
    """A query's wire form (any id) and the question a response must echo.

    A client keeps its templates as long as it lives, so a question's identity can key what
    is read from a response about it.
    """

    wire: bytes
    question: Question


@dataclass
class _Parsed:
    """A parsed response and what it says, read once however many servers sent the same bytes.

    Keyed by the identity of a template's question: comparing and hashing names costs more
    than reading the answer.
    """

    message: dns.message.Message
    steps: dict[int, AnswerStep] = field(default_factory=dict)
    matches: dict[int, bool] = field(default_factory=dict)

    def answers(self, question: Question) -> bool:
        """answers_question() for this response."""
        known = self.matches.get(id(question))
        if known is None:
            known = self.matches[id(question)] = answers_question(self.message, question)
        return known

    def step(self, question: Question) -> AnswerStep:
        """read_step() for the question's name and type."""
        step = self.steps.get(id(question))
        if step is None:
            step = self.steps[id(question)] = read_step(self.message, question[0], question[1])
        return step


@dataclass
class _Batch:
    """Questions asked together: what each has come to, and a future done once all have."""

    walks: Sequence[_Walk]
    answers: list[DnsAnswer | None]
    all_done: asyncio.Future[None]
    going_on: dict[int, asyncio.Task[DnsAnswer]] = field(default_factory=dict)
    waiting: int = 0
    sealed: bool = False

    def finished(self, index: int, answer: DnsAnswer | None = None) -> None:
        """The question at `index` is done: answered, or its follow-up task has ended."""
        if answer is not None:
            self.answers[index] = answer
        self.waiting -= 1
        self.settle()

    def settle(self) -> None:
        if self.sealed and self.waiting <= 0 and not self.all_done.done():
            self.all_done.set_result(None)


@dataclass(slots=True)
class _Pending:
    """One query in flight, waiting for its response."""

    server: Server
    question: Question
    future: asyncio.Future[_Parsed]
    malformed: bool = False
    batch: _Batch | None = None
    index: int = 0


@dataclass(slots=True)
class _Sent:
    """A batched query on its way: its id, what waits for it, and how to send it again."""

    query_id: int
    pending: _Pending
    wire: bytes
    sock: _Socket

    def send(self) -> None:
        _send(self.sock, self.wire, self.pending)

    def failure(self) -> _Failure:
        """Why no response came."""
        return _Failure("malformed answer" if self.pending.malformed else "timeout")


@dataclass(frozen=True)
class Ask:
    """One question for one server, as query_many() takes it."""

    server: Server
    name: str
    rdtype: str
    recursion_desired: bool = True


@dataclass
class _Walk:
    """One question's way through its CNAME follow-ups: where it asks now, what it has seen."""

    server: Server
    template: _Template
    recursion_desired: bool
    timeout_seconds: float
    cutoff: float
    hop: int = 0
    chain: tuple[str, ...] = ()
    ttls: tuple[int, ...] = ()

    @property
    def qname(self) -> dns.name.Name:
        return self.template.question[0]

    def sent(self, at: float) -> None:
        """Follow-ups share the first query's timeout: nothing waits past it."""
        self.cutoff = min(self.cutoff, at + self.timeout_seconds)

    def timed_out(self) -> DnsAnswer:
        return failed_answer(f"timeout after {self.timeout_seconds:g} s", chain=self.chain)

    def failed(self, failure: _Failure) -> DnsAnswer:
        """The answer when the exchange got no usable response."""
        if failure.reason == "timeout":
            reason = f"timeout after {self.timeout_seconds:g} s"
        else:
            reason = failure.reason
        return failed_answer(_about_target(reason, self.hop, self.qname), chain=self.chain)

    def took(self, response: _Parsed) -> DnsAnswer | dns.name.Name:
        """The answer when `response` ends the walk, else the CNAME target to ask next."""
        step = response.step(self.template.question)
        self.chain, self.ttls = self.chain + step.cname_chain, self.ttls + step.ttls
        if step.error is not None:
            reason = _about_target(step.error, self.hop, self.qname)
            return failed_answer(reason, step.rcode, self.chain)
        if step.dangling is None:
            return DnsAnswer(step.rcode, step.answers, max(self.ttls), self.chain, None, self.ttls)
        if self.hop == MAX_CNAME_FOLLOWUPS:
            return failed_answer(f"CNAME chain unresolved after {MAX_CNAME_FOLLOWUPS} follow-ups")
        self.hop += 1
        return step.dangling


@dataclass(frozen=True)
class _Failure:
    """Why an exchange got no usable response: "timeout", "malformed answer" or a socket error."""

    reason: str


class IdPool:
    """Random query ids, never one that is still in flight; acquire() waits when all are."""

    def __init__(self, size: int = ID_COUNT) -> None:
        self._free = list(range(size))
        self._waiting: deque[asyncio.Future[int]] = deque()
        self._random = random.SystemRandom()

    @property
    def free_count(self) -> int:
        return len(self._free)

    def take(self) -> int | None:
        """A free id now; None when every id is in flight (or others already wait for one)."""
        while self._waiting and self._waiting[0].done():
            self._waiting.popleft()
        if not self._free or self._waiting:
            return None
        index = self._random.randrange(len(self._free))
        self._free[index], self._free[-1] = self._free[-1], self._free[index]
        return self._free.pop()

    async def acquire(self) -> int:
        """A free id, waiting for one to be released when every id is in flight."""
        query_id = self.take()
        if query_id is not None:
            return query_id
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())
            raise

    def release(self, query_id: int) -> None:
        """The id back: to the longest waiting acquire(), else to the free ones."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_result(query_id)
                return
        self._free.append(query_id)


class _Socket:
    """One of the client's UDP sockets: sends at once and, each time it is readable, hands every
    datagram waiting to the client, so a burst of responses costs one wakeup, not one each."""

    def __init__(self, sock: socket.socket, client: DnsClient) -> None:
        self._sock = sock
        self._client = client
        self._loop = asyncio.get_running_loop()
        self.closed = False
        self._loop.add_reader(sock.fileno(), self._drain)

    def sendto(self, wire: bytes, server: Server) -> None:
        try:
            self._sock.sendto(wire, server)
        except OSError as error:
            log.debug("DNS client could not send (the query it concerns will time out): %s", error)

    def _drain(self) -> None:
        for _ in range(DRAIN_DATAGRAMS):
            try:
                data, source = self._sock.recvfrom(MAX_DATAGRAM_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                log.debug(
                    "DNS client socket error (the query it concerns will time out): %s", error
                )
                return
            self._client.on_datagram(data, (str(source[0]), int(source[1])))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()


@dataclass
class _Sockets:
    """The client's sockets by address family, opened on first use."""

    by_family: dict[int, _Socket] = field(default_factory=dict)


class DnsClient:
    """Sends DNS queries over UDP from one socket per address family; an async context manager."""

    def __init__(self, *, id_pool: IdPool | None = None) -> None:
        self._ids = id_pool or IdPool()
        self._pending: dict[int, _Pending] = {}
        self._templates: dict[tuple[dns.name.Name, int, bool], _Template] = {}
        self._asked: dict[tuple[str, str, bool], _Template] = {}
        self._sockets = _Sockets()
        self._parsed: dict[bytes, _Parsed | None] = {}
        self._names: dict[str, dns.name.Name] = {}
        self.stray_datagrams = 0

    async def __aenter__(self) -> DnsClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Closes the sockets; queries still in flight run into their timeout."""
        for sock in self._sockets.by_family.values():
            sock.close()
        self._sockets.by_family.clear()

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
        cutoff = math.inf if deadline is None else deadline
        ask = Ask(server, name, rdtype, recursion_desired)
        return await self._walk_on(self._walk(ask, timeout_seconds, cutoff), None)

    async def query_many(
        self, asks: Sequence[Ask], *, timeout_seconds: float, deadline: float | None = None
    ) -> list[DnsAnswer]:
        """Every ask's answer, each as query() gives it, in the order asked.

        The first query of every ask goes out in one pass and all of them are waited for
        together, with one timer to send the unanswered again; only the few that need more
        (a CNAME target to ask for, a truncated answer to ask over TCP) go on one by one.
        """
        loop = asyncio.get_running_loop()
        cutoff = math.inf if deadline is None else deadline
        walks = [self._walk(ask, timeout_seconds, cutoff) for ask in asks]
        if not walks or cutoff <= loop.time():
            return [walk.timed_out() for walk in walks]
        return await self._walk_all(walks)

    def _walk(self, ask: Ask, timeout_seconds: float, cutoff: float) -> _Walk:
        key = (ask.name, ask.rdtype, ask.recursion_desired)
        template = self._asked.get(key)
        if template is None:
            name = self._names.get(ask.name) or dns.name.from_text(ask.name)
            self._names[ask.name] = name
            qtype = dns.rdatatype.from_text(ask.rdtype)
            template = self._asked[key] = self._template(name, qtype, ask.recursion_desired)
        return _Walk(ask.server, template, ask.recursion_desired, timeout_seconds, cutoff)

    async def _walk_on(self, walk: _Walk, outcome: _Parsed | None) -> DnsAnswer:
        """The rest of a walk, one query at a time: `outcome` is a truncated response to ask
        again over TCP, or None when the walk's next question is still to be asked."""
        loop = asyncio.get_running_loop()
        while True:
            response: _Parsed | _Failure
            if outcome is None:
                if walk.cutoff <= loop.time():
                    return walk.timed_out()
                sent_at, response = await self._exchange(
                    walk.server, walk.template, walk.timeout_seconds, walk.cutoff
                )
                walk.sent(sent_at)
            else:
                response = outcome
            if _truncated(response):
                left = walk.cutoff - loop.time()
                response = await _over_tcp(
                    walk.server, walk.template.question, walk.recursion_desired, left
                )
            if isinstance(response, _Failure):
                return walk.failed(response)
            took = walk.took(response)
            if isinstance(took, DnsAnswer):
                return took
            self._ask_next(walk, took)
            outcome = None

    def _ask_next(self, walk: _Walk, target: dns.name.Name) -> None:
        """The walk's next question: the same type, for the CNAME target."""
        walk.template = self._template(target, walk.template.question[1], walk.recursion_desired)

    async def zone_serial(
        self, server: Server, name: str, *, timeout_seconds: float, deadline: float | None = None
    ) -> int | None:
        """The SOA serial of the zone `name` is in, as `server` (authoritative for it) says:
        the SOA in the answer at the apex, else in the authority section. None when the
        server does not say."""
        qname = self._names.get(name) or self._names.setdefault(name, dns.name.from_text(name))
        cutoff = math.inf if deadline is None else deadline
        template = self._template(qname, dns.rdatatype.SOA, False)
        _, outcome = await self._exchange(server, template, timeout_seconds, cutoff)
        if isinstance(outcome, _Failure):
            return None
        return soa_serial(outcome.message)

    async def _exchange(
        self, server: Server, template: _Template, timeout_seconds: float, cutoff: float
    ) -> tuple[float, _Parsed | _Failure]:
        """(when it was sent, the matching response or why there is none)."""
        loop = asyncio.get_running_loop()
        try:
            sock = self._socket_for(server)
        except OSError as error:
            return loop.time(), _Failure(f"cannot open a UDP socket: {error.strerror or error}")
        query_id = await self._ids.acquire()
        pending = _Pending(server, template.question, loop.create_future())
        self._pending[query_id] = pending
        wire = query_id.to_bytes(2, "big") + template.wire[2:]
        sent_at = loop.time()
        expires_at = min(cutoff, sent_at + timeout_seconds)
        resend_at = sent_at + (expires_at - sent_at) * RESEND_AFTER_FRACTION
        resend = loop.call_at(resend_at, _send, sock, wire, pending)
        try:
            _send(sock, wire, pending)
            async with asyncio.timeout_at(expires_at):
                return sent_at, await pending.future
        except TimeoutError:
            return sent_at, _Failure("malformed answer" if pending.malformed else "timeout")
        finally:
            resend.cancel()
            del self._pending[query_id]
            self._ids.release(query_id)

    async def _walk_all(self, walks: Sequence[_Walk]) -> list[DnsAnswer]:
        """Each walk's first question sent, all in one pass; each response taken as it comes
        (a walk that needs more goes on in a task of its own at once); then waited for together
        until every walk has its answer or the last query's timeout has run out."""
        loop = asyncio.get_running_loop()
        batch = _Batch(walks, [None] * len(walks), loop.create_future())
        started = loop.time()
        sent: list[_Sent | None] = []
        try:
            for index, walk in enumerate(walks):
                sent.append(await self._send_in(batch, index, walk))
            batch.sealed = True
            batch.settle()
            expires_at = max(walk.cutoff for walk in walks)
            resend_at = started + (expires_at - started) * RESEND_AFTER_FRACTION
            resend = loop.call_at(resend_at, _send_again, sent)
            try:
                async with asyncio.timeout_at(expires_at):
                    await batch.all_done
            except TimeoutError:
                pass
            finally:
                resend.cancel()
            return [await self._answer_of(batch, i, entry) for i, entry in enumerate(sent)]
        finally:
            for entry in sent:
                if entry is not None:
                    del self._pending[entry.query_id]
                    self._ids.release(entry.query_id)
            for task in batch.going_on.values():
                task.cancel()

    async def _send_in(self, batch: _Batch, index: int, walk: _Walk) -> _Sent | None:
        """The walk's question sent as one of `batch`; None when it could not be (the walk
        then has its answer: why)."""
        loop = asyncio.get_running_loop()
        try:
            sock = self._socket_for(walk.server)
        except OSError as error:
            walk.sent(loop.time())
            reason = f"cannot open a UDP socket: {error.strerror or error}"
            batch.answers[index] = walk.failed(_Failure(reason))
            return None
        query_id = self._ids.take()
        if query_id is None:
            query_id = await self._ids.acquire()
        future: asyncio.Future[_Parsed] = loop.create_future()
        pending = _Pending(walk.server, walk.template.question, future, batch=batch, index=index)
        self._pending[query_id] = pending
        batch.waiting += 1
        wire = query_id.to_bytes(2, "big") + walk.template.wire[2:]
        entry = _Sent(query_id, pending, wire, sock)
        walk.sent(loop.time())
        entry.send()
        return entry

    def _responded(self, batch: _Batch, index: int, response: _Parsed) -> None:
        """A batched question's response: its answer, or its walk going on in a task."""
        walk = batch.walks[index]
        took = None if _truncated(response) else walk.took(response)
        if isinstance(took, DnsAnswer):
            batch.finished(index, took)
            return
        if took is not None:
            self._ask_next(walk, took)
        going_on = self._walk_on(walk, response if took is None else None)
        task = batch.going_on[index] = asyncio.get_running_loop().create_task(going_on)
        task.add_done_callback(lambda _: batch.finished(index))

    async def _answer_of(self, batch: _Batch, index: int, entry: _Sent | None) -> DnsAnswer:
        """The answer the walk at `index` came to (a follow-up still running ends by its own
        timeout, which is never later than the batch's)."""
        answer = batch.answers[index]
        if answer is not None:
            return answer
        task = batch.going_on.get(index)
        if task is not None:
            return await task
        assert entry is not None, "a question that was never sent has its answer"
        return batch.walks[index].failed(entry.failure())

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
        if not parsed.answers(pending.question):
            self.stray_datagrams += 1
            return
        pending.future.set_result(parsed)
        if pending.batch is not None:
            self._responded(pending.batch, pending.index, parsed)

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

    def _socket_for(self, server: Server) -> _Socket:
        family = socket.AF_INET6 if ":" in server[0] else socket.AF_INET
        sock = self._sockets.by_family.get(family)
        if sock is None:
            sock = self._sockets.by_family[family] = _Socket(_open_socket(family), self)
        return sock


def _open_socket(family: int) -> socket.socket:
    """A non-blocking UDP socket on any port, with room to queue a poll's responses."""
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
        sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", 0))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def soa_serial(response: dns.message.Message) -> int | None:
    """The serial of the first SOA record in the answer or the authority section."""
    for rrset in (*response.answer, *response.authority):
        if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
            return int(rrset[0].serial)
    return None


def _truncated(outcome: _Parsed | _Failure) -> bool:
    return isinstance(outcome, _Parsed) and bool(outcome.message.flags & dns.flags.TC)


async def _over_tcp(
    server: Server, question: Question, recursion_desired: bool, seconds_left: float
) -> _Parsed | _Failure:
    """The question asked again over TCP, as a resolver does after a truncated UDP answer
    (TC set: the answer did not fit), within what is left of the query's timeout."""
    import dns.asyncquery  # only a truncated answer needs it: kept off the startup path

    if seconds_left <= 0:
        return _Failure("truncated answer over UDP, no time left to ask over TCP")
    qname, qtype, _ = question
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


def _send(sock: _Socket, wire: bytes, pending: _Pending) -> None:
    if not pending.future.done() and not sock.closed:
        sock.sendto(wire, pending.server)


def _send_again(sent: Sequence[_Sent | None]) -> None:
    """Every query of a batch still unanswered, sent once more (UDP may have dropped it)."""
    for entry in sent:
        if entry is not None:
            entry.send()


def _about_target(reason: str, hop: int, qname: dns.name.Name) -> str:
    """A follow-up's failure names the CNAME target it was about."""
    return reason if hop == 0 else f"{reason} for CNAME target {_name_text(qname)}"
