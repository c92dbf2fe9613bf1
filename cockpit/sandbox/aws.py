"""The AWS stand-in: moto's threaded server seeded with the cutover's Route 53, ALB, RDS, metrics.

moto keeps its state in this process, so the in-process readers here (DNS records, weights,
maintenance) see a change the moment the boto3 call that made it returns.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import parse_qs

from cockpit.jsonvalue import JsonValue
from cockpit.sandbox.shared import (
    SIDES,
    FixedResponse,
    MaintenanceSource,
    RecordSource,
    SandboxError,
    Side,
    SideCounts,
    WeightedRecordSet,
    Weights,
    WeightsSource,
)

# The demo's AWS keys: the stand-in takes any, and the redactor hides them wherever they
# appear, so they must not be words people write ("testing" once turned notes into ***).
DUMMY_ACCESS_KEY_ID = "AKIASANDBOXDEMOKEY00"
DUMMY_SECRET_ACCESS_KEY = "sandbox-demo-secret-not-a-real-key-7Qx2"
# The stand-in's own clients (seed, reset, metrics) sign with this key id, so the request log
# can tell their requests from the cockpit's.
STAND_IN_ACCESS_KEY_ID = "sandbox-stand-in"
REQUEST_LOG_LIMIT = 10_000
LOAD_BALANCER_NAME = "cutover-alb"
TARGET_GROUP_NAMES: Mapping[Side, str] = {"old": "cutover-old", "new": "cutover-new"}
INITIAL_WEIGHTS: Mapping[Side, int] = {"old": 100, "new": 0}
# The shapes zone: weighted sets beyond a plain old/new pair, apart from the zone DNS serves, so
# the main record's answers and the front door stay as they are.
SHAPES_ZONE_LABEL = "shapes"
CANARY_RECORD_LABEL = "canary"
ALIAS_RECORD_LABEL = "alias"
CANARY_SET_IDENTIFIER = "canary"
CANARY_WEIGHT = 10
CANARY_ANSWERS = ("127.0.9.10",)
CANARY_TARGET_GROUP_NAME = "cutover-canary"
NEW_LOAD_BALANCER_NAME = "cutover-alb-new"
RDS_PRIMARY_ID = "shop-db"
RDS_REPLICA_ID = "shop-db-replica"
ASSET_BUCKETS: Mapping[Side, str] = MappingProxyType(
    {"old": "shop-assets", "new": "shop-assets-aws"}
)
"""The application's files, before and after `aws s3 sync` moved them (same objects on both)."""
ASSET_PREFIX = "public/"
HEALTH_CHECK_PATH = "/health"
SERVER_START_TIMEOUT_SECONDS = 10.0
TargetHealthProbe = Callable[[str, int], tuple[str, str, str]]


class AwsStandIn:
    """moto's HTTP server on loopback; one per process, since moto keeps its state per process."""

    _claim_lock: ClassVar[threading.Lock] = threading.Lock()
    _running: ClassVar[AwsStandIn | None] = None

    def __init__(
        self, host: str = "127.0.0.1", port: int | None = None, region: str = "us-east-1"
    ) -> None:
        if not host.startswith("127."):
            raise SandboxError(f"the AWS stand-in binds to loopback only, not {host}")
        self._host = host
        self._requested_port = port
        self._region = region
        self._lock = threading.Lock()
        self._server: Any = None
        self._endpoint_url: str | None = None
        self._boto3_session: Any = None
        self.request_log = RequestLog()

    @property
    def endpoint_url(self) -> str:
        if self._endpoint_url is None:
            raise SandboxError("the AWS stand-in is not running; call start() first")
        return self._endpoint_url

    @property
    def region(self) -> str:
        return self._region

    @property
    def account_id(self) -> str:
        """The account moto files every resource under (MOTO_ACCOUNT_ID, else moto's default)."""
        from moto.core.models import DEFAULT_ACCOUNT_ID

        return os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)

    def start(self) -> str:
        """Start the server (idempotent), reset moto's state and return the endpoint URL."""
        with self._lock:
            if self._endpoint_url is not None:
                return self._endpoint_url
            if self._requested_port is not None:
                _check_port_free(self._host, self._requested_port)
            self._claim_process()
            try:
                self._server, self._endpoint_url = _start_moto_server(
                    self._host, self._requested_port
                )
                _record_requests(self._server, self.request_log)
                _reset_moto(self._endpoint_url)
            except BaseException:
                self._stop_locked()
                raise
            return self._endpoint_url

    def stop(self) -> None:
        """Stop the server and release the process for another stand-in; idempotent."""
        with self._lock:
            self._stop_locked()

    def client(self, service: str) -> Any:
        """A boto3 client for `service` on this stand-in, blind to any real AWS configuration."""
        endpoint_url = self.endpoint_url
        from botocore.config import Config

        with self._lock:
            if self._boto3_session is None:
                self._boto3_session = _isolated_boto3_session()
            return self._boto3_session.client(
                service,
                endpoint_url=endpoint_url,
                region_name=self._region,
                aws_access_key_id=STAND_IN_ACCESS_KEY_ID,
                aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
                config=Config(retries={"mode": "standard"}, proxies={}),
            )

    def _claim_process(self) -> None:
        with AwsStandIn._claim_lock:
            if AwsStandIn._running is not None and AwsStandIn._running is not self:
                raise SandboxError(
                    "another AWS stand-in is already running in this process and moto "
                    "shares its state between them; stop it first or reuse it"
                )
            AwsStandIn._running = self

    def _stop_locked(self) -> None:
        server, self._server, self._endpoint_url = self._server, None, None
        if server is not None:
            _stop_moto_server(server)
        with AwsStandIn._claim_lock:
            if AwsStandIn._running is self:
                AwsStandIn._running = None


