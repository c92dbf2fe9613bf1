"""The resources actions change, as the session log, rollback and drift name them."""

from __future__ import annotations

WEIGHTS_RESOURCE = "weights"
MAINTENANCE_RESOURCE = "maintenance"
REPLICA_RESOURCE = "replica"
PROMOTED, IN_RECOVERY = "promoted", "in recovery"
