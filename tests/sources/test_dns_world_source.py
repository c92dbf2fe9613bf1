"""The world DNS source against a loopback stand-in serving recorded Globalping and Atlas replies.

Real HTTP on 127.0.0.1 (tests/world_dns_stand_in.py; the replies are built from the services'
published API specifications, not captured from them), a frozen clock, and Globalping's
per-measurement pacing with a sleep that only records: rounds start, measurements are read
until they finish, and the budget slows the rounds down, holds them, or stops them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cockpit.clock import FrozenClock
from cockpit.commands.check import check_json, run_check
from cockpit.config import Config, config_from_data
from cockpit.io.globalping import GlobalpingApi, Pacer
from cockpit.model import Reading, SignalKind, Status, reading_to_json
from cockpit.sources.base import Schedule
from cockpit.sources.dns_world import WorldDnsSource
from cockpit.sources.dns_world_atlas import AtlasService
from cockpit.sources.dns_world_globalping import GlobalpingService
from cockpit.sources.dns_world_values import WorldValues, from_reading
from tests.world_dns_stand_in import StandIn, world_stand_in

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
MSM = "Bq1JaKp5dT0HqtVm"
ATLAS_MSM = "61234567"
TOKEN = "gp-secret-token-0123456789abcdef"
KEY = "atlas-secret-key-fedcba9876543210"
SCHEDULE = Schedule(interval_seconds=2.0, timeout_seconds=5.0, stale_after_seconds=30.0)


def config(stand_in: StandIn, tmp_path: Path, **sections: dict[str, Any]) -> Config:
    data: dict[str, Any] = {
        "cutover": {"name": "world"},
        "journal": {"dir": str(tmp_path / "journal")},
        "dns": {
            "timeout_seconds": 0.3,
            "resolvers": ["127.0.0.1:9"],
            "records": [
                {"name": "app.example.com", "expect": "198.51.100.20", "old": "192.0.2.10"}
            ],
            **sections,
        },
    }
    return config_from_data(data, source="test", base_dir=tmp_path)


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    with world_stand_in() as running:
        yield running


class Slept:
    """The pacer's sleeps, recorded instead of slept."""

    def __init__(self) -> None:
        self.seconds: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)


def globalping_source(
    stand_in: StandIn, tmp_path: Path, settle_seconds: float = 0, **settings: Any
) -> tuple[WorldDnsSource, FrozenClock, Slept]:
    section_data = {"base_url": f"{stand_in.url}/v1", "token_env": "GP_TOKEN", "limit": 6}
    section_data |= {"locations": ["EU", "continent:SA"], **settings}
    section = config(stand_in, tmp_path, globalping=section_data).dns.globalping  # type: ignore[union-attr]
    assert section is not None
    slept = Slept()
    pacer = Pacer(0.5, lambda: 1000.0, slept)
    api = GlobalpingApi(section.base_url, TOKEN, section.timeout_seconds, pacer)
    service = GlobalpingService(section, {"GP_TOKEN": TOKEN}, api)
    clock = FrozenClock(T0)
    records = config(stand_in, tmp_path).dns.records  # type: ignore[union-attr]
    source = WorldDnsSource(service, records, SCHEDULE, clock, settle_seconds=settle_seconds)
    return source, clock, slept


def atlas_source(
    stand_in: StandIn, tmp_path: Path, environ: dict[str, str] | None = None
) -> tuple[WorldDnsSource, FrozenClock]:
    section_data = {"base_url": f"{stand_in.url}/api/v2", "key_env": "ATLAS_KEY"}
    section_data |= {"probes": ["area:WW", "country:BR"], "probes_per_spec": 2}
    cfg = config(stand_in, tmp_path, ripe_atlas=section_data)
    assert cfg.dns is not None and cfg.dns.ripe_atlas is not None
    service = AtlasService(cfg.dns.ripe_atlas, {"ATLAS_KEY": KEY} if environ is None else environ)
    clock = FrozenClock(T0)
    return WorldDnsSource(service, cfg.dns.records, SCHEDULE, clock, settle_seconds=0), clock


