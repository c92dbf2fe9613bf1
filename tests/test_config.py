"""The config contract: the example loads, every problem is reported with its key path."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, get_args, get_origin

import pytest
from pydantic import BaseModel, ValidationError

from cockpit.config import (
    Config,
    ConfigError,
    config_warnings,
    load_config,
    parse_config,
    parse_host_port,
)
from tests.samples import SIX_PROBLEMS, SIX_PROBLEMS_REPORTED

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"

MINIMAL = """
[cutover]
name = "test"
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="test.toml", base_dir=Path("/srv/cutover"))
    return [str(problem) for problem in caught.value.problems]


def load(text: str) -> Config:
    return parse_config(text, source="test.toml", base_dir=Path("/srv/cutover"))


def _models_in(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def all_field_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        names.add(name)
        for child in _models_in(field.annotation):
            names |= all_field_names(child)
    return names


def test_example_config_loads() -> None:
    config = load_config(EXAMPLE)
    assert config.cutover.name
    assert config.journal_dir == ROOT / "journal"
    assert config.traffic is not None
    assert config.traffic.steps == (0, 5, 10, 25, 50, 75, 100)
    assert [r.label for r in config.dns.resolvers] == ["cloudflare", "google", "10.0.0.2"]


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text()
    missing = sorted(n for n in all_field_names(Config) if not re.search(rf"\b{n}\b", text))
    assert missing == [], f"config.example.toml does not mention: {missing}"


@pytest.mark.parametrize(
    "block",
    [
        "replication.rds",
        "traffic.alb",
        "maintenance.webhook",
        "maintenance.command",
        "promotion.rds",
        "replication.logical",
        "replication.dms",
        "promotion.logical",
        "promotion.dms",
        "dns.globalping",
        "dns.ripe_atlas",
    ],
)
def test_example_alternatives_load(block: str) -> None:
    """The commented-out alternative backends in the example are valid too."""
    section, backend = block.split(".")
    example = tomllib.loads(EXAMPLE.read_text())
    alternative = _commented_block(EXAMPLE.read_text(), block)
    example[section] = {
        key: value for key, value in example[section].items() if not isinstance(value, dict)
    } | {backend: tomllib.loads(alternative)}
    if block in ("replication.rds", "promotion.rds"):
        example["replication"].pop("postgres", None)
        example["replication"]["rds"] = {"replica_instance_id": "shop-db-replica"}
        example["promotion"] = {"rds": {"replica_instance_id": "shop-db-replica"}}
    if backend in ("logical", "dms"):
        other = "replication" if section == "promotion" else "promotion"
        example[section].pop("postgres", None)
        example[other] = {
            key: value for key, value in example[other].items() if not isinstance(value, dict)
        } | {backend: tomllib.loads(_commented_block(EXAMPLE.read_text(), f"{other}.{backend}"))}
        if backend == "dms":
            example["promotion"].pop("postgres", None)
    from cockpit.config import config_from_data

    config_from_data(example, source="example", base_dir=ROOT)


def test_example_approval_block_loads() -> None:
    """The commented-out [approval] section in the example is valid, and its default folder
    lies beside the journals."""
    example = tomllib.loads(EXAMPLE.read_text())
    example["approval"] = tomllib.loads(_commented_block(EXAMPLE.read_text(), "approval"))
    from cockpit.config import config_from_data

    config = config_from_data(example, source="example", base_dir=ROOT)
    assert config.approval is not None and config.approval.actions == ("promote",)
    assert config.approvals_dir == ROOT / "journal" / "approvals"
    assert load(MINIMAL + "[approval]\n").approvals_dir == Path("/srv/cutover/journal/approvals")


def test_approval_names_only_known_actions() -> None:
    assert problems_of(MINIMAL + '[approval]\nactions = ["promote-now"]\n') == [
        "approval.actions[0]: 'promote-now' is not an action; the actions are maintenance-on, "
        "maintenance-off, promote, weight-up, weight-down, rollback"
    ]
    assert problems_of(MINIMAL + "[approval]\nexpires_minutes = 0\n") == [
        "approval.expires_minutes: must be greater than 0 (got 0)"
    ]


def _commented_block(text: str, block: str) -> str:
    lines = text.splitlines()
    start = lines.index(f"# [{block}]") + 1
    body = []
    for line in lines[start:]:
        if not line.startswith("# ") or line.startswith("# ["):
            break
        if not line.startswith("# #"):
            body.append(line[2:])
    return "\n".join(body)


def test_minimal_config_needs_only_cutover() -> None:
    config = load(MINIMAL)
    assert config.dns is None
    assert config.guards.promote_max_lag_bytes == 0
    assert config.journal_dir == Path("/srv/cutover/journal")


def test_config_is_frozen() -> None:
    config = load(MINIMAL)
    with pytest.raises(ValidationError):
        config.cutover.name = "changed"  # type: ignore[misc]


def test_every_problem_is_reported_at_once() -> None:
    assert problems_of(SIX_PROBLEMS) == SIX_PROBLEMS_REPORTED


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("[cutover]\nname = 1", "cutover.name: expected a string, got an integer 1"),
        ("[cutover]\nname = ''", "cutover.name: must not be empty"),
        ("[cutover]\nname = 'x'\nrefresh = 1", "cutover.refresh: unknown key; did you mean"),
        ("[cutover]\nname = 'x'\n[cutovr]", "cutovr: unknown section; did you mean 'cutover'?"),
        ("[cutover]\nname = 'x'\nrefresh_seconds = 0", "greater than 0"),
        ("[cutover]\nname = 'x'\nrefresh_seconds = true", "expected a number, got a boolean"),
        (
            "[cutover]\nname = 'x'\n[guards]\nweight_max_new_error_ratio = 5",
            "guards.weight_max_new_error_ratio: must be less than or equal to 1",
        ),
        (
            "[cutover]\nname = 'x'\n[guards.auto_abort]\nenabled = 'yes'",
            "guards.auto_abort.enabled: expected true or false, got a string 'yes'",
        ),
    ],
)
def test_problem_messages(snippet: str, expected: str) -> None:
    assert any(expected in problem for problem in problems_of(snippet)), problems_of(snippet)


