"""Where a DSN points, said without its user or password, and the password it connects with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cockpit.config import dsn_fields
from cockpit.io.failures import ActionFailed


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


def env_password(name: str | None, environ: Mapping[str, str], key_path: str) -> dict[str, Any]:
    """psycopg's `password` keyword from the env var `name` (configured at `key_path`); none
    when no var is named, so libpq falls back to PGPASSWORD or ~/.pgpass."""
    if name is None:
        return {}
    if name not in environ:
        raise ActionFailed(f"${name} is not set ({key_path}): export it and retry")
    return {"password": environ[name]}


def dsn_secrets(dsn: str, name: str | None, environ: Mapping[str, str]) -> list[str]:
    """Every password a connection could send: the env var's value and the DSN's own."""
    from_env = environ.get(name, "") if name else ""
    try:
        from_dsn = dsn_fields(dsn).get("password", "")
    except Exception:
        from_dsn = ""
    return [secret for secret in (from_env, from_dsn) if secret]
