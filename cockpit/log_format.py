"""Access log formats in nginx `log_format` syntax, compiled once into a line matcher.

A format is literal text and `$variables` (or `${variables}`). The variables the error rate
needs are matched strictly and read: $status, $request_time, $upstream_response_time,
$time_local / $time_iso8601 / $msec, $request and $http_user_agent. Every other variable is an
opaque field: inside double quotes anything up to the closing quote (nginx writes a quote as
\\x22, Apache as \\"), elsewhere the shortest text that lets the rest of the line match.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

NGINX_COMBINED = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"'
)
# Apache's `%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"` in the same syntax.
APACHE_COMBINED = (
    '$remote_addr $remote_logname $remote_user [$time_local] "$request" $status '
    '$body_bytes_sent "$http_referer" "$http_user_agent"'
)
PRESETS: dict[str, str] = {
    "combined": NGINX_COMBINED,
    "combined_request_time": f"{NGINX_COMBINED} $request_time",
    "combined_upstream_time": f"{NGINX_COMBINED} $upstream_response_time",
    "apache_combined": APACHE_COMBINED,
}
# What "auto" tries on each line, the most informative first.
AUTO = "auto"
AUTO_ORDER = (
    f"{NGINX_COMBINED} $request_time $upstream_response_time",
    PRESETS["combined_request_time"],
    PRESETS["combined_upstream_time"],
    NGINX_COMBINED,
)

TIME_VARIABLES = ("time_local", "time_iso8601", "msec")
LATENCY_VARIABLES = ("request_time", "upstream_response_time")
_QUOTED_VALUE = r'(?:[^"\\]|\\.)*'
_SECONDS = r"\d+(?:\.\d+)?"
_KNOWN = {
    "status": r"\d{3}",
    "request_time": rf"{_SECONDS}|-",
    "upstream_response_time": rf"(?:{_SECONDS}|-)(?:(?:, | : )(?:{_SECONDS}|-))*",
    "time_local": r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}",
    "time_iso8601": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:[+-]\d{2}:\d{2}|Z)",
    "msec": r"\d+(?:\.\d+)?",
}
_READ = frozenset({*_KNOWN, "request", "http_user_agent"})
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")
_TIME_LOCAL = re.compile(
    r"^(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$"
)
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}


class LogFormatError(ValueError):
    """A format that cannot describe a line the error rate can use."""


@dataclass(frozen=True, slots=True)
class LogLine:
    """What one matched line says: status, when (None if the format has no time), timings."""

    status: int
    at: datetime | None
    request_time_seconds: float | None
    upstream_seconds: float | None
    request: str | None
    user_agent: str | None

    @property
    def latency_seconds(self) -> float | None:
        """$request_time when logged (what the client waited), else the upstream's total."""
        return (
            self.request_time_seconds
            if self.request_time_seconds is not None
            else (self.upstream_seconds)
        )


@dataclass(frozen=True)
class LogFormat:
    """A compiled format: the regex, and which of the variables that matter it holds."""

    text: str
    pattern: re.Pattern[str]
    variables: frozenset[str]

    @property
    def has_time(self) -> bool:
        return any(name in self.variables for name in TIME_VARIABLES)

    @property
    def has_latency(self) -> bool:
        return any(name in self.variables for name in LATENCY_VARIABLES)

    @property
    def has_user_agent(self) -> bool:
        return "http_user_agent" in self.variables

    def parse(self, line: str) -> LogLine | None:
        """The line's fields; None when the line is not in this format."""
        match = self.pattern.fullmatch(line.rstrip("\r\n"))
        if match is None:
            return None
        fields = match.groupdict()
        at = _moment(fields)
        if at is None and self.has_time:
            return None
        return LogLine(
            status=int(fields["status"]),
            at=at,
            request_time_seconds=_seconds(fields.get("request_time")),
            upstream_seconds=_upstream_seconds(fields.get("upstream_response_time")),
            request=fields.get("request"),
            user_agent=fields.get("http_user_agent"),
        )


def resolve(name_or_format: str) -> str:
    """The log_format text of a preset name, or the text itself when it is a format."""
    return PRESETS.get(name_or_format, name_or_format)