DNS = """
[cutover]
name = "x"
[dns]
resolvers = {resolvers}
[[dns.records]]
name = "shop.example.com"
type = "{type}"
expect = {expect}
old = "192.0.2.1"
"""


@pytest.mark.parametrize(
    ("resolvers", "problem"),
    [
        ('["8.8.8.888"]', "dns.resolvers[0]: '8.8.8.888' is not IP[:port]"),
        ('["1.1.1.1", "1.1.1.1:0"]', "dns.resolvers[1]: '1.1.1.1:0': port 0 is out of range"),
        ('["dns.google"]', "dns.resolvers[0]: 'dns.google' is not IP[:port]"),
        ('[{ address = "1.1.1.1:x" }]', "dns.resolvers[0].address: '1.1.1.1:x' is not IP[:port]"),
        ("[]", "dns.resolvers: must list at least one"),
        ('"1.1.1.1"', "dns.resolvers: expected an array, got a string"),
    ],
)
def test_resolver_problems(resolvers: str, problem: str) -> None:
    text = DNS.format(resolvers=resolvers, type="A", expect='"10.0.0.1"')
    problems = problems_of(text)
    assert any(p.startswith(problem) for p in problems), problems


def test_resolver_forms() -> None:
    resolvers = (
        '["1.1.1.1", "127.0.0.2:5353", "[::1]:5300", "::1", '
        '{ address = "9.9.9.9", name = "quad9" }]'
    )
    config = load(DNS.format(resolvers=resolvers, type="A", expect='"10.0.0.1"'))
    assert config.dns is not None
    addresses = [parse_host_port(r.address) for r in config.dns.resolvers]
    assert addresses == [
        ("1.1.1.1", 53),
        ("127.0.0.2", 5353),
        ("::1", 5300),
        ("::1", 53),
        ("9.9.9.9", 53),
    ]
    assert config.dns.resolvers[4].label == "quad9"


