"""Removes secrets from anything before it is written or shown."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import cast

from cockpit.config import STANDARD_SECRET_ENV, Config, dsn_fields
from cockpit.jsonvalue import JsonValue
from cockpit.model import Reading, Value
from cockpit.visible import visible

REDACTED = "***"
REMEMBERED_STRINGS = 16384

# Secrets that can be recognised by shape even when nobody told us their value:
# a DSN's password=..., credentials in a URL, a token in a query string, an AWS key id.
_PATTERNS = (
    (re.compile(r"(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s']+)"), rf"\g<1>{REDACTED}"),
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)"), rf"\g<1>{REDACTED}\g<3>"),
    (
        re.compile(r"(?i)([?&](?:token|access_token|api_key|apikey|password|secret)=)[^&\s#]+"),
        rf"\g<1>{REDACTED}",
    ),
    (re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), REDACTED),
    (re.compile(r"(?i)(aws_secret_access_key\s*[=:]\s*)\S+"), rf"\g<1>{REDACTED}"),
)


@dataclass(frozen=True)
class Redactor:
    """Replaces known secret values and secret-shaped text in strings, however nested."""

    secret_values: tuple[str, ...] = ()
    _done: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Strings already redacted: a poll brings back mostly the same ones."""
    _lines: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Strings already redacted and made visible on one line, for readings' values."""

    def text(self, text: str) -> str:
        done = self._done.get(text)
        if done is not None:
            return done
        redacted = text
        for secret in self.secret_values:
            redacted = redacted.replace(secret, REDACTED)
        for pattern, replacement in _PATTERNS:
            redacted = pattern.sub(replacement, redacted)
        if len(self._done) >= REMEMBERED_STRINGS:
            self._done.clear()
        self._done[text] = redacted
        return redacted

    def line(self, text: str) -> str:
        """The text redacted, then made visible on one line; the same object when unchanged."""
        done = self._lines.get(text)
        if done is None:
            done = visible(self.text(text))
            if done == text:
                done = text
            if len(self._lines) >= REMEMBERED_STRINGS:
                self._lines.clear()
            self._lines[text] = done
        return done

    def scrub(self, value: JsonValue) -> JsonValue:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        if isinstance(value, dict):
            return {self.text(key): self.scrub(item) for key, item in value.items()}
        return value


def redactor_for(values: Iterable[str]) -> Redactor:
    """Longest first, so a secret containing another is replaced whole; empty values ignored."""
    unique = {value for value in values if value}
    return Redactor(tuple(sorted(unique, key=len, reverse=True)))


def redactor_for_config(config: Config | None, environ: Mapping[str, str]) -> Redactor:
    """Everything secret this session could leak: named env vars' values and DSN passwords.

    The values are also remembered process-wide (`known_secrets`), so text from outside is
    redacted whole where it enters, before anything cuts it.
    """
    names = config.secret_env_names() if config else STANDARD_SECRET_ENV
    values = [environ.get(name, "") for name in names]
    if config:
        values += [_dsn_password(dsn) for dsn in config.dsns()]
    return remember_secrets(redactor_for(values))


_known_secrets = Redactor()


def known_secrets() -> Redactor:
    """Every secret value any config loaded in this process named, plus the shape patterns."""
    return _known_secrets


def remember_secrets(redactor: Redactor) -> Redactor:
    """Adds this redactor's values to `known_secrets` and returns it unchanged."""
    global _known_secrets
    _known_secrets = redactor_for([*_known_secrets.secret_values, *redactor.secret_values])
    return redactor


def _dsn_password(dsn: str) -> str:
    try:
        return dsn_fields(dsn).get("password", "")
    except Exception:
        return ""


def redacted_reading(redactor: Redactor, reading: Reading) -> Reading:
    """The same reading with secrets removed and every string made visible (escapes spelled out).

    This is where readings enter the session (screen, journal, `act`, `check`), so a source
    that forgot to clean a string still cannot leak a secret or move the terminal's cursor.
    A reading with nothing to change is returned as it is, without being copied.
    """
    signal_id = visible(reading.signal_id)
    detail = visible(redactor.text(reading.detail))
    values = _cleaned_mapping(redactor, reading.values)
    unchanged = signal_id == reading.signal_id and detail == reading.detail
    if unchanged and values is reading.values:
        return reading
    return replace(
        reading,
        signal_id=signal_id,
        detail=detail,
        values=cast(Mapping[str, Value], values),
    )


_PLAIN = frozenset({int, float, bool, type(None)})


def _cleaned(redactor: Redactor, value: object) -> object:
    """A frozen value with every string redacted and visible; the same object when unchanged.

    Strings and plain numbers are handled in the loops rather than by a call each: a DNS
    reading holds thousands of them, and most polls change none.
    """
    kind = type(value)
    if kind is str:
        return redactor.line(cast(str, value))
    if kind is tuple:
        items = cast(tuple[object, ...], value)
        cleaned = [_item(redactor, item) for item in items]
        same = all(new is old for new, old in zip(cleaned, items, strict=True))
        return items if same else tuple(cleaned)
    if isinstance(value, Mapping):
        return _cleaned_mapping(redactor, cast(Mapping[str, object], value))
    return value


def _item(redactor: Redactor, item: object) -> object:
    kind = type(item)
    if kind in _PLAIN:
        return item
    if kind is str:
        return redactor.line(cast(str, item))
    return _cleaned(redactor, item)


def _cleaned_mapping(redactor: Redactor, mapping: Mapping[str, object]) -> object:
    changed = False
    pairs = []
    for key, item in mapping.items():
        new_key, new_item = redactor.line(key), _item(redactor, item)
        changed = changed or new_key is not key or new_item is not item
        pairs.append((new_key, new_item))
    return dict(pairs) if changed else mapping