def _start_moto_server(host: str, port: int | None) -> tuple[Any, str]:
    """A started ThreadedMotoServer and its endpoint URL; port None picks a free one."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address=host, port=port or 0, verbose=False)
    starter = threading.Thread(target=server.start, name="aws-stand-in-start", daemon=True)
    starter.start()
    starter.join(SERVER_START_TIMEOUT_SECONDS)
    if starter.is_alive():
        raise SandboxError(
            f"moto's server did not come up on {host}:{port or 'a free port'} within "
            f"{SERVER_START_TIMEOUT_SECONDS:.0f} s; check the error printed above"
        )
    bound_host, bound_port = server.get_host_and_port()
    return server, f"http://{bound_host}:{bound_port}"


def _stop_moto_server(server: Any) -> None:
    """Stop the server thread and close its socket, which ThreadedMotoServer.stop() leaves open."""
    server.stop()
    werkzeug_server = getattr(server, "_server", None)
    if werkzeug_server is not None:
        werkzeug_server.server_close()


# --- request accounting ---------------------------------------------------------------------

_READ_ACTION_PREFIXES = ("Describe", "List", "Get")
_READ_METHODS = ("GET", "HEAD")
_RPC_V2_PATH = re.compile(r"/service/[^/]+/operation/([^/]+)")
_CREDENTIAL_KEY_ID = re.compile(r"Credential=([^/,\s]+)/")


def is_mutating(method: str, path: str, action: str) -> bool:
    """Whether a request may change state: Describe*/List*/Get* actions and REST GETs do not.

    CloudWatch PutMetricData counts as mutating; the sandbox's own publisher sends it, which
    the request's `sender` tells apart.
    """
    if action == rest_action(method, path):
        return method.upper() not in _READ_METHODS
    return not action.startswith(_READ_ACTION_PREFIXES)


def rest_action(method: str, path: str) -> str:
    """How a REST request without an action name (Route 53) is named: 'POST /2013-04-01/...'."""
    return f"{method.upper()} {path}"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the stand-in served: method, path, AWS action and who sent it.

    sender: "sandbox" for the stand-in's own clients (seed, reset, metrics), else "client".
    """

    method: str
    path: str
    action: str
    sender: str

    @property
    def mutating(self) -> bool:
        return is_mutating(self.method, self.path, self.action)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "method": self.method,
            "path": self.path,
            "action": self.action,
            "mutating": self.mutating,
            "sender": self.sender,
        }


