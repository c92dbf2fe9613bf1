"""Every reader of a journal survives any file: damaged bytes, and valid chains of odd values.

Realistic journals written by the real writer are cut to a window, corrupted deterministically
(each case's seed is in its failure message) and read by verify, report (Markdown and JSON),
the headless replay (timeline, controller, the view the replay screen draws), follow and the
session log. Only the tool's own errors may come out, and no output may hold a raw control
character a terminal would act on.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from benchmarks.synthetic_session import generate_synthetic_session
from cockpit.actions.session_log import session_log_of
from cockpit.clock import FrozenClock
from cockpit.commands.cli import main
from cockpit.journal.chain import END_KIND, GENESIS, JournalError, line_digest
from cockpit.journal.follow import JournalTail
from cockpit.journal.reader import journal_header, read_journal
from cockpit.journal.verify import read_checked, verify_journal
from cockpit.review.replay import ReplayController, chain_problem, journal_kinds
from cockpit.review.report import ReportError, run_report
from cockpit.review.timeline import Timeline, shifted
from cockpit.session.view import EVENTS_SHOWN, cockpit_view
from screens.replay_app import ReplayApp, journaled_rows, mark_hint
from tests.report_samples import write_story

SEED = 20261203
NIGHT = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
CHUNKS = 8
CASES_PER_CHUNK = 130
WINDOW_LINES = (20, 40)
MARKS_DRAWN = 4
TOOL_ERRORS = (JournalError, ReportError)
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
"""C0 but line break and tab, DEL, C1 and lone surrogates: what a terminal could act on."""
EVIL_TEXTS = (
    "\x1b[2J\x1b[31mred",
    "\x1b]52;c;aGk=\x07",
    "bell\x07 and nul\x00",
    "carriage\rreturn",
    "\u009b31m C1 CSI",
    "\u202eright-to-left",
    "lone \ud800 surrogate",
    "tab\tand\nnewline",
    "del\x7f",
)
EDGE_NUMBERS = (
    0,
    -1,
    2**31,
    2**63,
    10**400,
    -(10**400),
    1e308,
    -1e308,
    1e-300,
    0.5,
    -0.0,
    123456789.123,
)
EXTREME_TIMES = ("0001-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z")
EDGE_TEXTS = (
    "",
    "ok",
    "critical",
    "stale",
    "bogus-status",
    "rollback",
    "weight-up",
    "completed",
    "started",
    "planned",
    "2026-11-22T01:00:00+00:00",
    "2026-11-22T01:00:00",
    "9999-12-31T23:59:59+00:00",
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00-23:59",
    "x" * 5000,
)


# --- base journals ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseJournals:
    """The lines of realistic journals to cut windows from."""

    sources: tuple[tuple[bytes, ...], ...]


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> BaseJournals:
    directory = tmp_path_factory.mktemp("bases")
    story = write_story(directory / "story").read_bytes()
    synthetic = generate_synthetic_session(
        directory / "synthetic", hours=0.1, resolvers=2, dns_records=1
    )
    return BaseJournals(
        tuple(tuple(text.splitlines()) for text in (story, synthetic.path.read_bytes()))
    )


def rechained(records: list[dict[str, object]], *, seal: bool = True) -> list[bytes]:
    """The records as journal lines with seq and prev recomputed, so the chain holds.

    seal: an end record is rewritten to cover what comes before it, as the writer's does.
    """
    lines: list[bytes] = []
    prev = GENESIS
    for seq, record in enumerate(records):
        record = {**record, "seq": seq, "prev": prev}
        if seal and record["kind"] == END_KIND:
            record["data"] = {"records": seq, "last": prev}
        ordered = {key: record[key] for key in ("seq", "t", "kind", "prev", "data")}
        text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)
        line = text.encode("utf-8", errors="backslashreplace")
        lines.append(line)
        prev = line_digest(line)
    return lines


def window(rng: random.Random, bases: BaseJournals) -> list[dict[str, object]]:
    """The header, a run of consecutive records and sometimes the end, as parsed records."""
    lines = rng.choice(bases.sources)
    size = rng.randint(*WINDOW_LINES)
    first = rng.randint(1, max(1, len(lines) - size))
    chosen = [lines[0], *lines[first : first + size]]
    if rng.random() < 0.5 and chosen[-1] != lines[-1]:
        chosen.append(lines[-1])
    return [json.loads(line) for line in chosen]


# --- corruptions --------------------------------------------------------------------------------


def odd_value(rng: random.Random, depth: int = 0) -> object:
    """A JSON value of a random type, biased towards values that confuse readers."""
    choice = rng.randrange(9)
    if choice == 0:
        return rng.choice(EDGE_NUMBERS)
    if choice == 1:
        return rng.choice(EDGE_TEXTS)
    if choice == 2:
        return rng.choice(EVIL_TEXTS)
    if choice == 3:
        return rng.choice((True, False, None))
    if choice == 4 and depth < 3:
        return [odd_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    if choice == 5 and depth < 3:
        keys = [*EDGE_TEXTS[:8], *EVIL_TEXTS, "values", "signal", "weights", "old", "new"]
        return {rng.choice(keys): odd_value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if choice == 6:
        return nested(rng.randint(2, 70))
    if choice == 7:
        return rng.random() * 10 ** rng.randint(-5, 300) * rng.choice((1, -1))
    return rng.choice(EVIL_TEXTS) * rng.randint(1, 300)


def nested(depth: int) -> object:
    value: object = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def paths(value: object, prefix: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
    """Every path to a value inside `value` (not `value` itself)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


