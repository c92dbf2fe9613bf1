"""5xx ratio and latency per target group from CloudWatch's ALB metrics (AWS/ApplicationELB).

Status rules: see cockpit.sources.errors_common (no requests -> UNKNOWN, ratio over the guard
threshold -> CRITICAL, over half of it or p95 over its limit -> WARN, else OK).

The ratio is computed here from the RequestCount and HTTPCode_Target_5XX_Count sums, never by
metric math. The p95 asks for its own call: a store that cannot compute percentiles (moto) then
costs the p95 alone, which reads "p95 unavailable" and is retried after a while. Over several
periods, p95_seconds is the worst period's p95, which the window's p95 cannot exceed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cockpit.config import CloudWatchErrors, ErrorsSection
from cockpit.io.context import SourceContext
from cockpit.io.failures import describe_failure
from cockpit.model import Reading, SignalKind, Status, Value
from cockpit.sources.base import Schedule, make_reading
from cockpit.sources.errors_common import (
    Thresholds,
    WindowStats,
    classify,
    describe,
    error_values,
    unknown_values,
    window_bounds,
    window_text,
)
from cockpit.sources.errors_values import CLOUDWATCH, SIDES, CloudWatchExtras, ResponseTimes
from cockpit.sources.errors_values import signal_id as errors_signal_id
from cockpit.units import latency_ms_text

NAMESPACE = "AWS/ApplicationELB"
P95_RETRY_SECONDS = 300.0
# Query id suffix -> (metric name, statistic) for the call that must always work.
COUNT_METRICS: Mapping[str, tuple[str, str]] = {
    "requests": ("RequestCount", "Sum"),
    "errors": ("HTTPCode_Target_5XX_Count", "Sum"),
    "rt_sum": ("TargetResponseTime", "Sum"),
    "rt_count": ("TargetResponseTime", "SampleCount"),
    "rt_max": ("TargetResponseTime", "Maximum"),
}
P95_METRICS: Mapping[str, tuple[str, str]] = {"p95": ("TargetResponseTime", "p95")}
_FAILED_QUERY_CODES = ("InternalError", "Forbidden")


def load_balancer_dimension(arn: str) -> str:
    """CloudWatch's LoadBalancer dimension ("app/<name>/<id>") of a load balancer ARN."""
    return _resource_after(arn, "loadbalancer/", parts=3)


def target_group_dimension(arn: str) -> str:
    """CloudWatch's TargetGroup dimension ("targetgroup/<name>/<id>") of a target group ARN."""
    return "targetgroup/" + _resource_after(arn, "targetgroup/", parts=2)


def _resource_after(arn: str, marker: str, *, parts: int) -> str:
    """The ARN's resource after `marker`, which must be `parts` non-empty names joined by "/"."""
    fields = arn.split(":", 5)
    resource = fields[5] if len(fields) == 6 and fields[0] == "arn" else ""
    names = resource.removeprefix(marker).split("/")
    if not resource.startswith(marker) or len(names) != parts or not all(names):
        raise ValueError(f"not an ELBv2 {marker.rstrip('/')} ARN: {arn!r}")
    return resource.removeprefix(marker)


def metric_queries(
    load_balancer: str,
    target_groups: Mapping[str, str],
    period_seconds: int,
    metrics: Mapping[str, tuple[str, str]],
) -> list[dict[str, Any]]:
    """MetricDataQueries with ids "<side>_<suffix>", for every side and metric."""
    return [
        {
            "Id": f"{side}_{suffix}",
            "MetricStat": {
                "Metric": {
                    "Namespace": NAMESPACE,
                    "MetricName": metric_name,
                    "Dimensions": [
                        {"Name": "LoadBalancer", "Value": load_balancer},
                        {"Name": "TargetGroup", "Value": target_group},
                    ],
                },
                "Period": period_seconds,
                "Stat": stat,
            },
            "ReturnData": True,
        }
        for side, target_group in target_groups.items()
        for suffix, (metric_name, stat) in metrics.items()
    ]


