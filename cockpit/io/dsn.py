"""Where a DSN points, said without its user or password."""

from __future__ import annotations

from dataclasses import dataclass

from cockpit.config import dsn_fields


@dataclass(frozen=True)
class DsnLocation:
    """Where a DSN points, without its user or password."""

    host: str
    port: str
    dbname: str

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def text(self) -> str:
        return f"{self.address}, db {self.dbname}"


def dsn_location(dsn: str) -> DsnLocation:
    """host:port and database of a DSN, with libpq's defaults for what it leaves out."""
    try:
        fields = dsn_fields(dsn)
    except Exception:
        return DsnLocation("?", "?", "?")
    host = fields.get("host") or fields.get("hostaddr") or "local socket"
    dbname = fields.get("dbname") or fields.get("user") or "(default)"
    return DsnLocation(host, fields.get("port") or "5432", dbname)
