"""`cockpit integrity`: the old and new stores compared from a shell, with the same code the
cockpit runs in the background, waiting for the result.

Exit codes as `check`: 0 every comparison OK, 1 something not checked (capped, unreachable),
2 something DIFFERENT.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cockpit.clock import Clock, system_clock
from cockpit.config import Config, IntegritySection
from cockpit.exit_codes import EXIT_CRITICAL, EXIT_OK, EXIT_WARN
from cockpit.io.bucket_compare import BucketComparison, ListingProgress, compare_buckets
from cockpit.io.context import AwsClients
from cockpit.io.integrity_db import IntegrityControls, check_databases, check_table
from cockpit.io.integrity_result import IntegrityProgress, IntegrityRun
from cockpit.jsonvalue import JsonValue

Say = Callable[[str], None]


@dataclass(frozen=True)
class IntegrityReport:
    """Every comparison the config names, finished."""

    database: IntegrityRun | None
    buckets: tuple[BucketComparison, ...]

    @property
    def exit_code(self) -> int:
        statuses = {bucket.status for bucket in self.buckets}
        if self.database is not None:
            statuses.add(self.database.status)
        if "DIFFERENT" in statuses:
            return EXIT_CRITICAL
        return EXIT_WARN if "UNCHECKED" in statuses else EXIT_OK

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "status": {EXIT_OK: "ok", EXIT_WARN: "unchecked", EXIT_CRITICAL: "different"}[
                self.exit_code
            ],
            "database": None if self.database is None else self.database.to_json(),
            "buckets": [bucket.to_json() for bucket in self.buckets],
        }


def describe_nothing_to_compare(config: Config) -> str | None:
    """Why there is nothing to compare, or None."""
    if config.integrity is None:
        return "the config has no [integrity] section: add one (see config.example.toml)"
    return None


def run_integrity(
    config: Config,
    environ: Mapping[str, str],
    *,
    say: Say,
    clock: Clock = system_clock,
    table: str | None = None,
) -> IntegrityReport:
    """The databases table by table, then every bucket pair, saying how far each got; with
    `table`, that one table alone (as a result names it, e.g. public.orders)."""
    integrity = config.integrity
    if integrity is None:
        return IntegrityReport(None, ())
    if table is not None:
        return IntegrityReport(_one_table(integrity, environ, table, clock), ())
    database = None
    if integrity.old_dsn is not None:
        controls = IntegrityControls(progress=_table_progress(say), clock=clock)
        database = check_databases(integrity, environ, controls)
    clients = AwsClients(config.aws, environ)
    buckets = tuple(
        compare_buckets(pair, clients, now=clock, progress=_listing_progress(say))
        for pair in integrity.buckets
    )
    return IntegrityReport(database, buckets)


def _one_table(
    integrity: IntegritySection, environ: Mapping[str, str], table: str, clock: Clock
) -> IntegrityRun:
    """A run of one table, so it prints and exits like a whole one."""
    started = clock()
    result = check_table(integrity, environ, table, IntegrityControls(clock=clock))
    return IntegrityRun(started, clock(), "old", "new", (result,))


def _table_progress(say: Say) -> Callable[[IntegrityProgress], None]:
    """Says each table once, as its check begins."""
    said: set[str] = set()

    def report(progress: IntegrityProgress) -> None:
        if progress.table not in said:
            said.add(progress.table)
            say(f"table {progress.tables_done + 1} of {progress.tables_total}: {progress.table}")

    return report


def _listing_progress(say: Say) -> Callable[[ListingProgress], None]:
    def report(progress: ListingProgress) -> None:
        say(
            f"{progress.name}: listed {progress.listed_old:,} old and "
            f"{progress.listed_new:,} new objects"
        )

    return report
