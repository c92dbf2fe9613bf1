"""A DNS reading's server rows in the journal: as the rows that changed since the signal's
reading journaled before; replay and report read every reading back whole."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cockpit.clock import FrozenClock
from cockpit.journal.chain import session_header
from cockpit.journal.reader import read_journal
from cockpit.journal.writer import JournalWriter
from cockpit.jsonvalue import JsonValue
from cockpit.live.recording import KEYFRAME_KIND, JournalEntry, Recorder
from cockpit.live.row_changes import ROWS_FROM, WHOLE_EVERY, JournaledRows, RowChanges
from cockpit.live.state import State, apply
from cockpit.model import Reading, SignalKind, Status, reading_to_json
from cockpit.redact import Redactor
from cockpit.review.timeline import Timeline
from cockpit.sources import dns_values
from cockpit.sources.dns_values import DnsValues, ResolverAnswer

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
SERVERS = 100


def dns(at: datetime, new: int = 0, status: Status = Status.WARN, signal: str = "app") -> Reading:
    """A record seen through SERVERS resolvers (the first `new` of them answering new), every
    cache counting down from its own TTL, as the source writes it."""
    elapsed = int((at - START).total_seconds())
    rows = tuple(
        ResolverAnswer(
            resolver=f"resolver-{index}",
            address=f"10.0.0.{index}:53",
            role="resolver",
            answers=("10.20.0.10",) if index < new else ("10.1.0.10",),
            ttl=(300 - elapsed - index) % 300,
            matches="new" if index < new else "old",
            error=None,
        )
        for index in range(SERVERS)
    )
    values = DnsValues(record_type="A", resolvers=rows, new_count=new, old_count=SERVERS - new)
    return Reading(
        dns_values.signal_id(signal), SignalKind.DNS, status, at, values.to_values(), "", 8.0
    )


def journal_form(reading: Reading) -> dict[str, JsonValue]:
    """The reading's JSON as read back from a journal line."""
    loaded: dict[str, JsonValue] = json.loads(json.dumps(reading_to_json(reading)))
    return loaded


def rebuilt(entries: list[dict[str, JsonValue]]) -> list[object]:
    """Each journaled entry whole again, reading the entries in order as a replay does."""
    rows = JournaledRows()
    for entry in entries:
        rows.add(entry)
    return [rows.whole_reading(entry) for entry in entries]


def test_rows_that_only_count_down_are_journaled_as_their_ttls() -> None:
    changes = RowChanges()
    first = journal_form(dns(START))
    later = journal_form(dns(START + timedelta(seconds=30)))
    written = [changes.journaled(first), changes.journaled(later)]
    assert written[0] == first
    assert ROWS_FROM in written[1] and "resolvers" not in written[1]["values"]  # type: ignore[operator]
    assert written[1][ROWS_FROM]["changed"] == {}  # type: ignore[index,call-overload]
    assert len(json.dumps(written[1])) < len(json.dumps(later)) / 8
    assert rebuilt(written) == [first, later]


def test_the_rows_changed_since_the_last_are_written_or_all_when_most_changed() -> None:
    changes = RowChanges()
    news = [0, 10, 20, 30, 90, 95, 95]
    readings = [dns(START + timedelta(seconds=5 * n), new) for n, new in enumerate(news)]
    forms = [journal_form(reading) for reading in readings]
    written = [changes.journaled(form) for form in forms]
    since = [entry.get(ROWS_FROM) for entry in written]
    assert since[0] is None, "the first is whole: nothing to refer to"
    assert [len(c["changed"]) for c in since[1:4]] == [10, 10, 10]  # type: ignore[index]
    assert since[4] is None, "60 of 100 rows changed: whole again"
    assert [len(c["changed"]) for c in since[5:]] == [5, 0]  # type: ignore[index]
    assert [c["observed_at"] for c in since[5:]] == [
        forms[4]["observed_at"],
        forms[5]["observed_at"],
    ]  # type: ignore[index]
    assert rebuilt(written) == forms


