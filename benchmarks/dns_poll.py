"""One DNS poll of 100 resolvers x 10 records on loopback, against dnspython's per-query path.

Run: .venv/bin/python benchmarks/dns_poll.py [--runs N] [--resolvers python|unbound|both]

Servers, none of them in this process (so they never share its GIL or its CPU accounting):
- one AuthoritativeServer (cockpit/sandbox/dns.py) on 127.0.0.1 for 10 records, in a child;
- "python": 100 CachingResolvers on 127.0.1.1 ... 127.0.1.100 (an address each, a free UDP
  port each), spread over --server-processes children;
- "unbound": one real unbound listening on the same 100 addresses (a free port each), so the
  figures show the client's cost rather than the Python stand-ins' (skipped if not installed).

For each, in the same run, N times each and interleaved: (a) the baseline, 1000 concurrent
`dns.asyncquery.udp` queries (a socket per query), which may lose some to full buffers; (a')
the baseline that does not lose queries: the same dnspython calls, at most 32 outstanding,
each with the whole poll timeout; the multiplexing DnsClient alone on the same 1000 queries;
(b) one DnsSource poll (those 1000 plus 10 to the authoritative server, readings built); and,
against unbound when `dnsperf` is installed, dnsperf sending the same 1000 questions (to one
of unbound's addresses: dnsperf asks one server). Each row says how many of the 1000 were
answered. Then one poll with 5 extra dead resolvers (127.0.2.1 ... 127.0.2.5, ports nothing
listens on): it should cost about one query timeout, not five. Prints figures and a table
(target: the poll at least 5x faster than dnspython, at most 5x dnsperf's time).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import dns.asyncquery
import dns.message
import dns.query

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import Table
from cockpit.clock import system_clock
from cockpit.config import config_from_data, parse_host_port
from cockpit.sandbox.shared import free_port
from cockpit.sources.dns import QUERY_TIMEOUT_FRACTION, DnsSource
from cockpit.sources.dns_client import DnsClient

ZONE = "bench.test."
RESOLVER_COUNT = 100
RECORD_COUNT = 10
QUESTIONS = RESOLVER_COUNT * RECORD_COUNT
DEAD_COUNT = 5
TTL_SECONDS = 3600
POLL_TIMEOUT_SECONDS = 1.0
QUERY_TIMEOUT_SECONDS = POLL_TIMEOUT_SECONDS * QUERY_TIMEOUT_FRACTION
SETTLE_SECONDS = 0.3
PACED_OUTSTANDING = 32
DNSPYTHON_TARGET = 5.0
DNSPERF_TARGET = 5.0

Sample = tuple[float, float, int]  # wall seconds, this process's CPU seconds, failures


def record_name(index: int) -> str:
    return f"rec{index}.{ZONE}"


def new_answers(index: int) -> tuple[str, ...]:
    return (f"127.0.100.{index + 1}", f"127.0.101.{index + 1}")


def resolver_host(index: int) -> str:
    return f"127.0.1.{index + 1}"


@dataclass(frozen=True)
class Addresses:
    authoritative: str
    resolvers: list[str]


# --- servers ---------------------------------------------------------------------------------


def serve(conn: Connection, first: int, count: int, upstream: tuple[str, int] | None) -> None:
    """A child: the authoritative server (upstream None) or CachingResolvers first..first+count."""
    from cockpit.sandbox.dns import AuthoritativeServer, CachingResolver
    from cockpit.sandbox.shared import WeightedRecordSet

    servers: list[AuthoritativeServer | CachingResolver] = []
    if upstream is None:
        records = {
            (record_name(i), "A"): [
                WeightedRecordSet(record_name(i), "A", TTL_SECONDS, new_answers(i))
            ]
            for i in range(RECORD_COUNT)
        }
        port = free_port("127.0.0.1", socket.SOCK_DGRAM)
        servers.append(
            AuthoritativeServer("127.0.0.1", port, ZONE, lambda n, t: records.get((n, t), []))
        )
    for index in range(first, first + count):
        host = resolver_host(index)
        assert upstream is not None
        port = free_port(host, socket.SOCK_DGRAM)
        servers.append(CachingResolver(host, port, upstream, name=f"r{index}"))
    for server in servers:
        server.start()
    conn.send([server.address for server in servers])
    conn.recv()
    for server in servers:
        server.stop()


class ChildServers:
    """The authoritative server and (optionally) CachingResolvers, in child processes."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._children: list[tuple[Any, Connection]] = []

    def start_authoritative(self) -> str:
        [address] = self._spawn(0, 0, None)
        return address

    def start_resolvers(self, upstream: str, processes: int) -> list[str]:
        per_process = -(-RESOLVER_COUNT // processes)
        resolvers: list[str] = []
        for first in range(0, RESOLVER_COUNT, per_process):
            count = min(per_process, RESOLVER_COUNT - first)
            resolvers += self._spawn(first, count, parse_host_port(upstream))
        return resolvers

    def _spawn(self, first: int, count: int, upstream: tuple[str, int] | None) -> list[str]:
        parent_end, child_end = self._context.Pipe()
        child = self._context.Process(
            target=serve, args=(child_end, first, count, upstream), daemon=True
        )
        child.start()
        self._children.append((child, parent_end))
        addresses: list[str] = parent_end.recv()
        return addresses

    def stop(self) -> None:
        for _, conn in self._children:
            conn.send("stop")
        for child, _ in self._children:
            child.join(30)
            if child.is_alive():
                child.terminate()
                child.join()
        self._children.clear()


class UnboundServers:
    """One unbound, this benchmark's own child, answering on all 100 resolver addresses."""

    def __init__(self, work_dir: Path) -> None:
        self._work_dir = work_dir
        self._process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def installed() -> bool:
        return shutil.which("unbound") is not None

    def start(self, upstream: str) -> list[str]:
        from cockpit.sandbox.dns import UnboundPaths, unbound_config

        resolvers = [
            f"{resolver_host(i)}:{free_port(resolver_host(i), socket.SOCK_DGRAM)}"
            for i in range(RESOLVER_COUNT)
        ]
        paths = UnboundPaths.in_dir(self._work_dir)
        host, port = parse_host_port(resolvers[0])
        config = unbound_config(host, port, parse_host_port(upstream), ZONE, paths)
        more = "".join(f"    interface: {a.replace(':', '@')}\n" for a in resolvers[1:])
        first_line = f"    interface: {host}@{port}\n"
        paths.config.write_text(config.replace(first_line, first_line + more))
        binary = shutil.which("unbound") or "unbound"
        self._process = subprocess.Popen(
            [binary, "-d", "-c", str(paths.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_answering(resolvers[-1])
        return resolvers

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None


def _wait_answering(address: str) -> None:
    host, port = parse_host_port(address)
    probe = dns.message.make_query(record_name(0), "A")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            dns.query.udp(probe, host, port=port, timeout=0.2)
        except Exception:
            continue
        return
    raise RuntimeError(f"nothing answers at {address}")


# --- the polls -------------------------------------------------------------------------------


def dns_source(authoritative: str, resolvers: list[str]) -> DnsSource:
    records = [
        {"name": record_name(i).rstrip("."), "expect": list(new_answers(i)), "old": "192.0.2.1"}
        for i in range(RECORD_COUNT)
    ]
    data = {
        "cutover": {"name": "dns benchmark"},
        "dns": {
            "timeout_seconds": POLL_TIMEOUT_SECONDS,
            "max_ttl_seconds": TTL_SECONDS,
            "resolvers": resolvers,
            "authoritative": [authoritative],
            "records": records,
        },
    }
    config = config_from_data(data, source="benchmark", base_dir=Path())
    assert config.dns is not None
    return DnsSource(config.dns, system_clock)


def questions(resolvers: list[str]) -> list[tuple[tuple[str, int], str]]:
    return [(parse_host_port(a), record_name(i)) for a in resolvers for i in range(RECORD_COUNT)]


async def baseline_poll(resolvers: list[str]) -> int:
    """1000 queries with dnspython's per-query path (a socket each); returns how many failed."""

    async def one(server: tuple[str, int], name: str) -> bool:
        query = dns.message.make_query(name, "A")
        try:
            await dns.asyncquery.udp(
                query, server[0], port=server[1], timeout=QUERY_TIMEOUT_SECONDS
            )
        except Exception:
            return False
        return True

    results = await asyncio.gather(*(one(s, n) for s, n in questions(resolvers)))
    return results.count(False)


async def paced_baseline_poll(resolvers: list[str]) -> int:
    """The same 1000 dnspython queries, at most PACED_OUTSTANDING at a time, each allowed the
    whole poll timeout: the baseline that does not lose queries. Returns how many failed."""
    gate = asyncio.Semaphore(PACED_OUTSTANDING)

    async def one(server: tuple[str, int], name: str) -> bool:
        query = dns.message.make_query(name, "A")
        async with gate:
            try:
                await dns.asyncquery.udp(
                    query, server[0], port=server[1], timeout=POLL_TIMEOUT_SECONDS
                )
            except Exception:
                return False
        return True

    results = await asyncio.gather(*(one(s, n) for s, n in questions(resolvers)))
    return results.count(False)


async def client_poll(resolvers: list[str]) -> int:
    """The same 1000 queries through the multiplexing client alone; returns how many failed."""
    async with DnsClient() as client:
        answers = await asyncio.gather(
            *(
                client.query(server, name, "A", timeout_seconds=QUERY_TIMEOUT_SECONDS)
                for server, name in questions(resolvers)
            )
        )
    return sum(1 for answer in answers if not answer.ok)


async def source_poll(source: DnsSource) -> int:
    """One DnsSource poll; returns how many resolvers did not answer the expected set."""
    readings = await source.read()
    names = ("old_count", "other_count", "error_count")
    return sum(int(r.number(name) or 0) for r in readings for name in names)


async def timed(poll: Callable[[], Awaitable[int]]) -> Sample:
    wall, cpu = time.perf_counter(), time.process_time()
    failures = await poll()
    return time.perf_counter() - wall, time.process_time() - cpu, failures


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def describe(label: str, samples: list[Sample]) -> str:
    walls = [wall for wall, _, _ in samples]
    cpu = statistics.median(cpu for _, cpu, _ in samples)
    failed = sum(failures for _, _, failures in samples)
    return (
        f"  {label:<42} median {statistics.median(walls) * 1000:6.0f} ms  "
        f"p95 {p95(walls) * 1000:6.0f} ms  cpu here {cpu * 1000:5.0f} ms  failed {failed}"
    )


@dataclass
class DnsperfRun:
    wall_seconds: float
    run_seconds: float
    sent: int
    completed: int


def dnsperf_run(resolver: str, data_file: Path) -> DnsperfRun:
    """dnsperf through the 1000 questions once, as fast as unbound answers."""
    host, port = parse_host_port(resolver)
    command = ["dnsperf", "-s", host, "-p", str(port), "-d", str(data_file), "-n", "1"]
    command += ["-q", "1000", "-t", str(POLL_TIMEOUT_SECONDS)]
    started = time.perf_counter()
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - started

    def number(label: str) -> float:
        line = next(line for line in output.splitlines() if label in line)
        return float(line.split(":", 1)[1].split()[0])

    return DnsperfRun(
        wall, number("Run time (s)"), int(number("Queries sent")), int(number("Queries completed"))
    )


def dnsperf_data(resolvers: list[str], directory: Path) -> Path:
    path = directory / "dnsperf-queries.txt"
    path.write_text("".join(f"{name} A\n" for _, name in questions(resolvers)))
    return path


async def measure(
    addresses: Addresses, runs: int, title: str, dnsperf_dir: Path | None = None
) -> Table:
    source = dns_source(addresses.authoritative, addresses.resolvers)
    await source.read()  # fills every resolver's cache; not counted
    samples: dict[str, list[Sample]] = {"baseline": [], "paced": [], "client": [], "source": []}
    polls: dict[str, Callable[[], Awaitable[int]]] = {
        "baseline": lambda: baseline_poll(addresses.resolvers),
        "paced": lambda: paced_baseline_poll(addresses.resolvers),
        "client": lambda: client_poll(addresses.resolvers),
        "source": lambda: source_poll(source),
    }
    data_file = dnsperf_data(addresses.resolvers, dnsperf_dir) if dnsperf_dir else None
    perf: list[DnsperfRun] = []
    for _ in range(runs):
        for name, poll in polls.items():
            samples[name].append(await timed(poll))
            await asyncio.sleep(SETTLE_SECONDS)  # late answers to a slow poll drain first
        if data_file is not None:
            perf.append(await asyncio.to_thread(dnsperf_run, addresses.resolvers[0], data_file))
            await asyncio.sleep(SETTLE_SECONDS)
    print(describe("(a) baseline: dns.asyncquery.udp x1000", samples["baseline"]))
    print(describe(f"(a') dnspython, {PACED_OUTSTANDING} outstanding x1000", samples["paced"]))
    print(describe("    DnsClient alone x1000", samples["client"]))
    print(describe("(b) one DnsSource poll (1000 + 10 auth.)", samples["source"]))
    baseline = statistics.median(wall for wall, _, _ in samples["baseline"])
    poll = statistics.median(wall for wall, _, _ in samples["source"])
    print(f"  ratio baseline / DnsSource poll (median wall): {baseline / poll:.1f}x")
    for run in perf:
        print(
            f"  dnsperf: run time {run.run_seconds * 1000:.0f} ms "
            f"(process {run.wall_seconds * 1000:.0f} ms), {run.completed}/{run.sent} completed"
        )
    dead = await measure_dead(addresses, poll)
    return summary_table(title, samples, perf, dnsperf_dir is not None, runs, dead)


def _answered(samples: list[Sample]) -> str:
    """Answered of the 1000 in the worst run (and the median run when it differs)."""
    answered = [QUESTIONS - failures for _, _, failures in samples]
    worst, middle = min(answered), statistics.median(answered)
    return f"{worst}/{QUESTIONS}" + (f" (median {middle:.0f})" if middle != worst else "")


def _wall(samples: list[Sample]) -> float:
    return statistics.median(wall for wall, _, _ in samples)


def summary_table(
    title: str,
    samples: dict[str, list[Sample]],
    perf: list[DnsperfRun],
    dnsperf_wanted: bool,
    runs: int,
    dead: str,
) -> Table:
    table = Table(f"{title}: medians of {runs} interleaved runs, answered = worst run")
    poll = _wall(samples["source"])
    paced = _wall(samples["paced"])
    unpaced = _wall(samples["baseline"])
    table.add(
        "one DnsSource poll, 100 x 10 (+10 authoritative)",
        f"{poll * 1000:.0f} ms, answered {_answered(samples['source'])}",
        f"dnspython no-loss {paced * 1000:.0f} ms",
        f"≥ {DNSPYTHON_TARGET:.0f}x dnspython",
        paced / poll >= DNSPYTHON_TARGET,
        f"{paced / poll:.1f}x faster than dnspython without loss, {unpaced / poll:.1f}x than "
        "dnspython all at once",
    )
    table.add(
        f"dnspython, {PACED_OUTSTANDING} outstanding (does not lose queries)",
        f"{paced * 1000:.0f} ms, answered {_answered(samples['paced'])}",
        "(is a baseline)",
    )
    table.add(
        "dnspython, 1000 at once (a socket each)",
        f"{unpaced * 1000:.0f} ms, answered {_answered(samples['baseline'])}",
        "(is a baseline)",
    )
    table.add(
        "DnsClient alone, the same 1000",
        f"{_wall(samples['client']) * 1000:.0f} ms, answered {_answered(samples['client'])}",
    )
    if perf:
        run_time = statistics.median(run.run_seconds for run in perf)
        completed = min(run.completed for run in perf)
        table.add(
            "dnsperf, the same 1000 questions",
            f"{run_time * 1000:.0f} ms, answered {completed}/{QUESTIONS}",
            "(is a baseline)",
            note=f"dnsperf's own run time; process with start-up "
            f"{statistics.median(r.wall_seconds for r in perf) * 1000:.0f} ms",
        )
        table.add(
            "DnsSource poll / dnsperf",
            f"{poll / run_time:.1f}x",
            f"dnsperf {run_time * 1000:.0f} ms",
            f"≤ {DNSPERF_TARGET:.0f}x dnsperf",
            poll / run_time <= DNSPERF_TARGET,
        )
    elif dnsperf_wanted:
        table.add(
            "DnsSource poll / dnsperf",
            "skipped",
            "dnsperf is not installed: apt-get install dnsperf",
            f"≤ {DNSPERF_TARGET:.0f}x dnsperf",
        )
    table.notes.append(dead)
    return table


async def measure_dead(addresses: Addresses, healthy_poll_seconds: float) -> str:
    hosts = [f"127.0.2.{i + 1}" for i in range(DEAD_COUNT)]
    dead = [f"{host}:{free_port(host, socket.SOCK_DGRAM)}" for host in hosts]
    source = dns_source(addresses.authoritative, [*addresses.resolvers, *dead])
    wall, _, _ = await timed(lambda: source_poll(source))
    [first, *_] = await source.read()
    in_a_row = DEAD_COUNT * QUERY_TIMEOUT_SECONDS
    line = (
        f"poll with {DEAD_COUNT} dead resolvers: {wall * 1000:.0f} ms "
        f"(query timeout {QUERY_TIMEOUT_SECONDS * 1000:.0f} ms, poll timeout "
        f"{POLL_TIMEOUT_SECONDS * 1000:.0f} ms, healthy poll {healthy_poll_seconds * 1000:.0f} ms; "
        f"{DEAD_COUNT} timeouts in a row: {in_a_row * 1000:.0f} ms)"
    )
    print(f"  {line}")
    print(f"    {first.signal_id}: {first.status.value}: {first.detail}")
    return line


async def run_python(runs: int, processes: int) -> Table:
    servers = ChildServers()
    try:
        authoritative = servers.start_authoritative()
        resolvers = servers.start_resolvers(authoritative, processes)
        title = f"100 CachingResolvers in {processes} child processes"
        print(f"{title}, {runs} runs each:")
        return await measure(Addresses(authoritative, resolvers), runs, title)
    finally:
        servers.stop()


async def run_unbound(runs: int) -> Table | None:
    if shutil.which("unbound") is None:
        print("unbound is not installed: skipping the unbound resolvers")
        return None
    children = ChildServers()
    with tempfile.TemporaryDirectory(prefix="cockpit-dns-bench-") as scratch:
        unbound = UnboundServers(Path(scratch))
        try:
            authoritative = children.start_authoritative()
            resolvers = unbound.start(authoritative)
            title = "one unbound on 100 addresses"
            print(f"{title}, {runs} runs each:")
            has_dnsperf = shutil.which("dnsperf") is not None
            if not has_dnsperf:
                print("  dnsperf is not installed (apt-get install dnsperf): its row is skipped")
            return await measure(
                Addresses(authoritative, resolvers),
                runs,
                title,
                dnsperf_dir=Path(scratch) if has_dnsperf else None,
            )
        finally:
            unbound.stop()
            children.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--resolvers", choices=("python", "unbound", "both"), default="both")
    parser.add_argument("--server-processes", type=int, default=4)
    options = parser.parse_args()
    print(f"{RESOLVER_COUNT} resolvers x {RECORD_COUNT} records = {QUESTIONS} queries per poll")
    tables: list[Table | None] = []
    if options.resolvers in ("python", "both"):
        tables.append(asyncio.run(run_python(options.runs, options.server_processes)))
    if options.resolvers in ("unbound", "both"):
        tables.append(asyncio.run(run_unbound(options.runs)))
    for table in tables:
        if table is not None:
            table.print()


if __name__ == "__main__":
    main()
