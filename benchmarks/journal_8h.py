"""An 8-hour synthetic journal: its size, and how fast it is written, loaded, sought and reported.

Run: .venv/bin/python benchmarks/journal_8h.py [--hours 8] [--keep DIR]
The journal is written through the real recording path (benchmarks/synthetic_session.py). The
baseline for reading is `read_journal` alone (parse every line) in the same run; the baseline
for writing is the same lines written back with plain `json.dumps`, no recorder, no chain.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic_session import generate_synthetic_session
from cockpit.journal.reader import JournalRecord, read_journal
from cockpit.journal.verify import verify_journal
from cockpit.model import SignalKind
from cockpit.review.timeline import Timeline

SEEKS = 100
PLAY_SECONDS = 600
PLAY_SPEED = 60
SIZE_TARGET_MB = 50.0


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    """The work's result and the seconds it took."""
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


def kind_breakdown(records: list[JournalRecord]) -> list[tuple[str, int, int]]:
    """(kind, records, bytes) per record kind, biggest first."""
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for record in records:
        counts[record.kind] += 1
        sizes[record.kind] += len(record.raw.encode()) + 1
    return [(kind, counts[kind], size) for kind, size in sizes.most_common()]


def reading_breakdown(records: list[JournalRecord]) -> list[tuple[str, int, int]]:
    """(signal, reading records, bytes) per signal, biggest first: who fills the journal."""
    counts: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for record in records:
        if record.kind == "reading":
            signal = str(record.data.get("signal"))
            counts[signal] += 1
            sizes[signal] += len(record.raw.encode()) + 1
    return [(signal, counts[signal], size) for signal, size in sizes.most_common()]


def unsuppressed_bytes(records: list[JournalRecord], polls_per_signal: float) -> float:
    """About how big the journal would be if every poll were journaled (no recorder).

    Each signal's recorded readings give its mean record size; every poll would be one record.
    """
    return sum(size / count * polls_per_signal for _, count, size in reading_breakdown(records))


def plain_rewrite(records: list[JournalRecord], directory: Path) -> float:
    """Seconds to write the same lines with json.dumps alone: the floor for writing them."""
    path = directory / "plain.jsonl"
    started = time.perf_counter()
    with path.open("w") as stream:
        for record in records:
            stream.write(json.dumps({"kind": record.kind, "data": record.data}) + "\n")
    return time.perf_counter() - started


def seek_times(timeline: Timeline, start: datetime, end: datetime) -> list[float]:
    """Seconds per `state_at` at SEEKS random moments (seeded), each on a fresh moment."""
    rng = random.Random(11)
    span = (end - start).total_seconds()
    times = []
    for _ in range(SEEKS):
        moment = start + timedelta(seconds=rng.uniform(0, span))
        started = time.perf_counter()
        timeline.state_at(moment)
        times.append(time.perf_counter() - started)
    return times


def play_frames_per_second(timeline: Timeline, start: datetime) -> tuple[float, int]:
    """Whole CockpitViews rebuilt at 1 s steps over PLAY_SECONDS of journal: frames per second.

    The replay screen redraws once per journal second it shows, so at PLAY_SPEED x it needs
    PLAY_SPEED frames per second; the CockpitView is everything it draws from.
    """
    from cockpit.session.view import EVENTS_SHOWN, cockpit_view

    rows_at = _rows_function()
    kinds = frozenset(SignalKind)
    started = time.perf_counter()
    for step in range(PLAY_SECONDS):
        at = start + timedelta(seconds=step)
        cockpit_view(
            timeline.state_at(at),
            at,
            events=timeline.events_until(at, EVENTS_SHOWN),
            configured_kinds=kinds,
            actions=rows_at(timeline, at),
            read_only=True,
        )
    elapsed = time.perf_counter() - started
    return PLAY_SECONDS / elapsed, PLAY_SECONDS


def _rows_function() -> Callable[[Timeline, datetime], tuple[Any, ...]]:
    """The replay screen's action rows from the journal, if that module is there yet."""
    try:
        from screens.replay_app import journaled_rows
    except ImportError:
        return lambda timeline, at: ()
    return journaled_rows


