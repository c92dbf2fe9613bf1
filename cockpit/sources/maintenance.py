"""Maintenance mode as the outside sees it: the front door's answer and, for an ALB, its rule.

Signal `maintenance`, values on (True / False / None), probe_status, rule_present, backend.
- OK: on is known; detail "ON: front door answers 503" or "off: front door answers 200"
  ("<ON|off>: <evidence>", the traffic panel shows the evidence after the word);
- UNKNOWN: on cannot be told (probe and rule disagree, or neither could be read), and why.
"""

from __future__ import annotations

import asyncio

from cockpit.config import MaintenanceSection, Polled
from cockpit.io.context import SourceContext
from cockpit.io.maintenance import MaintenanceProbe, MaintenanceReader, backend_name
from cockpit.model import Reading, SignalKind, Status
from cockpit.sources.base import Schedule, Source, make_reading
from cockpit.sources.maintenance_values import SIGNAL_ID, MaintenanceValues

# [maintenance] has no polling keys: every 2 s, 3 s to answer, stale by Polled's usual rule.
MAINTENANCE_SCHEDULE = Schedule.from_config(Polled(interval_seconds=2.0, timeout_seconds=3.0))


def maintenance_detail(probe: MaintenanceProbe) -> str:
    """'ON: front door answers 503', 'off: …', or the reason it is unknown."""
    if probe.on is None:
        return probe.detail
    return f"{'ON' if probe.on else 'off'}: {probe.detail}"


def maintenance_values(probe: MaintenanceProbe, backend: str) -> MaintenanceValues:
    """The reading's typed values: on, and the evidence it was read from."""
    return MaintenanceValues(
        on=probe.on,
        probe_status=probe.probe_status,
        rule_present=probe.rule_present,
        backend=backend,
    )


class MaintenanceSource:
    """Whether maintenance mode is on, read the way the operator's users would meet it."""

    def __init__(self, section: MaintenanceSection, context: SourceContext) -> None:
        self._context = context
        self._reader = MaintenanceReader(section, context.aws, context.environ)
        self._backend = backend_name(section)
        self.name = f"maintenance ({self._backend})"
        self.kind = SignalKind.MAINTENANCE
        self.schedule = MAINTENANCE_SCHEDULE
        self.signal_ids = (SIGNAL_ID,)

    async def read(self) -> list[Reading]:
        probe = await self._read_probe()
        status = Status.UNKNOWN if probe.on is None else Status.OK
        values = maintenance_values(probe, self._backend).as_values()
        now = self._context.clock()
        return [make_reading(self, SIGNAL_ID, status, now, maintenance_detail(probe), values)]

    async def _read_probe(self) -> MaintenanceProbe:
        """The front door and, for the ALB backend, its rule; AWS calls in the elbv2 lane."""
        if self._backend != "alb":
            return await asyncio.to_thread(self._reader.read)
        budget = self.schedule.call_budget_seconds
        return await self._context.run_aws("elbv2", self._reader.read, within_seconds=budget)


def build_maintenance_sources(context: SourceContext) -> list[Source]:
    """The maintenance source, when [maintenance] is configured."""
    section = context.config.maintenance
    return [] if section is None else [MaintenanceSource(section, context)]
