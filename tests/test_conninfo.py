"""Our reading of connection strings against libpq's own (psycopg's conninfo_to_dict, which
calls PQconninfoParse): the same fields for what libpq accepts, an error where it refuses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from cockpit.conninfo import conninfo_fields

CORPUS = [
    "",
    "host=db port=5432 dbname=shop",
    "host = db   port= 5432 dbname =shop user=cockpit",
    "host=127.0.0.1 dbname=shop password='hv7 q\\'uiet-Secret'",
    r"password=a\ b\\c dbname=x",
    "password='' dbname=x",
    "host=/var/run/postgresql dbname=shop application_name='cutover cockpit'",
    "host=a,b port=5432,5433 target_session_attrs=read-write",
    "dbname=shop connect_timeout=5 sslmode=require options='-c statement_timeout=5s'",
    "postgresql://",
    "postgresql://db",
    "postgresql://db:5433/shop",
    "postgres://cockpit@db/shop",
    "postgresql://cockpit:s%40cret%3A1@db:5432/shop?sslmode=require&application_name=x",
    "postgresql://[::1]:5433/shop",
    "postgresql://[2001:db8::1]/shop",
    "postgresql://a:1,b:2/shop?target_session_attrs=any",
    "postgresql:///shop?host=/tmp",
    "postgresql://db/shop?ssl=true",
    "postgresql://db/sh%20op?connect_timeout=3",
    "postgresql://user:@db/shop",
    "postgresql://:pw@db/shop",
    # refused by libpq
    "host=db nonsense=1",
    "host",
    "host=db dbname",
    "password='unterminated",
    "postgresql://db/shop?nope=1",
    "postgresql://db/shop?sslmode",
    "postgresql://[::1/shop",
    "postgresql://db/shop?ssl=false",
]


def libpq(dsn: str) -> dict[str, str] | str:
    try:
        return {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    except Exception:
        return "refused"


def ours(dsn: str) -> dict[str, str] | str:
    try:
        return conninfo_fields(dsn)
    except ValueError:
        return "refused"


@pytest.mark.parametrize("dsn", CORPUS)
def test_the_same_fields_as_libpq(dsn: str) -> None:
    assert ours(dsn) == libpq(dsn)


KEYS = st.sampled_from(["host", "port", "dbname", "user", "password", "sslmode", "bogus"])
VALUES = st.text(alphabet=st.sampled_from("ab1 '\\=,:@/%"), max_size=8)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(KEYS, VALUES, st.booleans()), max_size=4))
def test_generated_key_value_strings_read_as_libpq_reads_them(
    pairs: list[tuple[str, str, bool]],
) -> None:
    parts = []
    for key, value, quoted in pairs:
        if quoted:
            escaped = value.replace("\\", "\\\\").replace("'", "\\'")
            parts.append(f"{key}='{escaped}'")
        else:
            parts.append(f"{key}={value}")
    dsn = " ".join(parts)
    assert ours(dsn) == libpq(dsn)


# URIs are generated without whitespace, which a URI does not hold (libpq trims it oddly).
URI_PARTS = st.text(alphabet=st.sampled_from("ab1:@/,[]%2?&=F"), max_size=14)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["postgresql://", "postgres://"]), URI_PARTS)
def test_generated_uris_read_as_libpq_reads_them(scheme: str, rest: str) -> None:
    dsn = scheme + rest
    assert ours(dsn) == libpq(dsn)


def test_loading_the_config_does_not_load_psycopg() -> None:
    """psycopg is a tenth of a second of imports: not before the first frame."""
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    code = (
        "import sys; from pathlib import Path; from cockpit.config import load_config; "
        f"load_config(Path({str(example)!r})); print('psycopg' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