class RequestLog:
    """The newest requests the stand-in served, oldest first; thread-safe and bounded."""

    def __init__(self, limit: int = REQUEST_LOG_LIMIT) -> None:
        self._lock = threading.Lock()
        self._entries: deque[RecordedRequest] = deque(maxlen=limit)
        self.client_read_delay_seconds = 0.0
        self.read_delay_after_next_write_seconds = 0.0

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._entries.append(request)

    def entries(self) -> tuple[RecordedRequest, ...]:
        with self._lock:
            return tuple(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class _RecordingApp:
    """WSGI middleware in front of moto's app that logs every request except /moto-api/*."""

    def __init__(self, app: Any, log: RequestLog) -> None:
        self._app = app
        self._log = log

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not str(environ.get("PATH_INFO", "")).startswith("/moto-api"):
            request = recorded_request(environ)
            self._log.record(request)
            self._slow_down(request)
        return self._app(environ, start_response)

    def _slow_down(self, request: RecordedRequest) -> None:
        """A slow AWS API (the aws-slow-reads faults): the cockpit's reads answer late."""
        log = self._log
        if request.sender != "client":
            return
        if request.mutating and log.read_delay_after_next_write_seconds > 0:
            log.client_read_delay_seconds = log.read_delay_after_next_write_seconds
            log.read_delay_after_next_write_seconds = 0.0
        elif not request.mutating and log.client_read_delay_seconds > 0:
            time.sleep(log.client_read_delay_seconds)


def _record_requests(server: Any, log: RequestLog) -> None:
    """Put the recorder in front of the started server's WSGI app (read per request)."""
    werkzeug_server = server._server
    werkzeug_server.app = _RecordingApp(werkzeug_server.app, log)


def recorded_request(environ: dict[str, Any]) -> RecordedRequest:
    """What a WSGI request was; a form body read to find its Action is put back for moto."""
    method = str(environ.get("REQUEST_METHOD") or "GET").upper()
    path = str(environ.get("PATH_INFO") or "/")
    return RecordedRequest(method, path, _action_name(environ, method, path), _sender(environ))


def _action_name(environ: dict[str, Any], method: str, path: str) -> str:
    """Query/form Action, JSON X-Amz-Target, RPC v2 operation path, else method and path."""
    query_action = parse_qs(str(environ.get("QUERY_STRING") or "")).get("Action")
    if query_action:
        return query_action[0]
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return str(target).rsplit(".", 1)[-1]
    rpc = _RPC_V2_PATH.fullmatch(path)
    if rpc:
        return rpc.group(1)
    return _form_action(environ) or rest_action(method, path)


def _form_action(environ: dict[str, Any]) -> str | None:
    """The Action field of a urlencoded body (query-protocol services send it there)."""
    content_type = str(environ.get("CONTENT_TYPE") or "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        return None
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length <= 0:
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)
    actions = parse_qs(body.decode("utf-8", "replace")).get("Action")
    return actions[0] if actions else None


def _sender(environ: dict[str, Any]) -> str:
    credential = _CREDENTIAL_KEY_ID.search(str(environ.get("HTTP_AUTHORIZATION") or ""))
    own = credential is not None and credential.group(1) == STAND_IN_ACCESS_KEY_ID
    return "sandbox" if own else "client"


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise SandboxError(
                f"cannot start the AWS stand-in on {host}:{port}: {error.strerror}; "
                "pick another port or leave it unset to use a free one"
            ) from error


def _reset_moto(endpoint_url: str) -> None:
    """Wipe moto's in-process state (POST /moto-api/reset), which also proves the server answers."""
    address = endpoint_url.removeprefix("http://")
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while True:
        connection = http.client.HTTPConnection(address, timeout=2.0)
        try:
            connection.request("POST", "/moto-api/reset")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        if time.monotonic() > deadline:
            raise SandboxError(
                f"moto's server at {endpoint_url} did not answer POST /moto-api/reset"
            )
        time.sleep(0.05)


def _isolated_boto3_session() -> Any:
    """A boto3 session that reads no AWS config or credentials file and ignores AWS_PROFILE."""
    import boto3
    import botocore.session

    unset: tuple[None, None, None, None] = (None, None, None, None)
    core_session = botocore.session.Session(
        session_vars={
            "profile": unset,
            "config_file": (None, None, os.devnull, None),
            "credentials_file": (None, None, os.devnull, None),
        }
    )
    return boto3.session.Session(botocore_session=core_session)


@dataclass(frozen=True)
class AwsSeed:
    """What seed() created in the stand-in: the identifiers the cockpit and the sandbox use."""

    region: str
    hosted_zone_id: str
    zone_name: str
    record_name: str
    ttl: int
    old_set_identifier: str
    new_set_identifier: str
    answers: Mapping[Side, tuple[str, ...]]
    load_balancer_arn: str
    listener_arn: str
    target_groups: Mapping[Side, str]
    rds_primary_id: str
    rds_replica_id: str
    shapes: ShapesSeed
    buckets: Mapping[Side, str]


@dataclass(frozen=True)
class AliasTarget:
    """Where a Route 53 alias record points: a load balancer's DNS name and its zone."""

    hosted_zone_id: str
    dns_name: str
    evaluate_target_health: bool = True

    def to_aws(self) -> dict[str, Any]:
        return {
            "HostedZoneId": self.hosted_zone_id,
            "DNSName": self.dns_name,
            "EvaluateTargetHealth": self.evaluate_target_health,
        }


@dataclass(frozen=True)
class ShapesSeed:
    """The weighted sets real zones hold beside a plain pair, in a zone of their own.

    canary_record_name: old, new and a canary member (its own answer, weight 10), plain A sets.
    alias_record_name: old and new as alias records to the old and the new load balancer.
    canary_target_group: a third target group (no targets) a listener may forward to.
    """

    hosted_zone_id: str
    zone_name: str
    canary_record_name: str
    canary_set_identifier: str
    canary_weight: int
    canary_answers: tuple[str, ...]
    alias_record_name: str
    alias_targets: Mapping[Side, AliasTarget]
    canary_target_group: str


def seed(
    stand_in: AwsStandIn,
    *,
    targets: Mapping[Side, tuple[str, int]],
    answers: Mapping[Side, tuple[str, ...]],
    ttl: int = 30,
    zone_name: str = "cutover.test.",
    record_name: str = "app.cutover.test.",
) -> AwsSeed:
    """Create the zone and weighted records, the ALB with old/new target groups, the RDS pair."""
    _require_both_sides("targets", targets)
    _require_both_sides("answers", answers)
    zone_name, record_name = _fqdn(zone_name), _fqdn(record_name)
    hosted_zone_id = _seed_route53(stand_in, zone_name, record_name, ttl, answers)
    load_balancer_arn, listener_arn, target_groups = _seed_load_balancer(stand_in, targets)
    shapes = _seed_shapes(stand_in, zone_name, ttl, answers, load_balancer_arn)
    _seed_rds(stand_in)
    _seed_buckets(stand_in)
    return AwsSeed(
        region=stand_in.region,
        hosted_zone_id=hosted_zone_id,
        zone_name=zone_name,
        record_name=record_name,
        ttl=ttl,
        old_set_identifier="old",
        new_set_identifier="new",
        answers={side: tuple(answers[side]) for side in SIDES},
        load_balancer_arn=load_balancer_arn,
        listener_arn=listener_arn,
        target_groups=target_groups,
        rds_primary_id=RDS_PRIMARY_ID,
        rds_replica_id=RDS_REPLICA_ID,
        shapes=shapes,
        buckets=ASSET_BUCKETS,
    )


def _require_both_sides(what: str, by_side: Mapping[Side, object]) -> None:
    missing = [side for side in SIDES if side not in by_side]
    if missing:
        raise SandboxError(f"seed() needs {what} for both sides; missing: {', '.join(missing)}")


def _seed_route53(
    stand_in: AwsStandIn,
    zone_name: str,
    record_name: str,
    ttl: int,
    answers: Mapping[Side, tuple[str, ...]],
) -> str:
    route53 = stand_in.client("route53")
    zone = route53.create_hosted_zone(Name=zone_name, CallerReference=str(uuid.uuid4()))
    hosted_zone_id: str = zone["HostedZone"]["Id"].removeprefix("/hostedzone/")
    changes = [
        {
            "Action": "CREATE",
            "ResourceRecordSet": {
                "Name": record_name,
                "Type": "A",
                "TTL": ttl,
                "SetIdentifier": side,
                "Weight": INITIAL_WEIGHTS[side],
                "ResourceRecords": [{"Value": value} for value in answers[side]],
            },
        }
        for side in SIDES
    ]
    route53.change_resource_record_sets(
        HostedZoneId=hosted_zone_id,
        ChangeBatch={"Comment": "cutover sandbox seed", "Changes": changes},
    )
    return hosted_zone_id


def _seed_shapes(
    stand_in: AwsStandIn,
    zone_name: str,
    ttl: int,
    answers: Mapping[Side, tuple[str, ...]],
    old_load_balancer_arn: str,
) -> ShapesSeed:
    """The shapes zone with its canary and alias sets, the new load balancer, the canary group."""
    route53 = stand_in.client("route53")
    shapes_zone = f"{SHAPES_ZONE_LABEL}.{zone_name}"
    zone = route53.create_hosted_zone(Name=shapes_zone, CallerReference=str(uuid.uuid4()))
    hosted_zone_id: str = zone["HostedZone"]["Id"].removeprefix("/hostedzone/")
    alias_targets = _seed_alias_targets(stand_in, old_load_balancer_arn)
    shapes = ShapesSeed(
        hosted_zone_id=hosted_zone_id,
        zone_name=shapes_zone,
        canary_record_name=f"{CANARY_RECORD_LABEL}.{shapes_zone}",
        canary_set_identifier=CANARY_SET_IDENTIFIER,
        canary_weight=CANARY_WEIGHT,
        canary_answers=CANARY_ANSWERS,
        alias_record_name=f"{ALIAS_RECORD_LABEL}.{shapes_zone}",
        alias_targets=alias_targets,
        canary_target_group=_seed_canary_target_group(stand_in, old_load_balancer_arn),
    )
    changes = shapes_record_sets(shapes, ttl, answers, {**INITIAL_WEIGHTS})
    route53.change_resource_record_sets(
        HostedZoneId=hosted_zone_id,
        ChangeBatch={
            "Comment": "cutover sandbox shapes",
            "Changes": [{"Action": "CREATE", "ResourceRecordSet": rs} for rs in changes],
        },
    )
    return shapes


def shapes_record_sets(
    shapes: ShapesSeed,
    ttl: int,
    answers: Mapping[Side, tuple[str, ...]],
    weights: Mapping[Side, int],
) -> list[dict[str, Any]]:
    """The canary set's three members and the alias set's two, at `weights` (old/new) as seeded."""
    plain: dict[str, tuple[str, ...]] = {side: answers[side] for side in SIDES}
    plain[shapes.canary_set_identifier] = shapes.canary_answers
    canary_weights: dict[str, int] = {side: weights[side] for side in SIDES}
    canary_weights[shapes.canary_set_identifier] = shapes.canary_weight
    canary_set = [
        {
            "Name": shapes.canary_record_name,
            "Type": "A",
            "TTL": ttl,
            "SetIdentifier": identifier,
            "Weight": canary_weights[identifier],
            "ResourceRecords": [{"Value": value} for value in values],
        }
        for identifier, values in plain.items()
    ]
    alias_set = [
        {
            "Name": shapes.alias_record_name,
            "Type": "A",
            "SetIdentifier": side,
            "Weight": weights[side],
            "AliasTarget": shapes.alias_targets[side].to_aws(),
        }
        for side in SIDES
    ]
    return canary_set + alias_set


def _seed_alias_targets(stand_in: AwsStandIn, old_arn: str) -> dict[Side, AliasTarget]:
    """Alias targets for the old load balancer and a new one made here (no listener)."""
    elbv2 = stand_in.client("elbv2")
    (old,) = elbv2.describe_load_balancers(LoadBalancerArns=[old_arn])["LoadBalancers"]
    new = elbv2.create_load_balancer(
        Name=NEW_LOAD_BALANCER_NAME,
        Subnets=[zone["SubnetId"] for zone in old["AvailabilityZones"]],
        Scheme="internet-facing",
        Type="application",
    )["LoadBalancers"][0]
    balancers: dict[Side, Any] = {"old": old, "new": new}
    return {
        side: AliasTarget(balancer["CanonicalHostedZoneId"], _fqdn(balancer["DNSName"]).lower())
        for side, balancer in balancers.items()
    }


def _seed_canary_target_group(stand_in: AwsStandIn, load_balancer_arn: str) -> str:
    elbv2 = stand_in.client("elbv2")
    (balancer,) = elbv2.describe_load_balancers(LoadBalancerArns=[load_balancer_arn])[
        "LoadBalancers"
    ]
    group = elbv2.create_target_group(
        Name=CANARY_TARGET_GROUP_NAME,
        Protocol="HTTP",
        Port=80,
        VpcId=balancer["VpcId"],
        TargetType="ip",
        HealthCheckPath=HEALTH_CHECK_PATH,
    )["TargetGroups"][0]
    arn: str = group["TargetGroupArn"]
    return arn


def _seed_load_balancer(
    stand_in: AwsStandIn, targets: Mapping[Side, tuple[str, int]]
) -> tuple[str, str, dict[Side, str]]:
    """The ALB, its old/new target groups with their targets, and the weighted HTTP listener."""
    vpc_id, subnet_ids = _seed_network(stand_in)
    elbv2 = stand_in.client("elbv2")
    load_balancer = elbv2.create_load_balancer(
        Name=LOAD_BALANCER_NAME, Subnets=subnet_ids, Scheme="internet-facing", Type="application"
    )["LoadBalancers"][0]
    target_groups = {
        side: _seed_target_group(elbv2, vpc_id, TARGET_GROUP_NAMES[side], targets[side])
        for side in SIDES
    }
    forward = {
        "Type": "forward",
        "ForwardConfig": {
            "TargetGroups": [
                {"TargetGroupArn": target_groups[side], "Weight": INITIAL_WEIGHTS[side]}
                for side in SIDES
            ]
        },
    }
    listener = elbv2.create_listener(
        LoadBalancerArn=load_balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=[forward],
    )["Listeners"][0]
    return load_balancer["LoadBalancerArn"], listener["ListenerArn"], target_groups


def _seed_network(stand_in: AwsStandIn) -> tuple[str, list[str]]:
    ec2 = stand_in.client("ec2")
    vpc_id: str = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_ids = [
        ec2.create_subnet(
            VpcId=vpc_id, CidrBlock=f"10.0.{index}.0/24", AvailabilityZone=stand_in.region + zone
        )["Subnet"]["SubnetId"]
        for index, zone in ((1, "a"), (2, "b"))
    ]
    return vpc_id, subnet_ids


def _seed_target_group(elbv2: Any, vpc_id: str, name: str, target: tuple[str, int]) -> str:
    ip, port = target
    target_group = elbv2.create_target_group(
        Name=name,
        Protocol="HTTP",
        Port=port,
        VpcId=vpc_id,
        TargetType="ip",
        HealthCheckProtocol="HTTP",
        HealthCheckPath=HEALTH_CHECK_PATH,
        Matcher={"HttpCode": "200"},
    )["TargetGroups"][0]
    arn: str = target_group["TargetGroupArn"]
    elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": ip, "Port": port}])
    return arn


def asset_objects() -> dict[str, bytes]:
    """What the application's bucket holds: pages, styles, images and uploads under a prefix,
    and one object outside it that the comparison leaves alone."""
    objects = {
        f"{ASSET_PREFIX}index.html": b"<html><body>shop</body></html>\n",
        f"{ASSET_PREFIX}css/app.css": b"body { font-family: sans-serif; }\n" * 40,
        f"{ASSET_PREFIX}js/app.js": b"console.log('shop');\n" * 200,
        "internal/backup-manifest.json": b'{"not": "public"}\n',
    }
    for number in range(1, 25):
        objects[f"{ASSET_PREFIX}uploads/2026/11/photo-{number:03d}.jpg"] = bytes([number]) * (
            1024 * number
        )
    return objects


def _seed_buckets(stand_in: AwsStandIn) -> None:
    s3 = stand_in.client("s3")
    for bucket in ASSET_BUCKETS.values():
        s3.create_bucket(Bucket=bucket, **_bucket_location(stand_in.region))
        for key, body in asset_objects().items():
            s3.put_object(Bucket=bucket, Key=key, Body=body)


def _bucket_location(region: str) -> dict[str, Any]:
    """S3 takes a location constraint for every region but us-east-1, which refuses one."""
    if region == "us-east-1":
        return {}
    return {"CreateBucketConfiguration": {"LocationConstraint": region}}


def _seed_rds(stand_in: AwsStandIn) -> None:
    rds = stand_in.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier=RDS_PRIMARY_ID,
        Engine="postgres",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="shop",
        MasterUserPassword="sandbox-only-password",
    )
    rds.create_db_instance_read_replica(
        DBInstanceIdentifier=RDS_REPLICA_ID, SourceDBInstanceIdentifier=RDS_PRIMARY_ID
    )


