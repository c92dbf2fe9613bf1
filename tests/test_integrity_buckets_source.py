"""The bucket integrity source against moto's S3 over HTTP: it compares in the background and
every poll says how far it got, then the result, as a reading the journal can hold."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w

from cockpit.clock import system_clock
from cockpit.config import BucketPair, config_from_data
from cockpit.io.context import SourceContext
from cockpit.model import Status
from cockpit.session.overview import _integrity_number
from cockpit.session.polling import SessionSources
from cockpit.sources.build import build_sources
from cockpit.sources.integrity_buckets import BucketIntegritySource
from cockpit.sources.integrity_values import BucketValues, integrity_verdict
from tests.integrity_support import poll_until_done
from tests.s3_stand_in import TEST_KEYS, S3StandIn, s3_stand_in

WAIT_SECONDS = 30.0


@pytest.fixture(scope="module")
def stand_in() -> Iterator[S3StandIn]:
    with s3_stand_in() as running:
        yield running


def context_for(stand_in: S3StandIn, pair: BucketPair, tmp_path: Path) -> SourceContext:
    data = {
        "cutover": {"name": "buckets"},
        "journal": {"dir": str(tmp_path / "journal")},
        "aws": stand_in.section().model_dump(mode="json", exclude_none=True),
        "integrity": {"buckets": [pair.model_dump(mode="json")]},
    }
    config = config_from_data(data, source="test", base_dir=tmp_path)
    return SourceContext(config, environ=TEST_KEYS)


def test_identical_buckets_read_ok_after_a_first_unknown(
    stand_in: S3StandIn, tmp_path: Path
) -> None:
    objects = {"a.txt": b"x" * 10, "b/c.txt": b"y" * 10}
    context = context_for(stand_in, stand_in.pair(objects, objects), tmp_path)
    [source] = [s for s in build_sources(context) if isinstance(s, BucketIntegritySource)]
    readings = poll_until_done(source)
    assert readings[0].status is Status.UNKNOWN
    assert readings[0].signal_id == "integrity:bucket:assets"
    assert readings[-1].status is Status.OK
    assert readings[-1].detail == "OK: 2 objects, 20 B, the same in both buckets"
    assert _integrity_number(readings[-1:], None) == "1/1 OK"
    verdict, started = integrity_verdict(readings[-1])
    assert verdict == "OK" and started is not None, "the guard can tell when the run started"


def test_a_missing_object_is_critical_and_named(stand_in: S3StandIn, tmp_path: Path) -> None:
    pair = stand_in.pair({"kept.txt": b"k", "lost.txt": b"l"}, {"kept.txt": b"k"})
    source = BucketIntegritySource(pair, context_for(stand_in, pair, tmp_path))
    done = poll_until_done(source)[-1]
    assert done.status is Status.CRITICAL
    assert done.detail == "DIFFERENT: 1 missing on new (lost.txt)"
    result = BucketValues.from_reading(done).result
    assert result is not None and result.missing_on_new.count == 1
    assert _integrity_number([done], None) == "1/1 DIFFERENT"


def test_cockpit_integrity_compares_from_a_shell(stand_in: S3StandIn, tmp_path: Path) -> None:
    """The real command in a subprocess: exit 2 on a difference, the JSON names it."""
    pair = stand_in.pair({"a.txt": b"a", "b.txt": b"b"}, {"a.txt": b"a", "b.txt": b"B!"})
    data = {
        "cutover": {"name": "buckets"},
        "aws": stand_in.section().model_dump(mode="json", exclude_none=True),
        "integrity": {"buckets": [pair.model_dump(mode="json")]},
    }
    config = tmp_path / "cockpit.toml"
    config.write_text(tomli_w.dumps(data))
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "integrity", "-c", str(config), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **TEST_KEYS},
    )
    assert result.returncode == 2, result.stderr
    document = json.loads(result.stdout)
    assert document["status"] == "different"
    [bucket] = document["buckets"]
    assert bucket["size_differs"] == {"count": 1, "examples": ["b.txt"]}
    assert "listed 2 old and 2 new objects" in result.stderr
    nothing = tmp_path / "empty.toml"
    nothing.write_text('[cutover]\nname = "x"\n')
    result = subprocess.run(
        [sys.executable, "-m", "cockpit", "integrity", "-c", str(nothing)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    assert "nothing to compare: the config has no [integrity] section" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_session_starts_a_re_check_only_when_none_is_running(
    stand_in: S3StandIn, tmp_path: Path
) -> None:
    pair = stand_in.pair({"a.txt": b"a"}, {"a.txt": b"a"})
    source = BucketIntegritySource(pair, context_for(stand_in, pair, tmp_path))
    sources = SessionSources(lambda: [source], system_clock)
    asyncio.run(sources.poll_once())
    assert poll_until_done(source)[-1].status is Status.OK
    assert sources.recheck_integrity() == 1
    assert sources.recheck_integrity() == 0 or not source.check.state().running
    assert poll_until_done(source)[-1].status is Status.OK
