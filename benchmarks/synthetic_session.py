"""A synthetic cutover night, written through the real recording path, for benchmarks and tests.

The story: replication lags under load and drains to zero once maintenance is on; the replica
is promoted; traffic steps 0 → 5 → 10 → 25 → 50 %, a 5xx burst on the new side makes auto-abort
shift back to 25 %, the step is retried and traffic goes on to 100 %; each DNS record's new
answer then propagates resolver by resolver as cached TTLs run out. Every signal is read every
second; what reaches the journal is decided by cockpit.live.recording.Recorder as in a live session,
guards are the real guards on the replayed state, and readings are built with the sources' own
classification functions so values, statuses and details look like the real ones.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cockpit.actions.model import ActionId, Change, Execution, Inverse, Plan, Verification
from cockpit.actions.registry import KEY_LABELS, action, evaluate_guards
from cockpit.actions.weights_json import weights_json, weights_text
from cockpit.clock import FrozenClock
from cockpit.config import Config, config_digest, parse_config
from cockpit.io.weights import (
    RawWeights,
    describe_weights_target,
    planned_weight_calls,
    weights_for_percent,
)
from cockpit.journal.chain import session_header
from cockpit.journal.writer import JournalWriter
from cockpit.jsonvalue import JsonValue
from cockpit.live.recording import Recorder, status_entry
from cockpit.live.state import State, StatusChange, apply
from cockpit.model import Reading, SignalKind, Status
from cockpit.redact import Redactor
from cockpit.rules.guards import GuardInputs
from cockpit.rules.verdicts import GuardResult, SessionFacts, blocking
from cockpit.sources import dns as dns_source
from cockpit.sources import errors_common, replication_postgres, targets, traffic

START = datetime(2026, 11, 22, 22, 0, tzinfo=UTC)
OPERATOR = "alice@bastion-1"
WATCHER = "bob@bastion-1"
PID = 4242
CUTOVER_NAME = "shop: datacenter -> AWS"
STEPS = (0, 5, 10, 25, 50, 75, 100)
RECORD_TTL_SECONDS = 60
WINDOW_SECONDS = 60
CLOUDWATCH_PERIOD_SECONDS = 60
MAX_ERROR_RATIO = 0.01
MAX_P95_SECONDS = 0.8
REPLAY_CAPACITY_BYTES_PER_SECOND = 6_000_000
NOTES_PER_8_HOURS = 20
SCREEN_WIDTH, SCREEN_HEIGHT = 80, 24
STALE_AFTER_SECONDS = {
    SignalKind.REPLICATION: 5.0,
    SignalKind.TARGETS: 8.0,
    SignalKind.DNS: 8.0,
    SignalKind.ERRORS: 20.0,
    SignalKind.TRAFFIC: 8.0,
    SignalKind.MAINTENANCE: 9.0,
}
ACCESS_LOG_PATHS = {"old": "/var/log/nginx/old-access.log", "new": "/var/log/nginx/new-access.log"}
TARGET_GROUP_TARGETS = {
    "old": ("10.1.0.11:8080", "10.1.0.12:8080"),
    "new": ("10.20.1.11:8080", "10.20.1.12:8080"),
}
HEALTH_URLS = {"old": "http://10.1.0.11:8080/health", "new": "http://10.20.1.11:8080/health"}

BEATS = (
    "refuse:promote",
    "run:maintenance-on",
    "cancel:promote",
    "run:promote",
    "run:maintenance-off",
    "run:weight-up",
    "refuse:weight-up",
    "run:weight-up",
    "run:weight-up",
    "run:weight-up",
    "cancel:rollback",
    "run:weight-up",
    "run:weight-up",
    "run:weight-down",
    "run:weight-up",
    "cancel:weight-up",
    "fail:weight-up",
    "run:weight-up",
    "refuse:weight-up",
)
"""What the operator presses, in order, evenly spread over the session (plus one auto-abort)."""

BURST_BEAT, UNHEALTHY_BEAT, STALE_AFTER_BEAT = 9, 6, 7
DNS_SWITCH_BEATS = (17, 11, 12, 14, 8, 7, 5)
"""After which beat each DNS record (cycling) is switched to its new answer."""

NOTES = (
    "window open: starting the runbook",
    "app team confirms the batch import is running, lag expected",
    "lag draining after maintenance on",
    "DBA watching the replica: caught up, no writes",
    "promotion done, new primary writable",
    "smoke tests against the new targets passed",
    "5 % looks clean, p95 a bit higher on new",
    "web-new-2 failing health checks: investigating",
    "web-new-2 back: slow JVM warm-up",
    "10 % steady",
    "cloudwatch calls hanging, watching access logs instead",
    "5xx burst on new at 50 %: auto-abort shifted back to 25 %",
    "root cause: cold cache node on the new side, warmed it",
    "retrying 50 %",
    "p95 creeping up at 75 % under the evening peak: back to 50 % for now",
    "Route 53 throttled our change batch, retrying",
    "100 % on new",
    "one resolver still answers old past its TTL",
    "all resolvers answer new",
    "closing the window, handing over to on-call",
)


@dataclass(frozen=True)
class Snapshot:
    """The generator's own state at one moment: what a replay of that moment must show."""

    at: datetime
    state: State


@dataclass(frozen=True)
class SyntheticSession:
    """A written synthetic journal and the ground truth kept while writing it."""

    path: Path
    start: datetime
    end: datetime
    signal_ids: tuple[str, ...]
    snapshots: tuple[Snapshot, ...]
    stale_at: datetime
    actions: int
    notes: int


def write_synthetic_session(
    directory: Path,
    *,
    hours: float = 8.0,
    seed: int = 7,
    resolvers: int = 20,
    dns_records: int = 2,
) -> Path:
    """Writes a synthetic cutover journal into `directory` and returns its path."""
    session = generate_synthetic_session(
        directory, hours=hours, seed=seed, resolvers=resolvers, dns_records=dns_records
    )
    return session.path


