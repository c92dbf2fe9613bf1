"""Lag in seconds from CloudWatch: the query for the last 5 minutes, each query's newest datapoint.

RDS ReplicaLag and DMS CDCLatencySource / CDCLatencyTarget are read the same way. No datapoint
is None, never 0: a metric that stopped arriving says nothing about how far behind anything is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

LAG_LOOKBACK = timedelta(minutes=5)
LAG_PERIOD_SECONDS = 60
OLD_DATAPOINT_SECONDS = 180


@dataclass(frozen=True)
class LagDatapoint:
    """The newest period of a lag metric: its average and when the period started."""

    seconds: float
    period_start: datetime


def newest_datapoint(response: Mapping[str, Any], query_id: str) -> LagDatapoint | None:
    """The newest datapoint of query `query_id` in a get_metric_data response, if any."""
    for result in response.get("MetricDataResults", []):
        if result.get("Id") == query_id:
            points = list(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
            if not points:
                return None
            period_start, value = max(points, key=lambda point: point[0])
            return LagDatapoint(float(value), period_start)
    return None


def age_seconds(lag: LagDatapoint, now: datetime) -> float:
    """How long ago the newest datapoint's period started."""
    return (now - lag.period_start).total_seconds()


def age_note(lag: LagDatapoint, now: datetime) -> str:
    """Says how old the newest datapoint is, once that is older than CloudWatch's usual delay."""
    seconds = math.floor(age_seconds(lag, now))
    return f" (newest datapoint {seconds // 60}m old)" if seconds >= OLD_DATAPOINT_SECONDS else ""


def lag_query(metrics: Mapping[str, Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    """get_metric_data arguments for the average of each metric (by query id) over 5 minutes."""
    return {
        "MetricDataQueries": [
            {
                "Id": query_id,
                "MetricStat": {"Metric": metric, "Period": LAG_PERIOD_SECONDS, "Stat": "Average"},
                "ReturnData": True,
            }
            for query_id, metric in metrics.items()
        ],
        "StartTime": now - LAG_LOOKBACK,
        # Past now, so a datapoint stamped within the current second is not cut off.
        "EndTime": now + timedelta(seconds=LAG_PERIOD_SECONDS),
        "ScanBy": "TimestampDescending",
    }
