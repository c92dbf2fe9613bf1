"""An RDS instance as describe_db_instances tells it, for the replication source and promotion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RdsInstance:
    """What describe_db_instances says about the replica."""

    identifier: str
    status: str
    source_instance: str | None
    own_replicas: tuple[str, ...] = ()

    @property
    def is_replica(self) -> bool:
        return self.source_instance is not None


def parse_instance(response: Mapping[str, Any]) -> RdsInstance:
    """The one instance in a describe_db_instances response."""
    instance = response["DBInstances"][0]
    return RdsInstance(
        identifier=str(instance["DBInstanceIdentifier"]),
        status=str(instance.get("DBInstanceStatus") or "unknown"),
        source_instance=instance.get("ReadReplicaSourceDBInstanceIdentifier") or None,
        own_replicas=tuple(instance.get("ReadReplicaDBInstanceIdentifiers") or ()),
    )