class _TargetHealthPatch:
    """Replaces moto's always-healthy FakeTargetGroup.health_for with a probe, once per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._original: Any = None
        self.probe: TargetHealthProbe | None = None

    def install(self, probe: TargetHealthProbe) -> None:
        from moto.elbv2.models import FakeTargetGroup

        target_group_class: Any = FakeTargetGroup
        with self._lock:
            if self._original is None:
                self._original = target_group_class.health_for
            self.probe = probe
            target_group_class.health_for = _probed_health_for

    def uninstall(self) -> None:
        from moto.elbv2.models import FakeTargetGroup

        target_group_class: Any = FakeTargetGroup
        with self._lock:
            self.probe = None
            if self._original is not None:
                target_group_class.health_for = self._original

    def original_health_for(self, target_group: Any, target: Any, ec2_backend: Any) -> Any:
        return self._original(target_group, target, ec2_backend)


_target_health_patch = _TargetHealthPatch()


def _probed_health_for(target_group: Any, target: Any, ec2_backend: Any) -> Any:
    """moto's health for a target, except that a registered ip target's comes from the probe."""
    from moto.elbv2.models import FakeHealthStatus

    status = _target_health_patch.original_health_for(target_group, target, ec2_backend)
    probe = _target_health_patch.probe
    if probe is None or status.status != "healthy" or target_group.target_type != "ip":
        return status
    port = _health_check_port(target_group.health_check_port, int(status.port))
    state, reason, description = probe(str(status.instance_id), port)
    return FakeHealthStatus(
        status.instance_id,
        status.port,
        status.health_check_port,
        state,
        reason or None,
        description or None,
    )


def _health_check_port(configured: str | None, traffic_port: int) -> int:
    return int(configured) if configured and configured.isdigit() else traffic_port


def install_target_health(probe: TargetHealthProbe) -> None:
    """Make describe_target_health (served by this process) report probe(ip, port) per ip target."""
    _target_health_patch.install(probe)


def uninstall_target_health() -> None:
    """Give moto back its own always-healthy target health; idempotent."""
    _target_health_patch.uninstall()


class _HttpHealthProbe:
    """ALB-style HTTP health checks of loopback targets, each result reused for a short while."""

    def __init__(self, timeout_seconds: float, path: str, cache_seconds: float) -> None:
        self._timeout_seconds = timeout_seconds
        self._path = path
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._results: dict[tuple[str, int], tuple[float, tuple[str, str, str]]] = {}

    def __call__(self, ip: str, port: int) -> tuple[str, str, str]:
        now = time.monotonic()
        with self._lock:
            cached = self._results.get((ip, port))
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        result = self._check(ip, port)
        with self._lock:
            self._results[(ip, port)] = (time.monotonic(), result)
        return result

    def _check(self, ip: str, port: int) -> tuple[str, str, str]:
        if not _is_loopback(ip):
            return ("unhealthy", "Target.FailedHealthChecks", "the sandbox checks loopback only")
        connection = http.client.HTTPConnection(ip, port, timeout=self._timeout_seconds)
        try:
            connection.request("GET", self._path)
            status_code = connection.getresponse().status
        except TimeoutError:
            return ("unhealthy", "Target.Timeout", "Request timed out")
        except (OSError, http.client.HTTPException):
            return ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
        finally:
            connection.close()
        if status_code == 200:
            return ("healthy", "", "")
        return (
            "unhealthy",
            "Target.ResponseCodeMismatch",
            f"Health checks failed with these codes: [{status_code}]",
        )


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def http_health_probe(
    timeout_seconds: float = 1.0, path: str = HEALTH_CHECK_PATH
) -> Callable[[str, int], tuple[str, str, str]]:
    """A probe that GETs http://ip:port/health as an ALB does (200 only is healthy), cached ~1 s."""
    return _HttpHealthProbe(timeout_seconds, path, cache_seconds=1.0)


