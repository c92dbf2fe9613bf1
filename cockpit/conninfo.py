"""A PostgreSQL connection string read the way libpq reads it, without loading libpq.

The config names DSNs in both of libpq's forms, `host=db port=5432 dbname=shop` and
`postgresql://user@db:5432/shop?sslmode=require`; validating them at load time with psycopg
cost a tenth of a second before the first frame. The connection itself still goes through
psycopg and libpq; this parse only checks the string, names its parts and finds a password
to redact, and a test holds it to libpq's own on a corpus of both forms.
"""

from __future__ import annotations

from urllib.parse import unquote

URI_SCHEMES = ("postgresql://", "postgres://")
KEYWORDS = frozenset(
    {
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "passfile",
        "require_auth",
        "channel_binding",
        "connect_timeout",
        "client_encoding",
        "options",
        "application_name",
        "fallback_application_name",
        "keepalives",
        "keepalives_idle",
        "keepalives_interval",
        "keepalives_count",
        "tcp_user_timeout",
        "replication",
        "gssencmode",
        "sslmode",
        "sslnegotiation",
        "requiressl",
        "sslcompression",
        "sslcert",
        "sslkey",
        "sslcertmode",
        "sslpassword",
        "sslrootcert",
        "sslcrl",
        "sslcrldir",
        "sslsni",
        "requirepeer",
        "ssl_min_protocol_version",
        "ssl_max_protocol_version",
        "krbsrvname",
        "gsslib",
        "gssdelegation",
        "service",
        "target_session_attrs",
        "load_balance_hosts",
    }
)
"""libpq's connection keywords (PostgreSQL 17's list): any other is an error, as in libpq."""


def conninfo_fields(dsn: str) -> dict[str, str]:
    """The keywords the string sets and their values; ValueError, saying where, when libpq
    would refuse it."""
    if "\x00" in dsn:
        raise ValueError("contains a NUL character")
    if dsn.startswith(URI_SCHEMES):
        return _uri_fields(dsn)
    return _keyword_fields(dsn)


def _keyword_fields(dsn: str) -> dict[str, str]:
    """`key = value` pairs separated by whitespace; a value may be single-quoted, and a
    backslash takes the next character as it is."""
    fields: dict[str, str] = {}
    position = _skip_space(dsn, 0)
    while position < len(dsn):
        key, position = _keyword(dsn, position)
        value, position = _value(dsn, position)
        fields[_known(key)] = value
        position = _skip_space(dsn, position)
    return fields


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def _keyword(dsn: str, position: int) -> tuple[str, int]:
    start = position
    while position < len(dsn) and dsn[position] != "=" and not dsn[position].isspace():
        position += 1
    key = dsn[start:position]
    position = _skip_space(dsn, position)
    if position >= len(dsn) or dsn[position] != "=":
        raise ValueError(f'missing "=" after "{key}" in connection info string')
    return key, _skip_space(dsn, position + 1)


def _value(dsn: str, position: int) -> tuple[str, int]:
    if position < len(dsn) and dsn[position] == "'":
        return _quoted(dsn, position + 1)
    chars: list[str] = []
    while position < len(dsn) and not dsn[position].isspace():
        if dsn[position] == "\\":
            position += 1
            if position >= len(dsn):
                break
        chars.append(dsn[position])
        position += 1
    return "".join(chars), position


def _quoted(dsn: str, position: int) -> tuple[str, int]:
    chars: list[str] = []
    while position < len(dsn):
        char = dsn[position]
        if char == "\\" and position + 1 < len(dsn):
            chars.append(dsn[position + 1])
            position += 2
        elif char == "'":
            return "".join(chars), position + 1
        else:
            chars.append(char)
            position += 1
    raise ValueError("unterminated quoted string in connection info string")


def _known(key: str) -> str:
    if key not in KEYWORDS:
        raise ValueError(f'invalid connection option "{key}"')
    return key


