"""TOML config -> frozen, validated settings; every problem reported with its key path."""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
import os
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cockpit.conninfo import conninfo_fields
from cockpit.log_format import AUTO, LogFormatError, compile_format
from cockpit.untrusted_files import NotARegularFile, TooLarge, read_regular_file
from cockpit.visible import ascii_digits, visible

Side = Literal["old", "new"]
RecordType = Literal["A", "AAAA", "CNAME"]

# Env vars whose values are secret whatever the config says.
STANDARD_SECRET_ENV = (
    "PGPASSWORD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
)


# --- problems -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a config file, at a key path such as dns.records[2].expect."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """A config that cannot be used; carries every problem found, not just the first."""

    def __init__(self, source: str, problems: Sequence[ConfigProblem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        super().__init__(self.report())

    def report(self) -> str:
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{self.source}: {count} {noun}"]
        lines += [f"  {problem}" for problem in self.problems]
        return "\n".join(lines)


# --- value checks (each raises ValueError with a message a person can act on) ---------------


def _check_not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _check_env_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(f"{value!r} is not an environment variable name (letters, digits, _)")
    return value


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL like 'https://host/path'")
    return value


def _check_dsn(value: str) -> str:
    try:
        dsn_fields(value)
    except Exception as error:
        reason = str(error).strip() or type(error).__name__
        raise ValueError(f"not a valid PostgreSQL connection string: {reason}") from None
    return value


def _check_dns_name(value: str) -> str:
    name = value.rstrip(".")
    labels = name.split(".")
    label_ok = all(
        re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?", x) for x in labels
    )
    if not name or len(name) > 253 or not label_ok:
        raise ValueError(f"{value!r} is not a DNS name")
    return value


def _arn_check(resource_prefix: str, example: str) -> AfterValidator:
    pattern = re.compile(
        r"arn:aws[a-z-]*:elasticloadbalancing:[a-z0-9-]+:\d{12}:"
        + re.escape(resource_prefix)
        + r".+"
    )

    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not an ELBv2 {example} ARN")
        return value

    return AfterValidator(check)


def parse_host_port(value: str, default_port: int = 53) -> tuple[str, int]:
    """Splits 'IP', 'IP:port', '[IPv6]:port' or a bare IPv6 address; ValueError otherwise."""
    bracketed = re.fullmatch(r"\[([^\]]+)\]:(\d+)", value)
    if bracketed:
        host, port_text = bracketed.groups()
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    else:
        host, port_text = value, str(default_port)
    try:
        address = ipaddress.ip_address(host)
        port = int(port_text)
    except ValueError:
        raise ValueError(
            f"{value!r} is not IP[:port] (e.g. '1.1.1.1' or '127.0.0.1:5353')"
        ) from None
    if not 0 < port < 65536:
        raise ValueError(f"{value!r}: port {port} is out of range 1-65535")
    return str(address), port


def _check_resolver_address(value: str) -> str:
    parse_host_port(value)
    return value


def _absolute_path(value: str, info: ValidationInfo) -> str:
    context = info.context if isinstance(info.context, dict) else {}
    return str(resolve_path(value, str(context.get("base_dir", "."))))


def _resolver_from_string(value: object) -> object:
    return {"address": value} if isinstance(value, str) else value


def _check_not_empty(items: tuple[Any, ...]) -> tuple[Any, ...]:
    if not items:
        raise ValueError("must list at least one")
    return items


NotEmpty = AfterValidator(_check_not_empty)


def _one_or_many(value: object) -> object:
    return (value,) if isinstance(value, str) else value


NonBlank = Annotated[str, AfterValidator(_check_not_blank)]
ConfigPath = Annotated[str, AfterValidator(_check_not_blank), AfterValidator(_absolute_path)]
EnvName = Annotated[str, AfterValidator(_check_env_name)]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
Dsn = Annotated[str, AfterValidator(_check_dsn)]
DnsName = Annotated[str, AfterValidator(_check_dns_name)]
TargetGroupArn = Annotated[str, _arn_check("targetgroup/", "target group")]
ListenerArn = Annotated[str, _arn_check("listener/", "listener")]
LoadBalancerArn = Annotated[str, _arn_check("loadbalancer/", "load balancer")]
Seconds = Annotated[float, Field(gt=0, le=3600)]
Ratio = Annotated[float, Field(ge=0, le=1)]


# --- sections ---------------------------------------------------------------------------------


class Section(BaseModel):
    """A config table: immutable, no unknown keys, no silent type coercion."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Polled(Section):
    """Settings every polled signal source shares."""

    interval_seconds: Seconds = 1.0
    timeout_seconds: Seconds = 2.0
    stale_after_seconds: Seconds | None = None

    @property
    def stale_after(self) -> float:
        """Age beyond which a reading counts as stale: three missed polls unless configured."""
        if self.stale_after_seconds is not None:
            return self.stale_after_seconds
        return 3 * self.interval_seconds + self.timeout_seconds


def _exactly_one(section: BaseModel, name: str, backends: Sequence[str]) -> None:
    present = [b for b in backends if getattr(section, b) is not None]
    if len(present) != 1:
        names = [f"[{name}.{b}]" for b in backends]
        tables = " or ".join(names) if len(names) < 3 else f"{', '.join(names[:-1])} or {names[-1]}"
        found = ", ".join(present) if present else "none"
        raise ValueError(f"configure exactly one of {tables} (found: {found})")


class CutoverSection(Section):
    name: NonBlank
    refresh_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0


class JournalSection(Section):
    dir: ConfigPath = Field(default="journal", validate_default=True)
    resume_within_hours: Annotated[float, Field(ge=0, le=168)] = 12.0
    keyframe_seconds: Annotated[float, Field(ge=10, le=3600)] = 300.0
    anchor_syslog: bool = True


class AwsSection(Section):
    region: NonBlank
    profile: NonBlank | None = None
    endpoint_url: HttpUrl | None = None
    connect_timeout_seconds: Seconds = 2.0
    read_timeout_seconds: Seconds = 5.0
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    threads_per_service: Annotated[int, Field(ge=1, le=32)] = 4


def _check_ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address (e.g. '10.20.0.9')") from None


IpAddress = Annotated[str, AfterValidator(_check_ip_address)]


class PostgresReplication(Section):
    primary_dsn: Dsn
    replica_dsn: Dsn
    password_env: EnvName | None = None
    # How the primary sees the watched standby; every key given must match.
    standby_application_name: NonBlank | None = None
    standby_client_addr: IpAddress | None = None
    standby_slot_name: NonBlank | None = None


class RdsReplication(Section):
    replica_instance_id: NonBlank


class LogicalReplication(Section):
    """A publication on the old database and the subscription on the new one that follows it."""

    publisher_dsn: Dsn
    subscriber_dsn: Dsn
    subscription: NonBlank
    password_env: EnvName | None = None
    # Sequences are not replicated: the subscriber's must reach the publisher's plus this.
    sequence_margin: Annotated[int, Field(ge=0, le=10**12)] = 1000


class DmsReplication(Section):
    """An AWS DMS replication task (full load and/or change data capture)."""

    task_identifier: NonBlank


REPLICATION_BACKENDS = ("postgres", "rds", "logical", "dms")


class ReplicationSection(Polled):
    postgres: PostgresReplication | None = None
    rds: RdsReplication | None = None
    logical: LogicalReplication | None = None
    dms: DmsReplication | None = None

    @model_validator(mode="after")
    def _one_backend(self) -> ReplicationSection:
        _exactly_one(self, "replication", REPLICATION_BACKENDS)
        return self


class TargetGroup(Section):
    name: NonBlank
    side: Side
    arn: TargetGroupArn


def _check_host_header(value: str) -> str:
    """A Host header value: a DNS name or an IP, with an optional :port."""
    host, _, port = value.rpartition(":") if value.count(":") == 1 else (value, "", "")
    if port and not (ascii_digits(port) and 0 < int(port) < 65536):
        raise ValueError(f"{value!r} has an invalid port")
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        _check_dns_name(host)
    return value


class HttpHealthCheck(Section):
    name: NonBlank
    side: Side
    url: HttpUrl
    expect_status: Annotated[int, Field(ge=200, le=299)] = 200
    expect_body: NonBlank | None = None
    host_header: Annotated[str, AfterValidator(_check_host_header)] | None = None
    tls_server_name: DnsName | None = None
    ca_file: ConfigPath | None = None

    @model_validator(mode="after")
    def _tls_keys_need_https(self) -> HttpHealthCheck:
        tls_keys = [k for k in ("tls_server_name", "ca_file") if getattr(self, k) is not None]
        if tls_keys and urlsplit(self.url).scheme != "https":
            raise ValueError(f"{' and '.join(tls_keys)} need an https:// url")
        return self


class TargetsSection(Polled):
    interval_seconds: Seconds = 5.0
    target_groups: tuple[TargetGroup, ...] = ()
    http: tuple[HttpHealthCheck, ...] = ()

    @model_validator(mode="after")
    def _something_to_watch(self) -> TargetsSection:
        if not self.target_groups and not self.http:
            raise ValueError("configure at least one [[targets.target_groups]] or [[targets.http]]")
        return self


class Resolver(Section):
    address: Annotated[str, AfterValidator(_check_resolver_address)]
    name: NonBlank | None = None

    @property
    def label(self) -> str:
        return self.name or self.address


def _resolvers_from_strings(value: object) -> object:
    if isinstance(value, tuple):
        return tuple(_resolver_from_string(item) for item in value)
    return value


Resolvers = Annotated[tuple[Resolver, ...], BeforeValidator(_resolvers_from_strings)]


def _check_answers(record_type: str, answers: tuple[str, ...]) -> None:
    for answer in answers:
        if record_type == "CNAME":
            _check_dns_name(answer)
            continue
        wanted = ipaddress.IPv4Address if record_type == "A" else ipaddress.IPv6Address
        try:
            parsed = ipaddress.ip_address(answer)
        except ValueError:
            raise ValueError(f"{answer!r} is not an IP address") from None
        if not isinstance(parsed, wanted):
            raise ValueError(f"{answer!r} is not an {record_type} record address")


Answers = Annotated[tuple[str, ...], BeforeValidator(_one_or_many), NotEmpty]


class DnsRecord(Section):
    name: DnsName
    type: RecordType = "A"
    expect: Answers
    old: Answers
    weighted: bool = False
    authoritative: Resolvers | None = None

    @field_validator("expect", "old")
    @classmethod
    def _answers_fit_type(cls, answers: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        record_type = info.data.get("type")
        if isinstance(record_type, str):
            _check_answers(record_type, answers)
        return answers


GLOBALPING_LOCATION_KINDS = ("continent", "country", "asn", "region", "city", "network")
"""The fields a Globalping location may name ("country:DE"); a plain string is matched by the
service itself (its "magic" field: "EU", "Germany", "AS3320", "Frankfurt")."""
ATLAS_PROBE_KINDS = ("area", "country", "asn", "prefix")
"""The kinds of probe selection RIPE Atlas takes ("area:WW", "country:DE", "asn:3320")."""
CONTINENT_CODES = ("AF", "AN", "AS", "EU", "NA", "OC", "SA")
ATLAS_AREAS = ("WW", "West", "North-Central", "South-Central", "North-East", "South-East")


def split_location(value: str) -> tuple[str | None, str]:
    """'country:DE' -> ('country', 'DE'); 'EU' -> (None, 'EU')."""
    kind, colon, rest = value.partition(":")
    return (kind.strip().lower(), rest.strip()) if colon else (None, value.strip())


def _check_location_value(kind: str | None, value: str) -> None:
    if not value:
        raise ValueError("names no place after the colon")
    if kind == "asn" and not ascii_digits(value.removeprefix("AS")):
        raise ValueError(f"asn:{value} is not an AS number like asn:3320")
    if kind == "country" and not re.fullmatch(r"[A-Za-z]{2}", value):
        raise ValueError(f"country:{value} is not a two-letter ISO country code like country:DE")
    if kind == "continent" and value.upper() not in CONTINENT_CODES:
        raise ValueError(f"continent:{value} is not one of {', '.join(CONTINENT_CODES)}")
    if kind == "area" and value not in ATLAS_AREAS:
        raise ValueError(f"area:{value} is not one of {', '.join(ATLAS_AREAS)}")


def _location_check(kinds: Sequence[str], plain_allowed: bool) -> AfterValidator:
    def check(value: str) -> str:
        kind, place = split_location(value)
        if kind is None and not plain_allowed:
            raise ValueError(f"{value!r} needs a kind: one of {', '.join(k + ':' for k in kinds)}")
        if kind is not None and kind not in kinds:
            raise ValueError(f"{value!r}: the kind must be one of {', '.join(kinds)}")
        _check_location_value(kind, place)
        return value

    return AfterValidator(check)


GlobalpingLocation = Annotated[str, _location_check(GLOBALPING_LOCATION_KINDS, True)]
AtlasProbeSpec = Annotated[str, _location_check(ATLAS_PROBE_KINDS, False)]
MeasureEverySeconds = Annotated[float, Field(ge=60, le=86400)]
ReserveShare = Annotated[float, Field(ge=0, lt=1)]


class GlobalpingDns(Polled):
    """One-off DNS measurements through Globalping's probes, each asking its own resolver."""

    interval_seconds: Annotated[float, Field(ge=0.5, le=3600)] = 2.0
    timeout_seconds: Seconds = 10.0
    token_env: EnvName | None = None
    locations: tuple[GlobalpingLocation, ...] = ()
    limit: Annotated[int, Field(ge=1, le=500)] = 30
    group_by: Literal["continent", "country"] = "continent"
    measure_every_seconds: MeasureEverySeconds = 300.0
    reserve: ReserveShare = 0.1
    base_url: HttpUrl = "https://api.globalping.io/v1"


class RipeAtlasDns(Polled):
    """One-off DNS measurements through RIPE Atlas probes, each asking its own resolver."""

    interval_seconds: Seconds = 10.0
    timeout_seconds: Seconds = 20.0
    key_env: EnvName
    probes: Annotated[tuple[AtlasProbeSpec, ...], NotEmpty] = ("area:WW",)
    probes_per_spec: Annotated[int, Field(ge=1, le=1000)] = 20
    measure_every_seconds: MeasureEverySeconds = 900.0
    reserve_credits: Annotated[int, Field(ge=0)] = 10_000
    base_url: HttpUrl = "https://atlas.ripe.net/api/v2"


class DnsSection(Polled):
    interval_seconds: Seconds = 2.0
    resolvers: Annotated[Resolvers, NotEmpty]
    authoritative: Resolvers = ()
    records: Annotated[tuple[DnsRecord, ...], NotEmpty]
    max_ttl_seconds: Annotated[int, Field(gt=0, le=86400)] = 300
    stuck_margin_seconds: Seconds = 5.0
    globalping: GlobalpingDns | None = None
    ripe_atlas: RipeAtlasDns | None = None


class CloudWatchErrors(Section):
    load_balancer_arn: LoadBalancerArn
    old_target_group_arn: TargetGroupArn
    new_target_group_arn: TargetGroupArn
    period_seconds: Literal[10, 30, 60] = 60


class PrometheusErrors(Section):
    url: HttpUrl
    old_error_ratio_query: NonBlank
    new_error_ratio_query: NonBlank
    old_p95_seconds_query: NonBlank | None = None
    new_p95_seconds_query: NonBlank | None = None
    token_env: EnvName | None = None


def _check_log_format(value: str) -> str:
    if value == AUTO:
        return value
    try:
        compile_format(value)
    except LogFormatError as error:
        raise ValueError(str(error)) from None
    return value


class AccessLog(Section):
    side: Side
    path: ConfigPath
    format: Annotated[str, AfterValidator(_check_log_format)] = "auto"


class ErrorsSection(Polled):
    interval_seconds: Seconds = 10.0
    timeout_seconds: Seconds = 5.0
    window_seconds: Annotated[int, Field(ge=10, le=3600)] = 60
    cloudwatch: CloudWatchErrors | None = None
    prometheus: PrometheusErrors | None = None
    access_logs: tuple[AccessLog, ...] = ()

    @model_validator(mode="after")
    def _some_source(self) -> ErrorsSection:
        if self.cloudwatch is None and self.prometheus is None and not self.access_logs:
            raise ValueError(
                "configure at least one of [errors.cloudwatch], [errors.prometheus] "
                "or [[errors.access_logs]]"
            )
        return self


class Route53Traffic(Section):
    hosted_zone_id: Annotated[str, Field(pattern=r"^(/hostedzone/)?[A-Z0-9]+$")]
    record_name: DnsName
    record_type: RecordType = "A"
    old_set_identifier: NonBlank
    new_set_identifier: NonBlank


class AlbTraffic(Section):
    listener_arn: ListenerArn
    old_target_group_arn: TargetGroupArn
    new_target_group_arn: TargetGroupArn


def _check_steps(steps: tuple[int, ...]) -> tuple[int, ...]:
    if len(steps) < 2:
        raise ValueError("the step plan needs at least two steps, e.g. [0, 100]")
    outside = [s for s in steps if not 0 <= s <= 100]
    if outside:
        raise ValueError(f"steps must be percentages 0..100; {outside[0]} is not")
    for before, after in itertools.pairwise(steps):
        if after <= before:
            raise ValueError(f"steps must ascend: {after} comes after {before}")
    return steps


class TrafficSection(Polled):
    interval_seconds: Seconds = 5.0
    steps: Annotated[tuple[int, ...], AfterValidator(_check_steps)] = (
        0,
        5,
        10,
        25,
        50,
        75,
        100,
    )
    route53: Route53Traffic | None = None
    alb: AlbTraffic | None = None

    @model_validator(mode="after")
    def _one_backend(self) -> TrafficSection:
        _exactly_one(self, "traffic", ("route53", "alb"))
        return self


class AlbMaintenance(Section):
    listener_arn: ListenerArn
    rule_priority: Annotated[int, Field(ge=1, le=50000)] = 1
    status_code: Annotated[int, Field(ge=200, le=599)] = 503
    content_type: Literal["text/html", "text/plain", "application/json"] = "text/html"
    message_body: Annotated[str, Field(max_length=1024)] = "Down for maintenance."


class WebhookMaintenance(Section):
    on_url: HttpUrl
    off_url: HttpUrl
    method: Literal["POST", "PUT"] = "POST"
    token_env: EnvName | None = None
    timeout_seconds: Seconds = 10.0


class CommandMaintenance(Section):
    on: Annotated[tuple[NonBlank, ...], NotEmpty]
    off: Annotated[tuple[NonBlank, ...], NotEmpty]
    timeout_seconds: Seconds = 60.0


class MaintenanceSection(Section):
    probe_url: HttpUrl | None = None
    probe_expect_status: Annotated[int, Field(ge=200, le=599)] = 503
    alb: AlbMaintenance | None = None
    webhook: WebhookMaintenance | None = None
    command: CommandMaintenance | None = None

    @model_validator(mode="after")
    def _one_backend(self) -> MaintenanceSection:
        _exactly_one(self, "maintenance", ("alb", "webhook", "command"))
        return self


class PostgresPromotion(Section):
    replica_name: NonBlank
    timeout_seconds: Seconds = 60.0


class RdsPromotion(Section):
    replica_instance_id: NonBlank
    timeout_seconds: Seconds = 900.0


class LogicalPromotion(Section):
    """The logical-replication cutover: subscriber sequences set, then the subscription off."""

    timeout_seconds: Seconds = 30.0


class DmsPromotion(Section):
    """The DMS cutover: the replication task stopped."""

    timeout_seconds: Seconds = 300.0


class PromotionSection(Section):
    postgres: PostgresPromotion | None = None
    rds: RdsPromotion | None = None
    logical: LogicalPromotion | None = None
    dms: DmsPromotion | None = None

    @model_validator(mode="after")
    def _one_backend(self) -> PromotionSection:
        _exactly_one(self, "promotion", REPLICATION_BACKENDS)
        return self


class AutoAbort(Section):
    enabled: bool = False
    max_error_ratio: Ratio = 0.05
    hold_seconds: Seconds = 60.0


class GuardsSection(Section):
    promote_requires_maintenance: bool = True
    promote_max_lag_bytes: Annotated[int, Field(ge=0)] = 0
    promote_quiet_seconds: Annotated[float, Field(ge=0, le=3600)] = 5.0
    weight_max_new_error_ratio: Ratio = 0.01
    weight_max_new_p95_ms: Annotated[float, Field(gt=0)] | None = None
    weight_min_dwell_seconds: Annotated[float, Field(ge=0, le=86400)] = 120.0
    weight_requires_ttl_preflight: bool = True
    auto_abort: AutoAbort = AutoAbort()


class SecretsSection(Section):
    env: tuple[EnvName, ...] = ()


def _check_guarded_action(value: str) -> str:
    if value not in INTEGRITY_GUARDED_ACTIONS:
        raise ValueError(f"{value!r} is not one of {', '.join(INTEGRITY_GUARDED_ACTIONS)}")
    return value


class BucketPair(Section):
    """An old and a new S3 bucket (and optional prefix) whose contents must match."""

    name: NonBlank
    old_bucket: NonBlank
    new_bucket: NonBlank
    prefix: str = ""
    max_objects: Annotated[int, Field(ge=1, le=10_000_000)] = 100_000


INTEGRITY_GUARDED_ACTIONS = ("maintenance-off", "weight-up", "promote")
"""The actions that may wait for a clean integrity check; the ways back never do."""


class IntegritySection(Section):
    """Row counts and range checksums of every table in the old and the new database."""

    old_dsn: Dsn | None = None
    new_dsn: Dsn | None = None
    password_env: EnvName | None = None
    # Empty: every table of these schemas.
    schemas: tuple[NonBlank, ...] = ("public",)
    tables: tuple[NonBlank, ...] = ()
    statement_timeout_seconds: Seconds = 30.0
    max_rows_per_second: Annotated[int, Field(ge=100, le=100_000_000)] = 200_000
    range_rows: Annotated[int, Field(ge=10, le=10_000_000)] = 100_000
    parallel_tables: Annotated[int, Field(ge=1, le=8)] = 1
    first_differences: Annotated[int, Field(ge=1, le=1000)] = 10
    guard_actions: tuple[Annotated[str, AfterValidator(_check_guarded_action)], ...] = (
        "maintenance-off",
        "weight-up",
    )
    buckets: tuple[BucketPair, ...] = ()

    @model_validator(mode="after")
    def _both_databases_or_none(self) -> IntegritySection:
        if (self.old_dsn is None) != (self.new_dsn is None):
            raise ValueError("give both old_dsn and new_dsn, or neither (buckets only)")
        if self.old_dsn is None and not self.buckets:
            raise ValueError("configure old_dsn and new_dsn, or at least one [[integrity.buckets]]")
        return self


ACTION_IDS = (
    "maintenance-on",
    "maintenance-off",
    "promote",
    "weight-up",
    "weight-down",
    "rollback",
)
"""Every action id, as `cockpit act` and the journal name them (the registry declares each)."""

ONE_WAY_DOORS = ("promote",)
"""The actions that cannot be undone: by default the ones a second person must approve."""


def _check_action_id(value: str) -> str:
    if value not in ACTION_IDS:
        raise ValueError(f"{value!r} is not an action; the actions are {', '.join(ACTION_IDS)}")
    return value


class ApprovalSection(Section):
    """The two-person rule: the actions a second operator must approve before they run."""

    actions: Annotated[tuple[Annotated[str, AfterValidator(_check_action_id)], ...], NotEmpty] = (
        ONE_WAY_DOORS
    )
    expires_minutes: Annotated[float, Field(gt=0, le=1440)] = 15.0
    group: NonBlank | None = None
    dir: ConfigPath | None = None


class Config(Section):
    """The whole cockpit configuration, validated; paths are absolute."""

    cutover: CutoverSection
    journal: JournalSection
    aws: AwsSection | None = None
    replication: ReplicationSection | None = None
    targets: TargetsSection | None = None
    dns: DnsSection | None = None
    errors: ErrorsSection | None = None
    traffic: TrafficSection | None = None
    maintenance: MaintenanceSection | None = None
    promotion: PromotionSection | None = None
    integrity: IntegritySection | None = None
    approval: ApprovalSection | None = None
    guards: GuardsSection = GuardsSection()
    secrets: SecretsSection = SecretsSection()

    @model_validator(mode="before")
    @classmethod
    def _default_journal(cls, data: object) -> object:
        """An absent [journal] still gets its dir resolved against the config's folder."""
        if isinstance(data, dict) and "journal" not in data:
            return {**data, "journal": {}}
        return data

    @property
    def journal_dir(self) -> Path:
        return Path(self.journal.dir)

    @property
    def approvals_dir(self) -> Path:
        """Where approval requests and approvals are exchanged: by default beside the journals."""
        if self.approval is not None and self.approval.dir is not None:
            return Path(self.approval.dir)
        return self.journal_dir / "approvals"

    def secret_env_names(self) -> tuple[str, ...]:
        """Every env var whose value must never be written: named in the config or standard."""
        named = [name for _, name in named_env_vars(self)]
        return tuple(dict.fromkeys([*STANDARD_SECRET_ENV, *named]))

    def dsns(self) -> tuple[str, ...]:
        return tuple(dsn for _, dsn in self.keyed_dsns())

    def keyed_dsns(self) -> tuple[tuple[str, str], ...]:
        """(key path, DSN) of every database the config names."""
        return (*self._replication_dsns(), *self._integrity_dsns())

    def _replication_dsns(self) -> tuple[tuple[str, str], ...]:
        replication = self.replication
        if replication is not None and replication.postgres is not None:
            postgres = replication.postgres
            return (
                ("replication.postgres.primary_dsn", postgres.primary_dsn),
                ("replication.postgres.replica_dsn", postgres.replica_dsn),
            )
        if replication is not None and replication.logical is not None:
            logical = replication.logical
            return (
                ("replication.logical.publisher_dsn", logical.publisher_dsn),
                ("replication.logical.subscriber_dsn", logical.subscriber_dsn),
            )
        return ()

    def _integrity_dsns(self) -> tuple[tuple[str, str], ...]:
        integrity = self.integrity
        if integrity is None or integrity.old_dsn is None or integrity.new_dsn is None:
            return ()
        return (("integrity.old_dsn", integrity.old_dsn), ("integrity.new_dsn", integrity.new_dsn))


def _walk_fields(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key path, value) below a model, depth first."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        path = f"{prefix}.{name}" if prefix else name
        yield path, value
        if isinstance(value, BaseModel):
            yield from _walk_fields(value, path)
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from _walk_fields(item, f"{path}[{index}]")


def resolve_path(path: str, base_dir: str) -> Path:
    """A config path: ~ expanded, relative paths taken from the config file's folder."""
    # os.path.expanduser never raises, Path.expanduser does when HOME is unknown.
    expanded = Path(os.path.expanduser(path))  # noqa: PTH111
    return expanded if expanded.is_absolute() else Path(base_dir) / expanded


def dsn_fields(dsn: str) -> dict[str, str]:
    """A DSN's fields as libpq reads them (key=value or URI); ValueError on a malformed one.
    Read without loading psycopg, which would cost a tenth of a second before the first frame."""
    return conninfo_fields(dsn)


# --- cross-section rules, checked on the raw tables so they are reported with the rest ---------


_AWS_USERS = (
    ("replication", "rds"),
    ("replication", "dms"),
    ("integrity", "buckets"),
    ("errors", "cloudwatch"),
    ("traffic", "route53"),
    ("traffic", "alb"),
    ("maintenance", "alb"),
    ("promotion", "rds"),
    ("targets", "target_groups"),
)


def _table(data: Mapping[str, object], *keys: str) -> Mapping[str, object] | None:
    node: object = data
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, Mapping) else None


def _has(data: Mapping[str, object], section: str, key: str) -> bool:
    table = _table(data, section)
    return table is not None and bool(table.get(key))


def _cross_section_problems(data: Mapping[str, object]) -> list[ConfigProblem]:
    problems: list[ConfigProblem] = []
    users = [f"{s}.{k}" for s, k in _AWS_USERS if _has(data, s, k)]
    if users and "aws" not in data:
        problems.append(
            ConfigProblem("aws", f"missing section [aws] (region), needed by {', '.join(users)}")
        )
    for backend, why in _PROMOTION_NEEDS.items():
        if _present(data, "promotion", backend) and not _present(data, "replication", backend):
            problems.append(ConfigProblem(f"promotion.{backend}", why))
    return problems


_PROMOTION_NEEDS = {
    "postgres": "needs [replication.postgres]: promotion runs pg_promote() on its replica_dsn",
    "logical": "needs [replication.logical]: the cutover sets its subscriber's sequences and "
    "disables its subscription",
    "dms": "needs [replication.dms]: the cutover stops its replication task",
}


def _present(data: Mapping[str, object], section: str, key: str) -> bool:
    """Whether [section.key] is there at all (an empty table counts)."""
    return _table(data, section, key) is not None


# --- loading ------------------------------------------------------------------------------------

_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "tuple_type": "an array",
    "model_type": "a table",
    "dict_type": "a table",
    "model_attributes_type": "a table",
}