def route53_record_source(stand_in: AwsStandIn, hosted_zone_id: str) -> RecordSource:
    """Read a zone's record sets straight from moto's in-process Route 53 backend."""
    zone_id = hosted_zone_id.removeprefix("/hostedzone/")

    def record_sets(name: str, rtype: str) -> Sequence[WeightedRecordSet]:
        wanted_name, wanted_types = _fqdn(name).lower(), (rtype.upper(), "CNAME")
        return [
            _record_set(moto_set)
            for moto_set in _route53_zone(stand_in, zone_id).rrsets
            if _fqdn(moto_set.name).lower() == wanted_name
            and str(moto_set.type).upper() in wanted_types
        ]

    return record_sets


def _route53_zone(stand_in: AwsStandIn, zone_id: str) -> Any:
    from moto.route53.exceptions import NoSuchHostedZone
    from moto.route53.models import route53_backends
    from moto.utilities.utils import get_partition

    backend = route53_backends[stand_in.account_id][get_partition(stand_in.region)]
    try:
        return backend.get_hosted_zone(zone_id)
    except NoSuchHostedZone as error:
        raise SandboxError(f"the AWS stand-in holds no hosted zone {zone_id}") from error


def _record_set(moto_record_set: Any) -> WeightedRecordSet:
    rtype = str(moto_record_set.type).upper()
    weight = moto_record_set.weight
    return WeightedRecordSet(
        name=_fqdn(str(moto_record_set.name)).lower(),
        rtype=rtype,
        ttl=int(moto_record_set.ttl or 0),
        values=tuple(_record_values(rtype, moto_record_set.records or [])),
        set_identifier=moto_record_set.set_identifier,
        weight=None if weight is None else int(weight),
    )


