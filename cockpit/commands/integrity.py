"""`cockpit integrity`: the old and new stores compared from a shell, with the same code the
cockpit runs in the background, waiting for the result.

Exit codes as `check`: 0 every comparison OK, 1 something not checked (capped, unreachable),
2 something DIFFERENT.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cockpit.clock import Clock, system_clock
from cockpit.config import Config
from cockpit.io.bucket_compare import BucketComparison, ListingProgress, compare_buckets
from cockpit.io.context import AwsClients
from cockpit.jsonvalue import JsonValue

Say = Callable[[str], None]


@dataclass(frozen=True)
class IntegrityReport:
    """Every comparison the config names, finished."""

    buckets: tuple[BucketComparison, ...]

    @property
    def exit_code(self) -> int:
        statuses = {bucket.status for bucket in self.buckets}
        if "DIFFERENT" in statuses:
            return 2
        return 1 if "UNCHECKED" in statuses else 0

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "status": {0: "ok", 1: "unchecked", 2: "different"}[self.exit_code],
            "buckets": [bucket.to_json() for bucket in self.buckets],
        }


def describe_nothing_to_compare(config: Config) -> str | None:
    """Why there is nothing to compare, or None."""
    if config.integrity is None:
        return "the config has no [integrity] section: add one (see config.example.toml)"
    return None


def run_integrity(
    config: Config, environ: Mapping[str, str], *, say: Say, clock: Clock = system_clock
) -> IntegrityReport:
    """Compares every bucket pair, one after the other, saying how far each listing got."""
    integrity = config.integrity
    pairs = integrity.buckets if integrity is not None else ()
    clients = AwsClients(config.aws, environ)
    buckets = tuple(
        compare_buckets(pair, clients, now=clock, progress=_listing_progress(say)) for pair in pairs
    )
    return IntegrityReport(buckets)


def _listing_progress(say: Say) -> Callable[[ListingProgress], None]:
    def report(progress: ListingProgress) -> None:
        say(
            f"{progress.name}: listed {progress.listed_old:,} old and "
            f"{progress.listed_new:,} new objects"
        )

    return report