@pytest.mark.parametrize(
    ("record_type", "expect", "problem"),
    [
        ("A", '["10.0.0.1", "10.0.0.256"]', "'10.0.0.256' is not an IP address"),
        ("A", '"2001:db8::1"', "'2001:db8::1' is not an A record address"),
        ("AAAA", '"10.0.0.1"', "'10.0.0.1' is not an AAAA record address"),
        ("CNAME", '"not a name"', "'not a name' is not a DNS name"),
        ("MX", '"10.0.0.1"', "dns.records[0].type: must be 'A', 'AAAA' or 'CNAME', not 'MX'"),
        ("A", "[]", "dns.records[0].expect: must list at least one"),
    ],
)
def test_record_answer_problems(record_type: str, expect: str, problem: str) -> None:
    problems = problems_of(DNS.format(resolvers='["1.1.1.1"]', type=record_type, expect=expect))
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize(
    ("steps", "problem"),
    [
        ("[0, 10, 10, 100]", "steps must ascend: 10 comes after 10"),
        ("[0, 50, 101]", "steps must be percentages 0..100; 101 is not"),
        ("[-5, 50]", "steps must be percentages 0..100; -5 is not"),
        ("[50]", "traffic.steps: the step plan needs at least two steps"),
        ("[0, 50.5, 100]", "traffic.steps[1]: expected an integer, got a number 50.5"),
    ],
)
def test_step_plan_problems(steps: str, problem: str) -> None:
    text = f"""
[cutover]
name = "x"
[aws]
region = "eu-west-1"
[traffic]
steps = {steps}
[traffic.route53]
hosted_zone_id = "Z1"
record_name = "shop.example.com"
old_set_identifier = "old"
new_set_identifier = "new"
"""
    problems = problems_of(text)
    assert any(problem in p for p in problems), problems


def test_backends_exactly_one() -> None:
    none_given = problems_of(MINIMAL + "[promotion]\n")
    assert none_given == [
        "promotion: configure exactly one of [promotion.postgres], [promotion.rds], "
        "[promotion.logical] or [promotion.dms] (found: none)"
    ]
    both = problems_of(
        MINIMAL
        + "[aws]\nregion='x'\n[replication.rds]\nreplica_instance_id='r'\n"
        + "[promotion.postgres]\nreplica_name='db'\n[promotion.rds]\nreplica_instance_id='r'\n"
    )
    assert any("found: postgres, rds" in p for p in both), both


def test_cross_section_rules() -> None:
    problems = problems_of(
        MINIMAL
        + "[replication.rds]\nreplica_instance_id='r'\n[promotion.postgres]\nreplica_name='db'\n"
    )
    assert problems == [
        "aws: missing section [aws] (region), needed by replication.rds",
        "promotion.postgres: needs [replication.postgres]: promotion runs pg_promote() "
        "on its replica_dsn",
    ]


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("url", "'ftp://x/health'", "is not an http(s) URL"),
        ("url", "'health'", "is not an http(s) URL"),
        ("side", "'blue'", "must be 'old' or 'new', not 'blue'"),
        ("expect_status", "301", "must be less than or equal to 299"),
    ],
)
def test_http_target_problems(key: str, value: str, problem: str) -> None:
    fields = {"name": "'app'", "side": "'new'", "url": "'http://10.0.0.1/health'"}
    fields[key] = value
    body = "\n".join(f"{k} = {v}" for k, v in fields.items())
    problems = problems_of(MINIMAL + f"[[targets.http]]\n{body}\n")
    assert any(f"targets.http[0].{key}: " in p and problem in p for p in problems), problems


def test_bad_arn_and_env_name() -> None:
    problems = problems_of(
        MINIMAL
        + "[aws]\nregion='x'\n[[targets.target_groups]]\nname='a'\nside='new'\narn='tg-123'\n"
        + "[secrets]\nenv = ['OK_NAME', 'not-a-name']\n"
    )
    assert problems == [
        "targets.target_groups[0].arn: 'tg-123' is not an ELBv2 target group ARN",
        "secrets.env[1]: 'not-a-name' is not an environment variable name (letters, digits, _)",
    ]


