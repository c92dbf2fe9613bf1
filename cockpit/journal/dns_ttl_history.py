"""What this cutover's earlier journals showed of each DNS record's authoritative TTL.

The TTL is lowered days before the window, often while a cockpit (or `cockpit check`) watched
it; those sessions' journals say since when it has been low and what it was before. Read once
at start, newest journals first, within a bound, skipping what cannot be read: this only
adds proof, it never decides anything alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path

from cockpit.config import Config
from cockpit.io.dns_ttl_low import TtlSeen
from cockpit.journal.chain import JournalError
from cockpit.journal.reader import JournalRecord, read_journal
from cockpit.journal.writer import journals_newest_first
from cockpit.jsonvalue import JsonValue, json_items, json_object
from cockpit.model import reading_from_json
from cockpit.sources import dns_values

MAX_JOURNALS = 20
MAX_BYTES = 256 * 1024 * 1024
# The record kinds that hold readings, as cockpit/live/recording.py writes them.
READING_KIND = "reading"
KEYFRAME_KIND = "keyframe"

Sighting = tuple[datetime, float, float]
"""(when, the authoritative TTL, the limit it was held to)."""


def dns_ttl_seen_for(config: Config, directory: Path) -> dict[str, TtlSeen]:
    """dns_ttl_seen() for the config's cutover, or nothing when it watches no DNS."""
    if config.dns is None:
        return {}
    return dns_ttl_seen(directory, config.cutover.name)


def dns_ttl_seen(
    directory: Path, cutover_name: str, *, skip: Path | None = None
) -> dict[str, TtlSeen]:
    """Per record name (lowercase, no final dot): the last TTL over the limit and since when it
    has been under it, from the newest journals of this cutover (not `skip`)."""
    sightings: dict[str, list[Sighting]] = {}
    for records in _journals(directory, cutover_name, skip):
        for name, sighting in _sightings(records):
            sightings.setdefault(name, []).append(sighting)
    return {name: summarized(sorted(seen)) for name, seen in sightings.items()}


def summarized(sightings: Iterable[Sighting]) -> TtlSeen:
    """The last sighting over the limit, and the first one under it after that (if the TTL
    stayed under it to the end)."""
    seen = TtlSeen()
    for at, ttl, limit in sightings:
        if ttl > limit:
            seen = TtlSeen(at, ttl, None)
        elif seen.low_since is None:
            seen = TtlSeen(seen.last_high_at, seen.last_high_ttl_seconds, at)
    return seen


def _journals(
    directory: Path, cutover_name: str, skip: Path | None
) -> Iterator[list[JournalRecord]]:
    """The records of each readable journal, newest first, within MAX_JOURNALS and MAX_BYTES."""
    budget = MAX_BYTES
    for path in journals_newest_first(directory, cutover_name)[:MAX_JOURNALS]:
        if skip is not None and path == skip:
            continue
        try:
            size = path.stat().st_size
            if size > budget:
                return
            budget -= size
            records, _ = read_journal(path)
        except (OSError, JournalError):
            continue
        yield records


def _sightings(records: Iterable[JournalRecord]) -> Iterator[tuple[str, Sighting]]:
    for record in records:
        if record.kind == READING_KIND:
            readings: Iterable[JsonValue] = (record.data,)
        elif record.kind == KEYFRAME_KIND:
            readings = json_items(record.data.get("readings"))
        else:
            continue
        for reading in readings:
            sighting = _sighting(json_object(reading), record.t)
            if sighting is not None:
                yield sighting


def _sighting(reading: Mapping[str, JsonValue], at: datetime) -> tuple[str, Sighting] | None:
    """A DNS reading's record name and TTL against its limit; None for anything else."""
    signal = reading.get("signal")
    if not isinstance(signal, str) or not dns_values.is_dns_signal(signal):
        return None
    try:
        decoded = reading_from_json(reading)
    except ValueError:
        return None
    values = dns_values.from_reading(decoded)
    ttl, limit = values.authoritative_ttl_seconds, values.max_ttl_seconds
    if ttl is None or limit is None:
        return None
    name = dns_values.record_key(dns_values.record_name(decoded.signal_id))
    return name, (decoded.observed_at or at, ttl, limit)
