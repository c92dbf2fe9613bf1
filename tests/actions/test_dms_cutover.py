"""The DMS cutover through `cockpit act promote`, against moto's DMS and CloudWatch over HTTP.

moto runs the task (create, start, stop, describe) and serves the CDC latency datapoints we put.
It answers describe_table_statistics with an error, so those readings say the table statistics
are unreadable; the guards the cutover needs do not read them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from cockpit.actions.model import ActionId
from cockpit.commands.act import ActRequest, run_act
from tests.actions.support import action_records
from tests.dms_stand_in import TEST_KEYS, DmsStandIn, dms_stand_in


@pytest.fixture(scope="module")
def stand_in() -> Iterator[DmsStandIn]:
    with dms_stand_in() as running:
        yield running


def write_config(stand_in: DmsStandIn, identifier: str, folder: Path) -> Path:
    data: dict[str, Any] = {
        "cutover": {"name": "dms cutover"},
        "journal": {"dir": str(folder / "journal"), "anchor_syslog": False},
        "aws": {
            "region": stand_in.aws.region,
            "endpoint_url": stand_in.aws.endpoint_url,
            "max_attempts": 1,
        },
        "replication": {"interval_seconds": 0.5, "timeout_seconds": 10.0},
        "promotion": {"dms": {"timeout_seconds": 30.0}},
        "guards": {"promote_requires_maintenance": False, "promote_quiet_seconds": 0.0},
    }
    data["replication"]["dms"] = {"task_identifier": identifier}
    path = folder / "cockpit.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def latency(stand_in: DmsStandIn, arn: str, seconds: float, minutes_ago: int = 0) -> None:
    """Both CDC latencies for one minute (CloudWatch averages a minute's datapoints)."""
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    for metric in ("CDCLatencySource", "CDCLatencyTarget"):
        stand_in.put_latency(arn, metric, seconds, at)


def act(config: Path, answer: str = "", **options: Any) -> tuple[int, str]:
    """`cockpit act promote`; what it said and the prompts it asked, as one text."""
    said: list[str] = []

    def ask(prompt: str) -> str:
        said.append(prompt)
        return answer

    request = ActRequest(ActionId.PROMOTE, config, **options)
    code = run_act(request, TEST_KEYS, ask=ask, say=said.append)
    return code, "\n".join(said)


def task_status(stand_in: DmsStandIn, arn: str) -> str:
    tasks = stand_in.client("dms").describe_replication_tasks(
        Filters=[{"Name": "replication-task-arn", "Values": [arn]}]
    )
    return str(tasks["ReplicationTasks"][0]["Status"])


def test_the_task_is_stopped_once_cdc_latency_is_zero_and_the_stop_is_read_back(
    stand_in: DmsStandIn, tmp_path: Path
) -> None:
    identifier, arn = stand_in.running_task()
    config = write_config(stand_in, identifier, tmp_path)

    latency(stand_in, arn, 7.0, minutes_ago=2)
    code, text = act(config, confirm_name=identifier)
    assert code == 1
    assert "CDC latency 7s: wait for 0 s" in text
    assert task_status(stand_in, arn) == "running"

    latency(stand_in, arn, 0.0)
    code, text = act(config, confirm_name="shop-cdc-wrong")
    assert code == 1 and "does not match" in text
    assert task_status(stand_in, arn) == "running"

    code, text = act(config, answer=identifier)
    assert code == 0, text
    assert f"ONE-WAY DOOR: type {identifier} to cut over: " in text
    assert task_status(stand_in, arn) == "stopped"
    planned = action_records(tmp_path, ActionId.PROMOTE, "planned")[-1]
    assert planned["plan"]["summary"] == f"Cut over: stop DMS task {identifier} — ONE-WAY DOOR"
    executed = action_records(tmp_path, ActionId.PROMOTE, "executed")[-1]
    assert any("StopReplicationTask" in line for line in executed["evidence"])
    verified = action_records(tmp_path, ActionId.PROMOTE, "verified")[-1]
    assert verified["ok"] is True and verified["observed"]["status"] == "stopped"


def test_a_stopped_task_is_not_cut_over_again(stand_in: DmsStandIn, tmp_path: Path) -> None:
    identifier, arn = stand_in.running_task()
    stand_in.client("dms").stop_replication_task(ReplicationTaskArn=arn)
    latency(stand_in, arn, 0.0)
    code, text = act(write_config(stand_in, identifier, tmp_path), confirm_name=identifier)
    assert code == 1
    assert "stopped" in text
    assert not action_records(tmp_path, ActionId.PROMOTE, "executed")
