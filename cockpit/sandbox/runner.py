"""The sandbox as one process: every stand-in started, wired together, controlled and stopped."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from cockpit.jsonvalue import JsonValue
from cockpit.sandbox.aws import (
    ASSET_PREFIX,
    DUMMY_ACCESS_KEY_ID,
    DUMMY_SECRET_ACCESS_KEY,
    AwsSeed,
    AwsStandIn,
    MetricsPublisher,
    alb_maintenance,
    alb_weights,
    http_health_probe,
    install_target_health,
    route53_record_source,
    route53_weights,
    seed,
)
from cockpit.sandbox.baseline import restore_seed_state, set_weights
from cockpit.sandbox.dns import AuthoritativeServer, CachingResolver, UnboundResolver
from cockpit.sandbox.files import write_json_atomically, write_sandbox_files
from cockpit.sandbox.http import AppServer, FrontDoor
from cockpit.sandbox.knot import HandZone, KnotServer, ZoneSide, free_knot_port
from cockpit.sandbox.logical import LogicalPair
from cockpit.sandbox.nginx import TIMED_LOG_FORMAT, NginxServer, NginxSite, make_certificate
from cockpit.sandbox.pg_server import DATA_ROOT_PREFIX, ClusterGroup, RoleDsns, ServerName
from cockpit.sandbox.postgres import REPLICA_SLOT, PostgresPair
from cockpit.sandbox.shared import SIDES, SandboxError, Side, TrafficStats, free_port
from cockpit.sandbox.traffic import TrafficGenerator

ZONE = "cutover.test."
RECORD = "app.cutover.test."
SIDE_HOSTS: dict[Side, str] = {"old": "127.0.10.1", "new": "127.0.20.1"}
HAND_ZONE = "shop.test."
HAND_ZONE_ADDRESSES6: dict[ZoneSide, str] = {"old": "2001:db8:10::1", "new": "2001:db8:20::1"}
AUTHORITATIVE_HOST = "127.0.0.1"
PASSWORD_ENV = "COCKPIT_SANDBOX_PGPASSWORD"


@dataclass(frozen=True)
class SandboxOptions:
    """How big and how busy the sandbox is."""

    dns_ttl_seconds: int = 30
    caching_resolvers: int = 3
    use_unbound: bool = True
    use_knot: bool = True
    watch_hand_zone: bool = False
    traffic_rate_per_second: float = 20.0
    metrics_interval_seconds: float = 5.0
    traffic_backend: Literal["route53", "alb"] = "route53"
    logical_pair: bool = True


Stopper = Callable[[], None]
SCRATCH_PREFIX = "cockpit-scratch-"


class Sandbox:
    """Every stand-in of the cutover infrastructure, in this process (postgres as children)."""

    def __init__(self, directory: Path, options: SandboxOptions | None = None) -> None:
        self.directory = directory.resolve()
        self.options = options or SandboxOptions()
        self._stoppers: list[tuple[str, Stopper]] = []
        self._lock = threading.RLock()
        self._timers: list[threading.Timer] = []
        self._stopped = threading.Event()
        self.password = secrets.token_urlsafe(18)
        self.stats = TrafficStats()
        self.apps: dict[Side, AppServer] = {}
        self.nginx: NginxServer | None = None
        self.nginx_missing: str | None = None
        self.resolvers: list[CachingResolver | UnboundResolver] = []
        self.postgres: PostgresPair | None = None
        self.logical: LogicalPair | None = None
        self.aws: AwsStandIn | None = None
        self.aws_seed: AwsSeed | None = None
        self.authoritative: AuthoritativeServer | None = None
        self.knot: KnotServer | None = None
        self.front_door: FrontDoor | None = None
        self.traffic: TrafficGenerator | None = None
        self.info: dict[str, JsonValue] = {}
        self.scratch_folders: list[Path] = []

    # --- start and stop ------------------------------------------------------------------------

    def start(self) -> dict[str, JsonValue]:
        """Brings everything up and writes cockpit.toml and sandbox.json; unwinds on failure."""
        started_at = time.monotonic()
        (self.directory / "logs").mkdir(parents=True, exist_ok=True)
        try:
            self._start_in_parallel_with_postgres()
            self._start_traffic()
        except BaseException:
            self.stop()
            raise
        self.info = self._describe(time.monotonic() - started_at)
        write_sandbox_files(self.directory, self.info)
        self.write_pids()
        return self.info

    def stop(self) -> None:
        """Stops every part started, newest first; safe to call twice and from a signal."""
        with self._lock:
            self._stopped.set()
            for timer in self._timers:
                timer.cancel()
            while self._stoppers:
                name, stopper = self._stoppers.pop()
                try:
                    stopper()
                except Exception as error:
                    print(f"sandbox: stopping {name} failed: {error}", flush=True)

    def _started(self, name: str, stopper: Stopper) -> None:
        self._stoppers.append((name, stopper))

    def _scratch_folder(self, server: str) -> Path:
        """A short private folder for one server, removed on stop and listed for `down`.

        Short because unix socket paths are limited to 107 characters; listed so that a runner
        killed outright does not leave it behind.
        """
        folder = Path(tempfile.mkdtemp(prefix=f"{SCRATCH_PREFIX}{server}-"))
        self.scratch_folders.append(folder)
        self._started(f"{server} folder", lambda: shutil.rmtree(folder, ignore_errors=True))
        return folder

    def _start_in_parallel_with_postgres(self) -> None:
        """PostgreSQL takes the longest to start, so the rest comes up meanwhile."""
        pool = ThreadPoolExecutor(max_workers=2)
        postgres_future = pool.submit(self._start_postgres)
        logical_future = pool.submit(self._start_logical) if self.options.logical_pair else None
        try:
            self._start_aws_and_http()
            self._start_dns()
        finally:
            pool.shutdown(wait=True)
            self._await_postgres(postgres_future, logical_future)

    def _start_postgres(self) -> PostgresPair:
        return PostgresPair.create(self.directory / "postgres", password=self.password)

    def _start_logical(self) -> LogicalPair:
        return LogicalPair.create(self.directory / "logical", password=self.password)

    def _await_postgres(
        self, streaming: Future[PostgresPair], logical: Future[LogicalPair] | None
    ) -> None:
        """Waits for the pairs started in parallel, keeping each that started to stop later
        (a failed start cleans up after itself)."""
        try:
            if logical is not None:
                logical_pair = self.logical = logical.result()
                self._started("logical replication", lambda: _stop_postgres(logical_pair))
        finally:
            pair = self.postgres = streaming.result()
            self._started("postgres", lambda: _stop_postgres(pair))

    def _start_aws_and_http(self) -> None:
        behind_nginx = NginxServer.available()
        for side in SIDES:
            host = SIDE_HOSTS[side]
            log_name = f"{side}-app-access.log" if behind_nginx else f"{side}-access.log"
            # Port 0: the server binds and keeps the port the system gives it, so no other
            # process can take it between choosing and binding.
            app = AppServer(side, host, 0, self.directory / "logs" / log_name)
            app.start()
            self._started(f"{side} app", app.stop)
            self.apps[side] = app
        if behind_nginx:
            self._start_nginx()
        else:
            self.nginx_missing = "nginx is not installed: the apps write their own access logs"
            print(f"sandbox: {self.nginx_missing}", flush=True)
        self.aws = AwsStandIn(region="us-east-1")
        self.aws.start()
        self._started("aws", self.aws.stop)
        install_target_health(http_health_probe())
        self.aws_seed = seed(
            self.aws,
            targets={side: (SIDE_HOSTS[side], _port_of(self.apps[side].url)) for side in SIDES},
            answers={side: (SIDE_HOSTS[side],) for side in SIDES},
            ttl=self.options.dns_ttl_seconds,
            zone_name=ZONE,
            record_name=RECORD,
        )

    def _start_nginx(self) -> None:
        """nginx in front of both apps: old logs stock combined, new adds times and TLS."""
        folder = self.directory / "nginx"
        hostname = RECORD.rstrip(".")
        certificate = make_certificate(folder / "tls", hostname)
        # The front door passes on its clients' Host (its own address), and tests reach each
        # side by its address: those names are served too; any other Host gets the 404.
        names = (hostname, AUTHORITATIVE_HOST, *SIDE_HOSTS.values())

        def start() -> NginxServer:
            nginx = NginxServer(folder, names, self._nginx_sites(), certificate)
            nginx.start()
            return nginx

        self.nginx = started_on_free_ports(start)
        self._started("nginx", self.nginx.stop)

    def _nginx_sites(self) -> list[NginxSite]:
        """One site per side on freshly chosen ports, proxying to that side's app."""
        return [
            NginxSite(
                side,
                SIDE_HOSTS[side],
                free_port(SIDE_HOSTS[side]),
                (SIDE_HOSTS[side], _port_of(self.apps[side].url)),
                self.directory / "logs" / f"{side}-access.log",
                TIMED_LOG_FORMAT if side == "new" else None,
                free_port(SIDE_HOSTS[side]) if side == "new" else None,
            )
            for side in SIDES
        ]

    def http_urls(self) -> dict[Side, str]:
        """Where each side is reached: through nginx when it runs, else the app itself."""
        if self.nginx is None:
            return {side: app.url for side, app in self.apps.items()}
        return {site.side: site.url for site in self.nginx.sites}

    def _start_dns(self) -> None:
        aws, aws_seed = self._aws()
        records = route53_record_source(aws, aws_seed.hosted_zone_id)
        port = free_port(AUTHORITATIVE_HOST, _UDP)
        self.authoritative = AuthoritativeServer(AUTHORITATIVE_HOST, port, ZONE, records)
        self.authoritative.start()
        self._started("authoritative dns", self.authoritative.stop)
        upstream = (AUTHORITATIVE_HOST, port)
        more_zones = self._start_knot()
        for index in range(self.options.caching_resolvers):
            host = f"127.0.0.{index + 2}"
            resolver = CachingResolver(
                host,
                free_port(host, _UDP),
                upstream,
                name=f"cache-{index + 1}",
                zone_upstreams=more_zones,
            )
            self._add_resolver(resolver)
        if self.options.use_unbound and UnboundResolver.available():
            self._add_unbound(upstream, more_zones)

    def _start_knot(self) -> dict[str, tuple[str, int]]:
        """knot, authoritative for the hand-managed zone, when installed; {zone: its address}.

        Optional like unbound: without it the sandbox runs without that zone and says so.
        """
        if not self.options.use_knot:
            return {}
        if not KnotServer.available():
            print(f"sandbox: running without the zone {HAND_ZONE}: knot is not installed")
            return {}
        work_dir = self._scratch_folder("knot")
        try:
            knot = self._knot_on_a_free_port(work_dir)
        except SandboxError as error:
            print(f"sandbox: running without the zone {HAND_ZONE}: {error}", flush=True)
            return {}
        self._started("knot", knot.stop)
        self.knot = knot
        return {HAND_ZONE: knot.upstream}

    def _knot_on_a_free_port(self, work_dir: Path) -> KnotServer:
        """knot started; a port taken between choosing and binding it is tried again."""

        def start() -> KnotServer:
            port = free_knot_port(AUTHORITATIVE_HOST)
            knot = KnotServer(AUTHORITATIVE_HOST, port, self._hand_zone(), work_dir=work_dir)
            knot.start()
            return knot

        return started_on_free_ports(start)

    def _hand_zone(self) -> HandZone:
        return HandZone(
            origin=HAND_ZONE,
            ttl_seconds=self.options.dns_ttl_seconds,
            addresses={"old": SIDE_HOSTS["old"], "new": SIDE_HOSTS["new"]},
            addresses6=HAND_ZONE_ADDRESSES6,
            nameserver_host=AUTHORITATIVE_HOST,
        )

    def _add_unbound(
        self, upstream: tuple[str, int], more_zones: dict[str, tuple[str, int]]
    ) -> None:
        """A real unbound when installed; optional, so a failure is reported, not fatal.

        Its folder is short and private: unix socket paths are limited to 107 characters.
        """
        host = f"127.0.0.{self.options.caching_resolvers + 2}"
        work_dir = self._scratch_folder("unbound")
        unbound = UnboundResolver(
            host,
            free_port(host, _UDP),
            upstream,
            zone=ZONE,
            work_dir=work_dir,
            more_zones=more_zones,
        )
        try:
            self._add_resolver(unbound)
        except SandboxError as error:
            print(f"sandbox: running without unbound: {error}", flush=True)

    def _add_resolver(self, resolver: CachingResolver | UnboundResolver) -> None:
        resolver.start()
        self._started(f"resolver {resolver.name}", resolver.stop)
        self.resolvers.append(resolver)

    def _start_traffic(self) -> None:
        aws, aws_seed = self._aws()
        weights = (
            route53_weights(aws, aws_seed)
            if self.options.traffic_backend == "route53"
            else alb_weights(aws, aws_seed)
        )
        self.front_door = FrontDoor(
            AUTHORITATIVE_HOST,
            0,
            self.http_urls(),
            weights,
            alb_maintenance(aws, aws_seed),
            self.stats,
        )
        self.front_door.start()
        self._started("front door", self.front_door.stop)
        self.traffic = TrafficGenerator(
            self.front_door.url, rate_per_second=self.options.traffic_rate_per_second
        )
        self.traffic.start()
        self._started("traffic", self.traffic.stop)
        publisher = MetricsPublisher(aws, aws_seed)
        thread = threading.Thread(target=self._publish_metrics, args=(publisher,), daemon=True)
        thread.start()
        self._started("metrics", lambda: thread.join(timeout=5))

    def _publish_metrics(self, publisher: MetricsPublisher) -> None:
        """Drains the front door's counts into CloudWatch, and the replica's lag, until stopped."""
        while not self._stopped.wait(self.options.metrics_interval_seconds):
            now = datetime.now(UTC)
            try:
                publisher.publish_traffic(self.stats.drain(), now)
                lag_seconds = self.replica_lag_seconds()
                if lag_seconds is not None:
                    publisher.publish_replica_lag(lag_seconds, now)
            except Exception as error:
                print(f"sandbox: publishing metrics failed: {error}", flush=True)

    def replica_lag_seconds(self) -> float | None:
        """How far behind the replica's replay is in time (0 when it has replayed all it has)."""
        if self.postgres is None or self.postgres.is_promoted():
            return None
        import psycopg

        query = (
            "SELECT CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0 "
            "ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END"
        )
        with psycopg.connect(self.postgres.endpoints.replica_dsn, connect_timeout=2) as conn:
            row = conn.execute(query).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def _aws(self) -> tuple[AwsStandIn, AwsSeed]:
        if self.aws is None or self.aws_seed is None:
            raise SandboxError("the AWS stand-in is not running")
        return self.aws, self.aws_seed

    # --- what it is ---------------------------------------------------------------------------

    def _describe(self, startup_seconds: float) -> dict[str, JsonValue]:
        aws, aws_seed = self._aws()
        pg = self._postgres().endpoints
        front_door = self.front_door.url if self.front_door else ""
        return {
            "postgres": _dsns_info(pg, ("primary", "replica"))
            | {"replica_slot": REPLICA_SLOT, "other_standby_dsn": pg.other_standby_dsn},
            "logical": self._describe_logical(),
            "aws": {
                "endpoint_url": aws.endpoint_url,
                "region": aws.region,
                "hosted_zone_id": aws_seed.hosted_zone_id,
                "zone_name": aws_seed.zone_name,
                "record_name": aws_seed.record_name,
                "ttl": aws_seed.ttl,
                "old_answers": list(aws_seed.answers["old"]),
                "new_answers": list(aws_seed.answers["new"]),
                "old_set_identifier": aws_seed.old_set_identifier,
                "new_set_identifier": aws_seed.new_set_identifier,
                "load_balancer_arn": aws_seed.load_balancer_arn,
                "listener_arn": aws_seed.listener_arn,
                "target_groups": {str(side): arn for side, arn in aws_seed.target_groups.items()},
                "rds_primary_id": aws_seed.rds_primary_id,
                "rds_replica_id": aws_seed.rds_replica_id,
                "shapes": _shapes_info(aws_seed),
                "buckets": {str(side): name for side, name in aws_seed.buckets.items()},
                "bucket_prefix": ASSET_PREFIX,
            },
            "dns": {
                "authoritative": self.authoritative.address if self.authoritative else "",
                "resolvers": [r.address for r in self.resolvers],
                "resolver_names": [r.name for r in self.resolvers],
                "hand_zone": self._describe_hand_zone(),
                "watch_hand_zone": self.options.watch_hand_zone,
            },
            "http": self._describe_http(front_door),
            "env": {
                PASSWORD_ENV: self.password,
                "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
                "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
                "AWS_DEFAULT_REGION": aws.region,
            },
            "control_url": "",
            "config": str(self.directory / "cockpit.toml"),
            "traffic_backend": self.options.traffic_backend,
            "startup_seconds": round(startup_seconds, 2),
        }

    def _describe_logical(self) -> JsonValue:
        """The publisher and subscriber: DSNs (the password as for postgres), the reader's,
        and the publication, subscription and slot names; None when the pair is off."""
        if self.logical is None:
            return None
        logical = self.logical.endpoints
        return _dsns_info(logical, ("publisher", "subscriber")) | {
            "publication": logical.publication,
            "subscription": logical.subscription,
            "slot": logical.slot,
        }

    def _describe_http(self, front_door: str) -> dict[str, JsonValue]:
        urls = self.http_urls()
        http: dict[str, JsonValue] = {
            "front_door": front_door,
            "old": urls["old"],
            "new": urls["new"],
            "apps": {str(side): app.url for side, app in self.apps.items()},
            "access_logs": {
                side: str(self.directory / "logs" / f"{side}-access.log") for side in SIDES
            },
        }
        if self.nginx is None:
            formats: dict[str, JsonValue] = dict.fromkeys(SIDES, "combined_request_time")
            return http | {
                "access_log_formats": formats,
                "nginx": None,
                "nginx_missing": self.nginx_missing,
            }
        formats = {"old": "combined", "new": TIMED_LOG_FORMAT}
        new_site = self.nginx.sites[SIDES.index("new")]
        nginx: dict[str, JsonValue] = {
            "hostname": RECORD.rstrip("."),
            "new_tls": new_site.tls_url,
            "ca_file": str(self.nginx.certificate[0]) if self.nginx.certificate else None,
            "error_log": str(self.nginx.error_log),
        }
        return http | {"access_log_formats": formats, "nginx": nginx}

    def _describe_hand_zone(self) -> JsonValue:
        """The knot-served zone: its servers, names, TTLs and both sides' answers; None without."""
        if self.knot is None:
            return None
        zone = self.knot.zone
        return {
            "zone": zone.origin,
            "authoritative": self.knot.address,
            "authoritative6": self.knot.address6,
            "record_name": zone.www,
            "target_name": zone.app,
            "ttl": zone.ttl_seconds,
            "cname_ttl": zone.cname_ttl_seconds,
            "old_answers": [zone.addresses["old"]],
            "new_answers": [zone.addresses["new"]],
            "old_answers6": [zone.addresses6["old"]],
            "new_answers6": [zone.addresses6["new"]],
        }

    def _postgres(self) -> PostgresPair:
        if self.postgres is None:
            raise SandboxError("PostgreSQL is not running")
        return self.postgres

    def pids(self) -> dict[str, JsonValue]:
        """Every process this sandbox runs, by PID, so `down` can stop exactly them.

        "markers" holds text from each child's command line, so a reused PID is never ended.
        """
        children: dict[str, JsonValue] = {}
        markers: dict[str, JsonValue] = {}
        for group in (self.postgres, self.logical):
            if group is not None:
                for role, pid in group.server_pids().items():
                    children[f"postgres-{role}"] = pid
                    markers[f"postgres-{role}"] = str(group.data_root)
        servers: list[tuple[str, UnboundResolver | NginxServer | KnotServer]] = [
            (r.name, r) for r in self.resolvers if isinstance(r, UnboundResolver)
        ]
        servers += [("nginx", self.nginx)] if self.nginx is not None else []
        servers += [("knot", self.knot)] if self.knot is not None else []
        for name, server in servers:
            if server.pid is not None:
                children[name] = server.pid
                markers[name] = server.command_marker
        return {
            "runner": os.getpid(),
            "children": children,
            "markers": markers,
            "postgres_data_root": str(self.postgres.data_root) if self.postgres else None,
            "logical_data_root": str(self.logical.data_root) if self.logical else None,
            "scratch_folders": [str(folder) for folder in self.scratch_folders],
        }

    def write_pids(self) -> None:
        write_json_atomically(self.directory / "pids.json", self.pids())

    # --- scenario controls ------------------------------------------------------------------

    def app(self, side: Side) -> AppServer:
        return self.apps[side]

    def resolver(self, index: int) -> CachingResolver | UnboundResolver:
        if not 0 <= index < len(self.resolvers):
            names = ", ".join(f"{i}={r.name}" for i, r in enumerate(self.resolvers))
            raise SandboxError(f"no resolver {index}; the sandbox has {names}")
        return self.resolvers[index]

    def pair(self) -> PostgresPair:
        return self._postgres()

    def logical_pair(self) -> LogicalPair:
        if self.logical is None:
            raise SandboxError("the logical-replication pair is not running (logical_pair off)")
        return self.logical

    def later(self, seconds: float, action: Callable[[], Any]) -> None:
        """Runs `action` after `seconds` (a timed scenario's revert), unless stopped or reset."""
        timer = threading.Timer(seconds, action)
        timer.daemon = True
        with self._lock:
            self._timers.append(timer)
        timer.start()

    def reset(self) -> None:
        """Back to the state `up` left: cheap enough to run before every test."""
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
        for app in self.apps.values():
            app.reset()
        if self.knot is not None and self.knot.side != "old":
            self.knot.switch("old")
        for resolver in self.resolvers:
            if isinstance(resolver, CachingResolver):
                resolver.set_mode("normal")
            resolver.flush()
        self._reset_aws()
        self._postgres().reset()
        if self.logical is not None:
            self.logical.reset()
        self.clear_requests()
        self.write_pids()

    def switch_hand_zone(self, side: ZoneSide) -> str:
        """Points the hand-managed zone's app records at `side` (zone file rewritten, reloaded)."""
        if self.knot is None:
            raise SandboxError(f"the zone {HAND_ZONE} is not served: knot is not running")
        self.knot.switch(side)
        zone = self.knot.zone
        return (
            f"{zone.app.rstrip('.')} now answers {side}: A {zone.addresses[side]}, "
            f"AAAA {zone.addresses6[side]} (zone file serial bumped, knotc zone-reload)"
        )

    def set_weights(self, new_percent: int) -> None:
        """Puts new_percent of traffic on the new side, in Route 53 and on the listener alike."""
        aws, aws_seed = self._aws()
        set_weights(aws, aws_seed, {"old": 100 - new_percent, "new": new_percent})

    def _reset_aws(self) -> None:
        aws, aws_seed = self._aws()
        self.set_aws_read_delay(0.0)
        restore_seed_state(aws, aws_seed)

    def set_aws_read_delay(self, seconds: float, *, after_next_write: bool = False) -> None:
        """The cockpit's AWS reads answer `seconds` late (or only after its next change)."""
        log = self._aws()[0].request_log
        if after_next_write:
            log.read_delay_after_next_write_seconds = seconds
            return
        log.read_delay_after_next_write_seconds = 0.0
        log.client_read_delay_seconds = seconds

    def requests(self) -> dict[str, JsonValue]:
        """What was sent since the last reset: AWS requests, and pg_promote() calls on the replica.

        {"aws": [{"method", "path", "action", "mutating", "sender"}, ...],
        "postgres": {"pg_promote_calls": int, or None while the replica is not running}}
        """
        aws, _ = self._aws()
        return {
            "aws": [request.to_json() for request in aws.request_log.entries()],
            "postgres": {"pg_promote_calls": self._pg_promote_calls()},
        }

    def _pg_promote_calls(self) -> int | None:
        try:
            return self._postgres().statement_calls("replica", "%pg_promote%")
        except SandboxError:
            return None

    def clear_requests(self) -> None:
        """Forget the AWS requests logged and the statements PostgreSQL counted so far."""
        aws, _ = self._aws()
        aws.request_log.clear()
        self._postgres().reset_statement_counts()

    def status(self) -> dict[str, JsonValue]:
        """What is running and how each knob is set, for `sandbox status` and tests."""
        pair = self._postgres()
        return {
            "pids": self.pids(),
            "postgres": {
                "promoted": pair.is_promoted(),
                "replay_paused": None if pair.is_promoted() else pair.is_replay_paused(),
                "replay_lag_bytes": pair.replay_lag_bytes(),
                "other_standby_replay_paused": pair.is_replay_paused("other_standby"),
                "replica_uses_slot": None if pair.is_promoted() else pair.uses_slot(),
            },
            "logical": self._logical_status(),
            "apps": {side: _json_knobs(app.knobs()) for side, app in self.apps.items()},
            "resolvers": {r.name: getattr(r, "mode", "normal") for r in self.resolvers},
            "traffic": {
                str(k): v for k, v in (self.traffic.counts() if self.traffic else {}).items()
            },
        }

    def _logical_status(self) -> JsonValue:
        if self.logical is None:
            return None
        logical = self.logical
        states: dict[str, JsonValue] = dict(logical.table_states())
        return {
            "subscription_enabled": logical.subscription_enabled(),
            "lag_bytes": logical.lag_bytes(),
            "table_states": states,
            "apply_error_count": logical.apply_error_count(),
        }


