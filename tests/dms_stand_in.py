"""AWS DMS for the tests: moto's server over HTTP, recorded payloads, and a checker of their shapes.

moto (5.2.5) runs replication instances, endpoints and tasks (create, start, stop, describe)
and takes CloudWatch datapoints, all over real HTTP here. It does not implement
describe_table_statistics, and its task never fails, never loads and gives no StopReason: those
come from payloads recorded in the shapes of botocore's DMS service model, fed at our adapter
boundary (the parse functions, or a client stand-in handed to our code), and
`assert_shaped_like` checks each against that model.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cockpit.clock import Clock, system_clock
from cockpit.config import Config, config_from_data
from cockpit.io.context import AwsClients, SourceContext
from cockpit.sandbox.aws import AwsStandIn

TEST_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
INSTANCE_NAME = "shop-dms"
TABLE_MAPPINGS = json.dumps(
    {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": "1",
                "rule-name": "shop",
                "object-locator": {"schema-name": "shop", "table-name": "%"},
                "rule-action": "include",
            }
        ]
    }
)


@dataclass
class DmsStandIn:
    """moto's server with one replication instance and a source and a target endpoint."""

    aws: AwsStandIn
    instance_arn: str = ""
    endpoints: tuple[str, str] = ("", "")

    def client(self, service: str) -> Any:
        return self.aws.client(service)

    def seed(self) -> DmsStandIn:
        dms = self.client("dms")
        instance = dms.create_replication_instance(
            ReplicationInstanceIdentifier=INSTANCE_NAME, ReplicationInstanceClass="dms.t3.medium"
        )
        self.instance_arn = instance["ReplicationInstance"]["ReplicationInstanceArn"]
        self.endpoints = (self._endpoint("source", "postgres"), self._endpoint("target", "aurora"))
        return self

    def _endpoint(self, kind: str, engine: str) -> str:
        endpoint = self.client("dms").create_endpoint(
            EndpointIdentifier=f"shop-{kind}",
            EndpointType=kind,
            EngineName=engine,
            ServerName=f"{kind}.db.internal",
            Port=5432,
            DatabaseName="shop",
            Username="cutover",
            Password="not-a-secret",
        )
        return str(endpoint["Endpoint"]["EndpointArn"])

    def create_task(self, migration_type: str = "full-load-and-cdc") -> tuple[str, str]:
        """(identifier, ARN) of a new task, named afresh so tests never share one."""
        identifier = f"shop-cdc-{uuid.uuid4().hex[:8]}"
        created = self.client("dms").create_replication_task(
            ReplicationTaskIdentifier=identifier,
            SourceEndpointArn=self.endpoints[0],
            TargetEndpointArn=self.endpoints[1],
            ReplicationInstanceArn=self.instance_arn,
            MigrationType=migration_type,
            TableMappings=TABLE_MAPPINGS,
        )
        return identifier, str(created["ReplicationTask"]["ReplicationTaskArn"])

    def running_task(self) -> tuple[str, str]:
        identifier, arn = self.create_task()
        self.client("dms").start_replication_task(
            ReplicationTaskArn=arn, StartReplicationTaskType="start-replication"
        )
        return identifier, arn

    def put_latency(self, task_arn: str, metric: str, seconds: float, at: datetime) -> None:
        """A CDC latency datapoint, with the dimensions DMS publishes it under."""
        dimensions = [
            {"Name": "ReplicationInstanceIdentifier", "Value": INSTANCE_NAME},
            {"Name": "ReplicationTaskIdentifier", "Value": task_arn.rsplit(":", 1)[-1]},
        ]
        datum = {
            "MetricName": metric,
            "Dimensions": dimensions,
            "Timestamp": at,
            "Unit": "Seconds",
            "Value": seconds,
        }
        self.client("cloudwatch").put_metric_data(Namespace="AWS/DMS", MetricData=[datum])

    def config(self, identifier: str, tmp_path: Path) -> Config:
        """A config whose [replication.dms] names `identifier`, every AWS call sent to moto."""
        return self.config_for(self.aws.endpoint_url, identifier, tmp_path, self.aws.region)

    @staticmethod
    def config_for(
        endpoint_url: str, identifier: str, tmp_path: Path, region: str = "us-east-1"
    ) -> Config:
        """A config for the DMS task `identifier`, every AWS call sent to `endpoint_url`."""
        data = {
            "cutover": {"name": "dms test"},
            "journal": {"dir": str(tmp_path / "journal")},
            "aws": {"region": region, "endpoint_url": endpoint_url, "max_attempts": 1},
            "replication": {"timeout_seconds": 10.0, "dms": {"task_identifier": identifier}},
            "promotion": {"dms": {}},
        }
        return config_from_data(data, source="test", base_dir=tmp_path)

    def context(
        self, identifier: str, tmp_path: Path, clock: Clock = system_clock
    ) -> SourceContext:
        return SourceContext(self.config(identifier, tmp_path), environ=TEST_KEYS, clock=clock)