async def read_one(source: WorldDnsSource) -> tuple[Reading, WorldValues]:
    readings = await source.read()
    assert len(readings) == 1
    return readings[0], from_reading(readings[0])


def no_secret_in(readings: list[Reading], *secrets: str) -> None:
    text = repr([reading_to_json(reading) for reading in readings])
    for secret in secrets:
        assert secret not in text


# --- Globalping -------------------------------------------------------------------------------


async def test_globalping_round_from_start_to_finish(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.reply("POST", "/v1/measurements", "globalping_created")
    path = f"/v1/measurements/{MSM}"
    stand_in.reply("GET", path, ["globalping_in_progress", "globalping_finished_mixed"])
    source, clock, slept = globalping_source(stand_in, tmp_path)
    assert source.kind is SignalKind.WORLD_DNS
    assert source.signal_ids == ("dns-world:globalping:app.example.com",)

    first, values = await read_one(source)
    assert first.status is Status.UNKNOWN
    assert first.detail == "Globalping: no measurement yet: the first measurement is running"
    assert values.new_fraction is None
    posted = stand_in.sent("POST")
    assert len(posted) == 1
    assert posted[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert posted[0].headers["user-agent"].startswith("cutover-cockpit/")
    assert posted[0].body == {
        "type": "dns",
        "target": "app.example.com",
        "limit": 6,
        "measurementOptions": {"query": {"type": "A"}, "protocol": "UDP"},
        "locations": [{"magic": "EU"}, {"continent": "SA"}],
    }

    clock.advance(2)
    running, values = await read_one(source)
    assert running.status is Status.WARN
    assert (values.new_count, values.old_count, values.finished) == (1, 1, False)

    clock.advance(2)
    done, values = await read_one(source)
    assert done.status is Status.WARN
    assert values.finished is True
    assert values.new_fraction == pytest.approx(0.5)
    assert values.slowest_regions == ("NA", "OC", "SA")
    assert values.budget is not None
    assert (values.budget.remaining, values.budget.limit, values.budget.round_cost) == (244, 250, 6)
    assert values.budget.reset_at == T0 + timedelta(seconds=1800)
    assert (values.pace, values.next_measurement_at) == ("normal", T0 + timedelta(seconds=300))
    assert "slowest: NA 0 % (1), OC 0 % (1), SA 0 % (1)" in done.detail
    assert slept.seconds == [0.5]  # the second read of the measurement waited out 500 ms

    clock.advance(2)
    await source.read()
    assert (len(stand_in.sent("POST")), len(stand_in.sent("GET"))) == (1, 2)
    clock.advance(300)
    await source.read()
    assert len(stand_in.sent("POST")) == 2
    no_secret_in([first, running, done], TOKEN)


async def test_globalping_all_new_is_ok(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.reply("POST", "/v1/measurements", "globalping_created")
    stand_in.reply("GET", f"/v1/measurements/{MSM}", "globalping_finished_new")
    source, clock, _ = globalping_source(stand_in, tmp_path)
    await source.read()
    clock.advance(2)
    reading, values = await read_one(source)
    assert reading.status is Status.OK
    assert values.new_fraction == 1.0
    assert reading.detail.startswith("Globalping: 100 % of 6 probes answer new (6 new)")


async def test_rate_limited_waits_until_the_reset(stand_in: StandIn, tmp_path: Path) -> None:
    stand_in.reply("POST", "/v1/measurements", "globalping_rate_limited")
    source, clock, _ = globalping_source(stand_in, tmp_path)
    reading, values = await read_one(source)
    assert reading.status is Status.UNKNOWN
    assert values.pace == "rate-limited"
    assert values.next_measurement_at == T0 + timedelta(seconds=900)
    assert reading.detail.endswith("; waiting until 01:15:00Z (15m)")
    assert "rate limited: API rate limit exceeded." in reading.detail
    clock.advance(600)
    await source.read()
    assert len(stand_in.sent("POST")) == 1
    clock.advance(301)
    stand_in.reply("POST", "/v1/measurements", "globalping_created")
    await source.read()
    assert len(stand_in.sent("POST")) == 2


async def test_out_of_credits_stops_measuring_and_says_why(
    stand_in: StandIn, tmp_path: Path
) -> None:
    stand_in.reply("POST", "/v1/measurements", "globalping_insufficient_credits")
    source, clock, _ = globalping_source(stand_in, tmp_path)
    reading, values = await read_one(source)
    assert reading.status is Status.UNKNOWN
    assert values.pace == "stopped"
    assert reading.detail == (
        "Globalping: no measurement yet: out of credits: You do not have enough credits to run "
        "this measurement.; stopped measuring until 01:50:00Z (50m)"
    )
    assert values.budget is not None and values.budget.credits_remaining == 0
    clock.advance(60)
    await source.read()
    assert len(stand_in.sent("POST")) == 1


async def test_the_cockpit_backs_off_as_the_budget_runs_low(
    stand_in: StandIn, tmp_path: Path
) -> None:
    """40 tests left of 250 (a round costs 6, 25 kept): rounds every 15 min instead of 5;
    then 28 left: held until the limit resets; never a request that would exhaust it."""
    stand_in.reply(
        "POST",
        "/v1/measurements",
        ["globalping_created_budget_low", "globalping_created_budget_exhausting"],
    )
    stand_in.reply("GET", f"/v1/measurements/{MSM}", "globalping_finished_new")
    source, clock, _ = globalping_source(stand_in, tmp_path)
    await source.read()
    clock.advance(2)
    reading, values = await read_one(source)
    assert values.new_fraction == 1.0
    assert reading.status is Status.WARN  # all new, but measuring slower than configured
    assert values.pace == "slowed"
    assert values.next_measurement_at == T0 + timedelta(seconds=900)
    assert reading.detail.endswith(
        "slowed down: a round every 15m instead of 5m, so the 40 tests (2 rounds) last until "
        "the reset at 01:30:00Z"
    )

    clock.advance(300)
    await source.read()
    assert len(stand_in.sent("POST")) == 1
    clock.advance(600)
    await source.read()
    assert len(stand_in.sent("POST")) == 2
    clock.advance(2)
    reading, values = await read_one(source)
    assert values.pace == "held"
    assert values.budget is not None and values.budget.remaining == 28
    assert values.next_measurement_at == T0 + timedelta(seconds=902 + 1800)
    assert reading.detail.endswith(
        "measurements held: 28 tests, a round costs 6 and 25 are kept in reserve; "
        "measuring again after the reset at 01:45:02Z"
    )
    clock.advance(1500)
    await source.read()
    assert len(stand_in.sent("POST")) == 2
    clock.advance(400)
    await source.read()
    assert len(stand_in.sent("POST")) == 3


async def test_a_service_that_does_not_answer_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    with world_stand_in() as stand_in:
        url = stand_in.url
    closed = StandIn(url=url)
    source, _, _ = globalping_source(closed, tmp_path)
    reading, values = await read_one(source)
    assert reading.status is Status.UNKNOWN
    assert values.problem is not None and values.problem.startswith("starting a measurement: ")
    assert "no measurement yet" in reading.detail


# --- RIPE Atlas -------------------------------------------------------------------------------


def atlas_routes(stand_in: StandIn) -> None:
    stand_in.reply("GET", "/api/v2/credits/", ["atlas_credits", "atlas_credits_after_round"])
    stand_in.reply("POST", "/api/v2/measurements/", "atlas_created")
    msm = f"/api/v2/measurements/{ATLAS_MSM}/"
    stand_in.reply("GET", msm, ["atlas_measurement_ongoing", "atlas_measurement_stopped"])
    stand_in.reply("GET", f"{msm}results/", ["atlas_results_in_progress", "atlas_results_partial"])
    stand_in.reply("GET", "/api/v2/probes/", "atlas_probes")


async def test_atlas_round_from_credits_to_results(stand_in: StandIn, tmp_path: Path) -> None:
    atlas_routes(stand_in)
    source, clock = atlas_source(stand_in, tmp_path)
    first, values = await read_one(source)
    assert first.status is Status.UNKNOWN
    assert values.budget is not None
    assert (values.budget.unit, values.budget.remaining) == ("credits", 250000)
    posted = stand_in.sent("POST")
    assert posted[0].headers["authorization"] == f"Key {KEY}"
    assert posted[0].body["definitions"][0]["use_probe_resolver"] is True
    assert posted[0].body["probes"] == [
        {"requested": 2, "type": "area", "value": "WW"},
        {"requested": 2, "type": "country", "value": "BR"},
    ]

    clock.advance(10)
    running, values = await read_one(source)
    assert (values.finished, values.new_count, values.old_count) == (False, 1, 1)
    probes = stand_in.sent("GET", "/api/v2/probes/")
    assert probes[0].query["id__in"] == ["1001,1002"]

    clock.advance(10)
    done, values = await read_one(source)
    assert values.finished is True
    assert values.region_kind == "country"
    assert (values.new_count, values.old_count, values.error_count, values.failed_count) == (
        1,
        1,
        2,
        1,
    )
    assert done.status is Status.WARN
    assert done.detail.startswith("RIPE Atlas: 25 % of 4 probes answer new")

    clock.advance(900)
    again, values = await read_one(source)
    assert len(stand_in.sent("POST")) == 2
    assert values.budget is not None and values.budget.round_cost == 600
    no_secret_in([first, running, done, again], KEY)


async def test_atlas_out_of_credits_is_unknown_with_the_reason(
    stand_in: StandIn, tmp_path: Path
) -> None:
    stand_in.reply("GET", "/api/v2/credits/", "atlas_credits_low")
    stand_in.reply("POST", "/api/v2/measurements/", "atlas_no_credits")
    source, _ = atlas_source(stand_in, tmp_path)
    reading, values = await read_one(source)
    assert reading.status is Status.UNKNOWN
    assert values.pace == "stopped"
    assert reading.detail.startswith(
        "RIPE Atlas: no measurement yet: out of credits: You do not have enough credit to "
        "schedule this measurement.; stopped measuring until 02:00:00Z"
    )


async def test_atlas_without_its_key_sends_nothing(stand_in: StandIn, tmp_path: Path) -> None:
    source, _ = atlas_source(stand_in, tmp_path, environ={})
    reading, _ = await read_one(source)
    assert reading.status is Status.UNKNOWN
    assert "$ATLAS_KEY is not set" in reading.detail
    assert stand_in.requests == []


async def test_the_first_round_is_waited_for_so_a_one_shot_check_has_answers(
    stand_in: StandIn, tmp_path: Path
) -> None:
    stand_in.reply("POST", "/v1/measurements", "globalping_created")
    stand_in.reply(
        "GET", f"/v1/measurements/{MSM}", ["globalping_in_progress", "globalping_finished_new"]
    )
    source, _, _ = globalping_source(stand_in, tmp_path, settle_seconds=4)
    reading, values = await read_one(source)
    assert reading.status is Status.OK
    assert values.finished is True


def test_check_json_carries_the_world_reading_and_never_the_token(
    stand_in: StandIn, tmp_path: Path
) -> None:
    stand_in.reply("POST", "/v1/measurements", "globalping_created")
    stand_in.reply("GET", f"/v1/measurements/{MSM}", "globalping_finished_mixed")
    section = {"base_url": f"{stand_in.url}/v1", "token_env": "GP_TOKEN", "timeout_seconds": 4.0}
    cfg = config(stand_in, tmp_path, globalping=section)
    environ = {"GP_TOKEN": TOKEN}
    result = run_check(cfg, environ, FrozenClock(T0))
    document = check_json(result, cfg, environ)
    assert TOKEN not in json.dumps(document)
    assert isinstance(document, dict) and isinstance(document["readings"], list)
    world = [
        item
        for item in document["readings"]
        if isinstance(item, dict) and item["signal"] == "dns-world:globalping:app.example.com"
    ]
    assert len(world) == 1
    assert world[0]["kind"] == "world_dns"
    assert world[0]["status"] == "warn"
    values = world[0]["values"]
    assert isinstance(values, dict)
    assert values["new_fraction"] == 0.5
    assert values["slowest_regions"] == ["NA", "OC", "SA"]
    assert stand_in.sent("POST")[0].headers["authorization"] == f"Bearer {TOKEN}"