def replaced(value: object, path: tuple[object, ...], new: object) -> None:
    """Sets the value at `path` inside `value`, in place."""
    container = value
    for step in path[:-1]:
        container = container[step]  # type: ignore[index]
    container[path[-1]] = new  # type: ignore[index]


def confuse_types(rng: random.Random, records: list[dict[str, object]]) -> str:
    """Family b: values inside `data` swapped for other types; the chain is then rebuilt.

    Now and then a record's time is moved to the ends of the calendar as well.
    """
    done = []
    if rng.random() < 0.1:
        index = rng.randrange(len(records))
        records[index]["t"] = rng.choice(EXTREME_TIMES)
        done.append(f"line {index + 1} t = {records[index]['t']}")
    for _ in range(rng.randint(1, 5)):
        index = rng.randrange(len(records))
        data = records[index]["data"]
        found = list(paths(data))
        if not found or rng.random() < 0.1:
            key = rng.choice(["signal", "values", "observed_at", "phase", "guards", *EVIL_TEXTS])
            new = odd_value(rng)
            data[key] = new  # type: ignore[index]
            done.append(f"line {index + 1} data[{key!r}] = {new!r:.60}")
            continue
        path = rng.choice(found)
        new = odd_value(rng)
        replaced(data, path, new)
        done.append(f"line {index + 1} data{list(path)} = {new!r:.60}")
    return "type confusion: " + "; ".join(done)


