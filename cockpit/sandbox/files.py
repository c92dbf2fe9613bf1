"""What the sandbox leaves in its folder: sandbox.json (endpoints) and cockpit.toml (a config)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import tomli_w

from cockpit.config import parse_config
from cockpit.jsonvalue import JsonValue
from cockpit.private_files import replace_private_text
from cockpit.sandbox.shared import SIDES, SandboxError

SANDBOX_JSON = "sandbox.json"
COCKPIT_TOML = "cockpit.toml"
COCKPIT_LOGICAL_TOML = "cockpit-logical.toml"
"""The same sandbox, with the database moving by logical replication."""
Database = Literal["streaming", "logical"]


def write_json_atomically(path: Path, data: JsonValue) -> None:
    replace_private_text(path, json.dumps(data, indent=2) + "\n")


def write_sandbox_files(directory: Path, info: dict[str, JsonValue]) -> None:
    """Writes cockpit.toml, and cockpit-logical.toml with the logical pair, each checked by the
    real config loader first, and then sandbox.json."""
    _write_config(directory, COCKPIT_TOML, cockpit_config(info))
    if info.get("logical"):
        _write_config(directory, COCKPIT_LOGICAL_TOML, cockpit_config(info, database="logical"))
    write_json_atomically(directory / SANDBOX_JSON, info)


def _write_config(directory: Path, name: str, config: dict[str, Any]) -> None:
    text = tomli_w.dumps(config)
    try:
        parse_config(text, source=name, base_dir=directory)
    except Exception as error:
        raise SandboxError(f"the sandbox built an invalid config: {error}") from error
    replace_private_text(directory / name, _CONFIG_HEADER + text)


def read_sandbox_json(directory: Path) -> dict[str, Any]:
    """The endpoints of a running sandbox; SandboxError when there is none in `directory`."""
    path = directory / SANDBOX_JSON
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SandboxError(
            f"no sandbox in {directory} (no {SANDBOX_JSON}); start one with "
            f"`cockpit sandbox up --dir {directory}`"
        ) from None
    except (OSError, ValueError) as error:
        raise SandboxError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise SandboxError(f"{path} is not a JSON object")
    return data


_CONFIG_HEADER = """\
# Written by `cockpit sandbox up`: a config pointing the cockpit at the local sandbox.
# The PostgreSQL password and dummy AWS keys are in sandbox.json under "env".

