"""The configured replication source: streaming, RDS, logical replication or AWS DMS."""

from __future__ import annotations

from cockpit.io.context import SourceContext
from cockpit.sources.base import Schedule, Source
from cockpit.sources.replication_dms import DmsReplicationSource
from cockpit.sources.replication_logical import LogicalReplicationSource
from cockpit.sources.replication_postgres import PostgresReplicationSource
from cockpit.sources.replication_rds import RdsReplicationSource


def build_replication_sources(context: SourceContext) -> list[Source]:
    """The source of the one [replication] backend configured, or none."""
    section = context.config.replication
    if section is None:
        return []
    schedule = Schedule.from_config(section)
    environ, clock = context.environ, context.clock
    if section.postgres is not None:
        return [PostgresReplicationSource(section.postgres, schedule, environ, clock)]
    if section.rds is not None:
        return [RdsReplicationSource(section.rds, schedule, context)]
    if section.logical is not None:
        return [LogicalReplicationSource(section.logical, schedule, environ, clock)]
    if section.dms is not None:
        return [DmsReplicationSource(section.dms, schedule, context)]
    return []
