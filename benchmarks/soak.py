"""A compressed soak of the headless live session: memory, file descriptors, journal per 8 h.

Run: .venv/bin/python benchmarks/soak.py [--hours 0.5] [--samples 16]

The session is the cockpit's own LiveSession (cockpit/session/live.py: fold, journal, guards,
auto-abort, the view the screen draws), with a dry-run action runner so guard transitions are
journaled as in a live session, journaling to a temporary folder. Its readings come from the
synthetic cutover night (benchmarks/synthetic_session.py World: every signal read every second,
built with the sources' own classification; a DNS switch propagating resolver by resolver, a
lag build-up, an error burst, a CloudWatch hang), on a frozen clock moved one second per poll,
so an hour of 1 Hz polls takes minutes at 100 x 10 (about 8 min here: --hours 8 takes an hour).
The story is fitted into --hours, so a short run packs the night's events closer together and
its journal per 8 h, extrapolated, is an upper side estimate. No key is pressed.

Two cases, each in a fresh child process so neither's memory counts for the other:
100 resolvers x 10 records, and the baseline, a sandbox-like config (4 resolvers x 1 record).
Each reports RSS (peak, at the first hour, at the end after a collection), open file
descriptors at start, middle and end, and the journal's bytes, extrapolated to 8 hours.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import Table, open_fds, rss_mb, status_kib
from benchmarks.synthetic_session import START, Story, World, config_text
from cockpit.actions.runner import ActionRunner, Refresh
from cockpit.clock import FrozenClock
from cockpit.config import Config, config_digest, parse_config
from cockpit.io.backends import Backends
from cockpit.journal.chain import session_header
from cockpit.journal.writer import JournalWriter
from cockpit.live.state import State
from cockpit.redact import Redactor
from cockpit.session.live import LiveSession, RunnerFactory

JOURNAL_TARGET_MB = 5.0
RSS_TARGET_MB = 150.0
HOURS_TARGET = 8.0
CASES = {"100 x 10": (100, 10), "baseline 4 x 1": (4, 1)}


@dataclass
class Sample:
    hour: float
    rss_mb: float
    fds: int
    journal_bytes: int
    wall_seconds: float


@dataclass
class SoakResult:
    resolvers: int
    records: int
    hours: float
    samples: list[Sample] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    settled_rss_mb: float = 0.0
    start_rss_mb: float = 0.0
    start_fds: int = 0
    end_fds: int = 0
    journal_bytes: int = 0
    journal_records: int = 0
    wall_seconds: float = 0.0


def journal_size(directory: Path) -> int:
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def dry_runner(config: Config, clock: FrozenClock) -> RunnerFactory:
    """Actions that plan and journal but change nothing: guard transitions get journaled."""

    def build(refresh: Refresh) -> ActionRunner:
        return ActionRunner(
            config=config,
            mode="dry-run",
            backends=Backends(None, None, None, None),
            refresh=refresh,
            clock=clock,
        )

    return build


def soak(resolvers: int, records: int, hours: float, samples: int, directory: Path) -> SoakResult:
    """Runs the session for `hours` of 1 Hz polls; samples memory, fds and journal size."""
    text = config_text(resolvers, records)
    config = parse_config(text, source="soak.toml", base_dir=directory)
    clock = FrozenClock(START)
    header = session_header(
        cutover_name=config.cutover.name,
        config_digest=config_digest(text),
        mode="dry-run",
        environ={"USER": "soak"},
        started_at=START,
    )
    journal_dir = directory / "journal"
    writer = JournalWriter.create(
        journal_dir, header=header, redactor=Redactor(), clock=clock, name_hint="soak"
    )

    async def refresh() -> State:
        return session.state

    session = LiveSession(
        config=config,
        clock=clock,
        journal=writer,
        redactor=Redactor(),
        operator="soak@bench",
        actions=dry_runner(config, clock),
        refresh=refresh,
    )
    duration = round(hours * 3600)
    world = World(config, Story.for_duration(duration), random.Random(7))
    result = SoakResult(resolvers, records, hours)
    gc.collect()
    result.start_rss_mb, result.start_fds = rss_mb(), open_fds()
    every = max(1, duration // samples)
    started = time.perf_counter()
    for second in range(1, duration + 1):
        now = clock.advance(1)
        session.receive(world.poll(second, now))
        session.refresh()
        session.view(now)
        session.take_notices()
        if second % every == 0 or second == duration:
            result.samples.append(
                Sample(
                    second / 3600,
                    rss_mb(),
                    open_fds(),
                    journal_size(journal_dir),
                    time.perf_counter() - started,
                )
            )
    result.wall_seconds = time.perf_counter() - started
    writer.close()
    gc.collect()
    result.settled_rss_mb = rss_mb()
    result.peak_rss_mb = status_kib("self", "VmHWM") / 1024
    result.end_fds = open_fds()
    result.journal_bytes = journal_size(journal_dir)
    with writer.path.open() as lines:
        result.journal_records = sum(1 for _ in lines)
    return result


def run_child(resolvers: int, records: int, hours: float, samples: int) -> SoakResult:
    """The soak in a fresh interpreter, so its memory is its own."""
    command = [sys.executable, __file__, "--child", f"{resolvers}x{records}"]
    command += ["--hours", str(hours), "--samples", str(samples)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    data = json.loads(output.strip().splitlines()[-1])
    data["samples"] = [Sample(**sample) for sample in data["samples"]]
    return SoakResult(**data)


def at_hour(result: SoakResult, hour: float) -> Sample:
    return min(result.samples, key=lambda sample: abs(sample.hour - hour))


def per_8h_mb(result: SoakResult) -> float:
    return result.journal_bytes / 1e6 * HOURS_TARGET / result.hours


def report(results: dict[str, SoakResult], hours: float) -> None:
    big, small = results["100 x 10"], results["baseline 4 x 1"]
    table = Table(
        f"compressed soak: {hours:g} h of 1 Hz polls on a frozen clock, LiveSession + journal, "
        "each case in its own process"
    )
    table.add(
        "journal at 100 x 10, per 8 h",
        f"{per_8h_mb(big):.2f} MB",
        f"4 x 1: {per_8h_mb(small):.2f} MB",
        f"≤ {JOURNAL_TARGET_MB:.0f} MB",
        per_8h_mb(big) <= JOURNAL_TARGET_MB,
        f"{big.journal_bytes / 1e6:.2f} MB in {big.hours:g} h, {big.journal_records} records"
        + ("" if big.hours == HOURS_TARGET else " (extrapolated to 8 h)"),
    )
    for label, pick in (
        ("RSS peak", lambda r: r.peak_rss_mb),
        ("RSS settled (end, after a collection)", lambda r: r.settled_rss_mb),
    ):
        table.add(
            f"{label}, 100 x 10",
            f"{pick(big):.0f} MB",
            f"4 x 1: {pick(small):.0f} MB",
            f"≤ {RSS_TARGET_MB:.0f} MB",
            pick(big) <= RSS_TARGET_MB,
        )
    for name, result in (("100 x 10", big), ("4 x 1", small)):
        first_hour = at_hour(result, min(1.0, result.hours / 2))
        end = result.samples[-1]
        growth = end.rss_mb - first_hour.rss_mb
        table.add(
            f"RSS growth after hour {first_hour.hour:.1f}, {name}",
            f"{growth:+.1f} MB",
            f"start {result.start_rss_mb:.0f} MB, hour {first_hour.hour:.1f} "
            f"{first_hour.rss_mb:.0f} MB, end {end.rss_mb:.0f} MB",
            "bounded",
        )
    for name, result in (("100 x 10", big), ("4 x 1", small)):
        middle = at_hour(result, result.hours / 2)
        table.add(
            f"open file descriptors, {name}",
            f"{result.start_fds} / {middle.fds} / {result.end_fds}",
            "start / middle / end",
            "no growth",
            result.end_fds <= result.start_fds + 1,
            "the end count is after the journal was closed",
        )
    for name, result in (("100 x 10", big), ("4 x 1", small)):
        table.add(
            f"wall time, {name}",
            f"{result.wall_seconds:.0f} s",
            f"{1000 * result.wall_seconds / (result.hours * 3600):.2f} ms per session second",
        )
    table.notes.append(
        "the screen's own memory (Textual) is not here: benchmarks/screen.py reads the running "
        "cockpit's RSS"
    )
    table.print()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=0.5, help="session hours (8: the night)")
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        resolvers, records = (int(part) for part in args.child.split("x"))
        with tempfile.TemporaryDirectory(prefix="cockpit-soak-") as scratch:
            result = soak(resolvers, records, args.hours, args.samples, Path(scratch))
        print(json.dumps(asdict(result)))
        return
    results = {}
    for name, (resolvers, records) in CASES.items():
        print(f"{name}: {args.hours:g} h …", file=sys.stderr)
        results[name] = run_child(resolvers, records, args.hours, args.samples)
    report(results, args.hours)


if __name__ == "__main__":
    main()
