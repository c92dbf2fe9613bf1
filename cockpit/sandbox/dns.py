"""DNS stand-ins over real UDP: an authoritative server for the zone and caching resolvers."""

from __future__ import annotations

import logging
import math
import random
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rdtypes.ANY.CNAME
import dns.rdtypes.ANY.NS
import dns.rdtypes.ANY.SOA
import dns.rrset

from cockpit.sandbox.child import ChildServer, run_control, spawn_server
from cockpit.sandbox.shared import RecordSource, SandboxError, WeightedRecordSet

log = logging.getLogger(__name__)

ResolverMode = Literal["normal", "stuck", "timeout", "servfail"]
RESOLVER_MODES: tuple[ResolverMode, ...] = get_args(ResolverMode)

Client = tuple[str, int]
WireHandler = Callable[[bytes, Client], None]

POLL_SECONDS = 0.1
MAX_CNAME_HOPS = 8
SYNTHESIZED_SOA_TTL = 60
SYNTHESIZED_SOA_MINIMUM = 5
SYNTHESIZED_NS_TTL = 300
# Types asked for to tell an existing name without the queried type (NODATA) from NXDOMAIN.
EXISTENCE_PROBE_TYPES = ("A", "AAAA", "CNAME", "TXT", "MX", "NS", "SOA")


def _require_loopback(host: str, what: str) -> None:
    if not host.startswith("127."):
        raise SandboxError(f"the sandbox's {what} must be on loopback (127.0.0.0/8), not {host}")