def _record_values(rtype: str, records: Iterable[Any]) -> Iterable[str]:
    """Record values as text; moto holds them as strings or as {"Value": ...} dicts."""
    for record in records:
        value = str(record["Value"] if isinstance(record, dict) else record)
        yield _fqdn(value) if rtype in ("CNAME", "NS") else value


def _fqdn(name: str) -> str:
    return name if name.endswith(".") else name + "."


def route53_weights(stand_in: AwsStandIn, seed: AwsSeed) -> WeightsSource:
    """Read the old/new weights of the seeded weighted record set in process (a missing set: 0)."""
    read_record_sets = route53_record_source(stand_in, seed.hosted_zone_id)

    def weights() -> Weights:
        by_identifier = {
            record_set.set_identifier: record_set.weight or 0
            for record_set in read_record_sets(seed.record_name, "A")
            if record_set.rtype == "A"
        }
        return Weights(
            old=by_identifier.get(seed.old_set_identifier, 0),
            new=by_identifier.get(seed.new_set_identifier, 0),
        )

    return weights


def alb_weights(stand_in: AwsStandIn, seed: AwsSeed) -> WeightsSource:
    """Read the listener's default forward weights in process (a group left out of it: 0)."""

    def weights() -> Weights:
        listener = _listener(seed)
        by_arn = _forward_weights(listener.default_actions)
        return Weights(
            old=by_arn.get(seed.target_groups["old"], 0),
            new=by_arn.get(seed.target_groups["new"], 0),
        )

    return weights