@contextmanager
def dms_stand_in() -> Iterator[DmsStandIn]:
    """moto's server in this process, seeded for DMS; stopped afterwards."""
    aws = AwsStandIn()
    try:
        aws.start()
        yield DmsStandIn(aws).seed()
    finally:
        aws.stop()


# --- stand-ins at our adapter boundary ------------------------------------------------------------


def table_pages(*pages: Sequence[Mapping[str, Any]], task_arn: str) -> list[dict[str, Any]]:
    """describe_table_statistics pages of these tables, each but the last naming the next."""
    answers: list[dict[str, Any]] = []
    for number, tables in enumerate(pages):
        page: dict[str, Any] = {"ReplicationTaskArn": task_arn, "TableStatistics": list(tables)}
        if number + 1 < len(pages):
            page["Marker"] = f"page-{number + 1}"
        answers.append(page)
    return answers


@dataclass
class TablePages:
    """describe_table_statistics answered from recorded pages, by Marker; calls are recorded."""

    pages: Sequence[Mapping[str, Any]]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def describe_table_statistics(self, **arguments: Any) -> Mapping[str, Any]:
        self.calls.append(arguments)
        marker = arguments.get("Marker")
        return self.pages[int(marker.removeprefix("page-")) if marker else 0]


class WithTablePages:
    """A DMS client: moto's for every call but describe_table_statistics, which moto lacks."""

    def __init__(self, real: Any, tables: TablePages) -> None:
        self._real = real
        self.describe_table_statistics = tables.describe_table_statistics

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class ClientsWithTablePages:
    """Stands in for context.aws: the real clients, DMS's with recorded table statistics."""

    def __init__(self, real: AwsClients, tables: TablePages) -> None:
        self._real = real
        self.tables = tables

    def client(self, service: str) -> Any:
        client = self._real.client(service)
        return WithTablePages(client, self.tables) if service == "dms" else client


class AnsweringClient:
    """A client whose every call answers `answer` (or raises it), recording the arguments."""

    def __init__(self, **answers: Any) -> None:
        self._answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., Any]:
        answer = self._answers[name]

        def call(**arguments: Any) -> Any:
            self.calls.append((name, arguments))
            if isinstance(answer, BaseException):
                raise answer
            return answer

        return call


# --- shapes -------------------------------------------------------------------------------------


def _dms_model() -> Mapping[str, Any]:
    import botocore.session

    loader = botocore.session.get_session().get_component("data_loader")
    model: Mapping[str, Any] = loader.load_service_model("dms", "service-2")
    return model


def assert_shaped_like(operation: str, payload: Mapping[str, Any]) -> None:
    """Fails unless every key in `payload` is one botocore's model gives the operation's output."""
    model = _dms_model()
    output = model["operations"][operation]["output"]["shape"]
    _check(model["shapes"], output, payload, operation)