def report_time(path: Path) -> str:
    """The postmortem report (built and rendered as Markdown) in seconds, if importable."""
    try:
        from cockpit.review.report import build_report, render_markdown
    except ImportError as error:
        return f"report: not available ({error})"
    try:
        document, built = timed(lambda: build_report(path))
        markdown, rendered = timed(lambda: render_markdown(document))
    except Exception as error:
        return f"report: failed ({type(error).__name__}: {error})"
    size_kb = len(markdown.encode()) / 1024
    return (
        f"report: build_report {built:.2f} s + render_markdown {rendered:.2f} s "
        f"({size_kb:.0f} KiB of Markdown)"
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def print_breakdowns(records: list[JournalRecord], total_bytes: int) -> None:
    print("  by kind:")
    for kind, count, size in kind_breakdown(records):
        share = 100 * size / total_bytes
        print(f"    {kind:<9} {count:>8} records {size / 1e6:8.2f} MB {share:5.1f} %")
    print("  readings by signal:")
    for signal, count, size in reading_breakdown(records):
        print(f"    {signal:<24} {count:>7} records {size / 1e6:8.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--resolvers", type=int, default=20)
    parser.add_argument("--dns-records", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="copy the journal into this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cockpit-journal-bench-") as scratch:
        directory = Path(scratch)
        session, write_seconds = timed(
            lambda: generate_synthetic_session(
                directory / "journal",
                hours=args.hours,
                seed=args.seed,
                resolvers=args.resolvers,
                dns_records=args.dns_records,
            )
        )
        path = session.path
        size = path.stat().st_size
        (records, _), read_seconds = timed(lambda: read_journal(path))
        verification, verify_seconds = timed(lambda: verify_journal(path))
        timeline, load_seconds = timed(lambda: Timeline.load(path))
        seeks = seek_times(timeline, session.start, session.end)
        frames_per_second, frames = play_frames_per_second(timeline, session.start)
        report_line = report_time(path)
        plain_seconds = plain_rewrite(records, directory)
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, args.keep / path.name)
    session_seconds = (session.end - session.start).total_seconds()
    signals = len(session.signal_ids)
    readings = sum(1 for record in records if record.kind == "reading")
    print(
        f"journal ({args.hours:g} h, {signals} signals polled every second, "
        f"{args.resolvers} resolvers x {args.dns_records} records, seed {args.seed})"
    )
    print(
        f"  size {size / 1e6:.1f} MB, {len(records)} records "
        f"({readings} readings = {100 * readings / (signals * session_seconds):.2f} % of "
        f"{signals * session_seconds:.0f} polls), {session.actions} actions, "
        f"{session.notes} notes"
    )
    print_breakdowns(records, size)
    every_poll = unsuppressed_bytes(records, session_seconds)
    print(
        f"  baseline, every poll journaled (no recorder): ~{every_poll / 1e6:.0f} MB "
        f"({every_poll / size:.0f} x)"
    )
    if size / 1e6 > SIZE_TARGET_MB:
        print(f"  OVER the ~{SIZE_TARGET_MB:.0f} MB target: see the breakdown above")
    print(
        f"write (recorder + state + guards + chain): {write_seconds:.1f} s "
        f"= {1000 * write_seconds / session_seconds:.2f} ms per session second   "
        f"baseline (the same lines, plain json.dumps): {plain_seconds:.2f} s"
    )
    print(
        f"read_journal (baseline, plain parse): {read_seconds:.2f} s   "
        f"verify_journal: {verify_seconds:.2f} s ({verification.summary()[0]})"
    )
    print(f"Timeline.load: {load_seconds:.2f} s ({load_seconds / read_seconds:.1f} x read_journal)")
    print(
        f"state_at, {SEEKS} random moments: mean {1000 * statistics.mean(seeks):.2f} ms, "
        f"max {1000 * max(seeks):.2f} ms"
    )
    needed = "enough" if frames_per_second >= PLAY_SPEED else "NOT enough"
    print(
        f"replay play ({frames} frames = {frames // 60} min of journal at 1 s steps): "
        f"{frames_per_second:.0f} frames/s; {PLAY_SPEED}x needs {PLAY_SPEED}/s: {needed}"
    )
    print(report_line)
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