def _forward_weights(actions: Iterable[Any]) -> dict[str, int]:
    """Target group ARN -> weight of the first forward action (a bare TargetGroupArn weighs 1)."""
    for action in actions:
        if action.data.get("Type") != "forward":
            continue
        groups = action.data.get("ForwardConfig", {}).get("TargetGroups")
        if groups:
            return {group["TargetGroupArn"]: int(group.get("Weight", 1)) for group in groups}
        return {action.data["TargetGroupArn"]: 1} if "TargetGroupArn" in action.data else {}
    return {}


def alb_maintenance(stand_in: AwsStandIn, seed: AwsSeed) -> MaintenanceSource:
    """Read the highest-priority fixed-response rule of the listener in process; None if none."""

    def maintenance() -> FixedResponse | None:
        for rule in sorted(_listener(seed).rules.values(), key=_rule_order):
            for action in rule.actions:
                if action.data.get("Type") == "fixed-response":
                    return _fixed_response(action.data.get("FixedResponseConfig", {}))
        return None

    return maintenance


def _rule_order(rule: Any) -> int:
    return 1_000_000 if rule.is_default else int(rule.priority)


def _fixed_response(config: Mapping[str, Any]) -> FixedResponse:
    return FixedResponse(
        status_code=int(config.get("StatusCode", 503)),
        content_type=str(config.get("ContentType", "text/plain")),
        body=str(config.get("MessageBody", "")),
    )