def _toml_type(value: object) -> str:
    names = {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        tuple: "an array",
        dict: "a table",
    }
    for kind, name in names.items():
        if isinstance(value, kind):
            return name
    return "a date/time"


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def format_key_path(loc: Sequence[int | str]) -> str:
    """('dns', 'records', 2, 'expect') -> 'dns.records[2].expect'."""
    path = ""
    for part in loc:
        name = visible(str(part))
        path += f"[{part}]" if isinstance(part, int) else (f".{name}" if path else name)
    return path


def _model_at(loc: Sequence[int | str]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = Config
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field else None
    return model


def _model_in(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _unknown_key_message(loc: Sequence[int | str]) -> str:
    import difflib

    parent = _model_at(loc[:-1])
    allowed = list(parent.model_fields) if parent else []
    key = str(loc[-1])
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    what = "section" if len(loc) == 1 else "key"
    hint = f"; did you mean {close[0]!r}?" if close else f"; allowed: {', '.join(allowed)}"
    return f"unknown {what}{hint}"


def _as_written(loc: tuple[int | str, ...], data: Mapping[str, object]) -> tuple[int | str, ...]:
    """A resolver written as a plain string is reported at its own position, not '.address'."""
    if loc and loc[-1] == "address":
        node: object = data
        for part in loc[:-1]:
            if isinstance(node, Mapping) and isinstance(part, str):
                node = node.get(part)
            elif isinstance(node, list | tuple) and isinstance(part, int) and part < len(node):
                node = node[part]
        if isinstance(node, str):
            return loc[:-1]
    return loc


def _problem_from_error(error: Mapping[str, Any], data: Mapping[str, object]) -> ConfigProblem:
    loc = _as_written(tuple(error["loc"]), data)
    kind = error["type"]
    value = error.get("input")
    if kind == "extra_forbidden":
        message = _unknown_key_message(loc)
    elif kind == "missing":
        is_table = _model_at(loc) is not None
        message = (
            f"missing section [{format_key_path(loc)}]" if is_table else "missing required key"
        )
    elif kind in _EXPECTED:
        message = f"expected {_EXPECTED[kind]}, got {_toml_type(value)} {_short_repr(value)}"
    elif kind == "literal_error":
        message = f"must be {error['ctx']['expected']}, not {_short_repr(value)}"
    elif kind == "value_error":
        message = str(error["ctx"]["error"])
    else:
        message = str(error["msg"]).replace("Input should", "must").replace("Value should", "must")
        message += f" (got {_short_repr(value)})"
    return ConfigProblem(format_key_path(loc), message)


def _tuples(value: object) -> object:
    """TOML arrays become tuples so the frozen config holds no mutable lists."""
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _tuples(item) for key, item in value.items()}
    return value


def _control_character_problems(
    node: object, loc: tuple[int | str, ...] = ()
) -> list[ConfigProblem]:
    """Keys and strings holding characters a terminal acts on (line breaks and tabs allowed).

    Config text ends up on the screen and in the journal, so an escape pasted into it is
    refused here rather than obeyed later.
    """
    if isinstance(node, str):
        if visible(node, multiline=True) == node:
            return []
        shown = visible(node)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        message = f"contains a control character ('{shown}'); remove it"
        return [ConfigProblem(format_key_path(loc), message)]
    children: list[tuple[int | str, object]] = []
    if isinstance(node, Mapping):
        children = [(str(key), value) for key, value in node.items()]
    elif isinstance(node, list | tuple):
        children = list(enumerate(node))
    problems: list[ConfigProblem] = []
    for key, child in children:
        if isinstance(key, str) and visible(key) != key:
            problem = "this key contains a control character; remove it"
            problems.append(ConfigProblem(format_key_path((*loc, key)), problem))
        problems += _control_character_problems(child, (*loc, key))
    return problems


def config_from_data(data: Mapping[str, object], *, source: str, base_dir: Path) -> Config:
    """Validates parsed TOML tables; raises ConfigError listing every problem."""
    problems: list[ConfigProblem] = []
    config: Config | None = None
    try:
        prepared = _tuples(dict(data))
        assert isinstance(prepared, dict)
        config = Config.model_validate(prepared, context={"base_dir": str(base_dir)})
    except ValidationError as error:
        problems += [_problem_from_error(e, data) for e in error.errors(include_url=False)]
    problems += _cross_section_problems(data)
    reported = {problem.path for problem in problems}
    problems += [p for p in _control_character_problems(data) if p.path not in reported]
    if problems or config is None:
        raise ConfigError(source, problems)
    return config


def parse_config(text: str, *, source: str, base_dir: Path) -> Config:
    """Parses TOML text into a Config; raises ConfigError with every problem."""
    try:
        data = tomllib.loads(text)
        return config_from_data(data, source=source, base_dir=base_dir)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(source, [ConfigProblem("", f"not valid TOML: {error}")]) from None
    except RecursionError:
        problem = "nested too deeply to be a cockpit config (arrays or tables hundreds deep)"
        raise ConfigError(source, [ConfigProblem("", problem)]) from None


MAX_CONFIG_BYTES = 1024 * 1024


def read_config_text(path: Path) -> str:
    """The file's text; ConfigError (never OSError) when it cannot be read as UTF-8.

    Only a regular file of at most 1 MiB is read: a FIFO would hang, /dev/zero would never end.
    A UTF-8 byte order mark, as some editors write, is accepted.
    """
    try:
        return _regular_file_bytes(path).decode("utf-8-sig")
    except FileNotFoundError:
        problem = "no such file; copy config.example.toml to start"
    except IsADirectoryError:
        problem = "is a directory, not a config file"
    except PermissionError:
        problem = "permission denied"
    except UnicodeDecodeError as error:
        problem = f"not UTF-8 text (byte {error.start}); save the file as UTF-8"
    except _NotAConfigFile as error:
        problem = str(error)
    except OSError as error:
        problem = f"cannot be read: {error.strerror}"
    raise ConfigError(str(path), [ConfigProblem("", problem)])


class _NotAConfigFile(Exception):
    """The path names something that is not a config file of a sane size."""


def _regular_file_bytes(path: Path) -> bytes:
    try:
        return read_regular_file(path, MAX_CONFIG_BYTES)
    except NotARegularFile:
        raise _NotAConfigFile(
            "is not a regular file (a pipe, device or socket); point -c at a config file"
        ) from None
    except TooLarge as error:
        raise _NotAConfigFile(f"is {error.strerror}; a cockpit config is a few KiB") from None


def load_config(path: Path) -> Config:
    """Reads and validates a config file; raises ConfigError listing every problem."""
    text = read_config_text(path)
    return parse_config(text, source=str(path), base_dir=path.resolve().parent)


def config_digest(text: str) -> str:
    """SHA-256 of the config text, so a journal names exactly which config was in force."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def config_warnings(config: Config, environ: Mapping[str, str]) -> list[ConfigProblem]:
    """Things that are allowed but worth a look before the window opens."""
    warnings: list[ConfigProblem] = []
    for key, name in named_env_vars(config):
        if name not in environ:
            warnings.append(ConfigProblem(key, f"names ${name}, which is not set in this shell"))
    for key, dsn in config.keyed_dsns():
        if "password" in dsn_fields(dsn):
            warnings.append(
                ConfigProblem(
                    key,
                    "holds a password; prefer PGPASSWORD, ~/.pgpass or password_env "
                    "(it is redacted from the journal either way)",
                )
            )
    return warnings


def named_env_vars(config: Config) -> list[tuple[str, str]]:
    """(key path, env var name) for every secret the config names by environment variable."""
    named = [
        (path, value)
        for path, value in _walk_fields(config)
        if path.endswith("_env") and isinstance(value, str)
    ]
    return named + [(f"secrets.env[{i}]", name) for i, name in enumerate(config.secrets.env)]
