"""The integrity signals' ids and typed values: the old and new database, and each bucket pair.

Signal `integrity:database` carries the background check's state and progress and, once a run
has finished, every table's result as cockpit/io/integrity_result.py journals it; signal
`integrity:bucket:<name>` the same for a bucket comparison (cockpit/io/bucket_compare.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cockpit.io.bucket_compare import BucketComparison
from cockpit.io.integrity_result import IntegrityRun
from cockpit.model import Reading, aware_time, thawed
from cockpit.sources.value_fields import bool_field, number_field, text_field, whole_field

SIGNAL_PREFIX = "integrity:"
BUCKET_PREFIX = f"{SIGNAL_PREFIX}bucket:"
DATABASE_SIGNAL_ID = f"{SIGNAL_PREFIX}database"
PROGRESS_KEYS = frozenset(
    {
        "table",
        "tables_done",
        "tables_total",
        "fraction_done",
        "eta_seconds",
        "listed_old",
        "listed_new",
    }
)
"""How far a running check has got: on screen at every poll, never worth a journal record."""


def bucket_signal_id(name: str) -> str:
    return f"{BUCKET_PREFIX}{name}"


def is_integrity_signal(signal_id: str) -> bool:
    return signal_id.startswith(SIGNAL_PREFIX)


@dataclass(frozen=True)
class BucketValues:
    """A bucket pair's reading: the run going on (if any) and the last finished comparison."""

    running: bool | None
    started_at: str | None
    listed_old: int | None
    listed_new: int | None
    result: BucketComparison | None

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> BucketValues:
        return cls(
            running=bool_field(values.get("running")),
            started_at=text_field(values.get("started_at")),
            listed_old=whole_field(values.get("listed_old")),
            listed_new=whole_field(values.get("listed_new")),
            result=_comparison(values.get("result")),
        )

    @classmethod
    def from_reading(cls, reading: Reading) -> BucketValues:
        return cls.from_values(reading.values)


def _comparison(value: object) -> BucketComparison | None:
    """The journaled comparison, or None when absent or unreadable (never a guess)."""
    data = thawed(value) if isinstance(value, Mapping) else None
    if not isinstance(data, dict):
        return None
    try:
        return BucketComparison.from_json(data)
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class DatabaseValues:
    """The database check's reading: the run going on (table, share done, ETA) and the last run."""

    running: bool | None
    started_at: str | None
    table: str | None
    tables_done: int | None
    tables_total: int | None
    fraction_done: float | None
    eta_seconds: float | None
    result: IntegrityRun | None

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> DatabaseValues:
        return cls(
            running=bool_field(values.get("running")),
            started_at=text_field(values.get("started_at")),
            table=text_field(values.get("table")),
            tables_done=whole_field(values.get("tables_done")),
            tables_total=whole_field(values.get("tables_total")),
            fraction_done=number_field(values.get("fraction_done")),
            eta_seconds=number_field(values.get("eta_seconds")),
            result=_run(values.get("result")),
        )

    @classmethod
    def from_reading(cls, reading: Reading) -> DatabaseValues:
        return cls.from_values(reading.values)


def _run(value: object) -> IntegrityRun | None:
    data = thawed(value) if isinstance(value, Mapping) else None
    if not isinstance(data, dict):
        return None
    try:
        return IntegrityRun.from_json(data)
    except (ValueError, TypeError):
        return None


def verdict_of(reading: Reading) -> str:
    """'OK', 'DIFFERENT', 'MOVING' (differences found while the old database still took
    writes) or 'UNCHECKED' (also while no run has finished)."""
    verdict = text_field(reading.values.get("verdict"))
    if verdict == "DIFFERENT" and reading.values.get("moving") is True:
        return "MOVING"
    return verdict if verdict in ("OK", "DIFFERENT") else "UNCHECKED"


def integrity_verdict(reading: Reading) -> tuple[str, datetime | None]:
    """The verdict of the last finished run and when that run started (None: no run yet)."""
    started = aware_time(reading.values.get("result_started_at"))
    return (verdict_of(reading), started) if started is not None else ("UNCHECKED", None)
