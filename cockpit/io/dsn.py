"""Where a DSN points, said without its user or password, and the password it connects with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cockpit.config import dsn_fields
from cockpit.io.failures import ActionFailed, describe_failure

APPLICATION_NAME = "cutover-cockpit"
"""How our sessions show in pg_stat_activity."""


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


@dataclass(frozen=True)
class DatabaseEnd:
    """One configured database: how to connect to it, how to name it, what to redact.

    The password comes from the env var `password_env` (configured at `password_key`), else
    libpq's own PGPASSWORD or ~/.pgpass; a connect_timeout in the DSN wins over the default.
    """

    label: str
    dsn: str
    password_env: str | None
    password_key: str
    environ: Mapping[str, str]

    @property
    def location(self) -> DsnLocation:
        return dsn_location(self.dsn)

    def connect(self, *, connect_timeout_seconds: int, **options: Any) -> Any:
        """A blocking psycopg connection in autocommit; ActionFailed when the env var is unset."""
        import psycopg

        return psycopg.connect(
            self.dsn,
            autocommit=True,
            application_name=APPLICATION_NAME,
            **self._connect_timeout(connect_timeout_seconds),
            **env_password(self.password_env, self.environ, self.password_key),
            **options,
        )

    def secrets(self) -> list[str]:
        """Every password a connection to this end could send."""
        return dsn_secrets(self.dsn, self.password_env, self.environ)

    def scrub(self, text: str) -> str:
        """The text with this end's passwords replaced."""
        for secret in self.secrets():
            text = text.replace(secret, "***")
        return text

    def failure(self, what: str, error: BaseException) -> ActionFailed:
        """`what` failed on this end, worded, with its passwords scrubbed out."""
        text = f"{what} on the {self.label} ({self.location.text}) failed: "
        return ActionFailed(self.scrub(text + describe_failure(error)))

    def _connect_timeout(self, seconds: int) -> dict[str, Any]:
        try:
            if "connect_timeout" in dsn_fields(self.dsn):
                return {}
        except Exception:
            pass
        return {"connect_timeout": seconds}