class _UdpServer:
    """One UDP socket served by one thread; `handle` gets each datagram and replies via `send`."""

    def __init__(self, host: str, port: int, handle: WireHandler, thread_name: str) -> None:
        _require_loopback(host, "DNS servers")
        self.host = host
        self.port = port
        self._handle = handle
        self._thread_name = thread_name
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._socket = self._bind()
            self._stopping.clear()
            self._thread = threading.Thread(
                target=self._serve, args=(self._socket,), name=self._thread_name, daemon=True
            )
            self._thread.start()

    def _bind(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self.host, self.port))
        except OSError as error:
            sock.close()
            raise SandboxError(
                f"{self._thread_name} cannot listen on UDP {self.address}: {error}; "
                "pick another port (free_port(host, socket.SOCK_DGRAM))"
            ) from error
        sock.settimeout(POLL_SECONDS)
        return sock

    def stop(self) -> None:
        with self._lock:
            thread, sock = self._thread, self._socket
            self._thread = self._socket = None
        if thread is None or sock is None:
            return
        self._stopping.set()
        self._wake(sock)
        thread.join()
        sock.close()

    @staticmethod
    def _wake(sock: socket.socket) -> None:
        """Send the socket an empty datagram so its blocked recvfrom returns now."""
        try:
            sock.sendto(b"", sock.getsockname())
        except OSError:
            log.debug("could not wake %s; it stops at its next poll", sock.getsockname())

    def send(self, wire: bytes, client: Client) -> None:
        sock = self._socket
        if sock is None:
            return
        try:
            sock.sendto(wire, client)
        except OSError:
            log.debug("%s could not reply to %s", self._thread_name, client)

    def _serve(self, sock: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                wire, client = sock.recvfrom(65535)
            except (TimeoutError, OSError):
                continue
            if self._stopping.is_set():
                return
            try:
                self._handle(wire, client)
            except Exception:
                log.exception("%s failed on a datagram from %s", self._thread_name, client)


def _parse_query(wire: bytes) -> dns.message.Message | None:
    """The query in `wire`, or None if it is malformed or is itself a response."""
    try:
        query = dns.message.from_wire(wire)
    except Exception:
        return None
    return None if query.flags & dns.flags.QR else query


def _formerr_for(wire: bytes) -> bytes | None:
    """A header-only FORMERR for a datagram that does not parse (None if it is no query at all)."""
    if len(wire) < 12 or wire[2] & 0x80:
        return None
    opcode_and_rd = wire[2] & 0x79
    return wire[:2] + bytes([0x80 | opcode_and_rd, dns.rcode.FORMERR]) + bytes(8)


def _problem_rcode(query: dns.message.Message) -> dns.rcode.Rcode | None:
    """The rcode for a query this stand-in will not look up (None if it is a plain query)."""
    if query.opcode() != dns.opcode.QUERY:
        return dns.rcode.NOTIMP
    if len(query.question) != 1:
        return dns.rcode.FORMERR
    return None


def _to_wire(response: dns.message.Message) -> bytes:
    """The response as sent over UDP: truncated (TC, empty sections) if it does not fit."""
    try:
        return response.to_wire(max_size=max(response.request_payload, 512))
    except dns.exception.TooBig:
        response.answer.clear()
        response.authority.clear()
        response.additional.clear()
        response.flags |= dns.flags.TC
        return response.to_wire()


def _error_response(query: dns.message.Message, rcode: dns.rcode.Rcode) -> dns.message.Message:
    response = dns.message.make_response(query)
    response.set_rcode(rcode)
    return response


def choose_record_sets(
    record_sets: Sequence[WeightedRecordSet], rng: random.Random
) -> list[WeightedRecordSet]:
    """The sets one answer holds: every simple set, plus one weighted set drawn like Route 53."""
    chosen = [record_set for record_set in record_sets if record_set.weight is None]
    weighted = [record_set for record_set in record_sets if record_set.weight is not None]
    if weighted:
        weights = [record_set.weight or 0 for record_set in weighted]
        if sum(weights) == 0:
            weights = [1] * len(weighted)
        chosen.append(rng.choices(weighted, weights=weights)[0])
    return chosen


def _rrset_from(
    name: dns.name.Name, rtype: str, record_sets: Sequence[WeightedRecordSet]
) -> dns.rrset.RRset:
    ttl = min(record_set.ttl for record_set in record_sets)
    values = [value for record_set in record_sets for value in record_set.values]
    return dns.rrset.from_text_list(name, ttl, dns.rdataclass.IN, rtype, values)


def _soa_minimum(rrset: dns.rrset.RRset) -> int:
    soa = rrset[0]
    if not isinstance(soa, dns.rdtypes.ANY.SOA.SOA):
        raise SandboxError(f"the SOA record of {rrset.name} is not an SOA")
    return int(soa.minimum)


def _negative_ttl(soa_rrset: dns.rrset.RRset) -> int:
    """How long a NODATA or NXDOMAIN answer stays true (RFC 2308: the lesser of TTL and minimum)."""
    return min(soa_rrset.ttl, _soa_minimum(soa_rrset))


class AuthoritativeServer:
    """Answers authoritatively for one zone from a record source read on every query.

    It stays in Python because the zone mirrors the Route 53 stand-in's weighted records, and
    no third-party authoritative server draws a weighted random answer per query the way
    Route 53 does. Hand-managed zones are served by a real knot (cockpit.sandbox.knot).
    """

    def __init__(
        self,
        host: str,
        port: int,
        zone: str,
        records: RecordSource,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._zone = dns.name.from_text(zone.lower())
        self._records = records
        self._rng = rng or random.Random()
        self._server = _UdpServer(host, port, self._handle, f"dns-authoritative-{self._zone}")
        self._ns_name = dns.name.from_text("ns1", self._zone)

    @property
    def address(self) -> str:
        return self._server.address

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def _handle(self, wire: bytes, client: Client) -> None:
        query = _parse_query(wire)
        reply = _formerr_for(wire) if query is None else _to_wire(self.respond(query))
        if reply is not None:
            self._server.send(reply, client)

    def respond(self, query: dns.message.Message) -> dns.message.Message:
        """The authoritative response to `query` (SERVFAIL if the record source fails)."""
        problem = _problem_rcode(query)
        if problem is not None:
            return _error_response(query, problem)
        question = query.question[0]
        if question.rdclass != dns.rdataclass.IN or not question.name.is_subdomain(self._zone):
            return _error_response(query, dns.rcode.REFUSED)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        try:
            self._fill(response, question.name, question.rdtype)
        except Exception:
            log.exception("the record source failed for %s", question.name)
            return _error_response(query, dns.rcode.SERVFAIL)
        return response

    def _fill(
        self, response: dns.message.Message, qname: dns.name.Name, qtype: dns.rdatatype.RdataType
    ) -> None:
        """Put the answer for (qname, qtype) in `response`, following CNAMEs within the zone."""
        name = qname
        for _ in range(MAX_CNAME_HOPS):
            cname = None if qtype == dns.rdatatype.CNAME else self._rrset(name, "CNAME")
            if cname is None:
                break
            response.answer.append(cname)
            name = self._cname_target(cname)
            if not name.is_subdomain(self._zone):
                return
        else:
            return
        rrset = self._rrset(name, dns.rdatatype.to_text(qtype))
        if rrset is not None:
            response.answer.append(rrset)
            response.additional.extend(self._glue(rrset))
            return
        self._fill_negative(response, name)

    def _fill_negative(self, response: dns.message.Message, name: dns.name.Name) -> None:
        """Mark `response` NODATA or NXDOMAIN, with the SOA that says how long to cache that."""
        if not self._name_exists(name):
            response.set_rcode(dns.rcode.NXDOMAIN)
        soa = self._rrset(self._zone, "SOA")
        if soa is not None:
            response.authority.append(
                dns.rrset.from_rdata_list(soa.name, _negative_ttl(soa), list(soa))
            )

    @staticmethod
    def _cname_target(cname: dns.rrset.RRset) -> dns.name.Name:
        rdata = cname[0]
        if not isinstance(rdata, dns.rdtypes.ANY.CNAME.CNAME):
            raise SandboxError(f"the CNAME record of {cname.name} is not a CNAME")
        return rdata.target

    def _rrset(self, name: dns.name.Name, rtype: str) -> dns.rrset.RRset | None:
        """The records answered for (name, type) now, one weighted set drawn; None if none."""
        record_sets = self._records(name.to_text().lower(), rtype)
        if not record_sets:
            record_sets = self._synthesized(name, rtype)
        chosen = choose_record_sets(record_sets, self._rng)
        return _rrset_from(name, rtype, chosen) if chosen else None

    def _synthesized(self, name: dns.name.Name, rtype: str) -> list[WeightedRecordSet]:
        """The apex SOA and NS (and the NS's address) when the record source has none."""
        text = name.to_text().lower()
        zone, ns = self._zone.to_text(), self._ns_name.to_text()
        if name == self._zone and rtype == "SOA":
            soa = f"{ns} hostmaster.{zone} 1 60 30 600 {SYNTHESIZED_SOA_MINIMUM}"
            return [WeightedRecordSet(text, "SOA", SYNTHESIZED_SOA_TTL, (soa,))]
        if name == self._zone and rtype == "NS":
            return [WeightedRecordSet(text, "NS", SYNTHESIZED_NS_TTL, (ns,))]
        if name == self._ns_name and rtype == "A":
            return [WeightedRecordSet(text, "A", SYNTHESIZED_NS_TTL, (self._server.host,))]
        return []

    def _glue(self, rrset: dns.rrset.RRset) -> list[dns.rrset.RRset]:
        """Addresses of in-zone name servers, for the additional section of an NS answer."""
        targets = [rdata.target for rdata in rrset if isinstance(rdata, dns.rdtypes.ANY.NS.NS)]
        glue = [self._rrset(target, "A") for target in targets if target.is_subdomain(self._zone)]
        return [address for address in glue if address is not None]

    def _name_exists(self, name: dns.name.Name) -> bool:
        if name in (self._zone, self._ns_name):
            return True
        text = name.to_text().lower()
        return any(self._records(text, rtype) for rtype in EXISTENCE_PROBE_TYPES)


@dataclass(frozen=True)
class CachedAnswer:
    """An upstream answer as a caching resolver holds it."""

    rcode: dns.rcode.Rcode
    answer: tuple[dns.rrset.RRset, ...]
    authority: tuple[dns.rrset.RRset, ...]
    fetched_at: float
    ttl_seconds: int

    def is_fresh(self, now: float) -> bool:
        return now < self.fetched_at + self.ttl_seconds

    def remaining_seconds(self, now: float) -> int:
        """Whole seconds left before expiry, rounded up as resolvers count a TTL down."""
        remaining = self.fetched_at + self.ttl_seconds - now
        return max(0, math.ceil(round(remaining, 6)))

    def served(self, query: dns.message.Message, ttl_seconds: int) -> dns.message.Message:
        """The answer to `query` with every record's TTL at most `ttl_seconds`."""
        response = dns.message.make_response(query)
        response.flags |= dns.flags.RA
        response.set_rcode(self.rcode)
        response.answer.extend(_with_ttl_at_most(rrset, ttl_seconds) for rrset in self.answer)
        response.authority.extend(_with_ttl_at_most(rrset, ttl_seconds) for rrset in self.authority)
        return response


def _with_ttl_at_most(rrset: dns.rrset.RRset, ttl_seconds: int) -> dns.rrset.RRset:
    return dns.rrset.from_rdata_list(rrset.name, min(rrset.ttl, ttl_seconds), list(rrset))


def cached_answer_from(response: dns.message.Message, fetched_at: float) -> CachedAnswer | None:
    """What a resolver keeps of an upstream response (None unless NOERROR or NXDOMAIN)."""
    rcode = response.rcode()
    if rcode not in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return None
    answer, authority = tuple(response.answer), tuple(response.authority)
    if rcode == dns.rcode.NOERROR and answer:
        ttl = min(rrset.ttl for rrset in answer)
    else:
        soas = [rrset for rrset in authority if rrset.rdtype == dns.rdatatype.SOA]
        ttl = _negative_ttl(soas[0]) if soas else 0
    return CachedAnswer(rcode, answer, authority, fetched_at, ttl)


CacheKey = tuple[dns.name.Name, dns.rdatatype.RdataType, dns.rdataclass.RdataClass]
Waiter = tuple[dns.message.Message, Client]


class CachingResolver:
    """A recursive resolver in front of one upstream that caches by TTL, with scenario faults."""

    def __init__(
        self,
        host: str,
        port: int,
        upstream: tuple[str, int],
        *,
        name: str,
        clock: Callable[[], float] = time.monotonic,
        upstream_timeout_seconds: float = 2.0,
        fetch_workers: int = 4,
        zone_upstreams: Mapping[str, tuple[str, int]] | None = None,
    ) -> None:
        _require_loopback(upstream[0], "upstream DNS server")
        for zone_upstream in (zone_upstreams or {}).values():
            _require_loopback(zone_upstream[0], "upstream DNS server")
        self._name = name
        self._upstream = upstream
        self._zone_upstreams = {
            dns.name.from_text(zone): address for zone, address in (zone_upstreams or {}).items()
        }
        self._clock = clock
        self._upstream_timeout_seconds = upstream_timeout_seconds
        self._fetch_workers = fetch_workers
        self._mode: ResolverMode = "normal"
        self._lock = threading.Lock()
        self._cache: dict[CacheKey, CachedAnswer] = {}
        self._in_flight: dict[CacheKey, list[Waiter]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._server = _UdpServer(host, port, self._handle, f"dns-resolver-{name}")

    @property
    def address(self) -> str:
        return self._server.address

    @property
    def name(self) -> str:
        return self._name

    @property
    def mode(self) -> ResolverMode:
        return self._mode

    def set_mode(self, mode: ResolverMode) -> None:
        """Switch the scenario fault: normal, stuck, timeout (drop), servfail.

        Stuck answers from its cache only, past expiry, with the TTL refreshed every time, as a
        broken forwarder or serve-stale does: it keeps the old answer however long it has been.
        """
        if mode not in RESOLVER_MODES:
            raise SandboxError(
                f"resolver {self._name}: unknown mode {mode!r}; use one of {RESOLVER_MODES}"
            )
        self._mode = mode

    def start(self) -> None:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(
                    self._fetch_workers, thread_name_prefix=f"dns-resolver-{self._name}-fetch"
                )
        self._server.start()

    def stop(self) -> None:
        self._server.stop()
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._in_flight.clear()

    def flush(self) -> None:
        """Forget every cached answer."""
        with self._lock:
            self._cache.clear()

    def _handle(self, wire: bytes, client: Client) -> None:
        mode = self._mode
        if mode == "timeout":
            return
        query = _parse_query(wire)
        if query is None:
            reply = _formerr_for(wire)
            if reply is not None:
                self._server.send(reply, client)
            return
        response = self._respond_now(query, mode)
        if response is not None:
            self._reply(response, client)
        else:
            self._fetch_for(query, client)

    def _respond_now(
        self, query: dns.message.Message, mode: ResolverMode
    ) -> dns.message.Message | None:
        """The response that needs no upstream fetch, or None if one is needed."""
        problem = _problem_rcode(query)
        if problem is not None:
            return _error_response(query, problem)
        if mode == "servfail":
            return _error_response(query, dns.rcode.SERVFAIL)
        with self._lock:
            cached = self._cache.get(_cache_key(query))
        if mode == "stuck":
            return self._stuck_response(query, cached)
        now = self._clock()
        if cached is not None and cached.is_fresh(now):
            return cached.served(query, cached.remaining_seconds(now))
        if not query.flags & dns.flags.RD:
            return _error_response(query, dns.rcode.REFUSED)
        return None

    @staticmethod
    def _stuck_response(
        query: dns.message.Message, cached: CachedAnswer | None
    ) -> dns.message.Message:
        if cached is None:
            return _error_response(query, dns.rcode.SERVFAIL)
        return cached.served(query, cached.ttl_seconds)

    def _fetch_for(self, query: dns.message.Message, client: Client) -> None:
        """Fetch the answer on the pool and reply from there; one fetch serves every asker."""
        key = _cache_key(query)
        with self._lock:
            waiters = self._in_flight.get(key)
            if waiters is not None:
                waiters.append((query, client))
                return
            self._in_flight[key] = [(query, client)]
            pool = self._pool
        if pool is not None:
            pool.submit(self._fetch_and_reply, key)

    def _fetch_and_reply(self, key: CacheKey) -> None:
        cached = self._fetch(key)
        with self._lock:
            if cached is not None and cached.ttl_seconds > 0:
                self._cache[key] = cached
            waiters = self._in_flight.pop(key, [])
        for query, client in waiters:
            if cached is None:
                self._reply(_error_response(query, dns.rcode.SERVFAIL), client)
            else:
                self._reply(cached.served(query, cached.ttl_seconds), client)

    def _fetch(self, key: CacheKey) -> CachedAnswer | None:
        """The upstream's answer for `key`, or None if it failed or timed out."""
        qname, rdtype, rdclass = key
        upstream_query = dns.message.make_query(qname, rdtype, rdclass, flags=0)
        host, port = self._upstream_for(qname)
        try:
            response = dns.query.udp(
                upstream_query, host, port=port, timeout=self._upstream_timeout_seconds
            )
        except Exception as error:
            log.info("resolver %s: upstream %s:%s failed: %s", self._name, host, port, error)
            return None
        return cached_answer_from(response, self._clock())

    def _upstream_for(self, qname: dns.name.Name) -> tuple[str, int]:
        """The server for the zone `qname` is in (the default upstream for any other name)."""
        for zone, address in self._zone_upstreams.items():
            if qname.is_subdomain(zone):
                return address
        return self._upstream

    def _reply(self, response: dns.message.Message, client: Client) -> None:
        self._server.send(_to_wire(response), client)


def _cache_key(query: dns.message.Message) -> CacheKey:
    question = query.question[0]
    return (question.name.canonicalize(), question.rdtype, question.rdclass)


UNBOUND_START_TIMEOUT_SECONDS = 10.0
UNIX_SOCKET_PATH_MAX = 107


@dataclass(frozen=True)
class UnboundPaths:
    """The files one unbound instance keeps in its work directory."""

    config: Path
    pidfile: Path
    logfile: Path
    console: Path
    control_socket: Path

    @classmethod
    def in_dir(cls, work_dir: Path) -> UnboundPaths:
        return cls(
            config=work_dir / "unbound.conf",
            pidfile=work_dir / "unbound.pid",
            logfile=work_dir / "unbound.log",
            console=work_dir / "unbound.console",
            control_socket=work_dir / "unbound.ctl",
        )


def _stub_zone(zone: str, upstream: tuple[str, int]) -> str:
    host, port = upstream
    return f"""stub-zone:
    name: "{zone}"
    stub-addr: {host}@{port}
"""


def unbound_config(
    host: str,
    port: int,
    upstream: tuple[str, int],
    zone: str,
    paths: UnboundPaths,
    more_zones: Mapping[str, tuple[str, int]] | None = None,
    *,
    tcp: bool = False,
) -> str:
    """An unbound.conf for a caching resolver on host@port that asks only `upstream` for `zone`
    (and each of `more_zones` only its own server). With `tcp`, it also answers over TCP and
    asks over TCP after a truncated answer, as unbound does out of the box.

    Every name outside the zones is refused, so this unbound never sends a query off loopback.
    """
    zones = {zone: upstream, **(more_zones or {})}
    tlds = sorted({z.rstrip(".").rsplit(".", 1)[-1] + "." for z in zones} - set(zones))
    tld_defaults = "\n    ".join(f'local-zone: "{tld}" nodefault' for tld in tlds)
    transparent = "\n    ".join(f'local-zone: "{z}" transparent' for z in zones)
    stubs = "\n".join(_stub_zone(z, address) for z, address in zones.items())
    return f"""server:
    interface: {host}@{port}
    access-control: 127.0.0.0/8 allow
    do-ip6: no
    do-tcp: {"yes" if tcp else "no"}
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "{paths.config.parent}"
    pidfile: "{paths.pidfile}"
    logfile: "{paths.logfile}"
    use-syslog: no
    verbosity: 1
    num-threads: 1
    module-config: "iterator"
    do-not-query-localhost: no
    qname-minimisation: no
    local-zone: "." refuse
    {tld_defaults}
    {transparent}

{stubs}
remote-control:
    control-enable: yes
    control-use-cert: no
    control-interface: "{paths.control_socket}"
"""


class UnboundResolver(ChildServer):
    """A real unbound caching resolver in front of the authoritative server, run as a child."""

    @staticmethod
    def available() -> bool:
        return shutil.which("unbound") is not None

    def __init__(
        self,
        host: str,
        port: int,
        upstream: tuple[str, int],
        *,
        zone: str,
        work_dir: Path,
        name: str = "unbound",
        more_zones: Mapping[str, tuple[str, int]] | None = None,
        tcp: bool = False,
    ) -> None:
        _require_loopback(host, "unbound resolver")
        _require_loopback(upstream[0], "upstream DNS server")
        for zone_upstream in (more_zones or {}).values():
            _require_loopback(zone_upstream[0], "upstream DNS server")
        self._host, self._port, self._upstream = host, port, upstream
        self._zone = zone.lower() if zone.endswith(".") else zone.lower() + "."
        self._more_zones = dict(more_zones or {})
        self._paths = UnboundPaths.in_dir(work_dir)
        self._name = name
        self._tcp = tcp
        super().__init__()

    @property
    def address(self) -> str:
        return f"{self._host}:{self._port}"

    @property
    def name(self) -> str:
        return self._name

    def _prepare(self) -> None:
        self._write_config()

    def _wait_ready(self, process: subprocess.Popen[bytes]) -> None:
        self._wait_until_answering(process)

    def _write_config(self) -> None:
        if len(str(self._paths.control_socket)) > UNIX_SOCKET_PATH_MAX:
            raise SandboxError(
                f"unbound's control socket path {self._paths.control_socket} is too long "
                "for a unix socket; use a shorter work_dir"
            )
        self._paths.config.parent.mkdir(parents=True, exist_ok=True)
        for stale in (self._paths.logfile, self._paths.console):
            stale.unlink(missing_ok=True)
        config = unbound_config(
            self._host,
            self._port,
            self._upstream,
            self._zone,
            self._paths,
            self._more_zones,
            tcp=self._tcp,
        )
        self._paths.config.write_text(config)

    @property
    def command_marker(self) -> str:
        """Text in this server's command line, so a PID read back later is known to be it."""
        return str(self._paths.config)

    def _spawn(self) -> subprocess.Popen[bytes]:
        binary = shutil.which("unbound")
        if binary is None:
            raise SandboxError("unbound is not installed; install it (apt-get install unbound)")
        command = [binary, "-d", "-c", str(self._paths.config)]
        return spawn_server(command, self._paths.console)

    def _wait_until_answering(self, process: subprocess.Popen[bytes]) -> None:
        probe = dns.message.make_query("localhost.", dns.rdatatype.A)
        deadline = time.monotonic() + UNBOUND_START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SandboxError(self._failure(f"exited with status {process.returncode}"))
            try:
                dns.query.udp(probe, self._host, port=self._port, timeout=0.2)
            except (dns.exception.Timeout, OSError):
                continue
            return
        raise SandboxError(
            self._failure(f"did not answer within {UNBOUND_START_TIMEOUT_SECONDS} s")
        )

    def _failure(self, what: str) -> str:
        return (
            f"unbound {self._name} on {self.address} {what}; config {self._paths.config}; "
            f"log tail:\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        texts = [
            path.read_text(errors="replace")
            for path in (self._paths.console, self._paths.logfile)
            if path.exists()
        ]
        return "\n".join("\n".join(text.splitlines()[-lines:]) for text in texts) or "(empty)"

    def flush(self) -> None:
        """Make unbound forget everything it cached for its zones."""
        for zone in (self._zone, *self._more_zones):
            self._control("flush_zone", zone)

    def _control(self, *command: str) -> None:
        arguments = ["-c", str(self._paths.config), *command]
        what = f"unbound-control {' '.join(command)} for {self._name}"
        run_control("unbound-control", "unbound", arguments, what)