_UDP = 2  # socket.SOCK_DGRAM, without importing socket for one constant


def _json_knobs(knobs: dict[str, object]) -> dict[str, JsonValue]:
    return {
        key: value if isinstance(value, str | int | float | bool) else str(value)
        for key, value in knobs.items()
    }


Started = TypeVar("Started")


def started_on_free_ports(start: Callable[[], Started], attempts: int = 3) -> Started:
    """`start()` until it succeeds, the last failure raised; each call chooses its ports anew.

    A port chosen for a server in another process can be taken before that server binds it.
    """
    for _ in range(attempts - 1):
        try:
            return start()
        except SandboxError:
            continue
    return start()


def _port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


def _dsns_info(
    endpoints: RoleDsns[ServerName], servers: tuple[ServerName, ...]
) -> dict[str, JsonValue]:
    """Each server's DSNs for the application role and the reader, with and without the
    password (whose environment variable is named too)."""
    info: dict[str, JsonValue] = {
        "password_env": PASSWORD_ENV,
        "reader_user": endpoints.reader_user,
    }
    for server in servers:
        info[f"{server}_dsn"] = endpoints.dsn(server)
        info[f"{server}_dsn_without_password"] = endpoints.without_password(server)
        info[f"reader_{server}_dsn"] = endpoints.reader_dsn(server)
        without = endpoints.reader_dsn(server, with_password=False)
        info[f"reader_{server}_dsn_without_password"] = without
    return info


def _stop_postgres(pair: ClusterGroup[Any]) -> None:
    pair.stop()
    if pair.data_root.exists() and pair.data_root.name.startswith(DATA_ROOT_PREFIX):
        shutil.rmtree(pair.data_root, ignore_errors=True)


def _shapes_info(aws_seed: AwsSeed) -> dict[str, JsonValue]:
    """The shapes zone's weighted sets: a three-member canary set and an alias set."""
    shapes = aws_seed.shapes
    return {
        "hosted_zone_id": shapes.hosted_zone_id,
        "zone_name": shapes.zone_name,
        "canary_record_name": shapes.canary_record_name,
        "canary_set_identifier": shapes.canary_set_identifier,
        "canary_weight": shapes.canary_weight,
        "canary_answers": list(shapes.canary_answers),
        "alias_record_name": shapes.alias_record_name,
        "alias_targets": {
            str(side): {
                "hosted_zone_id": target.hosted_zone_id,
                "dns_name": target.dns_name,
                "evaluate_target_health": target.evaluate_target_health,
            }
            for side, target in shapes.alias_targets.items()
        },
        "canary_target_group": shapes.canary_target_group,
    }