def test_rows_of_another_signal_or_count_are_never_mixed_up() -> None:
    changes = RowChanges()
    app, api = journal_form(dns(START)), journal_form(dns(START, signal="api"))
    assert changes.journaled(app) == app
    assert changes.journaled(api) == api, "no base of its own yet"
    fewer = journal_form(dns(START + timedelta(seconds=1)))
    fewer["values"]["resolvers"] = fewer["values"]["resolvers"][:50]  # type: ignore[call-overload,index]
    assert changes.journaled(fewer) == fewer


def test_changes_to_a_reading_not_in_the_journal_read_as_no_reading() -> None:
    changes = RowChanges()
    first = changes.journaled(journal_form(dns(START)))
    orphan = changes.journaled(journal_form(dns(START + timedelta(seconds=1))))
    rows = JournaledRows()
    rows.add(orphan)
    assert rows.whole_reading(orphan) is None
    rows.add(first)
    wrong = {**orphan, ROWS_FROM: {**orphan[ROWS_FROM], "ttl": [1]}}  # type: ignore[dict-item]
    rows.add(wrong)
    assert rows.whole_reading(wrong) is None
    beyond = {**orphan, ROWS_FROM: {**orphan[ROWS_FROM], "changed": {"100": {}}}}  # type: ignore[dict-item]
    rows.add(beyond)
    assert rows.whole_reading(beyond) is None


def test_a_row_index_that_is_not_plain_digits_reads_as_no_reading() -> None:
    """'²' passes str.isdigit() but not int(): a tampered journal must not crash the reader."""
    changes = RowChanges()
    first = changes.journaled(journal_form(dns(START)))
    second = changes.journaled(journal_form(dns(START + timedelta(seconds=1))))
    rows = JournaledRows()
    rows.add(first)
    odd = {**second, ROWS_FROM: {**second[ROWS_FROM], "changed": {"²": {}}}}  # type: ignore[dict-item]
    rows.add(odd)
    assert rows.whole_reading(odd) is None


def test_rows_are_written_whole_now_and_then_however_little_changed() -> None:
    changes = RowChanges()
    written = [
        changes.journaled(journal_form(dns(START + timedelta(seconds=n)))) for n in range(70)
    ]
    whole = [n for n, entry in enumerate(written) if ROWS_FROM not in entry]
    assert whole == [0, WHOLE_EVERY, 2 * WHOLE_EVERY]


def write(tmp_path: Path, entries: list[tuple[datetime, JournalEntry]]) -> Path:
    clock = FrozenClock(START)
    header = session_header(
        cutover_name="night", config_digest="x", mode="live", environ={}, started_at=START
    )
    writer = JournalWriter.create(tmp_path, header=header, redactor=Redactor(), clock=clock)
    for at, entry in entries:
        clock.now = at
        writer.append(entry.kind, entry.data)
    writer.close()
    return writer.path


def state_of(*readings: Reading) -> State:
    return apply(State(), readings)[0]


def test_replay_shows_every_journaled_reading_whole(tmp_path: Path) -> None:
    recorder = Recorder(keyframe_seconds=60)
    entries: list[tuple[datetime, JournalEntry]] = []
    shown: list[Reading] = []
    for second in range(0, 300, 5):
        at = START + timedelta(seconds=second)
        reading = dns(at, new=min(100, max(0, second - 100)), status=Status.WARN)
        written = recorder.readings([reading], at) + recorder.tick(state_of(reading), at)
        entries += [(at, entry) for entry in written]
        shown += [reading] if written else []
    path = write(tmp_path, entries)
    kinds = [record.kind for record in read_journal(path)[0]]
    assert kinds.count(KEYFRAME_KIND) == 4
    assert any(ROWS_FROM in record.data for record in read_journal(path)[0])
    timeline = Timeline.load(path)
    for reading in shown:
        replayed = timeline.state_at(reading.observed_at).latest(reading.signal_id)
        assert replayed is not None
        assert reading_to_json(replayed) == reading_to_json(reading)