def generate_synthetic_session(
    directory: Path,
    *,
    hours: float = 8.0,
    seed: int = 7,
    resolvers: int = 20,
    dns_records: int = 2,
    snapshot_fractions: tuple[float, ...] = (0.5,),
) -> SyntheticSession:
    """Writes the journal and keeps the state at chosen moments (fractions of the session).

    Each fraction is moved to the middle of the quiet stretch between the two beats around it,
    and the middle of the stale episode is always kept too, so a test compares calm moments.
    """
    if hours < 0.1:
        raise ValueError(f"hours={hours}: the story needs at least 0.1 hours (6 minutes)")
    if resolvers < 1 or dns_records < 1:
        raise ValueError("the story needs at least one resolver and one DNS record")
    story = Story.for_duration(round(hours * 3600))
    text = config_text(resolvers, dns_records, story.scaled(0.5, 120))
    config = parse_config(text, source="synthetic.toml", base_dir=directory)
    writer = JournalWriter.create(
        directory,
        header=_header(text),
        redactor=Redactor(),
        clock=(clock := FrozenClock(START)),
        name_hint="synthetic",
    )
    night = Night(config, story, writer, clock, random.Random(seed))
    snapshot_seconds = {story.quiet_second(f) for f in snapshot_fractions} | {story.stale_middle}
    snapshots = night.run(snapshot_seconds)
    writer.close()
    return SyntheticSession(
        path=writer.path,
        start=START,
        end=clock(),
        signal_ids=tuple(sorted(night.state.tracks)),
        snapshots=tuple(snapshots),
        stale_at=START + timedelta(seconds=story.stale_middle),
        actions=night.lifecycles,
        notes=night.notes,
    )


def _header(text: str) -> dict[str, JsonValue]:
    """A header as `cockpit run` writes it, with a fixed operator and pid (for determinism)."""
    header = session_header(
        cutover_name=CUTOVER_NAME,
        config_digest=config_digest(text),
        mode="live",
        environ={"USER": "alice", "SSH_CLIENT": "10.0.8.7 52311 22"},
        started_at=START,
    )
    return {**header, "operator": OPERATOR, "pid": PID}


# --- config ---------------------------------------------------------------------------------


def record_names(dns_records: int) -> list[str]:
    """The DNS records that move: app.cutover.test, api.cutover.test, then r3.cutover.test …"""
    first = ["app", "api", "static", "img"]
    return [
        f"{first[k] if k < len(first) else f'r{k + 1}'}.cutover.test" for k in range(dns_records)
    ]


def config_text(resolvers: int, dns_records: int, dwell_seconds: int = 120) -> str:
    """A cockpit.toml for the synthetic night: every section, sources polled every second.

    A short session gets a shorter minimum dwell per step, so its story needs no overrides.
    """
    resolver_lines = ",\n".join(
        f'    {{ address = "{_resolver_address(i)}", name = "resolver-{i + 1}" }}'
        for i in range(resolvers)
    )
    records = "\n".join(
        f'[[dns.records]]\nname = "{name}"\ntype = "A"\n'
        f'expect = "10.20.0.{10 + k}"\nold = "10.1.0.{10 + k}"\n'
        for k, name in enumerate(record_names(dns_records))
    )
    return CONFIG_TEMPLATE.format(resolvers=resolver_lines, records=records, dwell=dwell_seconds)


def _resolver_address(index: int) -> str:
    return f"10.0.{index // 200}.{index % 200 + 2}"


ARN_PREFIX = "arn:aws:elasticloadbalancing:eu-west-1:123456789012"
CONFIG_TEMPLATE = """
[cutover]
name = "shop: datacenter -> AWS"
refresh_seconds = 1.0

[journal]
dir = "journal"
keyframe_seconds = 300.0

[aws]
region = "eu-west-1"

[replication]
interval_seconds = 1.0
timeout_seconds = 2.0
stale_after_seconds = 5.0

[replication.postgres]
primary_dsn = "host=10.1.0.5 port=5432 user=cutover dbname=shop connect_timeout=3"
replica_dsn = "host=10.20.0.9 port=5432 user=cutover dbname=shop connect_timeout=3"

[targets]
interval_seconds = 1.0
timeout_seconds = 2.0
stale_after_seconds = 8.0

[[targets.target_groups]]
name = "tg-old"
side = "old"
arn = "ARN:targetgroup/web-old/6d0ecf831eec9f09"

[[targets.target_groups]]
name = "tg-new"
side = "new"
arn = "ARN:targetgroup/web-new/2f1c7e5a9b3d4e11"

[[targets.http]]
name = "app-old"
side = "old"
url = "http://10.1.0.11:8080/health"

[[targets.http]]
name = "app-new"
side = "new"
url = "http://10.20.1.11:8080/health"

[dns]
interval_seconds = 1.0
timeout_seconds = 1.0
stale_after_seconds = 8.0
max_ttl_seconds = 60
resolvers = [
{resolvers}
]
authoritative = [{{ address = "205.251.192.10", name = "ns-1" }}]

{records}
[errors]
interval_seconds = 1.0
timeout_seconds = 5.0
stale_after_seconds = 20.0
window_seconds = 60

[errors.cloudwatch]
load_balancer_arn = "ARN:loadbalancer/app/shop/50dc6c495c0c9188"
old_target_group_arn = "ARN:targetgroup/web-old/6d0ecf831eec9f09"
new_target_group_arn = "ARN:targetgroup/web-new/2f1c7e5a9b3d4e11"
period_seconds = 60

[[errors.access_logs]]
side = "old"
path = "/var/log/nginx/old-access.log"

[[errors.access_logs]]
side = "new"
path = "/var/log/nginx/new-access.log"

[traffic]
interval_seconds = 1.0
stale_after_seconds = 8.0
steps = [0, 5, 10, 25, 50, 75, 100]

[traffic.route53]
hosted_zone_id = "Z0123456789ABCDEFGHIJ"
record_name = "app.cutover.test"
record_type = "A"
old_set_identifier = "old"
new_set_identifier = "new"

[maintenance]
probe_url = "https://app.cutover.test/"
probe_expect_status = 503

[maintenance.alb]
listener_arn = "ARN:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2"
rule_priority = 1
status_code = 503
message_body = "<h1>Down for maintenance</h1>"

[promotion.postgres]
replica_name = "shop-db-new"

[guards]
weight_max_new_error_ratio = 0.01
weight_max_new_p95_ms = 800.0
weight_min_dwell_seconds = {dwell}

[guards.auto_abort]
enabled = true
max_error_ratio = 0.05
hold_seconds = 60.0
""".replace("ARN", ARN_PREFIX)


