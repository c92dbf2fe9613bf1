"""What a live process pays to pick up a long night: find the live journal and fold its record.

Run: .venv/bin/python benchmarks/session_resume.py [--hours 8] [--side-journals 50]
Every `cockpit act`, `cockpit note` and restarted cockpit finds the cutover's newest live journal
(passing over dry-run and read-only ones) and folds it into what rollback must undo and what is
unfinished. The baseline, measured in the same run, is `read_journal` alone: parsing every line,
which nothing can skip. Drift judging is timed per reading against `apply`, the state fold that
every reading already goes through.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic_session import generate_synthetic_session
from cockpit.actions.session_log import session_log_of
from cockpit.journal.opening import latest_live_journal
from cockpit.journal.reader import read_journal
from cockpit.journal.writer import JournalWriter
from cockpit.live.state import State, apply
from cockpit.model import Reading, SignalKind, Status
from cockpit.redact import Redactor
from cockpit.session.drift import DriftWatch

REPEATS = 5
READINGS = 20_000


def best_of(work: Callable[[], Any]) -> float:
    """The fastest of REPEATS runs, in seconds (the least disturbed by the machine)."""
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def side_journals(directory: Path, count: int, name: str) -> None:
    """Dry-run journals newer than the live one, as a night of rehearsals leaves them."""
    for index in range(count):
        header = {"cutover": name, "mode": "dry-run", "pid": index}
        clock = (lambda i: lambda: datetime.now(UTC) + timedelta(seconds=i))(index)
        JournalWriter.create(
            directory, header=header, redactor=Redactor(), clock=clock, name_hint=name
        ).close()


def traffic_readings() -> list[Reading]:
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    return [
        Reading(
            "traffic",
            SignalKind.TRAFFIC,
            Status.OK,
            start + timedelta(seconds=i),
            {"raw_weights": {"old": 75, "new": 25}},
        )
        for i in range(READINGS)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--side-journals", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        session = generate_synthetic_session(directory, hours=args.hours)
        path = session.path
        name = str(read_journal(path)[0][0].data.get("cutover"))
        side_journals(directory, args.side_journals, name)
        size_mb = path.stat().st_size / 1e6
        parse = best_of(lambda: read_journal(path))
        fold = best_of(lambda: session_log_of(path))
        find = best_of(lambda: latest_live_journal(directory, name))
    readings = traffic_readings()
    state_fold = best_of(lambda: apply(State(), readings))
    drift = best_of(lambda: DriftWatch().observe(readings, action_in_flight=False))
    print(f"journal: {args.hours:g} h, {size_mb:.1f} MB, plus {args.side_journals} dry-run ones")
    print(f"read_journal (baseline)     {parse * 1000:8.1f} ms")
    print(f"session_log_of (fold)       {fold * 1000:8.1f} ms   {fold / parse:5.2f}x baseline")
    print(f"latest_live_journal (find)  {find * 1000:8.1f} ms   {find / parse:5.2f}x baseline")
    per_state = state_fold / READINGS * 1e6
    per_drift = drift / READINGS * 1e6
    print(f"apply per reading (baseline) {per_state:7.2f} us")
    print(f"drift per reading           {per_drift:8.2f} us   {drift / state_fold:5.2f}x baseline")
    print(f"(each figure is the best of {REPEATS} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
