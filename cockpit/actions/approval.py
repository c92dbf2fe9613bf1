"""A second person's approval of one exact plan, exchanged as files in the approvals folder.

The operator's cockpit writes a request (the plan, its guards with their facts, and the plan's
digest); another person, logged in as a different user, reads it with `cockpit approve` and
writes an approval beside it. No server: the folder's group and modes decide who takes part,
and each file's owner says who wrote it. Every file read back is outside text.
"""

from __future__ import annotations

import contextlib
import grp
import hashlib
import json
import os
import pwd
import re
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

from cockpit.actions.model import ActionId, Plan, plan_from_json
from cockpit.journal.chain import format_timestamp, parse_timestamp
from cockpit.jsonvalue import JsonValue, json_int, json_items, json_object, json_string
from cockpit.outside import outside_text
from cockpit.redact import known_secrets
from cockpit.rules.verdicts import GuardResult
from cockpit.untrusted_files import NotARegularFile, TooLarge, read_owned_file

REQUEST_FORMAT = "cutover-cockpit-approval-request"
APPROVAL_FORMAT = "cutover-cockpit-approval"
FORMAT_VERSION = 1
REQUEST_SUFFIX = ".request.json"
APPROVAL_SUFFIX = ".approval.json"
DIRECTORY_MODE = 0o2770
FILE_MODE = 0o640
MAX_FILE_BYTES = 1024 * 1024
MAX_FILES_LISTED = 200
MAX_DEPTH = 16
NAME_CHARS = 64
TEXT_CHARS = 500
APPROVE_WORD = "APPROVE"
RUN_ID_PATTERN = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,79}")
DIGEST_PATTERN = re.compile(r"sha256:[0-9a-f]{64}")


class NotAnApproval(ValueError):
    """A file in the approvals folder that is not a request or an approval; says why."""


class ApprovalUnavailable(Exception):
    """The approvals folder cannot be used; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class Person:
    """Someone logged in on this host: a user name and the uid it belongs to."""

    name: str
    uid: int

    def to_json(self) -> dict[str, JsonValue]:
        return {"name": self.name, "uid": self.uid}

    def words(self) -> str:
        return f"{self.name} (uid {self.uid})"


def user_name(uid: int) -> str | None:
    """The login name of `uid` on this host, None when it has none."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return None


def current_person() -> Person:
    """Who this process acts as: the user of its effective uid, never an environment variable."""
    uid = os.geteuid()
    return Person(user_name(uid) or f"uid {uid}", uid)


def clock_time(moment: datetime) -> str:
    """'01:02:03Z': a moment within the next hours, as the operator reads it."""
    return f"{moment.astimezone(UTC):%H:%M:%S}Z"


# --- the plan's digest ------------------------------------------------------------------------


def digest_of(action_id: str, plan: Mapping[str, JsonValue]) -> str:
    """SHA-256 over the canonical JSON of the action id and the plan: the plan, exactly."""
    canonical = json.dumps(
        {"action": action_id, "plan": plan},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode("ascii")).hexdigest()


def shared_json(value: JsonValue) -> dict[str, JsonValue]:
    """A plan or guard as it may leave this process: every secret it names removed."""
    return json_object(known_secrets().scrub(value))


def plan_digest(plan: Plan) -> str:
    """The digest an approval of this plan carries; another target or replica gives another."""
    return digest_of(plan.action_id.value, shared_json(plan.to_json()))


def short_digest(digest: str) -> str:
    """'sha256:0123456789ab…': enough to tell two plans apart on one line."""
    return digest[:19] + "…"