def corrupt_bytes(rng: random.Random, lines: list[bytes]) -> tuple[bytes, str]:
    """Family a: the journal's bytes damaged one way or another."""
    content = b"".join(line + b"\n" for line in lines)
    choice = rng.randrange(11)
    at = rng.randrange(len(content))
    if choice == 0:
        flipped = content[at] ^ (1 << rng.randrange(8))
        return content[:at] + bytes([flipped]) + content[at + 1 :], f"flip byte {at}"
    if choice == 1:
        count = rng.randint(1, 40)
        return content[:at] + content[at + count :], f"delete {count} bytes at {at}"
    if choice == 2:
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
        return content[:at] + junk + content[at:], f"insert {junk!r} at {at}"
    if choice == 3:
        return content[:at], f"cut at {at}"
    if choice == 4:
        index = rng.randrange(len(lines))
        copy = [*lines[: index + 1], lines[index], *lines[index + 1 :]]
        return joined(copy), f"duplicate line {index + 1}"
    if choice == 5:
        first, second = rng.randrange(len(lines)), rng.randrange(len(lines))
        swapped = list(lines)
        swapped[first], swapped[second] = swapped[second], swapped[first]
        return joined(swapped), f"swap lines {first + 1} and {second + 1}"
    if choice == 6:
        index = rng.randrange(len(lines))
        return joined([*lines[:index], *lines[index + 1 :]]), f"delete line {index + 1}"
    if choice == 7:
        bad = rng.choice((b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"))
        return content[:at] + bad + content[at:], f"invalid UTF-8 {bad!r} at {at}"
    if choice == 8:
        number = rng.choice((b"1e999", b"-1e999", b"9" * 400, b"9" * 5000, b"1" + b"0" * 310))
        changed = content.replace(b":1", b":" + number, 1)
        return changed, f"huge number {number[:12]!r}"
    if choice == 9:
        depth = rng.choice((65, 200, 5000, 100_000))
        deep = b"[" * depth + b"]" * depth
        changed = content.replace(b'"data":{', b'"data":{"deep":' + deep + b",", 1)
        return changed, f"nesting {depth} deep"
    escape = rng.choice((b"\x1b[31m", b"\x00", b"\x07", b"\r"))
    return content[:at] + escape + content[at:], f"raw control {escape!r} at {at}"


def joined(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def fuzzed_journal(case: str, bases: BaseJournals, directory: Path) -> tuple[Path, str]:
    """The corrupted journal of one case (written under `directory`) and what was done to it."""
    rng = random.Random(case)
    records = window(rng, bases)
    if rng.random() < 0.6:
        how = confuse_types(rng, records)
        content = joined(rechained(records, seal=rng.random() < 0.8))
    else:
        content, how = corrupt_bytes(rng, rechained(records))
    path = directory / f"{case}.jsonl"
    path.write_bytes(content)
    return path, how


# --- the readers --------------------------------------------------------------------------------


def control_characters(text: str) -> list[str]:
    """The characters in `text` a terminal could act on (line breaks and tabs allowed)."""
    return CONTROL_CHARACTERS.findall(text)


def texts_in(value: object) -> Iterator[str]:
    """Every string inside a value: dataclasses, mappings, sequences and sets included."""
    if isinstance(value, str):
        yield value
    elif is_dataclass(value) and not isinstance(value, type):
        for field in fields(value):
            yield from texts_in(getattr(value, field.name))
    elif isinstance(value, dict) or hasattr(value, "items"):
        for key, item in value.items():  # type: ignore[union-attr]
            yield from texts_in(key)
            yield from texts_in(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from texts_in(item)


def outputs_of_verify(path: Path) -> Iterator[object]:
    verification = verify_journal(path)
    yield verification.summary()
    yield chain_problem(verification)


def outputs_of_report(path: Path) -> Iterator[object]:
    """The report in one format, alternating by case (each build reads the whole journal)."""
    fmt = "json" if int(path.stem[-1]) % 2 else "md"
    said: list[str] = []
    output = path.with_suffix(f".{fmt}")
    run_report(path, output, fmt, said.append)
    if output.exists():
        text = output.read_text(encoding="utf-8")
        if fmt == "json":
            json.loads(text, parse_constant=refuse_constant)
        yield text
    yield said


def refuse_constant(name: str) -> None:
    raise AssertionError(f"the JSON report holds {name}, which is not JSON")


def outputs_of_replay(path: Path) -> Iterator[object]:
    timeline = Timeline.load(path)
    clock = FrozenClock(NIGHT)
    controller = ReplayController(timeline, clock, speed=60.0, follow=False)
    yield from drawn(timeline, controller)
    for _ in range(2):
        clock.advance(60)
        controller.tick()
        yield from drawn(timeline, controller)
    for _ in range(MARKS_DRAWN):
        before = controller.playback.position
        yield controller.next_mark()
        yield from drawn(timeline, controller)
        if controller.playback.position <= before:
            break
    yield controller.previous_mark()
    controller.step(-60)
    controller.toggle()
    yield controller.to_end()
    yield from drawn(timeline, controller)
    if timeline.start is not None and timeline.end is not None:
        yield controller.seek(timeline.start + (timeline.end - timeline.start) / 2)
        yield controller.seek(shifted(timeline.end, timedelta(hours=1)))
    yield from drawn(timeline, controller)


def drawn(timeline: Timeline, controller: ReplayController) -> Iterator[object]:
    """What the replay screen would draw at the controller's position, built headless."""
    at = controller.playback.position
    rows = journaled_rows(timeline, at)
    view = cockpit_view(
        timeline.state_at(at),
        at,
        events=timeline.events_until(at, EVENTS_SHOWN),
        configured_kinds=journal_kinds(timeline),
        actions=rows,
    )
    yield view
    yield [mark_hint(mark) for mark in controller.mark_hints()]
    yield timeline.marks, timeline.screens, timeline.operators, timeline.header


def outputs_of_follow(path: Path) -> Iterator[object]:
    tail = JournalTail(path)
    timeline = Timeline()
    clock = FrozenClock(NIGHT)
    controller = ReplayController(
        timeline, clock, speed=1.0, follow=True, alive=lambda _timeline: False
    )
    for _ in range(2):
        try:
            records = tail.read_new()
        except JournalError as error:
            yield str(error)
            break
        timeline.add(records)
        controller.records_added()
        controller.tick()
    yield from drawn(timeline, controller)


def outputs_of_session_log(path: Path) -> Iterator[object]:
    log = session_log_of(path)
    yield log.facts(None), log.expected_values(), log.unfinished
    yield journal_header(path)


READERS: tuple[tuple[str, Callable[[Path], Iterator[object]]], ...] = (
    ("verify", outputs_of_verify),
    ("report", outputs_of_report),
    ("replay", outputs_of_replay),
    ("follow", outputs_of_follow),
    ("session log", outputs_of_session_log),
)


def problems_reading(path: Path) -> list[str]:
    """What went wrong when every reader read the journal: foreign exceptions, raw controls."""
    problems = []
    for name, reader in READERS:
        try:
            for output in reader(path):
                bad = {char for text in texts_in(output) for char in control_characters(text)}
                if bad:
                    problems.append(f"{name} output holds raw {sorted(bad)!r}")
                    break
        except TOOL_ERRORS as error:
            bad = control_characters(str(error))
            if bad:
                problems.append(f"{name} error message holds raw {sorted(set(bad))!r}")
        except Exception as error:
            problems.append(f"{name} raised {error!r:.300}")
    return problems


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_every_reader_survives_corrupted_journals(
    chunk: int, bases: BaseJournals, tmp_path: Path
) -> None:
    """CASES_PER_CHUNK journals per chunk; a failure names each case's seed to rerun it with."""
    failures = []
    for number in range(CASES_PER_CHUNK):
        case = f"{SEED}-{chunk}-{number}"
        path, how = fuzzed_journal(case, bases, tmp_path)
        for problem in problems_reading(path):
            failures.append(f"case {case!r} ({how}): {problem}")
        for produced in tmp_path.iterdir():
            produced.unlink()
    assert not failures, (
        f"{len(failures)} problems; rerun one with fuzzed_journal(case, bases, directory):\n"
        + "\n".join(failures[:20])
    )


# --- limits on what is read ---------------------------------------------------------------------


def a_journal(directory: Path, bases: BaseJournals) -> Path:
    path = directory / "journal.jsonl"
    path.write_bytes(joined(list(bases.sources[0])))
    return path


def every_reader_refuses(path: Path) -> list[str]:
    """The messages of every journal reader refusing `path`; none may raise anything else."""
    messages = [verify_journal(path).summary()[0]]
    for read in (read_journal, read_checked, lambda p: JournalTail(p).read_new()):
        with pytest.raises(JournalError) as raised:
            read(path)
        messages.append(str(raised.value))
    assert journal_header(path) is None
    return messages


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("fifo", "named pipe (FIFO), not a regular file"),
        ("directory", "it is a directory"),
        ("device", "character device, not a regular file"),
        ("socket", "socket, not a regular file"),
    ],
)
def test_what_is_not_a_journal_file_is_refused_without_hanging(
    tmp_path: Path, kind: str, expected: str
) -> None:
    path = tmp_path / f"{kind}.jsonl"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    elif kind == "device":
        path = Path("/dev/zero")
    listener = socket.socket(socket.AF_UNIX)
    try:
        if kind == "socket":
            listener.bind(str(path))
        for message in every_reader_refuses(path):
            assert expected in message
            assert "journal.dir" in message
    finally:
        listener.close()


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as sparse:
        sparse.truncate(1024**3 + 1)
    for message in every_reader_refuses(path):
        assert "larger than 1 GiB" in message


@pytest.mark.parametrize("where", ["middle", "last", "unterminated"])
def test_an_overlong_line_is_damage_named_by_its_line(
    tmp_path: Path, bases: BaseJournals, where: str
) -> None:
    lines = list(bases.sources[0][:5])
    long_line = b'{"seq":5,"data":"' + b"x" * (5 * 1024 * 1024) + b'"}'
    content = joined(lines) + long_line + (b"" if where == "unterminated" else b"\n")
    if where == "middle":
        content += joined(list(bases.sources[0][5:8]))
    path = tmp_path / "long.jsonl"
    path.write_bytes(content)

    verification = verify_journal(path)
    assert verification.first_bad_line == 6
    assert "longer than 4 MiB" in (verification.problem or "")
    with pytest.raises(JournalError, match="line 6: is longer than 4 MiB"):
        read_journal(path)
    tail = JournalTail(path)
    assert len(tail.read_new()) == 5
    with pytest.raises(JournalError, match="longer than 4 MiB"):
        tail.read_new()


@pytest.mark.parametrize("value", ["[" * 70 + "]" * 70, "1e999", "-1e999"])
def test_deep_nesting_and_infinite_numbers_are_damage_not_a_crash(
    tmp_path: Path, value: str
) -> None:
    line = f'{{"seq":0,"t":"2026-11-22T01:00:00.000000Z","kind":"header","prev":"{GENESIS}",'
    path = tmp_path / "odd.jsonl"
    path.write_text(line + f'"data":{{"odd":{value}}}}}\n')

    verification = verify_journal(path)

    assert verification.first_bad_line == 1
    with pytest.raises(JournalError):
        read_journal(path)


def test_escapes_in_data_are_read_back_spelled_out_and_the_chain_still_holds(
    tmp_path: Path, bases: BaseJournals
) -> None:
    records = [json.loads(line) for line in [*bases.sources[0][:3], bases.sources[0][-1]]]
    records[1]["data"] = {"text\x1b": "\x1b[2J screen\nsecond line\tcell \x9b", "n": [1, "\x07"]}
    path = tmp_path / "escapes.jsonl"
    path.write_bytes(joined(rechained(records)))

    journal, _ = read_journal(path)

    assert verify_journal(path).intact
    assert journal[1].data == {
        "text\\x1b": "\\x1b[2J screen\nsecond line\tcell \\x9b",
        "n": [1, "\\x07"],
    }


# --- the command line ---------------------------------------------------------------------------


def confused_journal(directory: Path, bases: BaseJournals, source: int = 0) -> Path:
    """A journal whose chain holds but whose values have the wrong types everywhere."""
    records = [json.loads(line) for line in bases.sources[source]]
    for record in records[1:]:
        data = record["data"]
        for key in list(data):
            data[key] = [data[key]] if isinstance(data[key], str) else {"x": ["\x1b[31m"]}
    path = directory / "confused.jsonl"
    path.write_bytes(joined(rechained(records)))
    return path


@pytest.mark.parametrize("kind", ["fifo", "directory", "long line"])
@pytest.mark.parametrize("command", ["report", "verify"])
def test_the_cli_refuses_a_bad_journal_in_words(
    tmp_path: Path,
    bases: BaseJournals,
    capsys: pytest.CaptureFixture[str],
    command: str,
    kind: str,
) -> None:
    path = tmp_path / "bad.jsonl"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path.write_bytes(joined(list(bases.sources[0][:4])) + b"{" * (5 * 1024 * 1024) + b"\n")

    code = main([command, str(path)])

    stderr = capsys.readouterr().err
    assert code != 0
    assert "internal error" not in stderr
    assert str(path) in stderr
    expected = {"fifo": "named pipe", "directory": "directory", "long line": "longer than 4 MiB"}
    assert expected[kind] in stderr


@pytest.mark.parametrize("command", ["report", "verify"])
def test_the_cli_reads_a_journal_of_confused_types_without_an_internal_error(
    tmp_path: Path, bases: BaseJournals, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """The chain holds, so verify says intact and the report is written, with unknowns."""
    path = confused_journal(tmp_path, bases)

    code = main([command, str(path)])

    out, err = capsys.readouterr()
    assert "internal error" not in err
    assert code == 0, err
    assert not control_characters(out + err)
    assert ("Chain intact" if command == "report" else "intact") in out


# --- the replay screen itself ---------------------------------------------------------------------

SCREEN_CASES = 6


@pytest.mark.parametrize("number", range(SCREEN_CASES))
async def test_the_replay_screen_draws_type_confused_journals(
    number: int, bases: BaseJournals, tmp_path: Path
) -> None:
    """The panels draw what the timeline holds; a few journals through the real screen."""
    case = f"{SEED}-screen-{number}"
    rng = random.Random(case)
    records = [json.loads(line) for line in bases.sources[number % len(bases.sources)]][:60]
    how = confuse_types(rng, records)
    path = tmp_path / "confused.jsonl"
    path.write_bytes(joined(rechained(records)))
    try:
        timeline = Timeline.load(path)
    except JournalError as refused:
        assert not control_characters(str(refused)), f"case {case!r} ({how})"
        return
    app = ReplayApp(timeline, journal_path=path, clock=FrozenClock(NIGHT + timedelta(days=1)))

    async with app.run_test(size=(80, 24)) as pilot:
        for key in ("right_square_bracket", "right_square_bracket", "end", "1", "4"):
            await pilot.press(key)
        await pilot.pause()
        shown = app.replay_status()

    assert app.return_code in (None, 0), f"case {case!r} ({how})"
    assert not control_characters(shown.problem), f"case {case!r} ({how})"


@pytest.mark.parametrize("source", [0, 1])
async def test_the_replay_screen_draws_a_journal_of_wrong_types_everywhere(
    source: int, bases: BaseJournals, tmp_path: Path
) -> None:
    app = ReplayApp(confused_journal(tmp_path, bases, source), clock=FrozenClock(NIGHT))

    async with app.run_test(size=(80, 24)) as pilot:
        for key in ("right_square_bracket", "end", "2", "3"):
            await pilot.press(key)
        await pilot.pause()

    assert app.return_code in (None, 0)
