"""The integrity signals' ids and typed values: the old and new database, and each bucket pair.

Signal `integrity:bucket:<name>` carries the background comparison's state and, once one has
finished, its result as cockpit/io/bucket_compare.py journals it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cockpit.io.bucket_compare import BucketComparison
from cockpit.model import Reading, thawed
from cockpit.sources.value_fields import bool_field, text_field, whole_field

SIGNAL_PREFIX = "integrity:"
BUCKET_PREFIX = f"{SIGNAL_PREFIX}bucket:"


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