def test_dsn_forms() -> None:
    text = (
        MINIMAL
        + "[replication.postgres]\n"
        + "primary_dsn = 'postgresql://cutover@10.0.0.1:5432/shop?sslmode=require'\n"
        + "replica_dsn = 'host=10.0.0.2 port=5432 dbname=shop user=cutover'\n"
    )
    config = load(text)
    assert config.dsns()[1].startswith("host=10.0.0.2")


def test_toml_syntax_error_is_one_clean_problem() -> None:
    assert problems_of("[cutover\nname = 'x'") == [
        "not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 9)"
    ]


def test_unreadable_files(tmp_path: Path) -> None:
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"[cutover]\nname = '\xff'\n")
    for path, problem in [
        (tmp_path / "missing.toml", "no such file"),
        (tmp_path, "is a directory"),
        (binary, "not UTF-8 text"),
    ]:
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert problem in str(caught.value)


def test_secret_env_names_and_warnings() -> None:
    config = load_config(EXAMPLE)
    names = config.secret_env_names()
    for name in ("PGPASSWORD", "AWS_SECRET_ACCESS_KEY", "CUTOVER_PG_PASSWORD", "SHOP_API_TOKEN"):
        assert name in names
    warnings = [str(w) for w in config_warnings(config, {"CUTOVER_PG_PASSWORD": "x"})]
    assert "replication.postgres.password_env" not in " ".join(warnings)
    assert any(
        w.startswith("errors.prometheus.token_env: names $PROMETHEUS_TOKEN") for w in warnings
    )


def test_password_in_dsn_is_a_warning_not_an_error() -> None:
    config = load(
        MINIMAL
        + "[replication.postgres]\n"
        + "primary_dsn = 'host=10.0.0.1 password=hunter2'\nreplica_dsn = 'host=10.0.0.2'\n"
    )
    warnings = [str(w) for w in config_warnings(config, {})]
    assert warnings[0].startswith("replication.postgres.primary_dsn: holds a password")


def test_stale_after_defaults_to_three_missed_polls() -> None:
    config = load(MINIMAL + "[aws]\nregion='x'\n[replication.rds]\nreplica_instance_id='r'\n")
    assert config.replication is not None
    assert config.replication.stale_after == 3 * 1.0 + 2.0


def example_data() -> dict[str, Any]:
    return tomllib.loads(EXAMPLE.read_text())


def test_models_have_no_list_fields() -> None:
    """Frozen config: arrays are tuples, so nothing in a loaded config can be mutated."""

    def walk(model: type[BaseModel]) -> None:
        for name, field in model.model_fields.items():
            assert get_origin(field.annotation) is not list, f"{model.__name__}.{name}"
            for child in _models_in(field.annotation):
                walk(child)

    walk(Config)


def test_a_config_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + b'[cutover]\nname = "with a BOM"\n')
    assert load_config(path).cutover.name == "with a BOM"


@pytest.mark.parametrize("kind", ["fifo", "device", "huge"])
def test_what_is_not_a_config_file_is_refused_without_hanging(tmp_path: Path, kind: str) -> None:
    """A pipe would block a plain read forever, /dev/zero would fill memory."""
    if kind == "fifo":
        path = tmp_path / "pipe.toml"
        os.mkfifo(path)
        expected = "not a regular file"
    elif kind == "device":
        path, expected = Path("/dev/zero"), "not a regular file"
    else:
        path = tmp_path / "huge.toml"
        path.write_text('[cutover]\nname = "x"\n' + "# padding\n" * 200_000)
        expected = "larger than 1 MiB"
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert expected in str(raised.value)


def test_a_config_nested_hundreds_deep_is_a_config_error_not_a_crash() -> None:
    text = '[cutover]\nname = "x"\n[guards]\ndeep = ' + "[" * 2000 + "]" * 2000 + "\n"
    with pytest.raises(ConfigError) as raised:
        parse_config(text, source="deep.toml", base_dir=Path())
    assert "nested too deeply" in str(raised.value)