def _uri_fields(dsn: str) -> dict[str, str]:
    """postgresql://[user[:password]@][host[:port][,...]][/dbname][?keyword=value&...], read
    in libpq's order: the user part runs to an @ before any /, hosts to a / or ?."""
    rest = dsn.split("://", 1)[1]
    fields: dict[str, str] = {}
    rest = _userinfo(rest, fields)
    hosts, ports, rest = _hosts(rest)
    if ",".join(hosts):
        fields["host"] = ",".join(hosts)
    if ",".join(ports):
        fields["port"] = ",".join(ports)
    if rest.startswith("/"):
        path, _, query = rest[1:].partition("?")
        if path:
            fields["dbname"] = _decoded(path)
    elif rest.startswith("?"):
        query = rest[1:]
    elif rest:
        raise ValueError(f'unexpected character "{rest[0]}" in URI')
    else:
        query = ""
    for pair in query.split("&") if query else []:
        name, setting = _query_pair(pair)
        fields[_known(name)] = setting
    return fields


def _userinfo(rest: str, fields: dict[str, str]) -> str:
    """Reads user[:password]@ when an @ comes before any /; the rest of the URI."""
    end = 0
    while end < len(rest) and rest[end] not in "@/":
        end += 1
    if end >= len(rest) or rest[end] != "@":
        return rest
    user, colon, password = rest[:end].partition(":")
    if user:
        fields["user"] = _decoded(user)
    if colon and password:
        fields["password"] = _decoded(password)
    return rest[end + 1 :]


def _hosts(rest: str) -> tuple[list[str], list[str], str]:
    """Each host[:port] up to a / or ? (IPv6 in brackets); the rest of the URI."""
    hosts: list[str] = []
    ports: list[str] = []
    while True:
        host, rest = _host(rest)
        port = ""
        if rest.startswith(":"):
            port, rest = _until(rest[1:], "/?,")
        hosts.append(_decoded(host))
        ports.append(_decoded(port))
        if not rest.startswith(","):
            return hosts, ports, rest
        rest = rest[1:]


def _host(rest: str) -> tuple[str, str]:
    if not rest.startswith("["):
        return _until(rest, ":/?,")
    end = rest.find("]")
    if end < 0:
        raise ValueError(
            f'end of string reached when looking for matching "]" in IPv6 host '
            f'address in URI: "{rest}"'
        )
    if end == 1:
        raise ValueError("IPv6 host address may not be empty in URI")
    after = rest[end + 1 :]
    if after and after[0] not in ":/?,":
        raise ValueError(f'unexpected character "{after[0]}" after IPv6 host address in URI')
    return rest[1:end], after


def _until(text: str, stops: str) -> tuple[str, str]:
    end = 0
    while end < len(text) and text[end] not in stops:
        end += 1
    return text[:end], text[end:]


def _query_pair(pair: str) -> tuple[str, str]:
    key, equals, value = pair.partition("=")
    if not equals:
        raise ValueError(f'missing key/value separator "=" in URI query parameter: "{pair}"')
    if "=" in value:
        raise ValueError(f'extra key/value separator "=" in URI query parameter: "{pair}"')
    return _uri_parameter(_decoded(key), _decoded(value))


def _decoded(text: str) -> str:
    """Percent-decoding as libpq does it: a % must be followed by two hex digits."""
    if "%" not in text:
        return text
    position = 0
    while (position := text.find("%", position)) >= 0:
        digits = text[position + 1 : position + 3]
        if len(digits) != 2 or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise ValueError(f'invalid percent-encoded token: "{text}"')
        if digits == "00":
            raise ValueError(f'forbidden value %00 in percent-encoded value: "{text}"')
        position += 3
    return unquote(text, errors="strict")


def _uri_parameter(key: str, value: str) -> tuple[str, str]:
    """libpq takes ssl=true in a URI (JDBC's spelling) as sslmode=require."""
    if key != "ssl":
        return key, value
    if value != "true":
        raise ValueError(f'invalid "ssl" value: "{value}"')
    return "sslmode", "require"


def _hosts_and_ports(netloc: str) -> tuple[list[str], list[str]]:
    hosts: list[str] = []
    ports: list[str] = []
    for part in netloc.split(",") if netloc else []:
        host, port = _host_and_port(part)
        hosts.append(unquote(host))
        ports.append(port)
    return hosts, ports


def _host_and_port(part: str) -> tuple[str, str]:
    if part.startswith("["):
        end = part.find("]")
        if end < 0:
            raise ValueError(f'missing "]" in IPv6 host address in URI: "{part}"')
        host, after = part[1:end], part[end + 1 :]
        port = after[1:] if after.startswith(":") else ""
        if after and not after.startswith(":"):
            raise ValueError(f'unexpected character after IPv6 host address in URI: "{part}"')
        return host, port
    host, _, port = part.partition(":")
    return host, port