# --- requests and approvals -------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalRequest:
    """The operator's request: this plan, these guards, by this person, until `expires_at`.

    plan and guards are kept as JSON so the digest covers exactly what was written; owner_uid
    is the request file's owner when it was read back from the folder.
    """

    run_id: str
    action_id: ActionId
    title: str
    cutover: str
    plan: dict[str, JsonValue]
    guards: tuple[JsonValue, ...]
    digest: str
    requester: Person
    operator: str
    requested_at: datetime
    expires_at: datetime
    dry_run: bool = False
    owner_uid: int | None = None

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "format": REQUEST_FORMAT,
            "version": FORMAT_VERSION,
            "run": self.run_id,
            "action": self.action_id.value,
            "title": self.title,
            "cutover": self.cutover,
            "requester": self.requester.to_json(),
            "operator": self.operator,
            "requested_at": format_timestamp(self.requested_at),
            "expires_at": format_timestamp(self.expires_at),
            "dry_run": self.dry_run,
            "digest": self.digest,
            "plan": self.plan,
            "guards": list(self.guards),
        }

    def shown_plan(self) -> Plan:
        """The plan as it may be shown: every string made visible, on one line, and cut."""
        return plan_from_json(json_object(_outside_json(self.plan)), self.action_id)

    def shown_guards(self) -> tuple[GuardResult, ...]:
        """The guards and their facts as they may be shown."""
        return tuple(
            GuardResult.from_json(json_object(_outside_json(guard)))
            for guard in self.guards
            if isinstance(guard, dict)
        )


@dataclass(frozen=True)
class RequestSpec:
    """What a request is made from, besides the plan: who asks, for which run, until when."""

    run_id: str
    title: str
    cutover: str
    requester: Person
    operator: str
    expires_minutes: float
    dry_run: bool = False


def new_request(
    spec: RequestSpec, plan: Plan, guards: Sequence[GuardResult], now: datetime
) -> ApprovalRequest:
    """The request for `plan`, its digest computed here from the plan itself."""
    return ApprovalRequest(
        run_id=spec.run_id,
        action_id=plan.action_id,
        title=spec.title,
        cutover=spec.cutover,
        plan=shared_json(plan.to_json()),
        guards=tuple(shared_json(guard.to_json()) for guard in guards),
        digest=plan_digest(plan),
        requester=spec.requester,
        operator=spec.operator,
        requested_at=now,
        expires_at=now + timedelta(minutes=spec.expires_minutes),
        dry_run=spec.dry_run,
    )


@dataclass(frozen=True)
class Approval:
    """A second person's yes to one run's plan, by digest, with their reason.

    owner_uid is the approval file's owner when it was read back from the folder.
    """

    run_id: str
    action_id: ActionId
    digest: str
    approver: Person
    approved_at: datetime
    reason: str
    owner_uid: int | None = None

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "format": APPROVAL_FORMAT,
            "version": FORMAT_VERSION,
            "run": self.run_id,
            "action": self.action_id.value,
            "digest": self.digest,
            "approver": self.approver.to_json(),
            "approved_at": format_timestamp(self.approved_at),
            "reason": self.reason,
        }


def approval_of(request: ApprovalRequest, approver: Person, reason: str, now: datetime) -> Approval:
    """An approval of exactly the request's plan."""
    return Approval(
        request.run_id, request.action_id, request.digest, approver, now, reason.strip()
    )


# --- does it count ----------------------------------------------------------------------------


def approval_problem(request: ApprovalRequest, approval: Approval, now: datetime) -> str | None:
    """Why this approval does not let the request's plan run (None: it counts), with the fix."""
    if approval.run_id != request.run_id or approval.action_id is not request.action_id:
        return (
            f"it is for {approval.action_id.value} run {approval.run_id}, not "
            f"{request.action_id.value} run {request.run_id}: the second operator approves "
            f"this one with `cockpit approve --run {request.run_id}`"
        )
    if approval.digest != request.digest:
        return (
            f"it approves another plan ({short_digest(approval.digest)}; this plan is "
            f"{short_digest(request.digest)}): the plan changed since it was approved, so the "
            "second operator must approve this plan"
        )
    expired = _expiry_problem(request, approval, now)
    if expired is not None:
        return expired
    return _person_problem(request.requester, approval)


def _expiry_problem(request: ApprovalRequest, approval: Approval, now: datetime) -> str | None:
    if request.expired(now):
        return (
            f"the request expired at {clock_time(request.expires_at)}: press the action again "
            "to ask for a new approval"
        )
    if approval.approved_at > request.expires_at:
        return (
            f"it was given at {clock_time(approval.approved_at)}, after the request expired at "
            f"{clock_time(request.expires_at)}: press the action again to ask anew"
        )
    return None


