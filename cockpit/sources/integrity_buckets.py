"""Old and new S3 bucket compared in the background, one signal per pair.

Signal `integrity:bucket:<name>`. The comparison (cockpit/io/bucket_compare.py) lists both
buckets, which may take minutes; each poll reports how far the listing got and, once done, the
result. Status rules:
- not compared yet, or only part of it (a capped listing, an error): UNKNOWN, saying why;
- anything missing, extra or changed: CRITICAL "DIFFERENT", naming the counts and examples;
- everything compared and equal: OK.
A running re-check keeps the last result's status and says it is re-checking.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from cockpit.clock import Clock
from cockpit.config import BucketPair
from cockpit.io.bucket_compare import BucketComparison, ListingProgress, compare_buckets
from cockpit.io.context import SourceContext
from cockpit.jsonvalue import JsonValue
from cockpit.model import Reading, SignalKind, Status
from cockpit.sources.background import BackgroundCheck, CheckState, verdict_values
from cockpit.sources.base import Schedule, make_reading
from cockpit.sources.integrity_values import bucket_signal_id
from cockpit.units import size_text

SCHEDULE = Schedule(interval_seconds=2.0, timeout_seconds=2.0, stale_after_seconds=10.0)
"""Polls read the background check's state, which costs nothing: they never wait on it."""

BucketState = CheckState[BucketComparison, ListingProgress]


def bucket_status(comparison: BucketComparison) -> Status:
    return {"OK": Status.OK, "DIFFERENT": Status.CRITICAL}.get(comparison.status, Status.UNKNOWN)


def bucket_detail(comparison: BucketComparison) -> str:
    """One line: what differs (counts, first keys), why it is unchecked, or that all matches."""
    if comparison.status == "UNCHECKED":
        return f"UNCHECKED: {comparison.unchecked_reason}"
    if comparison.status == "DIFFERENT":
        return "DIFFERENT: " + "; ".join(_difference_texts(comparison))
    objects, size = comparison.old_objects or 0, size_text(comparison.old_bytes or 0)
    return f"OK: {objects:,} objects, {size}, the same in both buckets"


def _difference_texts(comparison: BucketComparison) -> list[str]:
    categories = (
        ("missing on new", comparison.missing_on_new),
        ("extra on new", comparison.extra_on_new),
        ("size differs", comparison.size_differs),
        ("ETag differs", comparison.etag_differs),
        ("part count differs", comparison.part_count_differs),
    )
    return [
        f"{found.count:,} {label} ({', '.join(found.examples[:2])})"
        for label, found in categories
        if found.count
    ]


def classify(state: BucketState) -> tuple[Status, str]:
    """The status and line of what the background comparison has got so far."""
    last = state.last_result
    if state.failure is not None:
        return Status.UNKNOWN, f"the comparison failed: {state.failure}"
    if last is None:
        return Status.UNKNOWN, f"comparing: {_listed_text(state.progress)}"
    status, detail = bucket_status(last), bucket_detail(last)
    if state.running:
        detail = f"{detail} (re-checking: {_listed_text(state.progress)})"
    return status, detail


def _listed_text(progress: ListingProgress | None) -> str:
    if progress is None:
        return "starting"
    return f"listed {progress.listed_old:,} old and {progress.listed_new:,} new objects"


def state_values(state: BucketState) -> dict[str, JsonValue]:
    """The reading's values: the run's state and progress, and the last result as journaled."""
    progress = state.progress
    return {
        **verdict_values(state),
        "running": state.running,
        "started_at": None if state.started_at is None else state.started_at.isoformat(),
        "listed_old": None if progress is None else progress.listed_old,
        "listed_new": None if progress is None else progress.listed_new,
        "result": None if state.last_result is None else state.last_result.to_json(),
    }


class BucketIntegritySource:
    """Starts the comparison at its first poll; every poll reports where it has got."""

    def __init__(self, pair: BucketPair, context: SourceContext) -> None:
        self.name = f"integrity (bucket {pair.name})"
        self.kind = SignalKind.INTEGRITY
        self.schedule = SCHEDULE
        self.signal_ids = (bucket_signal_id(pair.name),)
        self._clock: Clock = context.clock
        self.check = BackgroundCheck(self.name, _comparison(pair, context), context.clock)

    async def read(self) -> list[Reading]:
        state = self.check.started_state()
        status, detail = classify(state)
        now = self._clock()
        return [make_reading(self, self.signal_ids[0], status, now, detail, state_values(state))]


def _comparison(
    pair: BucketPair, context: SourceContext
) -> Callable[[threading.Event, Callable[[ListingProgress], None]], BucketComparison]:
    def work(
        cancel: threading.Event, progress: Callable[[ListingProgress], None]
    ) -> BucketComparison:
        return compare_buckets(
            pair, context.aws, now=context.clock, progress=progress, cancel=cancel
        )

    return work
