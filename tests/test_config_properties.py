"""Property tests: whatever TOML arrives, the loader answers with a Config or clean problems."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cockpit.config import Config, ConfigError, config_from_data, parse_config

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
EXAMPLE_DATA = tomllib.loads(EXAMPLE.read_text())
KNOWN_KEYS = sorted(
    {"cutover", "name", "dns", "records", "resolvers", "expect", "old", "steps", "traffic"}
    | {"route53", "alb", "postgres", "rds", "replica_dsn", "arn", "side", "url", "env"}
)

keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(min_size=1, max_size=12))
scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(["1.1.1.1", "127.0.0.1:5353", "10.0.0.300", "host=a dbname=b", "x=", "'"]),
    st.datetimes(timezones=st.one_of(st.none(), st.just(dt.UTC))),
    st.dates(),
)
toml_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=20,
)
documents = st.dictionaries(keys, toml_values, max_size=6)


def assert_clean(data: dict[str, Any]) -> None:
    """Either a Config, or a ConfigError whose every problem names its place and its cause."""
    try:
        result = config_from_data(data, source="random.toml", base_dir=Path("/srv"))
    except ConfigError as error:
        assert error.problems
        for problem in error.problems:
            assert isinstance(problem.path, str)
            assert problem.message.strip()
            assert "Traceback" not in problem.message
    else:
        assert isinstance(result, Config)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_documents_give_clean_answers(data: dict[str, Any]) -> None:
    text = tomli_w.dumps(data)
    assert tomllib.loads(text) is not None
    assert_clean(tomllib.loads(text))


@settings(max_examples=200)
@given(st.text(max_size=300))
def test_random_text_gives_clean_answers(text: str) -> None:
    try:
        parse_config(text, source="random.toml", base_dir=Path("/srv"))
    except ConfigError as error:
        assert error.problems


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


EXAMPLE_PATHS = _paths(EXAMPLE_DATA)


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated_examples(draw: st.DrawFn) -> dict[str, Any]:
    """The example with a few random edits: deletions, replaced values, added keys."""
    data = copy.deepcopy(EXAMPLE_DATA)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(EXAMPLE_PATHS))
        try:
            parent = _parent(data, path)
            parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
        edit = draw(st.sampled_from(["delete", "replace", "add"]))
        if edit == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif edit == "add" and isinstance(parent, dict):
            parent[draw(keys)] = draw(toml_values)
        else:
            parent[path[-1]] = draw(toml_values)
    return data


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_examples())
def test_mutated_example_gives_clean_answers(data: dict[str, Any]) -> None:
    assert_clean(tomllib.loads(tomli_w.dumps(data)))
