"""The journal's record format, shared by its writer, reader and verifier.

Each line is a JSON object whose `prev` is the SHA-256 of the previous line's bytes, so an
edited, removed, inserted or reordered line breaks the chain at a line `verify` can name.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import socket
from collections.abc import Mapping
from datetime import UTC, datetime

from cockpit import __version__
from cockpit.jsonvalue import JsonValue

FORMAT_VERSION = 1
GENESIS = "0" * 64
HEADER_KIND = "header"
END_KIND = "end"
RESUME_KIND = "resume"
RECORD_KEYS = ("seq", "t", "kind", "prev", "data")

_TIMESTAMP_AFTER_YEAR = "-%m-%dT%H:%M:%S.%fZ"
"""The year is written separately: strftime's %Y leaves years before 1000 unpadded."""
_TIMESTAMP_PATTERN = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")


class JournalBusy(Exception):
    """Another live process holds this journal: two writers would break the chain."""


class JournalError(Exception):
    """A journal that cannot be read: unreadable file or a damaged line before the last."""


# --- session header -------------------------------------------------------------------------


def session_header(
    *,
    cutover_name: str,
    config_digest: str,
    mode: str,
    environ: Mapping[str, str],
    started_at: datetime,
) -> dict[str, JsonValue]:
    """The header payload that opens every journal: who ran what, from where, and when."""
    return {
        "format_version": FORMAT_VERSION,
        "cockpit_version": __version__,
        "cutover": cutover_name,
        "config_digest": config_digest,
        "mode": mode,
        "operator": operator_name(environ),
        "ssh_client": _ssh_client(environ),
        "started_at": format_timestamp(started_at),
        "pid": os.getpid(),
    }


def operator_name(environ: Mapping[str, str]) -> str:
    """user@host, as the journal names the operator."""
    return f"{_user_name(environ)}@{_host_name()}"


def _user_name(environ: Mapping[str, str]) -> str:
    """The login name from the environment, else the system's idea of it, else "unknown"."""
    from_environ = environ.get("USER") or environ.get("LOGNAME")
    if from_environ:
        return from_environ
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _host_name() -> str:
    """This machine's host name, or "unknown" when the system will not say."""
    try:
        return socket.gethostname() or "unknown"
    except OSError:
        return "unknown"


def _ssh_client(environ: Mapping[str, str]) -> str | None:
    """The address the operator connected from over SSH, if they did."""
    for variable in ("SSH_CLIENT", "SSH_CONNECTION"):
        fields = environ.get(variable, "").split()
        if fields:
            return fields[0]
    return None


# --- timestamps and serialization -----------------------------------------------------------


def format_timestamp(moment: datetime) -> str:
    """An aware datetime as UTC ISO-8601 with microseconds and a `Z` suffix."""
    if moment.utcoffset() is None:
        raise ValueError(f"journal times must be timezone-aware, got naive {moment!r}")
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}{utc.strftime(_TIMESTAMP_AFTER_YEAR)}"


def parse_timestamp(text: str) -> datetime:
    """The aware UTC datetime of a timestamp written by `format_timestamp`.

    The strict pattern first, then fromisoformat: strptime is forty times slower, and an
    8-hour journal has a hundred thousand of these.
    """
    if not _TIMESTAMP_PATTERN.fullmatch(text):
        raise ValueError(f"{text!r} is not a journal time like 2026-11-22T01:02:03.123456Z")
    return datetime.fromisoformat(text)


def line_digest(line: bytes) -> str:
    """The SHA-256 hex digest a following line records as its `prev`."""
    return hashlib.sha256(line).hexdigest()


def serialize_record(seq: int, t: str, kind: str, prev: str, data: JsonValue) -> bytes:
    """One journal line without its newline; NaN and infinity are refused with ValueError.

    Lone surrogates are written as `\\udXXX` escapes so any Python string survives the trip.
    """
    record = {"seq": seq, "t": t, "kind": kind, "prev": prev, "data": data}
    text = json.dumps(record, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode("utf-8", errors="backslashreplace")
