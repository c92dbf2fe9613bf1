"""Every source the config asks for, built from one context."""

from __future__ import annotations

from cockpit.config import Config
from cockpit.io.context import SourceContext
from cockpit.sources.base import Source


def build_sources(context: SourceContext) -> list[Source]:
    """The configured sources, in the order the screen lists their panels."""
    from cockpit.sources.dns import build_dns_sources
    from cockpit.sources.dns_world import build_world_dns_sources
    from cockpit.sources.maintenance import build_maintenance_sources
    from cockpit.sources.replication import build_replication_sources
    from cockpit.sources.targets import build_target_sources
    from cockpit.sources.traffic import build_traffic_sources

    builders = (
        build_replication_sources,
        build_target_sources,
        build_dns_sources,
        build_world_dns_sources,
        build_errors_sources,
        build_traffic_sources,
        build_maintenance_sources,
        build_integrity_sources,
    )
    return [source for build in builders for source in build(context)]


def aws_services_in_use(config: Config) -> frozenset[str]:
    """The AWS services the configured sources call (their lanes and clients)."""
    targets, traffic, errors = config.targets, config.traffic, config.errors
    replication, maintenance = config.replication, config.maintenance
    rds = replication is not None and replication.rds is not None
    dms = replication is not None and replication.dms is not None
    used = {
        "route53": traffic is not None and traffic.route53 is not None,
        "elbv2": bool(targets and targets.target_groups)
        or bool(traffic and traffic.alb)
        or bool(maintenance and maintenance.alb),
        "cloudwatch": bool(errors and errors.cloudwatch) or rds or dms,
        "rds": rds,
        "dms": dms,
    }
    return frozenset(service for service, in_use in used.items() if in_use)


def build_errors_sources(context: SourceContext) -> list[Source]:
    """Every configured error-rate backend's source; [] without an [errors] section."""
    from cockpit.sources.errors_access_log import build_access_log_sources
    from cockpit.sources.errors_cloudwatch import build_cloudwatch_sources
    from cockpit.sources.errors_prometheus import build_prometheus_sources

    return [
        *build_cloudwatch_sources(context),
        *build_prometheus_sources(context),
        *build_access_log_sources(context),
    ]


def build_integrity_sources(context: SourceContext) -> list[Source]:
    """The database check and one comparison per [[integrity.buckets]] pair, in the background;
    [] without [integrity]."""
    from cockpit.sources.integrity_buckets import BucketIntegritySource
    from cockpit.sources.integrity_database import DatabaseIntegritySource

    integrity = context.config.integrity
    if integrity is None:
        return []
    database = [DatabaseIntegritySource(integrity, context)] if integrity.old_dsn else []
    return [*database, *(BucketIntegritySource(pair, context) for pair in integrity.buckets)]