"""


def cockpit_config(info: dict[str, Any], *, database: Database = "streaming") -> dict[str, Any]:
    """A complete cockpit config for the sandbox described by `info` (sandbox.json's content),
    its database moving by streaming replication or by the logical pair."""
    config = _streaming_config(info)
    if database == "logical":
        config["replication"] = _logical_replication(info)
        config["promotion"] = {"logical": {}}
        config["integrity"] = _logical_integrity(info)
    return config


def _streaming_config(info: dict[str, Any]) -> dict[str, Any]:
    aws = info["aws"]
    return {
        "cutover": {"name": f"sandbox: {aws['record_name'].rstrip('.')}", "refresh_seconds": 1.0},
        "journal": {"dir": "journal"},
        "aws": {"region": aws["region"], "endpoint_url": aws["endpoint_url"]},
        "replication": _replication(info),
        "targets": _targets(info),
        "dns": _dns(info),
        "errors": _errors(info),
        "traffic": _traffic(info),
        "maintenance": _maintenance(info),
        "promotion": {"postgres": {"replica_name": aws["rds_replica_id"]}},
        "guards": {"weight_min_dwell_seconds": 30.0, "promote_quiet_seconds": 3.0},
    }


def _replication(info: dict[str, Any]) -> dict[str, Any]:
    postgres = info["postgres"]
    return {
        "interval_seconds": 1.0,
        "timeout_seconds": 2.0,
        "postgres": {
            "primary_dsn": postgres["primary_dsn_without_password"],
            "replica_dsn": postgres["replica_dsn_without_password"],
            "password_env": postgres["password_env"],
            "standby_slot_name": postgres["replica_slot"],
        },
    }


def _logical_replication(info: dict[str, Any]) -> dict[str, Any]:
    """The logical pair, read and cut over as the application role (a superuser on the
    subscriber, as RDS's master user is): the cutover sets sequences and disables the
    subscription."""
    logical = info["logical"]
    return {
        "interval_seconds": 1.0,
        "timeout_seconds": 2.0,
        "logical": {
            "publisher_dsn": logical["publisher_dsn_without_password"],
            "subscriber_dsn": logical["subscriber_dsn_without_password"],
            "subscription": logical["subscription"],
            "password_env": logical["password_env"],
            "sequence_margin": 1000,
        },
    }


def _logical_integrity(info: dict[str, Any]) -> dict[str, Any]:
    """The publisher's data against the subscriber's, as the application role reads both, and
    the application's files in the old bucket against the new one."""
    logical, aws = info["logical"], info["aws"]
    return {
        "old_dsn": logical["publisher_dsn_without_password"],
        "new_dsn": logical["subscriber_dsn_without_password"],
        "password_env": logical["password_env"],
        "range_rows": 10_000,
        "buckets": [
            {
                "name": "assets",
                "old_bucket": aws["buckets"]["old"],
                "new_bucket": aws["buckets"]["new"],
                "prefix": aws["bucket_prefix"],
            }
        ],
    }


def _targets(info: dict[str, Any]) -> dict[str, Any]:
    groups = info["aws"]["target_groups"]
    return {
        "interval_seconds": 2.0,
        "target_groups": [
            {"name": f"tg-{side}", "side": side, "arn": groups[side]} for side in SIDES
        ],
        "http": _http_checks(info["http"]),
    }


def _http_checks(http: dict[str, Any]) -> list[dict[str, Any]]:
    """Each side's /health; behind nginx, the new side by its real name over TLS."""
    checks = [
        {"name": f"app-{side}", "side": side, "url": f"{http[side]}/health"} for side in SIDES
    ]
    nginx = http.get("nginx")
    if nginx:
        checks[0]["host_header"] = nginx["hostname"]
        checks[1] |= {
            "url": f"{nginx['new_tls']}/health",
            "host_header": nginx["hostname"],
            "tls_server_name": nginx["hostname"],
            "ca_file": nginx["ca_file"],
            "expect_body": "ok",
        }
    return checks


def _dns(info: dict[str, Any]) -> dict[str, Any]:
    dns = info["dns"]
    aws = info["aws"]
    return {
        "interval_seconds": 2.0,
        "timeout_seconds": 2.0,
        "max_ttl_seconds": max(60, int(aws["ttl"])),
        "resolvers": [
            {"address": address, "name": name}
            for address, name in zip(dns["resolvers"], dns["resolver_names"], strict=True)
        ],
        "authoritative": [{"address": dns["authoritative"], "name": "authoritative"}],
        "records": [
            {
                "name": aws["record_name"].rstrip("."),
                "type": "A",
                "expect": aws["new_answers"],
                "old": aws["old_answers"],
            },
            *(hand_zone_records(dns["hand_zone"]) if dns.get("watch_hand_zone") else []),
        ],
    }


def hand_zone_records(zone: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The knot-served chain (www CNAME app, A), asked of knot over IPv4 and IPv6; none when the
    sandbox runs without knot. One record per name: a reading's signal id is the name."""
    if not zone:
        return []
    servers = [zone["authoritative"], *([zone["authoritative6"]] if zone["authoritative6"] else [])]
    return [
        {
            "name": zone["record_name"].rstrip("."),
            "type": "A",
            "expect": zone["new_answers"],
            "old": zone["old_answers"],
            "authoritative": [
                {"address": address, "name": f"knot {address}"} for address in servers
            ],
        }
    ]


def _errors(info: dict[str, Any]) -> dict[str, Any]:
    aws = info["aws"]
    logs = info["http"]["access_logs"]
    return {
        "interval_seconds": 5.0,
        "window_seconds": 60,
        "cloudwatch": {
            "load_balancer_arn": aws["load_balancer_arn"],
            "old_target_group_arn": aws["target_groups"]["old"],
            "new_target_group_arn": aws["target_groups"]["new"],
            "period_seconds": 10,
        },
        "access_logs": [
            {"side": side, "path": logs[side], "format": info["http"]["access_log_formats"][side]}
            for side in SIDES
        ],
    }


def _traffic(info: dict[str, Any]) -> dict[str, Any]:
    aws = info["aws"]
    if info.get("traffic_backend") == "alb":
        backend: dict[str, Any] = {
            "alb": {
                "listener_arn": aws["listener_arn"],
                "old_target_group_arn": aws["target_groups"]["old"],
                "new_target_group_arn": aws["target_groups"]["new"],
            }
        }
    else:
        backend = {
            "route53": {
                "hosted_zone_id": aws["hosted_zone_id"].removeprefix("/hostedzone/"),
                "record_name": aws["record_name"].rstrip("."),
                "record_type": "A",
                "old_set_identifier": aws["old_set_identifier"],
                "new_set_identifier": aws["new_set_identifier"],
            }
        }
    return {"interval_seconds": 2.0, "steps": [0, 5, 10, 25, 50, 75, 100], **backend}


def _maintenance(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "probe_url": info["http"]["front_door"] + "/",
        "probe_expect_status": 503,
        "alb": {"listener_arn": info["aws"]["listener_arn"], "rule_priority": 1},
    }
