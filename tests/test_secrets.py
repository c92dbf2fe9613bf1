"""Secrets named by the config never reach the journal, whatever carries them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cockpit.clock import FrozenClock
from cockpit.config import parse_config
from cockpit.journal.opening import open_session_journal
from cockpit.journal.verify import verify_journal
from cockpit.redact import REDACTED, redactor_for, redactor_for_config

DSN_PASSWORD = "pg-Secret-7731"
TOKEN_VALUE = "tok_4f9a2b7c1d"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

CONFIG_TEXT = f"""
[cutover]
name = "secret test"

[replication.postgres]
primary_dsn = "host=127.0.0.1 port=5432 user=cutover password={DSN_PASSWORD} dbname=shop"
replica_dsn = "postgresql://cutover:{DSN_PASSWORD}@127.0.0.2:5432/shop"

[errors.prometheus]
url = "http://127.0.0.1:9090"
old_error_ratio_query = "old"
new_error_ratio_query = "new"
token_env = "PROM_TOKEN"
"""

ENVIRON = {
    "USER": "alice",
    "PROM_TOKEN": TOKEN_VALUE,
    "AWS_SECRET_ACCESS_KEY": AWS_SECRET,
    "SSH_CLIENT": "203.0.113.7 50022 22",
}


def test_journal_never_holds_secrets(tmp_path: Path) -> None:
    config = parse_config(CONFIG_TEXT, source="test.toml", base_dir=tmp_path)
    clock = FrozenClock(datetime(2026, 11, 22, 1, 30, tzinfo=UTC))
    journal = open_session_journal(
        config, config_text=CONFIG_TEXT, mode="live", environ=ENVIRON, clock=clock
    )
    with journal:
        journal.append(
            "reading",
            {
                "signal": "replication",
                "detail": f"connect to {config.dsns()[0]} failed",
                "nested": [{"dsn": config.dsns()[1]}, {TOKEN_VALUE: "as a key"}],
            },
        )
        journal.append(
            "action",
            {"plan": f"curl -H 'Authorization: Bearer {TOKEN_VALUE}'", "aws": AWS_SECRET},
            sync=True,
        )

    content = journal.path.read_text()
    for secret in (DSN_PASSWORD, TOKEN_VALUE, AWS_SECRET):
        assert secret not in content
    assert content.count(REDACTED) == 5
    assert "host=127.0.0.1" in content
    assert "alice@" in content
    assert "203.0.113.7" in content
    assert verify_journal(journal.path).intact
    assert journal.path.parent == tmp_path / "journal"
    assert (journal.path.stat().st_mode & 0o777) == 0o600


def test_secret_shapes_are_redacted_without_being_named() -> None:
    redactor = redactor_for([])
    cases = {
        "host=a password=hunter2 user=x": "host=a password=*** user=x",
        "password='two words' host=x": "password=*** host=x",
        "postgresql://u:pw@db:5432/shop": "postgresql://u:***@db:5432/shop",
        "GET /hook?token=abc123&x=1": "GET /hook?token=***&x=1",
        "key AKIAIOSFODNN7EXAMPLE in use": "key *** in use",
        "aws_secret_access_key = abc/def": "aws_secret_access_key = ***",
        "replication password policy": "replication password policy",
    }
    for text, expected in cases.items():
        assert redactor.text(text) == expected


def test_longer_secret_replaced_whole() -> None:
    redactor = redactor_for(["abc", "abcdef"])
    assert redactor.text("x abcdef y abc") == "x *** y ***"


def test_empty_env_values_are_not_secrets() -> None:
    config = parse_config(CONFIG_TEXT, source="t", base_dir=Path("/srv"))
    redactor = redactor_for_config(config, {"PROM_TOKEN": ""})
    assert "" not in redactor.secret_values
    assert redactor.text("plain text") == "plain text"
    assert DSN_PASSWORD in redactor.secret_values


def test_standard_aws_and_pg_env_values_redacted_without_config() -> None:
    redactor = redactor_for_config(None, {"PGPASSWORD": "pgpw-123", "AWS_SESSION_TOKEN": "sess-9"})
    assert redactor.text("pgpw-123 and sess-9") == "*** and ***"


def test_a_reading_is_redacted_and_made_visible_however_deep_and_kept_when_clean() -> None:
    from cockpit.model import Reading, SignalKind, Status
    from cockpit.redact import redacted_reading

    redactor = redactor_for([TOKEN_VALUE])
    clean = Reading(
        "dns:api",
        SignalKind.DNS,
        Status.OK,
        datetime(2026, 12, 4, 2, 0, tzinfo=UTC),
        values={"rows": ({"answer": "10.0.0.1", "ttl": 60},), "converged": 1.0},
        detail="1/1 on new",
    )
    assert redacted_reading(redactor, clean) is clean, "nothing to change: not copied"

    hostile_row = {f"key\x1b[2J{TOKEN_VALUE}": f"x\x1b[31m{TOKEN_VALUE}y", "ttl": 60}
    hostile = Reading(
        "dns:api\x07",
        SignalKind.DNS,
        Status.OK,
        clean.observed_at,
        values={"rows": ({"answer": "10.0.0.1"}, hostile_row), "converged": 1.0},
        detail=f"token {TOKEN_VALUE}\n",
    )
    cleaned = redacted_reading(redactor, hostile)
    text = repr(cleaned)
    assert TOKEN_VALUE not in text and "\x1b" not in text and "\x07" not in text
    assert cleaned.signal_id == "dns:api\\x07" and cleaned.detail == f"token {REDACTED}\\x0a"
    rows = cleaned.values["rows"]
    assert isinstance(rows, tuple)
    assert dict(rows[1]) == {f"key\\x1b[2J{REDACTED}": f"x\\x1b[31m{REDACTED}y", "ttl": 60}
    assert dict(rows[0]) == {"answer": "10.0.0.1"} and cleaned.values["converged"] == 1.0
