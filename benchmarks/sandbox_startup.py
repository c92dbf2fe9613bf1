"""How long `cockpit sandbox up` takes, against the PostgreSQL pair alone measured in the same run.

Run: .venv/bin/python benchmarks/sandbox_startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from cockpit.sandbox.lifecycle import start_sandbox
from cockpit.sandbox.postgres import PostgresPair


def time_postgres_pair(work_dir: Path) -> float:
    started = time.perf_counter()
    pair = PostgresPair.create(work_dir, password=secrets.token_urlsafe(12))
    elapsed = time.perf_counter() - started
    pair.stop()
    shutil.rmtree(pair.data_root, ignore_errors=True)
    return elapsed


def time_sandbox(directory: Path) -> tuple[float, float]:
    """(seconds until `up` returned, seconds the runner itself reported)."""
    started = time.perf_counter()
    handle = start_sandbox(directory)
    elapsed = time.perf_counter() - started
    handle.stop()
    return elapsed, float(handle.info["startup_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-") as scratch:
        root = Path(scratch)
        baseline = [time_postgres_pair(root / f"pg{i}") for i in range(runs)]
        sandbox = [time_sandbox(root / f"sandbox{i}") for i in range(runs)]
    wall = [w for w, _ in sandbox]
    runner = [r for _, r in sandbox]
    print(f"runs: {runs}")
    print(f"baseline  PostgreSQL pair alone:       median {statistics.median(baseline):.2f} s")
    print(f"sandbox   up, as the caller waits:      median {statistics.median(wall):.2f} s")
    print(f"sandbox   up, as the runner reports:    median {statistics.median(runner):.2f} s")
    ratio = statistics.median(wall) / statistics.median(baseline)
    print(f"ratio     sandbox / PostgreSQL pair:    {ratio:.2f}x")


if __name__ == "__main__":
    main()