@dataclass
class MetricResults:
    """Values per query id gathered over every page, and any query CloudWatch could not answer."""

    values: dict[str, list[float]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def add_page(self, page: Mapping[str, Any]) -> None:
        for result in page.get("MetricDataResults", []):
            query_id = str(result["Id"])
            numbers = [float(v) for v in result.get("Values", []) if v is not None]
            self.values.setdefault(query_id, []).extend(numbers)
            if result.get("StatusCode") in _FAILED_QUERY_CODES:
                self.failed[query_id] = _query_failure(result)

    def series(self, query_id: str) -> list[float]:
        return self.values.get(query_id, [])


def _query_failure(result: Mapping[str, Any]) -> str:
    messages = [str(m.get("Value") or m.get("Code")) for m in result.get("Messages", [])]
    return f"CloudWatch answered {result.get('StatusCode')}" + (
        f": {'; '.join(messages)}" if messages else ""
    )


def fetch_metric_data(
    client: Any, queries: Sequence[Mapping[str, Any]], start: datetime, end: datetime
) -> MetricResults:
    """Every page of one get_metric_data request (follows NextToken)."""
    results = MetricResults()
    arguments: dict[str, Any] = {
        "MetricDataQueries": list(queries),
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    while True:
        page = client.get_metric_data(**arguments)
        results.add_page(page)
        token = page.get("NextToken")
        if not token:
            return results
        arguments["NextToken"] = token


def side_stats(results: MetricResults, p95: MetricResults | None, side: str) -> WindowStats:
    """One side's window from the summed periods; p95 is the worst period's, or None."""
    requests = round(sum(results.series(f"{side}_requests")))
    errors = round(sum(results.series(f"{side}_errors")))
    p95_values = p95.series(f"{side}_p95") if p95 is not None else []
    return WindowStats.from_counts(requests, errors, max(p95_values) if p95_values else None)


def side_extras(results: MetricResults, side: str) -> dict[str, Value]:
    """Average and maximum response time of the window (shown beside, never as, the p95)."""
    return side_times(results, side).to_values()


def side_times(results: MetricResults, side: str) -> ResponseTimes:
    """Average and maximum response time of the window, when CloudWatch gave them."""
    total = sum(results.series(f"{side}_rt_sum"))
    count = sum(results.series(f"{side}_rt_count"))
    maxima = results.series(f"{side}_rt_max")
    return ResponseTimes(total / count if count > 0 else None, max(maxima) if maxima else None)


def side_failure(results: MetricResults, side: str) -> str | None:
    """Why the side's counts cannot be trusted (a query CloudWatch failed), or None."""
    for suffix in ("requests", "errors"):
        reason = results.failed.get(f"{side}_{suffix}")
        if reason:
            return f"{COUNT_METRICS[suffix][0]}: {reason}"
    return None


def p95_missing_text(times: ResponseTimes) -> str:
    """'p95 unavailable', with the average and maximum when CloudWatch gave those."""
    measured = (("avg", times.avg_response_seconds), ("max", times.max_response_seconds))
    shown = [f"{label} {latency_ms_text(value)}" for label, value in measured if value is not None]
    return "p95 unavailable" + (f" ({', '.join(shown)})" if shown else "")


def p95_failure_reason(error: BaseException) -> str:
    """Why the p95 call failed, without the HTML page a failing server may send back."""
    response = getattr(error, "response", None)
    metadata = response.get("ResponseMetadata", {}) if isinstance(response, dict) else {}
    http_status = metadata.get("HTTPStatusCode")
    if isinstance(http_status, int) and http_status >= 500:
        return f"CloudWatch failed the p95 query (HTTP {http_status})"
    return describe_failure(error)


class CloudWatchErrorsSource:
    """Old and new target groups' 5xx ratio and latency from one get_metric_data call."""

    def __init__(
        self, context: SourceContext, section: ErrorsSection, cloudwatch: CloudWatchErrors
    ) -> None:
        self._context = context
        self._schedule = Schedule.from_config(section)
        self._period_seconds = cloudwatch.period_seconds
        self._span_seconds = max(section.window_seconds, cloudwatch.period_seconds)
        self._thresholds = Thresholds.from_guards(context.config.guards)
        self._load_balancer = load_balancer_dimension(cloudwatch.load_balancer_arn)
        self._target_groups = {
            "old": target_group_dimension(cloudwatch.old_target_group_arn),
            "new": target_group_dimension(cloudwatch.new_target_group_arn),
        }
        self._p95_retry_at: datetime | None = None
        self._p95_failure: str | None = None
        self.name = "errors (cloudwatch)"
        self.kind = SignalKind.ERRORS
        self.schedule = self._schedule
        self.signal_ids = tuple(errors_signal_id(CLOUDWATCH, side) for side in SIDES)

    async def read(self) -> list[Reading]:
        now = self._context.clock()
        start, end = window_bounds(now, self._span_seconds)
        counts, p95 = await asyncio.gather(
            self._fetch(COUNT_METRICS, start, end), self._fetch_p95(start, end, now)
        )
        return [self._reading(side, counts, p95, now) for side in SIDES]

    async def _fetch(
        self, metrics: Mapping[str, tuple[str, str]], start: datetime, end: datetime
    ) -> MetricResults:
        """One get_metric_data request, in CloudWatch's own lane of threads."""
        return await self._context.run_aws(
            "cloudwatch",
            self._fetch_blocking,
            metrics,
            start,
            end,
            within_seconds=self._schedule.call_budget_seconds,
        )

    def _fetch_blocking(
        self, metrics: Mapping[str, tuple[str, str]], start: datetime, end: datetime
    ) -> MetricResults:
        client = self._context.aws.client("cloudwatch")
        return fetch_metric_data(client, self._queries(metrics), start, end)

    def _queries(self, metrics: Mapping[str, tuple[str, str]]) -> list[dict[str, Any]]:
        return metric_queries(
            self._load_balancer, self._target_groups, self._period_seconds, metrics
        )

    async def _fetch_p95(
        self, start: datetime, end: datetime, now: datetime
    ) -> MetricResults | None:
        """The p95 values, or None (and no new attempt for a while) when CloudWatch fails them."""
        if self._p95_retry_at is not None and now < self._p95_retry_at:
            return None
        try:
            p95 = await self._fetch(P95_METRICS, start, end)
        except Exception as error:
            self._p95_failure = p95_failure_reason(error)
            self._p95_retry_at = now + timedelta(seconds=P95_RETRY_SECONDS)
            return None
        self._p95_retry_at, self._p95_failure = None, None
        return p95

    def _reading(
        self, side: str, counts: MetricResults, p95: MetricResults | None, now: datetime
    ) -> Reading:
        signal_id = errors_signal_id(CLOUDWATCH, side)
        failure = side_failure(counts, side)
        if failure:
            values = unknown_values(self._thresholds, self._span_seconds, failure)
            return make_reading(self, signal_id, Status.UNKNOWN, now, failure, values)
        stats = side_stats(counts, p95, side)
        extras = CloudWatchExtras(
            times=side_times(counts, side),
            period_seconds=self._period_seconds,
            p95_unavailable_reason=self._p95_failure if p95 is None else None,
        )
        values = error_values(stats, self._thresholds, self._span_seconds, extras.to_values())
        detail = describe(
            stats,
            self._thresholds,
            window_text(self._span_seconds),
            p95_missing=p95_missing_text(extras.times),
        )
        return make_reading(self, signal_id, classify(stats, self._thresholds), now, detail, values)


def build_cloudwatch_sources(context: SourceContext) -> list[CloudWatchErrorsSource]:
    """The CloudWatch error source, or [] when [errors.cloudwatch] is absent."""
    section = context.config.errors
    if section is None or section.cloudwatch is None:
        return []
    return [CloudWatchErrorsSource(context, section, section.cloudwatch)]