# --- the story's timing -----------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    """When each beat happens, and how long the incidents around them last, in session seconds."""

    duration: int
    beat_seconds: tuple[int, ...]
    spacing: int

    @classmethod
    def for_duration(cls, duration: int) -> Story:
        first, last = round(duration * 0.04), round(duration * 0.88)
        spacing = (last - first) // (len(BEATS) - 1)
        return cls(duration, tuple(first + i * spacing for i in range(len(BEATS))), spacing)

    def scaled(self, share: float, cap: int, floor: int = 1) -> int:
        """A duration that is `share` of the beat spacing, within [floor, cap] seconds."""
        return max(floor, min(cap, round(self.spacing * share)))

    def quiet_second(self, fraction: float) -> int:
        """The middle between the two beats around `fraction` of the session."""
        moment = fraction * self.duration
        before = max((s for s in self.beat_seconds if s <= moment), default=0)
        after = min((s for s in self.beat_seconds if s > moment), default=self.duration)
        return (before + after) // 2

    @property
    def load_start(self) -> int:
        """Heavy writes on the old primary before maintenance: the lag grows."""
        return self.beat_seconds[1] - self.scaled(0.6, 900)

    @property
    def burst(self) -> tuple[int, int]:
        """The new side's 5xx burst after the step to 50 %."""
        start = self.beat_seconds[BURST_BEAT] + 12 + self.scaled(0.15, 120)
        return start, start + self.scaled(0.4, 300)

    @property
    def auto_abort_second(self) -> int:
        return self.burst[0] + self.scaled(0.2, 60) + 5

    @property
    def unhealthy(self) -> tuple[int, int]:
        """One new target failing its health checks around the refused step."""
        beat = self.beat_seconds[UNHEALTHY_BEAT]
        return beat - self.scaled(0.3, 180), beat + self.scaled(0.4, 240)

    @property
    def stale(self) -> tuple[int, int]:
        """CloudWatch calls hang: one timeout reading, then nothing until they return."""
        start = self.beat_seconds[STALE_AFTER_BEAT] + self.scaled(0.3, 400)
        return start, start + self.scaled(0.45, 120, floor=40)

    @property
    def stale_middle(self) -> int:
        start, end = self.stale
        return (start + 5 + 20 + end) // 2

    def dns_switch_second(self, record_index: int) -> int:
        beat = DNS_SWITCH_BEATS[record_index % len(DNS_SWITCH_BEATS)]
        return self.beat_seconds[beat] + 30 + 10 * (record_index // len(DNS_SWITCH_BEATS))

    def stuck_seconds(self) -> int:
        return self.scaled(0.5, 900)


# --- the world: what each source would read ---------------------------------------------------


def _reading(
    signal_id: str,
    kind: SignalKind,
    status: Status,
    observed_at: datetime,
    detail: str,
    values: Mapping[str, Any],
) -> Reading:
    return Reading(
        signal_id=signal_id,
        kind=kind,
        status=status,
        observed_at=observed_at,
        values=values,
        detail=detail,
        stale_after_seconds=STALE_AFTER_SECONDS[kind],
    )


def lsn_text(position: int) -> str:
    """A WAL position as PostgreSQL prints it: 2A/3F00A1B8."""
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


@dataclass
class ReplicationSim:
    """The old primary's WAL and the replica replaying it, second by second."""

    rng: random.Random
    wal_position: int = 0x2A_0000_0000
    replayed_position: int = 0x2A_0000_0000
    in_flight_bytes: int = 0
    written_bytes: int = 0
    last_replay_at: datetime | None = None
    promoted: bool = False
    quiet: replication_postgres.WalQuietTracker = field(
        default_factory=replication_postgres.WalQuietTracker
    )
    history: replication_postgres.LagHistory = field(
        default_factory=replication_postgres.LagHistory
    )

    def advance(self, written_bytes: int, now: datetime) -> None:
        """One second of writes on the primary and replay on the replica."""
        self.written_bytes = written_bytes
        self.wal_position += written_bytes
        if self.promoted:
            return
        capacity = int(REPLAY_CAPACITY_BYTES_PER_SECOND * self.rng.uniform(0.9, 1.1))
        replayed = min(self.wal_position - self.replayed_position, capacity)
        if replayed > 0:
            self.last_replay_at = now
        self.replayed_position += replayed
        self.in_flight_bytes = int(written_bytes * self.rng.uniform(0.02, 0.2))

    @property
    def lag_bytes(self) -> int:
        return self.wal_position - self.replayed_position + self.in_flight_bytes

    def reading(self, now: datetime) -> Reading:
        """What the replication source reads now, through its own classification."""
        observation = self._observation(now)
        status, detail = replication_postgres.classify(observation)
        values = replication_postgres.reading_values(observation)
        return _reading("replication", SignalKind.REPLICATION, status, now, detail, values)

    def _observation(self, now: datetime) -> replication_postgres.Observation:
        primary = replication_postgres.PrimaryView(
            lsn_text(self.wal_position), () if self.promoted else (self._standby(),)
        )
        lag = None if self.promoted else self.lag_bytes
        if lag is None:
            self.history.clear()
        else:
            self.history.add(now, lag)
        return replication_postgres.Observation(
            primary=primary,
            replica=self._replica(now),
            primary_quiet_seconds=self.quiet.observe(primary.wal_lsn, now),
            catchup_bytes_per_second=None if lag is None else self.history.rate_bytes_per_second(),
        )

    def _standby(self) -> replication_postgres.StandbyRow:
        lag, writing = self.lag_bytes, self.written_bytes > 0
        replay_seconds = (
            None if not writing and lag == 0 else round(lag / max(self.written_bytes, 2e5), 3)
        )
        return replication_postgres.StandbyRow(
            application_name="shop-db-new",
            state="streaming",
            sync_state="async",
            write_lag_seconds=round(self.rng.uniform(0.0005, 0.002), 6) if writing else None,
            flush_lag_seconds=round(self.rng.uniform(0.001, 0.004), 6) if writing else None,
            replay_lag_seconds=replay_seconds,
            replay_lag_bytes=lag,
        )

    def _replica(self, now: datetime) -> replication_postgres.ReplicaView:
        since = None if self.last_replay_at is None else (now - self.last_replay_at).total_seconds()
        return replication_postgres.ReplicaView(
            in_recovery=not self.promoted,
            receive_lsn=lsn_text(self.wal_position - self.in_flight_bytes // 4),
            replay_lsn=lsn_text(self.wal_position - self.lag_bytes),
            replay_paused=None if self.promoted else False,
            seconds_since_last_replay=None if since is None else round(since + 0.2, 3),
            wal_receiver_name="shop-db-new",
        )


@dataclass
class SideTraffic:
    """One side's requests, 5xx and latency, per second, with a 60-second window over them."""

    side: str
    rng: random.Random
    seconds: deque[tuple[int, int, float]] = field(default_factory=lambda: deque(maxlen=60))
    seen_seconds: int = 0

    def advance(self, request_rate: float, error_probability: float, p95: float) -> None:
        requests = _poisson_like(self.rng, request_rate)
        errors = sum(1 for _ in range(requests) if self.rng.random() < error_probability)
        latency = p95 * math.exp(self.rng.gauss(0, 0.12)) if requests else 0.0
        self.seconds.append((requests, errors, latency))
        self.seen_seconds += 1

    def stats(self) -> tuple[errors_common.WindowStats, float, float]:
        """The window's stats, average and slowest response."""
        requests = sum(r for r, _, _ in self.seconds)
        errors = sum(e for _, e, _ in self.seconds)
        latencies = [lat for r, _, lat in self.seconds if r]
        p95 = errors_common.p95_nearest_rank(round(lat, 3) for lat in latencies)
        stats = errors_common.WindowStats.from_counts(requests, errors, p95)
        average = round(sum(latencies) / len(latencies) * 0.45, 6) if latencies else 0.0
        slowest = round(max(latencies) * self.rng.uniform(1.5, 3.0), 3) if latencies else 0.0
        return stats, average, slowest


def _poisson_like(rng: random.Random, rate: float) -> int:
    if rate <= 0:
        return 0
    if rate < 20:
        count, threshold, product = 0, math.exp(-rate), rng.random()
        while product > threshold:
            count += 1
            product *= rng.random()
        return count
    return max(0, round(rng.gauss(rate, math.sqrt(rate))))


THRESHOLDS = errors_common.Thresholds(MAX_ERROR_RATIO, MAX_P95_SECONDS)


def access_log_reading(side: SideTraffic, now: datetime) -> Reading:
    """errors:access_log:<side>, as the access-log source reads it."""
    stats, average, slowest = side.stats()
    extras: dict[str, Any] = {
        "avg_response_seconds": average,
        "max_response_seconds": slowest,
        "window_complete": side.seen_seconds >= WINDOW_SECONDS,
        "unparsed_lines": 0,
        "backlog_bytes": 0,
        "paths": [ACCESS_LOG_PATHS[side.side]],
    }
    return _errors_reading("access_log", side.side, stats, extras, now)


def cloudwatch_reading(
    side: str, stats: errors_common.WindowStats, average: float, slowest: float, now: datetime
) -> Reading:
    """errors:cloudwatch:<side>, as the CloudWatch source reads the ALB metrics."""
    extras: dict[str, Any] = {
        "avg_response_seconds": average if stats.requests else None,
        "max_response_seconds": slowest if stats.requests else None,
        "period_seconds": CLOUDWATCH_PERIOD_SECONDS,
        "p95_unavailable_reason": None,
    }
    return _errors_reading("cloudwatch", side, stats, extras, now)


def _errors_reading(
    backend: str,
    side: str,
    stats: errors_common.WindowStats,
    extras: dict[str, Any],
    now: datetime,
) -> Reading:
    status = errors_common.classify(stats, THRESHOLDS)
    detail = errors_common.describe(stats, THRESHOLDS, errors_common.window_text(WINDOW_SECONDS))
    values = errors_common.error_values(stats, THRESHOLDS, WINDOW_SECONDS, extras)
    return _reading(f"errors:{backend}:{side}", SignalKind.ERRORS, status, now, detail, values)


def failure_reading(signal_id: str, kind: SignalKind, reason: str, now: datetime) -> Reading:
    """What the poller makes of a source that failed: UNKNOWN, and why."""
    return _reading(signal_id, kind, Status.UNKNOWN, now, reason, {"error": reason})


@dataclass
class ResolverCache:
    """One resolver's cached answer for one record and when it expires."""

    answer: str
    expires_at: int
    stuck_until: int = -1


@dataclass
class DnsSim:
    """One record: the authoritative answer, and every resolver's cache counting down."""

    index: int
    name: str
    switch_at: int
    stuck_for: int
    caches: list[ResolverCache]

    @classmethod
    def create(
        cls,
        index: int,
        name: str,
        resolvers: int,
        switch_at: int,
        stuck_for: int,
        rng: random.Random,
    ) -> DnsSim:
        caches = [
            ResolverCache("old", rng.randint(1, RECORD_TTL_SECONDS)) for _ in range(resolvers)
        ]
        return cls(index, name, switch_at, stuck_for, caches)

    def authoritative_answer(self, second: int) -> str:
        return "new" if second >= self.switch_at else "old"

    def advance(self, second: int) -> None:
        """Resolvers whose TTL ran out ask again; the first one is stuck on old for a while."""
        answer = self.authoritative_answer(second)
        for number, cache in enumerate(self.caches):
            if second < cache.expires_at:
                continue
            stuck = number == 0 and self.index == 0 and second < self.switch_at + self.stuck_for
            cache.answer = "old" if stuck else answer
            cache.expires_at = second + RECORD_TTL_SECONDS

    def reading(self, config: Config, second: int, now: datetime) -> Reading:
        """dns:<name>, built with the DNS source's own classification and wording."""
        assert config.dns is not None
        section = config.dns
        record = section.records[self.index]
        addresses = {"new": record.expect, "old": record.old}
        resolvers = tuple(
            dns_source.ServerAnswer(
                label=resolver.label,
                address=f"{resolver.address}:53",
                role="resolver",
                answers=addresses[cache.answer],
                ttl_seconds=max(0, cache.expires_at - second),
                matches="new" if cache.answer == "new" else "old",
                error=None,
            )
            for resolver, cache in zip(section.resolvers, self.caches, strict=True)
        )
        authoritative_answer = self.authoritative_answer(second)
        authoritative = tuple(
            dns_source.ServerAnswer(
                label=server.label,
                address=f"{server.address}:53",
                role="authoritative",
                answers=addresses[authoritative_answer],
                ttl_seconds=RECORD_TTL_SECONDS,
                matches="new" if authoritative_answer == "new" else "old",
                error=None,
            )
            for server in section.authoritative
        )
        view = dns_source.RecordView(record, resolvers, authoritative, section.max_ttl_seconds, now)
        return _reading(
            dns_source.signal_id_for(record),
            SignalKind.DNS,
            dns_source.record_status(view),
            now,
            dns_source.record_detail(view),
            dns_source.record_values(view),
        )


def target_group_reading(side: str, unhealthy: bool, now: datetime) -> Reading:
    """targets:tg-<side>: an ELBv2 target group's health."""
    health = [targets.TargetHealth(target, "healthy") for target in TARGET_GROUP_TARGETS[side]]
    if unhealthy:
        health[1] = targets.TargetHealth(
            health[1].target_id,
            "unhealthy",
            "Target.FailedHealthChecks",
            "Health checks failed with these codes: [502]",
        )
    verdict = targets.classify_target_group(health)
    values = targets.health_values(health, side)
    return _reading(
        f"targets:tg-{side}", SignalKind.TARGETS, verdict.status, now, verdict.detail, values
    )


def http_check_reading(side: str, rng: random.Random, now: datetime) -> Reading:
    """targets:app-<side>: an HTTP health endpoint's answer and latency."""
    latency = rng.uniform(0.012, 0.045)
    answer = targets.HttpAnswer(200, None, b"ok", latency)
    verdict, health = targets.classify_http_answer(answer, 200, HEALTH_URLS[side])
    values = {
        **targets.health_values([health], side),
        "status_code": 200,
        "latency_seconds": latency,
    }
    return _reading(
        f"targets:app-{side}", SignalKind.TARGETS, verdict.status, now, verdict.detail, values
    )


def traffic_reading(weights: RawWeights, now: datetime) -> Reading:
    """traffic: the Route 53 weights read back, against the step plan."""
    read_back = traffic.WeightsReadBack("route53", weights.old, weights.new, ttl_seconds=60)
    verdict = traffic.classify_traffic(read_back, STEPS)
    return _reading(
        "traffic", SignalKind.TRAFFIC, verdict.status, now, verdict.detail, verdict.values
    )


def maintenance_reading(on: bool, now: datetime) -> Reading:
    """maintenance: whether the front door answers with the maintenance page."""
    status_code = 503 if on else 200
    detail = f"{'ON' if on else 'off'}: front door answers {status_code}"
    values = {"on": on, "probe_status": status_code, "rule_present": on, "backend": "alb"}
    return _reading("maintenance", SignalKind.MAINTENANCE, Status.OK, now, detail, values)


@dataclass
class World:
    """Everything the sources would read, moved on one second at a time."""

    config: Config
    story: Story
    rng: random.Random
    maintenance_on: bool = False
    weights: RawWeights = field(default_factory=lambda: RawWeights(100, 0))
    replication: ReplicationSim = field(init=False)
    sides: dict[str, SideTraffic] = field(init=False)
    dns: list[DnsSim] = field(init=False)
    cloudwatch: dict[str, Reading] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.replication = ReplicationSim(self.rng)
        self.sides = {side: SideTraffic(side, self.rng) for side in ("old", "new")}
        assert self.config.dns is not None
        names = [record.name.rstrip(".") for record in self.config.dns.records]
        resolvers = len(self.config.dns.resolvers)
        self.dns = [
            DnsSim.create(
                k,
                name,
                resolvers,
                self.story.dns_switch_second(k),
                self.story.stuck_seconds(),
                self.rng,
            )
            for k, name in enumerate(names)
        ]

    def poll(self, second: int, now: datetime) -> list[Reading]:
        """One second: the world moves on, then every source that answers gives its reading."""
        self._advance(second, now)
        return [
            self.replication.reading(self._observed(now)),
            *(record.reading(self.config, second, self._observed(now)) for record in self.dns),
            *(access_log_reading(self.sides[s], self._observed(now)) for s in ("old", "new")),
            *self._cloudwatch(second, now),
            target_group_reading("old", False, self._observed(now)),
            target_group_reading("new", _within(second, self.story.unhealthy), self._observed(now)),
            http_check_reading("old", self.rng, self._observed(now)),
            http_check_reading("new", self.rng, self._observed(now)),
            traffic_reading(self.weights, self._observed(now)),
            maintenance_reading(self.maintenance_on, self._observed(now)),
        ]

    def _observed(self, now: datetime) -> datetime:
        """When a source's answer arrived: a little before the second's tick."""
        return now - timedelta(milliseconds=self.rng.randint(5, 400))

    def _advance(self, second: int, now: datetime) -> None:
        self.replication.advance(self._written_bytes(second), now)
        total_rate = 42.0 * (1 + 0.2 * math.sin(2 * math.pi * second / 7200))
        share_new = self.weights.new / max(1, self.weights.old + self.weights.new)
        open_rate = 0.0 if self.maintenance_on else total_rate
        burst = _within(second, self.story.burst)
        self.sides["old"].advance(open_rate * (1 - share_new), 0.0008, 0.18)
        self.sides["new"].advance(
            open_rate * share_new, 0.12 if burst else 0.0015, 1.3 if burst else 0.11
        )
        for record in self.dns:
            record.advance(second)

    def _written_bytes(self, second: int) -> int:
        """Writes on the old primary: steady, heavy before maintenance, none once it is on."""
        if self.maintenance_on or self.replication.promoted:
            return 0
        if second >= self.story.load_start:
            return int(7_500_000 * self.rng.uniform(0.9, 1.1))
        wave = 1 + 0.25 * math.sin(2 * math.pi * second / 2400)
        return int(1_200_000 * wave * math.exp(self.rng.gauss(0, 0.3)))

    def _cloudwatch(self, second: int, now: datetime) -> list[Reading]:
        """ALB metrics land once a period; while the API hangs only one timeout reading comes."""
        hang_start, hang_end = self.story.stale
        if hang_start <= second < hang_end:
            if second != hang_start + 5:
                return []
            reason = "timeout after 5 s"
            return [
                failure_reading(f"errors:cloudwatch:{side}", SignalKind.ERRORS, reason, now)
                for side in ("new", "old")
            ]
        if second % CLOUDWATCH_PERIOD_SECONDS == 1 or not self.cloudwatch or second == hang_end:
            for side, sim in self.sides.items():
                stats, average, slowest = sim.stats()
                self.cloudwatch[side] = cloudwatch_reading(side, stats, average, slowest, now)
        return [self._fresh(reading, now) for reading in self.cloudwatch.values()]

    def _fresh(self, reading: Reading, now: datetime) -> Reading:
        """The same period's numbers, read again now."""
        return _reading(
            reading.signal_id,
            reading.kind,
            reading.status,
            self._observed(now),
            reading.detail,
            dict(reading.values),
        )


def _within(second: int, span: tuple[int, int]) -> bool:
    return span[0] <= second < span[1]


# --- the night: journal, guards, actions, notes, screens -------------------------------------

Event = Callable[[], None]


@dataclass(frozen=True)
class Run:
    """One pressed action on its way through its phases."""

    action_id: ActionId
    run_id: str
    actor: str
    plan: Plan | None = None


class Night:
    """Writes the whole session, second by second, the way the app and runner journal it."""

    def __init__(
        self,
        config: Config,
        story: Story,
        writer: JournalWriter,
        clock: FrozenClock,
        rng: random.Random,
    ) -> None:
        self.config = config
        self.story = story
        self.writer = writer
        self.clock = clock
        self.rng = rng
        self.world = World(config, story, rng)
        self.state = State()
        self.recorder = Recorder(keyframe_seconds=config.journal.keyframe_seconds)
        self.events: dict[int, list[Event]] = {}
        self.verdicts: dict[ActionId, tuple[str, ...]] = {}
        self.recent: deque[str] = deque(maxlen=5)
        self.facts = SessionFacts(weights_since=START)
        self.baseline_written = False
        self.run_numbers = iter(range(1, 1_000_000))
        self.lifecycles = 0
        self.notes = 0
        self._schedule_story()

    def run(self, snapshot_seconds: set[int]) -> list[Snapshot]:
        """Every second of the session; the state is kept at the chosen seconds."""
        snapshots = []
        for second in range(1, self.story.duration + 1):
            now = self.clock.advance(1)
            self._poll(second, now)
            self._note_guards()
            for event in self.events.pop(second, []):
                event()
            if second in snapshot_seconds:
                snapshots.append(Snapshot(now, self.state))
        return snapshots

    def _poll(self, second: int, now: datetime) -> None:
        readings = self.world.poll(second, now)
        self.state, changes = apply(self.state, readings)
        for entry in self.recorder.readings(readings, now):
            self.writer.append(entry.kind, entry.data)
        for change in changes:
            self._status(change)
        for entry in self.recorder.tick(self.state, now):
            self.writer.append(entry.kind, entry.data)

    def _status(self, change: StatusChange) -> None:
        self.recent.append(
            f"{change.signal_id} {change.after.value.upper()}: {change.reading.detail}"
        )
        entry = status_entry(change)
        self.writer.append(entry.kind, entry.data)

    # --- guards ---------------------------------------------------------------------------------

    def guards(self, action_id: ActionId) -> tuple[GuardResult, ...]:
        inputs = GuardInputs(self.state, self.config, self.clock(), self.facts, KEY_LABELS)
        return evaluate_guards(action(action_id), inputs)

    def _note_guards(self) -> None:
        """A guard that starts or stops blocking is journaled, as the app does at each refresh."""
        for action_id in ActionId:
            guards = self.guards(action_id)
            blocked = blocking(guards)
            blocked_ids = tuple(guard.guard_id for guard in blocked)
            if self.verdicts.get(action_id) == blocked_ids:
                continue
            self.verdicts[action_id] = blocked_ids
            reasons = [str(guard.reason) for guard in blocked]
            self.writer.append(
                "guard",
                {
                    "action": action_id.value,
                    "title": action(action_id).title,
                    "ready": not reasons,
                    "blocked": list(blocked_ids),
                    "reasons": list(reasons),
                    "guards": [guard.to_json() for guard in guards],
                },
            )

    # --- scheduling -----------------------------------------------------------------------------

    def at(self, second: int, event: Event) -> None:
        self.events.setdefault(second, []).append(event)

    def _schedule_story(self) -> None:
        for beat, second in zip(BEATS, self.story.beat_seconds, strict=True):
            how, _, action_name = beat.partition(":")
            self.at(second, _bound(self.press, ActionId(action_name), how, second))
        self.at(self.story.auto_abort_second, self.auto_abort)
        for record in self.world.dns:
            self.at(
                record.switch_at, _bound(self.note, f"DNS switched for {record.name}", OPERATOR)
            )
        count = max(3, round(NOTES_PER_8_HOURS * self.story.duration / (8 * 3600)))
        for index in range(count):
            text = NOTES[index * len(NOTES) // count]
            second = round((index + 0.5) * self.story.duration / count) + self.rng.randint(-30, 30)
            author = WATCHER if index % 4 == 3 else OPERATOR
            self.at(max(1, min(self.story.duration - 1, second)), _bound(self.note, text, author))

    # --- journal records ------------------------------------------------------------------------

    def note(self, text: str, operator: str) -> None:
        self.notes += 1
        self.writer.append("note", {"text": text, "operator": operator}, sync=False)

    def record(self, run: Run, phase: str, data: dict[str, JsonValue]) -> None:
        """An action record as the runner writes it."""
        record: dict[str, JsonValue] = {
            "action": run.action_id.value,
            "run": run.run_id,
            "phase": phase,
            "actor": run.actor,
            "mode": "live",
            **data,
        }
        self.writer.append("action", record)

    def screen(self, run: Run, phase: str, headline: str) -> None:
        """The screen as plain text when the operator decided, and when the result showed."""
        self.writer.append(
            "screen",
            {
                "reason": "action",
                "action": run.action_id.value,
                "run": run.run_id,
                "phase": phase,
                "source": "cockpit",
                "width": SCREEN_WIDTH,
                "height": SCREEN_HEIGHT,
                "text": screen_text(self.state, self.clock(), headline, tuple(self.recent)),
            },
        )

    # --- actions --------------------------------------------------------------------------------

    def new_run(self, action_id: ActionId, actor: str = OPERATOR) -> Run:
        run_id = f"{PID}-{int(self.clock().timestamp())}-{next(self.run_numbers)}"
        return Run(action_id, run_id, actor)

    def press(self, action_id: ActionId, how: str, second: int) -> None:
        """The operator presses the key: refused, cancelled, or run to its end."""
        guards = self.guards(action_id)
        run = self.new_run(action_id)
        self.lifecycles += 1
        if how == "refuse" and blocking(guards):
            self.record(run, "refused", {"guards": _guards_json(guards)})
            self.recent.append(f"{action_id.value}: REFUSED")
            return
        run = Run(action_id, run.run_id, run.actor, self.plan(action_id))
        self.record(run, "planned", _planned(run, guards))
        self.screen(run, "planned", f"CONFIRM? {_summary(run)}")
        if how in ("refuse", "cancel"):
            self.at(second + 6, _bound(self.cancel, run))
            return
        self.at(second + 8, _bound(self.confirm, run, guards))
        self.at(second + 9, _bound(self.start, run, how == "fail"))

    def plan(self, action_id: ActionId) -> Plan:
        """The plan the action's own planner would show, for the world as it is now."""
        if action_id in (ActionId.WEIGHT_UP, ActionId.WEIGHT_DOWN):
            return self._weights_plan(action_id, self._next_weights(action_id))
        if action_id is ActionId.PROMOTE:
            return _promotion_plan()
        if action_id is ActionId.ROLLBACK:
            return _rollback_plan(self.world.weights)
        return _maintenance_plan(action_id is ActionId.MAINTENANCE_ON, self.world.maintenance_on)

    def _next_weights(self, action_id: ActionId) -> RawWeights:
        _, new_percent = traffic.split_percent(self.world.weights.old, self.world.weights.new)
        position = traffic.step_position(STEPS, new_percent)
        up = action_id is ActionId.WEIGHT_UP
        following = position.next_percent if up else position.previous_percent
        return weights_for_percent(100 if following is None else following)

    def _weights_plan(self, action_id: ActionId, after: RawWeights) -> Plan:
        assert self.config.traffic is not None
        before = self.world.weights
        target = describe_weights_target(self.config.traffic)
        return Plan(
            action_id=action_id,
            summary=f"Shift {target} from {weights_text(before)} to {weights_text(after)}",
            changes=(Change(target, weights_text(before), weights_text(after)),),
            calls=planned_weight_calls(self.config.traffic, before, after),
            target={"before": weights_json(before), "after": weights_json(after)},
        )

    def cancel(self, run: Run) -> None:
        why = "cancelled at the confirm screen"
        self.record(run, "cancelled", {"why": why})
        self.complete(run, "cancelled", why, None)

    def confirm(self, run: Run, guards: tuple[GuardResult, ...]) -> None:
        blocked = blocking(guards)
        if blocked:
            reason = "checked by hand with the app team: safe to go on"
            self.record(run, "override", {"reason": reason, "guards": _guards_json(blocked)})
        typed = run.plan is not None and run.plan.confirm_word is not None
        self.record(run, "confirmed", {"typed_name": typed})

    def start(self, run: Run, fails: bool) -> None:
        self.record(run, "rechecked", {"guards": _guards_json(self.guards(run.action_id))})
        if not self.baseline_written:
            self.baseline_written = True
            baseline: dict[str, JsonValue] = {
                "weights": weights_json(self.world.weights),
                "maintenance_on": self.world.maintenance_on,
            }
            self.writer.append("baseline", baseline)
        self.record(run, "started", {})
        if fails:
            self.at(_second_of(self.clock()) + 2, _bound(self.fail, run))
            return
        self.at(_second_of(self.clock()) + 1, _bound(self.execute, run))

    def execute(self, run: Run) -> None:
        """The change lands in the world; the read-back shows it two seconds later."""
        evidence = self._apply(run)
        self.record(run, "executed", Execution(evidence).to_json())
        self.at(_second_of(self.clock()) + 2, _bound(self.verify, run))

    def _apply(self, run: Run) -> tuple[str, ...]:
        request_id = f"{self.rng.getrandbits(128):032x}"
        if run.action_id is ActionId.MAINTENANCE_ON or run.action_id is ActionId.MAINTENANCE_OFF:
            self.world.maintenance_on = run.action_id is ActionId.MAINTENANCE_ON
            self.facts = _with(self.facts, maintenance_on_by_session=self.world.maintenance_on)
            return (f"elbv2 CreateRule/DeleteRule priority 1: request id {request_id}",)
        if run.action_id is ActionId.PROMOTE:
            self.world.replication.promoted = True
            self.facts = _with(self.facts, promoted_this_session=True)
            return ("SELECT pg_promote(wait => true, wait_seconds => 60) -> true",)
        assert run.plan is not None
        after = run.plan.target["after"]
        assert isinstance(after, dict)
        self.world.weights = RawWeights(int(str(after["old"])), int(str(after["new"])))
        self.facts = _with(self.facts, weights_since=self.clock())
        return (f"route53 ChangeResourceRecordSets: change id /change/C{request_id[:12].upper()}",)

    def verify(self, run: Run) -> None:
        verification, inverse = self._read_back(run)
        self.record(run, "verified", verification.to_json())
        message = f"{action(run.action_id).title}: done: {verification.detail}"
        undoable = inverse is not None and inverse.undoable
        self.facts = _with(self.facts, undoable_changes=self.facts.undoable_changes + undoable)
        self.complete(run, "succeeded", message, inverse.to_json() if inverse else None)

    def _read_back(self, run: Run) -> tuple[Verification, Inverse | None]:
        action_id = run.action_id
        if action_id in (ActionId.MAINTENANCE_ON, ActionId.MAINTENANCE_OFF):
            on = self.world.maintenance_on
            words = "on" if on else "off"
            observed: dict[str, JsonValue] = {"on": on, "probe_status": 503 if on else 200}
            inverse = Inverse(
                ActionId.MAINTENANCE_OFF if on else ActionId.MAINTENANCE_ON,
                f"turn maintenance {'off' if on else 'on'}",
                {"on": not on},
            )
            detail = f"maintenance {words}: front door answers {observed['probe_status']}"
            return Verification(True, detail, observed), inverse
        if action_id is ActionId.PROMOTE:
            inverse = Inverse(
                ActionId.PROMOTE,
                "promotion of shop-db-new cannot be undone: "
                "the old primary may have diverged since",
                {"name": "shop-db-new"},
                undoable=False,
            )
            detail = "the replica left recovery: it is a writable primary"
            return Verification(True, detail, {"in_recovery": False}), inverse
        weights = self.world.weights
        detail = f"weights read back {weights_text(weights)}"
        return Verification(True, detail, weights_json(weights)), _weights_inverse(run)

    def fail(self, run: Run) -> None:
        error = (
            "Route 53 refused the change: Throttling: Rate exceeded (ChangeResourceRecordSets); "
            "wait a few seconds and press again"
        )
        self.record(run, "failed", {"error": error})
        now = [
            f"{r.signal_id} {r.status_at(self.clock()).value.upper()}: {r.detail}"
            for r in sorted(self.state.readings(), key=lambda r: r.signal_id)
            if r.kind in (SignalKind.TRAFFIC, SignalKind.ERRORS, SignalKind.TARGETS)
        ]
        self.record(run, "reread", {"now": list(now)})
        message = f"{action(run.action_id).title} FAILED: {error}. Now: " + "; ".join(now)
        self.complete(run, "failed", message, _weights_inverse(run).to_json())

    def complete(
        self, run: Run, outcome: str, message: str, inverse: dict[str, JsonValue] | None
    ) -> None:
        self.record(run, "completed", {"outcome": outcome, "message": message, "inverse": inverse})
        self.recent.append(f"{run.action_id.value}: {outcome.upper()}")
        self.screen(run, "completed", message)

    def auto_abort(self) -> None:
        """The new side stayed over its 5xx limit after the step: weights go back by themselves."""
        self.lifecycles += 1
        after = self._next_weights(ActionId.WEIGHT_DOWN)
        run = self.new_run(ActionId.WEIGHT_DOWN, actor="auto-abort")
        plan = self._weights_plan(ActionId.WEIGHT_DOWN, after)
        reason = "new-side 5xx over 5 % for 60 s after the last step"
        plan = Plan(
            plan.action_id,
            f"AUTO-ABORT ({reason}): {plan.summary}",
            plan.changes,
            plan.calls,
            plan.target,
        )
        run = Run(run.action_id, run.run_id, run.actor, plan)
        new_errors = self.state.latest("errors:access_log:new")
        ratio = new_errors.number("error_ratio") if new_errors else None
        data = _planned(run, ()) | {"auto_abort": {"reason": reason, "error_ratio": ratio}}
        self.record(run, "planned", data)
        self.screen(run, "planned", plan.summary)
        self.record(run, "started", {})
        self.at(_second_of(self.clock()) + 1, _bound(self.execute, run))


def _bound(function: Callable[..., None], *args: object) -> Event:
    return lambda: function(*args)


def _second_of(moment: datetime) -> int:
    return round((moment - START).total_seconds())


def _with(facts: SessionFacts, **changes: Any) -> SessionFacts:
    return replace(facts, **changes)


def _guards_json(guards: tuple[GuardResult, ...]) -> list[JsonValue]:
    return [guard.to_json() for guard in guards]


def _planned(run: Run, guards: tuple[GuardResult, ...]) -> dict[str, JsonValue]:
    assert run.plan is not None
    return {"plan": run.plan.to_json(), "guards": _guards_json(guards)}


def _summary(run: Run) -> str:
    return run.plan.summary if run.plan else run.action_id.value


def _weights_inverse(run: Run) -> Inverse:
    """How a weight step is undone: the weights before it, as the runner records it."""
    assert run.plan is not None
    before = run.plan.target["before"]
    return Inverse(
        ActionId.WEIGHT_DOWN,
        f"set weights back to {_weights_words(before)}",
        {"before": run.plan.target["after"], "after": before},
    )


def _weights_words(weights: JsonValue) -> str:
    assert isinstance(weights, dict)
    return weights_text(RawWeights(int(str(weights["old"])), int(str(weights["new"]))))


def _maintenance_plan(turn_on: bool, now_on: bool) -> Plan:
    target = "ALB listener app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2, rule priority 1 (503)"
    after, before = ("on" if turn_on else "off"), ("on" if now_on else "off")
    call = "elbv2 CreateRule (fixed-response 503)" if turn_on else "elbv2 DeleteRule (priority 1)"
    return Plan(
        action_id=ActionId.MAINTENANCE_ON if turn_on else ActionId.MAINTENANCE_OFF,
        summary=f"Turn maintenance {after}: {target}",
        changes=(Change(f"maintenance ({target})", before, after),),
        calls=(f"{call} on listener app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2",),
        target={"on": turn_on},
        notes=(f"now: front door answers {503 if now_on else 200}",),
    )


def _promotion_plan() -> Plan:
    target = "PostgreSQL replica shop-db-new (host=10.20.0.9 port=5432 dbname=shop)"
    return Plan(
        action_id=ActionId.PROMOTE,
        summary=f"Promote {target} to primary — ONE-WAY DOOR",
        changes=(Change(target, "read replica (in recovery)", "writable primary"),),
        calls=("SELECT pg_promote(wait => true, wait_seconds => 60) on the replica",),
        target={"name": "shop-db-new"},
        one_way=True,
        confirm_word="shop-db-new",
        notes=(
            "cannot be undone: once promoted, the replica never follows the old primary again",
            "the old primary stays writable: keep maintenance on so nothing writes there",
        ),
    )


def _rollback_plan(weights: RawWeights) -> Plan:
    back = RawWeights(100, 0)
    return Plan(
        action_id=ActionId.ROLLBACK,
        summary=f"Roll back: weights {weights_text(weights)} → {weights_text(back)}",
        changes=(Change("traffic weights", weights_text(weights), weights_text(back)),),
        calls=("route53 ChangeResourceRecordSets: 2 UPSERTs back to the baseline",),
        target={"weights": weights_json(back)},
        notes=("promotion of shop-db-new cannot be undone",),
    )


# --- the screen as text -----------------------------------------------------------------------


def screen_text(state: State, now: datetime, headline: str, recent: tuple[str, ...]) -> str:
    """An 80x24 plain-text screen: header, one line per signal, the action and recent events."""
    lines = [f" cutover-cockpit  {CUTOVER_NAME}  LIVE  {OPERATOR}  {now:%H:%M:%S}Z"]
    for reading in sorted(state.readings(), key=lambda r: r.signal_id):
        status = reading.status_at(now).value.upper()
        lines.append(f" {reading.signal_id[:24]:<24} {status:<8} {reading.detail}")
    lines.append(" " + "─" * (SCREEN_WIDTH - 2))
    lines.append(f" {headline}")
    lines.extend(f" · {event}" for event in recent)
    lines = lines[: SCREEN_HEIGHT - 1]
    lines += [""] * (SCREEN_HEIGHT - 1 - len(lines))
    lines.append(" m maint-on  M maint-off  P promote  + up  - down  R rollback  n note  q quit")
    return "\n".join(line[:SCREEN_WIDTH].ljust(SCREEN_WIDTH) for line in lines)
