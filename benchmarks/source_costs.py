"""What one poll of each source costs against the sandbox, next to the poller's own overhead.

Run: .venv/bin/python benchmarks/source_costs.py [--polls N]
The baseline is a source that returns at once, polled through the same poller in the same
run, so the figures show the sources' cost, not the machine's mood. Replication is measured
both ways the sandbox moves its database: streaming, and logical replication.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cockpit.config import load_config
from cockpit.io.context import SourceContext
from cockpit.live.poller import poll_once
from cockpit.model import Reading, SignalKind, Status
from cockpit.sandbox.files import COCKPIT_LOGICAL_TOML
from cockpit.sandbox.lifecycle import start_sandbox
from cockpit.sandbox.runner import SandboxOptions
from cockpit.sources.base import Schedule, Source, make_reading
from cockpit.sources.build import build_sources
from cockpit.sources.replication import build_replication_sources


class InstantSource:
    """The baseline: a source whose read() does nothing."""

    name = "baseline (no-op source)"
    kind = SignalKind.TRAFFIC
    schedule = Schedule(1.0, 5.0, 10.0)
    signal_ids = ("baseline",)

    async def read(self) -> list[Reading]:
        return [make_reading(self, "baseline", Status.OK, datetime.now(UTC), "")]


async def poll_costs(sources: list[Source], polls: int) -> dict[str, list[float]]:
    costs: dict[str, list[float]] = {}
    for source in sources:
        await poll_once(source)  # first poll connects and warms caches; not counted
        for _ in range(polls):
            started = time.perf_counter()
            readings, succeeded = await poll_once(source)
            costs.setdefault(source.name, []).append(time.perf_counter() - started)
            if not succeeded:
                print(f"  note: {source.name} failed: {readings[0].detail}")
    return costs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--polls", type=int, default=20)
    polls = parser.parse_args().polls
    with tempfile.TemporaryDirectory(prefix="cockpit-bench-") as scratch:
        handle = start_sandbox(
            Path(scratch) / "sandbox", SandboxOptions(metrics_interval_seconds=1)
        )
        try:
            environ = {**os.environ, **handle.env}
            context = SourceContext(load_config(handle.config_path), environ)
            logical = SourceContext(load_config(handle.directory / COCKPIT_LOGICAL_TOML), environ)
            sources: list[Source] = [
                InstantSource(),
                *build_sources(context),
                *build_replication_sources(logical),
            ]
            costs = asyncio.run(poll_costs(sources, polls))
        finally:
            handle.stop()
    print(f"polls per source: {polls} (after one warm-up poll)")
    print(f"{'source':<44} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
    for name, seconds in costs.items():
        ordered = sorted(seconds)
        p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
        print(
            f"{name:<44} {statistics.median(ordered) * 1000:>10.1f} "
            f"{p95 * 1000:>8.1f} {ordered[-1] * 1000:>8.1f}"
        )


if __name__ == "__main__":
    main()
