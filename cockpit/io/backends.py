"""The readers and writers actions use, built once per session from the config.

Writers exist only in live mode: in read-only and dry-run no object that can call a mutating
API is ever built, so no code path can reach one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cockpit.config import Config
from cockpit.io.context import AwsClients
from cockpit.io.maintenance import MaintenanceReader, MaintenanceWriter
from cockpit.io.promotion import PromotionReader, PromotionWriter
from cockpit.io.weights import WeightsReader, WeightsWriter

LIVE = "live"


@dataclass(frozen=True)
class Writers:
    """What can change production; None where the config has no backend for it."""

    weights: WeightsWriter | None
    maintenance: MaintenanceWriter | None
    promotion: PromotionWriter | None


@dataclass(frozen=True)
class Backends:
    """Readers for plans and read-backs; writers only when this session may change things."""

    weights: WeightsReader | None
    maintenance: MaintenanceReader | None
    promotion: PromotionReader | None
    writers: Writers | None


def build_backends(
    config: Config, environ: Mapping[str, str], aws: AwsClients, *, mode: str
) -> Backends:
    """Readers for every configured backend; writers in live mode only."""
    traffic, maintenance = config.traffic, config.maintenance
    weights = WeightsReader(traffic, aws) if traffic else None
    switch = MaintenanceReader(maintenance, aws, environ) if maintenance else None
    promotion = PromotionReader(config, environ, aws) if config.promotion else None
    writers = _writers(config, environ, aws) if mode == LIVE else None
    return Backends(weights, switch, promotion, writers)


def _writers(config: Config, environ: Mapping[str, str], aws: AwsClients) -> Writers:
    traffic, maintenance = config.traffic, config.maintenance
    return Writers(
        weights=WeightsWriter(traffic, aws) if traffic else None,
        maintenance=MaintenanceWriter(maintenance, aws, environ) if maintenance else None,
        promotion=PromotionWriter(config, environ, aws) if config.promotion else None,
    )