def _person_problem(requester: Person, approval: Approval) -> str | None:
    """None when the approval is a second person's own: not the requester, and their own file."""
    approver, owner = approval.approver, approval.owner_uid
    same = (
        f"it comes from {requester.words()}, who asked for it: a second person, logged in as "
        "another user, must approve"
    )
    if owner == requester.uid or approver.uid == requester.uid or approver.name == requester.name:
        return same
    if owner != approver.uid:
        return (
            f"the approval file belongs to {uid_words(owner)}, but names {approver.words()}: "
            "not counted; the approver runs `cockpit approve` as themselves"
        )
    known = user_name(approver.uid)
    if known is not None and known != approver.name:
        return (
            f"it names {approver.name} but uid {approver.uid} is {known} here: not counted; "
            "the approver runs `cockpit approve` as themselves"
        )
    return None


def uid_words(uid: int | None) -> str:
    """'postgres (uid 101)', or 'uid 4242' when this host has no name for it."""
    if uid is None:
        return "nobody known"
    name = user_name(uid)
    return f"uid {uid}" if name is None else f"{name} (uid {uid})"


@dataclass(frozen=True)
class ApprovalCheck:
    """What the approvals folder says about one request now.

    approval: one that counts; problem: why what is there does not (or that none is there);
    expired: the request lapsed, and nothing will count any more.
    """

    approval: Approval | None = None
    problem: str | None = None
    expired: bool = False


def check_approval(directory: Path, request: ApprovalRequest, now: datetime) -> ApprovalCheck:
    """Reads the request's approval file, if any, and judges it."""
    if request.expired(now):
        lapsed = f"no second operator approved before {clock_time(request.expires_at)}"
        return ApprovalCheck(problem=lapsed, expired=True)
    path = approval_path(directory, request.run_id)
    try:
        approval = read_approval(path)
    except FileNotFoundError:
        return ApprovalCheck()
    except NotAnApproval as error:
        return ApprovalCheck(problem=f"{path.name} is not an approval: {error}")
    except OSError as error:
        return ApprovalCheck(problem=f"cannot read {path.name}: {_os_words(error)}")
    problem = approval_problem(request, approval, now)
    return ApprovalCheck(approval if problem is None else None, problem)


# --- the folder -------------------------------------------------------------------------------


def request_path(directory: Path, run_id: str) -> Path:
    return directory / f"{_checked_run_id(run_id)}{REQUEST_SUFFIX}"


def approval_path(directory: Path, run_id: str) -> Path:
    return directory / f"{_checked_run_id(run_id)}{APPROVAL_SUFFIX}"


def valid_run_id(run_id: str) -> bool:
    """Whether `run_id` can name a file in the folder (letters, digits and dashes)."""
    return RUN_ID_PATTERN.fullmatch(run_id) is not None


def _checked_run_id(run_id: str) -> str:
    if not valid_run_id(run_id):
        raise NotAnApproval(f"{outside_text(run_id, NAME_CHARS)!r} is not a run id")
    return run_id


def group_id(group: str) -> int:
    """The gid of `group`; ApprovalUnavailable when this host has no such group."""
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        raise ApprovalUnavailable(
            f"approval.group {group!r} is not a group on this host: create it "
            "(groupadd) and add both operators, or fix the config"
        ) from None


def open_folder(directory: Path, group: str | None) -> None:
    """Makes the approvals folder if missing; ours, it is made setgid 2770 and given the group.

    Refuses (ApprovalUnavailable) a folder anyone may write or one of another group.
    """
    gid = None if group is None else group_id(group)
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = directory.lstat()
        if stat.S_ISDIR(found.st_mode) and found.st_uid == os.geteuid():
            if gid is not None and found.st_gid != gid:
                os.chown(directory, -1, gid)
            directory.chmod(DIRECTORY_MODE)
        found = directory.lstat()
    except OSError as error:
        raise ApprovalUnavailable(
            f"cannot prepare the approvals folder {directory}: {_os_words(error)}"
            + (f": are you in group {group}? (id -nG)" if group else "")
        ) from None
    _check_folder(directory, found, group, gid)
    if group is not None and gid is not None:
        _check_reachable(directory, group, gid)


def _check_reachable(directory: Path, group: str, gid: int) -> None:
    """ApprovalUnavailable when a folder above stops the group before it reaches `directory`."""
    for parent in directory.resolve().parents:
        try:
            found = parent.stat()
        except OSError:
            continue
        if found.st_mode & stat.S_IXOTH or (found.st_gid == gid and found.st_mode & stat.S_IXGRP):
            continue
        raise ApprovalUnavailable(
            f"members of {group} cannot reach {directory}: {parent} does not let them through "
            f"(chgrp {group} {parent}; chmod g+x {parent}), or set [approval] dir elsewhere"
        )