def _check(shapes: Mapping[str, Any], name: str, value: Any, where: str) -> None:
    shape = shapes[name]
    if shape["type"] == "structure":
        assert isinstance(value, Mapping), f"{where}: {name} is a structure"
        for key, item in value.items():
            if key == "ResponseMetadata":
                continue
            assert key in shape["members"], f"{where}: {name} has no member {key}"
            _check(shapes, shape["members"][key]["shape"], item, f"{where}.{key}")
    elif shape["type"] == "list":
        assert isinstance(value, list | tuple), f"{where}: {name} is a list"
        for index, item in enumerate(value):
            _check(shapes, shape["member"]["shape"], item, f"{where}[{index}]")
    else:
        _check_scalar(shape["type"], value, where)


_SCALARS: Mapping[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "long": int,
    "double": (int, float),
    "boolean": bool,
    "timestamp": datetime,
}


def _check_scalar(kind: str, value: Any, where: str) -> None:
    expected = _SCALARS[kind]
    assert isinstance(value, expected), f"{where}: {value!r} is not a {kind}"


# --- recorded payloads --------------------------------------------------------------------------

RECORDED_AT = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
TASK_ARN = "arn:aws:dms:eu-west-1:123456789012:task:XG7QK2N4LMZ3R5T6Y8UABCDEFG"
INSTANCE_ARN = "arn:aws:dms:eu-west-1:123456789012:rep:Q4W7E2R9T1Y6U3I8O5P0ASDFGH"
HOSTILE_MESSAGE = '\x1b[31mERROR\x1b[0m: relation\n\t"orders" does not exist\r\x1b]0;pwned\x07'
HOSTILE_TABLE = "orders\x1b[2J\nDROP TABLE"


def recorded_task(stats: Mapping[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """A ReplicationTask as real DMS describes a running full-load-and-cdc task past its load."""
    task: dict[str, Any] = {
        "ReplicationTaskIdentifier": "shop-cdc",
        "SourceEndpointArn": "arn:aws:dms:eu-west-1:123456789012:endpoint:SRCENDPOINTID",
        "TargetEndpointArn": "arn:aws:dms:eu-west-1:123456789012:endpoint:TGTENDPOINTID",
        "ReplicationInstanceArn": INSTANCE_ARN,
        "MigrationType": "full-load-and-cdc",
        "TableMappings": TABLE_MAPPINGS,
        "Status": "running",
        "ReplicationTaskCreationDate": RECORDED_AT - timedelta(days=2),
        "ReplicationTaskStartDate": RECORDED_AT - timedelta(days=1),
        "ReplicationTaskArn": TASK_ARN,
        "ReplicationTaskStats": {
            "FullLoadProgressPercent": 100,
            "ElapsedTimeMillis": 86_400_000,
            "TablesLoaded": 12,
            "TablesLoading": 0,
            "TablesQueued": 0,
            "TablesErrored": 0,
            "FreshStartDate": RECORDED_AT - timedelta(days=1),
            "StartDate": RECORDED_AT - timedelta(days=1),
            "FullLoadStartDate": RECORDED_AT - timedelta(days=1),
            "FullLoadFinishDate": RECORDED_AT - timedelta(hours=20),
            **(stats or {}),
        },
    }
    return {**task, **fields}


def recorded_table(table: str, schema: str = "shop", **fields: Any) -> dict[str, Any]:
    """A TableStatistics entry of a table fully loaded and replicating, validation on."""
    entry: dict[str, Any] = {
        "SchemaName": schema,
        "TableName": table,
        "Inserts": 120,
        "Deletes": 3,
        "Updates": 45,
        "Ddls": 0,
        "FullLoadRows": 50_000,
        "FullLoadCondtnlChkFailedRows": 0,
        "FullLoadErrorRows": 0,
        "FullLoadStartTime": RECORDED_AT - timedelta(days=1),
        "FullLoadEndTime": RECORDED_AT - timedelta(hours=20),
        "FullLoadReloaded": False,
        "LastUpdateTime": RECORDED_AT - timedelta(seconds=5),
        "TableState": "Table completed",
        "ValidationPendingRecords": 0,
        "ValidationFailedRecords": 0,
        "ValidationSuspendedRecords": 0,
        "ValidationState": "Validated",
    }
    return {**entry, **fields}