def _listener(seed: AwsSeed) -> Any:
    from moto.elbv2.exceptions import ListenerNotFoundError
    from moto.elbv2.models import elbv2_backends

    account_id, region = _arn_account_and_region(seed.listener_arn)
    try:
        return elbv2_backends[account_id][region].describe_listeners(None, [seed.listener_arn])[0]
    except (ListenerNotFoundError, IndexError) as error:
        raise SandboxError(f"the AWS stand-in holds no listener {seed.listener_arn}") from error


def _arn_account_and_region(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    if len(parts) < 6:
        raise SandboxError(f"not an ARN: {arn!r}")
    return parts[4], parts[3]


def load_balancer_dimension(arn: str) -> str:
    """CloudWatch's LoadBalancer dimension ("app/<name>/<id>") for a load balancer ARN."""
    return _arn_resource_after(arn, "loadbalancer/")


def target_group_dimension(arn: str) -> str:
    """CloudWatch's TargetGroup dimension ("targetgroup/<name>/<id>") for a target group ARN."""
    return "targetgroup/" + _arn_resource_after(arn, "targetgroup/")


def _arn_resource_after(arn: str, marker: str) -> str:
    resource = arn.split(":", 5)[-1]
    if not resource.startswith(marker) or resource.count("/") < 2:
        raise SandboxError(f"not an ELBv2 {marker.rstrip('/')} ARN: {arn!r}")
    return resource.removeprefix(marker)


class MetricsPublisher:
    """Publishes what the front door served as CloudWatch's ALB and RDS metrics would show it."""

    def __init__(self, stand_in: AwsStandIn, seed: AwsSeed) -> None:
        self._cloudwatch = stand_in.client("cloudwatch")
        self._seed = seed
        self._load_balancer = load_balancer_dimension(seed.load_balancer_arn)

    def publish_traffic(self, counts: Mapping[Side, SideCounts], at: datetime) -> None:
        """Put RequestCount, HTTPCode_Target_5XX_Count and TargetResponseTime per target group."""
        timestamp = _utc(at)
        metric_data = [
            datum
            for side, side_counts in counts.items()
            for datum in self._side_metrics(side, side_counts, timestamp)
        ]
        if metric_data:
            self._cloudwatch.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=metric_data)

    def publish_replica_lag(self, lag_seconds: float, at: datetime) -> None:
        """Put the RDS replica's ReplicaLag in seconds."""
        datum = {
            "MetricName": "ReplicaLag",
            "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": self._seed.rds_replica_id}],
            "Timestamp": _utc(at),
            "Unit": "Seconds",
            "Value": float(lag_seconds),
        }
        self._cloudwatch.put_metric_data(Namespace="AWS/RDS", MetricData=[datum])

    def _side_metrics(
        self, side: Side, side_counts: SideCounts, timestamp: datetime
    ) -> list[dict[str, Any]]:
        common = {
            "Dimensions": [
                {"Name": "LoadBalancer", "Value": self._load_balancer},
                {
                    "Name": "TargetGroup",
                    "Value": target_group_dimension(self._seed.target_groups[side]),
                },
            ],
            "Timestamp": timestamp,
        }
        metrics = [
            {
                **common,
                "MetricName": "RequestCount",
                "Unit": "Count",
                "Value": side_counts.requests,
            },
            {
                **common,
                "MetricName": "HTTPCode_Target_5XX_Count",
                "Unit": "Count",
                "Value": side_counts.errors_5xx,
            },
        ]
        if side_counts.response_times_seconds:
            metrics.append(
                {
                    **common,
                    "MetricName": "TargetResponseTime",
                    "Unit": "Seconds",
                    **_response_time_values(side_counts.response_times_seconds),
                }
            )
        return metrics


def _response_time_values(response_times_seconds: Sequence[float]) -> dict[str, Any]:
    """One statistic set per publish, so moto's store stays small over an 8-hour session.

    moto computes no percentiles, so individual values would buy nothing but memory.
    """
    return {
        "StatisticValues": {
            "SampleCount": float(len(response_times_seconds)),
            "Sum": float(sum(response_times_seconds)),
            "Minimum": float(min(response_times_seconds)),
            "Maximum": float(max(response_times_seconds)),
        }
    }


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise SandboxError(f"metric timestamps must be timezone-aware, got {at.isoformat()}")
    return at.astimezone(UTC)