def _check_folder(
    directory: Path, found: os.stat_result, group: str | None, gid: int | None
) -> None:
    if not stat.S_ISDIR(found.st_mode):
        raise ApprovalUnavailable(
            f"{directory} is not a folder: remove it, or set [approval] dir to a folder"
        )
    if found.st_mode & stat.S_IWOTH:
        raise ApprovalUnavailable(
            f"{directory} may be written by anyone (mode {stat.filemode(found.st_mode)}): "
            f"chmod 2770 {directory}"
        )
    if gid is not None and found.st_gid != gid:
        raise ApprovalUnavailable(
            f"{directory} belongs to group {_group_words(found.st_gid)}, not {group}: "
            f"chgrp {group} {directory}"
        )


def _group_words(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return f"gid {gid}"


def write_request(directory: Path, request: ApprovalRequest) -> Path:
    """Writes the request where `cockpit approve` looks for it; readers never see half a file."""
    path = request_path(directory, request.run_id)
    _write_document(path, request.to_json())
    return path


def write_approval(directory: Path, approval: Approval) -> Path:
    """Writes the approval beside its request; readers never see half a file."""
    path = approval_path(directory, approval.run_id)
    _write_document(path, approval.to_json())
    return path


def withdraw(directory: Path, run_id: str) -> None:
    """Removes a run's request and approval (best effort: the run is over either way)."""
    for path in (request_path(directory, run_id), approval_path(directory, run_id)):
        with contextlib.suppress(OSError):
            path.unlink()


def _write_document(path: Path, document: dict[str, JsonValue]) -> None:
    """A new file beside `path` (mode 0640, the folder's group), synced, then renamed over it."""
    text = json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as output:
            output.write(text)
            output.flush()
            os.fsync(output.fileno())
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(temporary).unlink()
        raise


@dataclass(frozen=True)
class Pending:
    """The requests waiting for a second operator, and a word on each file that is not one."""

    requests: tuple[ApprovalRequest, ...]
    skipped: tuple[str, ...] = ()
    expired: int = 0


def pending_requests(directory: Path, now: datetime) -> Pending:
    """Every unexpired request in the folder; ApprovalUnavailable when it cannot be read."""
    try:
        with os.scandir(directory) as entries:
            names = sorted(entry.name for entry in entries if entry.name.endswith(REQUEST_SUFFIX))
    except FileNotFoundError:
        return Pending(())
    except OSError as error:
        raise ApprovalUnavailable(
            f"cannot read the approvals folder {directory}: {_os_words(error)}: ask to be "
            "added to the cutover's group (then log in again), or check [approval] dir"
        ) from None
    requests, skipped, expired = [], [], 0
    for name in names[:MAX_FILES_LISTED]:
        shown = outside_text(name, NAME_CHARS)
        try:
            request = read_request(directory / name)
        except NotAnApproval as error:
            skipped.append(f"{shown} is not a request: {error}")
            continue
        except OSError as error:
            skipped.append(f"{shown} cannot be read: {_os_words(error)}")
            continue
        if request.expired(now):
            expired += 1
        else:
            requests.append(request)
    if len(names) > MAX_FILES_LISTED:
        skipped.append(f"{len(names) - MAX_FILES_LISTED} more request files were not read")
    return Pending(tuple(requests), tuple(skipped), expired)


# --- reading files back -----------------------------------------------------------------------


def read_request(path: Path) -> ApprovalRequest:
    """The request in `path`; NotAnApproval saying why when it is not one (OSError: unreadable)."""
    data, owner_uid = _read_document(path, REQUEST_FORMAT)
    run_id = _run_id(data, path, REQUEST_SUFFIX)
    action_id = _action_id(data)
    plan = json_object(data.get("plan"))
    digest = _digest(data)
    if digest != digest_of(action_id.value, plan):
        _refuse("its plan does not match its digest: it was altered after it was written")
    return ApprovalRequest(
        run_id=run_id,
        action_id=action_id,
        title=_text(data, "title"),
        cutover=_text(data, "cutover"),
        plan=plan,
        guards=tuple(json_items(data.get("guards"))),
        digest=digest,
        requester=_person(data, "requester"),
        operator=_text(data, "operator"),
        requested_at=_time(data, "requested_at"),
        expires_at=_time(data, "expires_at"),
        dry_run=data.get("dry_run") is True,
        owner_uid=owner_uid,
    )


def read_approval(path: Path) -> Approval:
    """The approval in `path`; NotAnApproval saying why when it is not one (OSError: unreadable)."""
    data, owner_uid = _read_document(path, APPROVAL_FORMAT)
    return Approval(
        run_id=_run_id(data, path, APPROVAL_SUFFIX),
        action_id=_action_id(data),
        digest=_digest(data),
        approver=_person(data, "approver"),
        approved_at=_time(data, "approved_at"),
        reason=_text(data, "reason", TEXT_CHARS),
        owner_uid=owner_uid,
    )


def _read_document(path: Path, expected_format: str) -> tuple[dict[str, JsonValue], int]:
    """The file's JSON object and its owner's uid; NotAnApproval when it is no such document."""
    try:
        raw, owner_uid = read_owned_file(path, MAX_FILE_BYTES)
    except (NotARegularFile, TooLarge, IsADirectoryError) as error:
        raise NotAnApproval(f"it is {_os_words(error)}") from None
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError:
        _refuse("it is not UTF-8 text")
    except (ValueError, RecursionError) as error:
        _refuse(f"it is not JSON ({outside_text(str(error), 80)})")
    if not isinstance(value, dict):
        _refuse("it is JSON but not an object")
    if value.get("format") != expected_format or value.get("version") != FORMAT_VERSION:
        _refuse(f"it is not a {expected_format} document of version {FORMAT_VERSION}")
    _check_depth(value, 0)
    return value, owner_uid


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a number")


def _check_depth(value: JsonValue, depth: int) -> None:
    if not isinstance(value, list | dict):
        return
    if depth > MAX_DEPTH:
        _refuse(f"it nests deeper than {MAX_DEPTH} levels")
    for item in value.values() if isinstance(value, dict) else value:
        _check_depth(item, depth + 1)


def _refuse(why: str) -> NoReturn:
    raise NotAnApproval(why)


def _text(data: Mapping[str, JsonValue], key: str, limit: int = NAME_CHARS * 4) -> str:
    value = json_string(data.get(key))
    if value is None:
        _refuse(f"it has no {key}")
    return outside_text(value, limit)


def _run_id(data: Mapping[str, JsonValue], path: Path, suffix: str) -> str:
    run_id = json_string(data.get("run"))
    if run_id is None or not valid_run_id(run_id):
        _refuse("it has no valid run id")
    if path.name != f"{run_id}{suffix}":
        _refuse(f"it names run {run_id} but is filed as {outside_text(path.name, NAME_CHARS)}")
    return run_id


def _action_id(data: Mapping[str, JsonValue]) -> ActionId:
    try:
        return ActionId(json_string(data.get("action")) or "")
    except ValueError:
        _refuse("it names no known action")


def _digest(data: Mapping[str, JsonValue]) -> str:
    digest = json_string(data.get("digest"))
    if digest is None or DIGEST_PATTERN.fullmatch(digest) is None:
        _refuse("it has no sha256 plan digest")
    return digest


def _person(data: Mapping[str, JsonValue], key: str) -> Person:
    person = json_object(data.get(key))
    name, uid = json_string(person.get("name")), json_int(person.get("uid"))
    if not name or not name.strip() or uid is None or uid < 0:
        _refuse(f"it names no {key} (a user name and uid)")
    return Person(outside_text(name, NAME_CHARS), uid)


def _time(data: Mapping[str, JsonValue], key: str) -> datetime:
    try:
        return parse_timestamp(json_string(data.get(key)) or "")
    except ValueError:
        _refuse(f"it has no {key} time")


def _outside_json(value: JsonValue) -> JsonValue:
    """The same JSON with every string (and key) made visible on one line and cut."""
    if isinstance(value, str):
        return outside_text(value, TEXT_CHARS)
    if isinstance(value, list):
        return [_outside_json(item) for item in value]
    if isinstance(value, dict):
        return {outside_text(k, NAME_CHARS): _outside_json(v) for k, v in value.items()}
    return value


def _os_words(error: OSError) -> str:
    return outside_text(error.strerror or str(error), TEXT_CHARS)