def test_control_characters_in_a_config_are_refused_and_reported_spelled_out() -> None:
    text = (
        '[cutover]\nname = "shop\\u001b]0;PWNED\\u0007"\n"odd\\u001b" = 1\n'
        '[maintenance]\nprobe_url = "https://x.example/"\n'
        '[maintenance.alb]\nlistener_arn = "arn:aws:elasticloadbalancing:eu-west-1:1:'
        'listener/app/a/b/c"\n'
        'message_body = "<h1>Down</h1>\\n<p>Back soon.</p>"\n'
    )
    with pytest.raises(ConfigError) as raised:
        parse_config(text, source="evil.toml", base_dir=Path())
    report = raised.value.report()
    assert "\x1b" not in report and "\x07" not in report
    assert "cutover.name: contains a control character ('shop\\x1b]0;PWNED\\x07')" in report
    assert "cutover.odd\\x1b: unknown key" in report
    assert "message_body" not in report  # a line break in a page body is fine


def test_example_integrity_block_loads() -> None:
    """The commented-out [integrity] section, buckets included, is a valid config too."""
    from cockpit.config import config_from_data

    lines = EXAMPLE.read_text().splitlines()
    start = lines.index("# [integrity]")
    body = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        if not line.startswith("# #") and line != "#":
            body.append(line[2:])
    example = tomllib.loads(EXAMPLE.read_text())
    example["integrity"] = tomllib.loads("\n".join(body))["integrity"]
    config = config_from_data(example, source="example", base_dir=ROOT)
    assert config.integrity is not None
    assert config.integrity.buckets[0].name == "uploads"
    assert config.integrity.guard_actions == ("maintenance-off", "weight-up")


WORLD_DNS = """
[cutover]
name = "world"
[dns]
resolvers = ["1.1.1.1"]
[[dns.records]]
name = "shop.example.com"
expect = "198.51.100.20"
old = "192.0.2.10"
"""


def test_world_dns_sections_load_and_name_their_secrets() -> None:
    config = load(
        WORLD_DNS
        + '[dns.globalping]\ntoken_env = "GP_TOKEN"\n'
        + 'locations = ["EU", "country:de", "asn:AS3320"]\n'
        + '[dns.ripe_atlas]\nkey_env = "ATLAS_KEY"\n'
    )
    assert config.dns is not None
    assert config.dns.globalping is not None and config.dns.ripe_atlas is not None
    assert config.dns.globalping.base_url == "https://api.globalping.io/v1"
    assert config.dns.ripe_atlas.probes == ("area:WW",)
    assert {"GP_TOKEN", "ATLAS_KEY"} <= set(config.secret_env_names())


def test_world_dns_problems_name_their_key_paths() -> None:
    problems = problems_of(
        WORLD_DNS
        + '[dns.globalping]\nlocations = ["country:Germany", "planet:mars"]\n'
        + "interval_seconds = 0.2\nmeasure_every_seconds = 10\n"
        + '[dns.ripe_atlas]\nprobes = ["WW", "area:Moon"]\n'
    )
    assert problems == [
        "dns.globalping.interval_seconds: must be greater than or equal to 0.5 (got 0.2)",
        "dns.globalping.locations[0]: country:Germany is not a two-letter ISO country code like "
        "country:DE",
        "dns.globalping.locations[1]: 'planet:mars': the kind must be one of continent, country, "
        "asn, region, city, network",
        "dns.globalping.measure_every_seconds: must be greater than or equal to 60 (got 10)",
        "dns.ripe_atlas.key_env: missing required key",
        "dns.ripe_atlas.probes[0]: 'WW' needs a kind: one of area:, country:, asn:, prefix:",
        "dns.ripe_atlas.probes[1]: area:Moon is not one of WW, West, North-Central, "
        "South-Central, North-East, South-East",
    ]


def test_digits_int_cannot_read_are_a_problem_not_a_crash() -> None:
    """'²' passes str.isdigit(), but int() refuses it: such a port or ASN is a problem line."""
    problems = problems_of(WORLD_DNS + '[dns.globalping]\nlocations = ["asn:AS3²"]\n')
    assert len(problems) == 1 and problems[0].startswith("dns.globalping.locations[0]:")