@functools.lru_cache(maxsize=64)
def compile_format(text: str) -> LogFormat:
    """Compiles a log_format string (or a preset's name); LogFormatError says what is wrong."""
    text = resolve(text)
    if "$" not in text:
        names = ", ".join([AUTO, *PRESETS])
        raise LogFormatError(f"{text!r} is neither a preset ({names}) nor a log_format string")
    parts, seen = [], set[str]()
    pieces = _pieces(text)
    for index, (literal, name) in enumerate(pieces):
        if literal is not None:
            parts.append(re.escape(literal))
            continue
        assert name is not None
        quoted = _quoted(pieces, index)
        parts.append(_variable_pattern(name, quoted, first=name not in seen))
        seen.add(name)
    if "status" not in seen:
        raise LogFormatError(f"log_format {text!r} has no $status: 5xx cannot be counted")
    return LogFormat(text, re.compile("".join(parts) + r"\s*"), frozenset(seen & _READ))


def _pieces(text: str) -> list[tuple[str | None, str | None]]:
    """The format as (literal, None) and (None, variable name) pieces, in order."""
    pieces: list[tuple[str | None, str | None]] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        if match.start() > position:
            pieces.append((text[position : match.start()], None))
        pieces.append((None, match[1] or match[2]))
        position = match.end()
    if position < len(text):
        pieces.append((text[position:], None))
    return pieces


def _quoted(pieces: list[tuple[str | None, str | None]], index: int) -> bool:
    before = pieces[index - 1][0] if index > 0 else None
    after = pieces[index + 1][0] if index + 1 < len(pieces) else None
    return bool(before and before.endswith('"') and after and after.startswith('"'))


def _variable_pattern(name: str, quoted: bool, *, first: bool) -> str:
    body = _KNOWN.get(name, _QUOTED_VALUE if quoted else ".*?")
    if first and name in _READ:
        return f"(?P<{name}>{body})"
    return f"(?:{body})"


def _seconds(text: str | None) -> float | None:
    if text is None or text == "-":
        return None
    return float(text)


def _upstream_seconds(text: str | None) -> float | None:
    """The total of "0.012, 0.034 : 0.002" (upstreams tried in turn); None when all are "-"."""
    if text is None:
        return None
    values = [float(part) for part in re.split(r", | : ", text) if part != "-"]
    return sum(values) if values else None


def _moment(fields: dict[str, str | None]) -> datetime | None:
    if (local := fields.get("time_local")) is not None:
        return parse_time_local(local)
    if (iso := fields.get("time_iso8601")) is not None:
        return _parse_iso(iso)
    if (msec := fields.get("msec")) is not None:
        return datetime.fromtimestamp(float(msec), UTC)
    return None


@functools.lru_cache(maxsize=4096)
def parse_time_local(text: str) -> datetime | None:
    """nginx's $time_local ("22/Nov/2026:23:59:07 +0100") as an aware datetime; None if invalid."""
    match = _TIME_LOCAL.match(text)
    if match is None or match[2] not in _MONTHS:
        return None
    day, _, year, hour, minute, second, sign, tz_hours, tz_minutes = match.groups()
    offset = timedelta(hours=int(tz_hours), minutes=int(tz_minutes)) * (-1 if sign == "-" else 1)
    try:
        return datetime(
            int(year),
            _MONTHS[match[2]],
            int(day),
            int(hour),
            int(minute),
            int(second),
            tzinfo=timezone(offset),
        )
    except ValueError:
        return None


@functools.lru_cache(maxsize=4096)
def _parse_iso(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class LineMatcher:
    """The configured format ("auto", a preset or a log_format string), ready to parse lines."""

    name: str
    formats: tuple[LogFormat, ...]

    @classmethod
    def for_config(cls, configured: str) -> LineMatcher:
        if configured == AUTO:
            return cls(AUTO, tuple(compile_format(text) for text in AUTO_ORDER))
        return cls(configured, (compile_format(configured),))

    @property
    def description(self) -> str:
        """How a reading names the format: 'combined', or the log_format string itself."""
        if self.name == AUTO:
            return "auto (nginx combined, with or without $request_time/$upstream_response_time)"
        if self.name in PRESETS:
            return self.name
        return f"log_format '{self.name}'"

    @property
    def has_user_agent(self) -> bool:
        return all(form.has_user_agent for form in self.formats)

    @property
    def has_latency(self) -> bool:
        return any(form.has_latency for form in self.formats)

    def parse(self, line: str) -> LogLine | None:
        for form in self.formats:
            parsed = form.parse(line)
            if parsed is not None:
                return parsed
        return None
