"""The promotion backend: is the replica still one, and promote it (PostgreSQL or an RDS replica),
or cut over a logical-replication subscription (cockpit/io/logical_cutover.py).

Reading and writing are separate classes: in --read-only and --dry-run modes no writer is built.
Every method blocks (psycopg, boto3); the runner calls them in a thread. Passwords never enter
the text returned or raised: a DSN is named by host:port and database only.

RDS caveat: a replica counts as "in recovery" while describe_db_instances still names its
source (ReadReplicaSourceDBInstanceIdentifier). Real RDS drops that link once promotion
finishes; moto's stand-in keeps it, so against the sandbox in_recovery() stays True after an
RDS promotion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from cockpit.config import (
    Config,
    LogicalReplication,
    PostgresPromotion,
    PostgresReplication,
    PromotionSection,
    RdsPromotion,
)
from cockpit.io.context import AwsClients
from cockpit.io.dms import DmsTask, DmsTaskReader, DmsTaskWriter, dms_settings
from cockpit.io.dsn import DatabaseEnd, dsn_location
from cockpit.io.failures import ActionFailed, describe_failure
from cockpit.io.logical_cutover import LogicalCutoverReader, LogicalCutoverWriter
from cockpit.io.rds import parse_instance
from cockpit.jsonvalue import JsonValue

CONNECT_TIMEOUT_SECONDS = 5
IN_RECOVERY_SQL = "SELECT pg_is_in_recovery()"
NOT_IN_RECOVERY_SQLSTATE = "55000"


# --- pure: what is touched and how --------------------------------------------------------------


def promotion_target_name(config: Config) -> str:
    """The name the operator types to confirm: the replica, subscription or DMS task."""
    section = _promotion(config)
    if section.postgres is not None:
        return section.postgres.replica_name
    if section.logical is not None:
        return logical_settings(config).subscription
    if section.dms is not None:
        return dms_settings(config).task_identifier
    return _rds(section).replica_instance_id


def describe_promotion_target(config: Config) -> str:
    """'PostgreSQL replica shop-db-replica (127.0.0.1:5433, db shop)' or 'RDS read replica x'."""
    section = _promotion(config)
    if section.logical is not None:
        logical = logical_settings(config)
        where = dsn_location(logical.subscriber_dsn)
        return f"subscription {logical.subscription} on the new database ({where.text})"
    if section.dms is not None:
        return f"DMS replication task {dms_settings(config).task_identifier}"
    if section.postgres is not None:
        where = dsn_location(_replication(config).replica_dsn)
        return f"PostgreSQL replica {section.postgres.replica_name} ({where.text})"
    return f"RDS read replica {_rds(section).replica_instance_id}"


def planned_promotion_calls(config: Config) -> tuple[str, ...]:
    """The exact call promotion makes, in words."""
    section = _promotion(config)
    if section.postgres is not None:
        where = dsn_location(_replication(config).replica_dsn)
        return (f"SQL on the replica ({where.address}): {promote_sql(section.postgres)}",)
    return (f"rds PromoteReadReplica DBInstanceIdentifier={_rds(section).replica_instance_id}",)


def promote_sql(section: PostgresPromotion) -> str:
    """pg_promote() waiting up to the configured timeout (whole seconds, as it takes)."""
    return f"SELECT pg_promote(wait => true, wait_seconds => {promote_wait_seconds(section)})"


def promote_wait_seconds(section: PostgresPromotion) -> int:
    """The whole seconds pg_promote() is told to wait."""
    return max(1, math.ceil(section.timeout_seconds))


def _promotion(config: Config) -> PromotionSection:
    if config.promotion is None:
        raise ActionFailed("no [promotion] section in the config: add one to promote a replica")
    return config.promotion


def logical_settings(config: Config) -> LogicalReplication:
    """[replication.logical], which the logical cutover works on."""
    logical = config.replication.logical if config.replication else None
    if logical is None:
        raise ActionFailed("promotion.logical needs [replication.logical]: it names the ends")
    return logical


def _rds(section: PromotionSection) -> RdsPromotion:
    if section.rds is None:
        raise ActionFailed("[promotion] has neither [promotion.postgres] nor [promotion.rds]")
    return section.rds


def _replication(config: Config) -> PostgresReplication:
    replication = config.replication.postgres if config.replication else None
    if replication is None:
        raise ActionFailed(
            "promotion.postgres needs [replication.postgres]: its replica_dsn names the replica"
        )
    return replication


# --- PostgreSQL ---------------------------------------------------------------------------------


def _replica(config: Config, environ: Mapping[str, str]) -> DatabaseEnd:
    """The configured replica, to connect to with the password from password_env."""
    settings = _replication(config)
    key = "replication.postgres.password_env"
    return DatabaseEnd("replica", settings.replica_dsn, settings.password_env, key, environ)


def _fetch_one(replica: DatabaseEnd, sql: str) -> Any:
    """The first column of the first row of `sql` on the replica (autocommit)."""
    with replica.connect(connect_timeout_seconds=CONNECT_TIMEOUT_SECONDS) as connection:
        row = connection.execute(sql).fetchone()
    return None if row is None else row[0]


def _sqlstate(error: BaseException) -> str | None:
    state = getattr(error, "sqlstate", None)
    return str(state) if state else None


# --- reading ------------------------------------------------------------------------------------


class PromotionReader:
    """Says whether the replica is still a replica (in recovery / linked to its source)."""

    def __init__(self, config: Config, environ: Mapping[str, str], aws: AwsClients) -> None:
        self._config = config
        self._section = _promotion(config)
        self._environ = environ
        self._aws = aws

    def in_recovery(self) -> bool:
        """True while the replica still follows its primary; ActionFailed (worded) on failure.

        For logical replication: while the subscription is enabled.
        """
        if self._section.postgres is not None:
            return self._postgres_in_recovery()
        if self._section.logical is not None:
            return self.logical().subscription().enabled is True
        if self._section.dms is not None:
            return self.dms_task().status == "running"
        return self._rds_is_replica(_rds(self._section))

    def dms_task(self) -> DmsTask:
        """The configured DMS task as AWS describes it now."""
        return DmsTaskReader(self._config, self._aws).task()

    def logical(self) -> LogicalCutoverReader:
        """The reader of both ends of the logical replication, for its cutover."""
        section = self._section.logical
        if section is None:
            raise ActionFailed("no [promotion.logical] section in the config")
        settings = logical_settings(self._config)
        return LogicalCutoverReader(settings, self._environ, section.timeout_seconds)

    def _postgres_in_recovery(self) -> bool:
        replica = _replica(self._config, self._environ)
        try:
            return bool(_fetch_one(replica, IN_RECOVERY_SQL))
        except ActionFailed:
            raise
        except Exception as error:
            raise replica.failure("reading pg_is_in_recovery()", error) from None

    def _rds_is_replica(self, section: RdsPromotion) -> bool:
        """Still a replica while describe_db_instances names its source (see the module note)."""
        identifier = section.replica_instance_id
        try:
            response = self._aws.client("rds").describe_db_instances(
                DBInstanceIdentifier=identifier
            )
            return parse_instance(response).is_replica
        except Exception as error:
            raise ActionFailed(
                f"cannot read RDS instance {identifier}: {describe_failure(error)}"
            ) from None


# --- writing ------------------------------------------------------------------------------------


class PromotionWriter:
    """Promotes the replica: pg_promote() on PostgreSQL, PromoteReadReplica on RDS."""

    def __init__(self, config: Config, environ: Mapping[str, str], aws: AwsClients) -> None:
        self._config = config
        self._section = _promotion(config)
        self._environ = environ
        self._aws = aws

    def cut_over_logical(self, planned: Mapping[str, JsonValue]) -> tuple[str, ...]:
        """Sets the planned subscriber sequences, then disables the subscription."""
        reader = PromotionReader(self._config, self._environ, self._aws).logical()
        return LogicalCutoverWriter(reader).cut_over(planned)

    def stop_dms_task(self) -> tuple[str, ...]:
        """Stops the configured DMS task (the DMS cutover)."""
        return DmsTaskWriter(self._config, self._aws).stop_task()

    def promote(self) -> tuple[str, ...]:
        """Promotes; returns evidence (the SQL run and its result, or the RDS request id)."""
        if self._section.postgres is not None:
            return self._promote_postgres(self._section.postgres)
        return self._promote_rds(_rds(self._section))

    def _promote_postgres(self, section: PostgresPromotion) -> tuple[str, ...]:
        replica = _replica(self._config, self._environ)
        sql = promote_sql(section)
        try:
            finished = _fetch_one(replica, sql)
        except ActionFailed:
            raise
        except Exception as error:
            raise self._postgres_failure(replica, error) from None
        if finished is not True:
            raise ActionFailed(
                f"the replica did not finish promotion within {promote_wait_seconds(section)} s; "
                f"it may still be promoting: check pg_is_in_recovery() and the server log on "
                f"{replica.location.address} before retrying"
            )
        return (f"SQL on the replica ({replica.location.address}): {sql} returned true",)

    def _postgres_failure(self, replica: DatabaseEnd, error: BaseException) -> ActionFailed:
        if _sqlstate(error) == NOT_IN_RECOVERY_SQLSTATE:
            return ActionFailed(
                f"the replica ({replica.location.text}) is not in recovery: it was already "
                "promoted (pg_promote: recovery is not in progress); nothing was changed"
            )
        return replica.failure("pg_promote()", error)

    def _promote_rds(self, section: RdsPromotion) -> tuple[str, ...]:
        identifier = section.replica_instance_id
        try:
            response = self._aws.client("rds").promote_read_replica(DBInstanceIdentifier=identifier)
        except Exception as error:
            raise ActionFailed(
                f"rds PromoteReadReplica for {identifier} failed: {describe_failure(error)}; "
                "check the instance in the replication panel before retrying"
            ) from None
        status = response.get("DBInstance", {}).get("DBInstanceStatus", "unknown")
        request_id = response.get("ResponseMetadata", {}).get("RequestId") or "unknown"
        return (
            f"rds PromoteReadReplica DBInstanceIdentifier={identifier}: instance status "
            f"{status}, request id {request_id}",
        )
