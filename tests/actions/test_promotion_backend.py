"""The promotion backend against the sandbox: a real pg_promote() and moto's RDS replica."""

from __future__ import annotations

import pytest

from cockpit.config import Config, PromotionSection, load_config
from cockpit.io.context import AwsClients
from cockpit.io.failures import ActionFailed
from cockpit.io.promotion import (
    PromotionReader,
    PromotionWriter,
    describe_promotion_target,
    planned_promotion_calls,
    promotion_target_name,
)
from cockpit.sandbox.lifecycle import SandboxHandle

PASSWORD_ENV = "COCKPIT_SANDBOX_PGPASSWORD"


def sandbox_config(sandbox: SandboxHandle) -> Config:
    return load_config(sandbox.config_path)


def rds_config(sandbox: SandboxHandle, instance_id: str | None = None) -> Config:
    identifier = instance_id or sandbox.info["aws"]["rds_replica_id"]
    promotion = PromotionSection.model_validate({"rds": {"replica_instance_id": identifier}})
    return sandbox_config(sandbox).model_copy(update={"promotion": promotion})


def backends(config: Config, environ: dict[str, str]) -> tuple[PromotionReader, PromotionWriter]:
    aws = AwsClients(config.aws, environ)
    return PromotionReader(config, environ, aws), PromotionWriter(config, environ, aws)


def replica_address(sandbox: SandboxHandle) -> str:
    dsn = sandbox.info["postgres"]["replica_dsn_without_password"]
    fields = dict(part.split("=", 1) for part in dsn.split())
    return f"{fields['host']}:{fields['port']}"


# --- pure ---------------------------------------------------------------------------------------


def test_the_target_and_the_sql_name_the_replica_without_its_password(
    sandbox: SandboxHandle,
) -> None:
    config = sandbox_config(sandbox)
    address = replica_address(sandbox)
    assert config.promotion is not None

    assert promotion_target_name(config) == "shop-db-replica"
    assert describe_promotion_target(config) == (
        f"PostgreSQL replica shop-db-replica ({address}, db shop)"
    )
    assert planned_promotion_calls(config) == (
        f"SQL on the replica ({address}): SELECT pg_promote(wait => true, wait_seconds => 60)",
    )


def test_an_rds_target_is_named_by_its_instance_id(sandbox: SandboxHandle) -> None:
    config = rds_config(sandbox, "db-x")
    assert config.promotion is not None

    assert promotion_target_name(config) == "db-x"
    assert describe_promotion_target(config) == "RDS read replica db-x"
    assert planned_promotion_calls(config) == ("rds PromoteReadReplica DBInstanceIdentifier=db-x",)


# --- PostgreSQL ---------------------------------------------------------------------------------


def test_promotion_ends_recovery_once_and_a_second_try_is_refused(
    sandbox: SandboxHandle,
) -> None:
    reader, writer = backends(sandbox_config(sandbox), sandbox.env)
    password = sandbox.env[PASSWORD_ENV]
    assert reader.in_recovery() is True
    assert sandbox.client.status()["postgres"]["promoted"] is False

    evidence = writer.promote()

    assert evidence == (
        f"SQL on the replica ({replica_address(sandbox)}): "
        "SELECT pg_promote(wait => true, wait_seconds => 60) returned true",
    )
    assert reader.in_recovery() is False
    assert sandbox.client.status()["postgres"]["promoted"] is True
    with pytest.raises(ActionFailed) as again:
        writer.promote()
    assert "already promoted" in str(again.value)
    assert "nothing was changed" in str(again.value)
    assert password not in str(again.value) and password not in evidence[0]


def test_the_sandbox_reset_gives_back_a_replica(sandbox: SandboxHandle) -> None:
    reader, _ = backends(sandbox_config(sandbox), sandbox.env)
    assert reader.in_recovery() is True


def test_an_unset_password_env_var_is_named(sandbox: SandboxHandle) -> None:
    environ = {k: v for k, v in sandbox.env.items() if k != PASSWORD_ENV}
    reader, writer = backends(sandbox_config(sandbox), environ)

    for call in (reader.in_recovery, writer.promote):
        with pytest.raises(ActionFailed, match=rf"\${PASSWORD_ENV} is not set"):
            call()
    assert sandbox.client.status()["postgres"]["promoted"] is False


def test_a_wrong_password_is_worded_and_never_echoed(sandbox: SandboxHandle) -> None:
    wrong = "not-the-password-xyz"
    reader, writer = backends(sandbox_config(sandbox), {**sandbox.env, PASSWORD_ENV: wrong})

    for call in (reader.in_recovery, writer.promote):
        with pytest.raises(ActionFailed) as failed:
            call()
        message = str(failed.value)
        assert "authentication failed" in message
        assert replica_address(sandbox) in message
        assert wrong not in message and sandbox.env[PASSWORD_ENV] not in message
    assert sandbox.client.status()["postgres"]["promoted"] is False


# --- RDS (moto) ---------------------------------------------------------------------------------


def test_rds_replica_is_read_as_a_replica_and_promotion_returns_the_request_id(
    sandbox: SandboxHandle,
) -> None:
    reader, writer = backends(rds_config(sandbox), sandbox.env)
    assert reader.in_recovery() is True

    (evidence,) = writer.promote()

    assert evidence.startswith(
        f"rds PromoteReadReplica DBInstanceIdentifier={sandbox.info['aws']['rds_replica_id']}: "
    )
    assert "request id " in evidence and "request id unknown" not in evidence


def test_an_rds_primary_is_not_a_replica(sandbox: SandboxHandle) -> None:
    reader, _ = backends(rds_config(sandbox, sandbox.info["aws"]["rds_primary_id"]), sandbox.env)
    assert reader.in_recovery() is False


def test_an_unknown_rds_instance_is_a_worded_failure(sandbox: SandboxHandle) -> None:
    reader, _ = backends(rds_config(sandbox, "no-such-db"), sandbox.env)
    with pytest.raises(ActionFailed, match=r"cannot read RDS instance no-such-db: AWS error"):
        reader.in_recovery()
