"""An old and a new S3 bucket compared object by object: counts, bytes, keys, sizes and ETags.

compare_buckets lists both buckets with ListObjectsV2 and returns a BucketComparison for the
session to show, journal and guard on; it blocks, so the caller runs it in a thread. It reads
the listings only, never an object's content, so it can tell no more than an ETag says:
- a single-part upload's ETag is the MD5 of its content (unencrypted or SSE-S3): two copies of a
  key of the same size with different ETags hold different bytes;
- a multipart upload's ETag ('<MD5 of the parts' MD5s>-<part count>') changes with the part
  size, so two such copies are compared by size and part count only (a different part count
  is reported as a difference of its own: maybe the same bytes, but the listing cannot tell);
- a copy of each form, or an ETag of neither form: by size only.
Keys come from outside: they are compared as S3 sends them, and the few kept as examples pass
outside_text first. A listing that stops at max_objects leaves the comparison UNCHECKED unless
it found differences already, so a capped comparison never reads as identical.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, get_args

from cockpit.clock import Clock
from cockpit.config import BucketPair
from cockpit.io.aws_errors import aws_error_code
from cockpit.io.context import AwsClients
from cockpit.io.failures import FAILURE_LIMIT_CHARS, SourceProblem, describe_failure
from cockpit.jsonvalue import (
    JsonValue,
    json_int,
    json_object,
    json_string,
    json_text,
    json_texts,
)
from cockpit.outside import outside_text

PAGE_SIZE = 1000
"""The most keys ListObjectsV2 returns in one page."""
EXAMPLE_KEYS = 10
KEY_CHARS = 200
"""How much of a hostile or very long key an example keeps (S3 allows 1024 bytes)."""
NO_SUCH_BUCKET_CODE = "NoSuchBucket"
ACCESS_DENIED_CODE = "AccessDenied"

BucketStatus = Literal["OK", "DIFFERENT", "UNCHECKED"]
BucketSide = Literal["old", "new"]
ComparedBy = Literal["etag", "size and parts", "size"]
Difference = Literal["size", "etag", "part count"]

_MD5_ETAG = re.compile(r"[0-9a-f]{32}")
_MULTIPART_ETAG = re.compile(r"[0-9a-f]{32}-([1-9][0-9]{0,4})")


# --- one listed object --------------------------------------------------------------------------


@dataclass(frozen=True)
class ListedObject:
    """One object as ListObjectsV2 lists it: its size in bytes and its ETag, unquoted."""

    size_bytes: int
    etag: str

    @property
    def part_count(self) -> int | None:
        """The N of a multipart upload's ETag '<hex>-N'; None for any other form."""
        match = _MULTIPART_ETAG.fullmatch(self.etag)
        return int(match.group(1)) if match else None

    @property
    def etag_is_md5(self) -> bool:
        """Whether the ETag has the form of a single-part upload's MD5."""
        return _MD5_ETAG.fullmatch(self.etag) is not None


def parse_listed_object(entry: Mapping[str, Any]) -> tuple[str, ListedObject]:
    """(key, object) from one Contents entry; the key raw, for comparing, never for showing."""
    size = json_int(entry.get("Size"))
    etag = str(entry.get("ETag") or "").strip().strip('"').lower()
    return str(entry.get("Key") or ""), ListedObject(size or 0, etag)


def compared_by(old: ListedObject, new: ListedObject) -> ComparedBy:
    """How two copies of a key can be compared, given the forms of their ETags."""
    if old.etag_is_md5 and new.etag_is_md5:
        return "etag"
    if old.part_count is not None and new.part_count is not None:
        return "size and parts"
    return "size"


def object_difference(old: ListedObject, new: ListedObject) -> Difference | None:
    """What differs between two copies of a key, as far as their ETags' forms let us tell."""
    how = compared_by(old, new)
    if old.size_bytes != new.size_bytes:
        return "size"
    if how == "etag" and old.etag != new.etag:
        return "etag"
    if how == "size and parts" and old.part_count != new.part_count:
        return "part count"
    return None


# --- the result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyDifferences:
    """How many keys differ in one way (exact), and the first few of them, sanitized."""

    count: int = 0
    examples: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        return {"count": self.count, "examples": list(self.examples)}

    @classmethod
    def from_json(cls, data: JsonValue) -> KeyDifferences:
        """Read back from a journal record; anything malformed reads as no differences."""
        found = json_object(data)
        examples = tuple(outside_text(key, KEY_CHARS) for key in json_texts(found.get("examples")))
        return cls(count=_count(found.get("count")), examples=examples)


@dataclass(frozen=True)
class BucketComparison:
    """The old and the new bucket of one pair compared: what was listed and what differs.

    old_objects / old_bytes (and new_*) are None unless that bucket was listed in full;
    listed_old / listed_new count what was listed. Each key present on both sides that differs
    counts in one category only: size first, then ETag (single-part copies), then part count
    (multipart copies). error says why nothing could be compared (UNCHECKED).
    """

    name: str
    old_bucket: str
    new_bucket: str
    prefix: str
    checked_at: datetime
    max_objects: int
    listed_old: int = 0
    listed_new: int = 0
    old_objects: int | None = None
    new_objects: int | None = None
    old_bytes: int | None = None
    new_bytes: int | None = None
    capped: bool = False
    missing_on_new: KeyDifferences = KeyDifferences()
    extra_on_new: KeyDifferences = KeyDifferences()
    size_differs: KeyDifferences = KeyDifferences()
    etag_differs: KeyDifferences = KeyDifferences()
    part_count_differs: KeyDifferences = KeyDifferences()
    compared_by_size_and_parts: int = 0
    compared_by_size_only: int = 0
    not_compared: int = 0
    error: str | None = None

    @property
    def differences(self) -> int:
        """Keys missing, extra or changed, all categories together."""
        return sum(category.count for category in self._categories().values())

    @property
    def status(self) -> BucketStatus:
        """DIFFERENT on any difference found; UNCHECKED on an error or a capped listing."""
        if self.error is not None:
            return "UNCHECKED"
        if self.differences:
            return "DIFFERENT"
        return "UNCHECKED" if self.capped else "OK"

    @property
    def unchecked_reason(self) -> str | None:
        """Why the status is UNCHECKED, in words; None for OK and DIFFERENT."""
        if self.status != "UNCHECKED":
            return None
        return self.error or self._capped_note()

    @property
    def notes(self) -> tuple[str, ...]:
        """What a reader must know to trust the result: the cap and how objects were compared."""
        notes = (
            self._capped_note() if self.capped else "",
            _size_and_parts_note(self.compared_by_size_and_parts),
            _size_only_note(self.compared_by_size_only),
            _etag_note(self.etag_differs.count),
            _part_count_note(self.part_count_differs.count),
        )
        return tuple(note for note in notes if note)

    def _capped_note(self) -> str:
        return (
            f"listing stopped at max_objects = {self.max_objects} objects per bucket with more "
            f"to come (listed {self.listed_old} old, {self.listed_new} new); "
            f"{self.not_compared} listed keys beyond where both listings reached were not "
            "compared: raise max_objects or narrow the prefix"
        )

    def _categories(self) -> dict[str, KeyDifferences]:
        return {
            "missing_on_new": self.missing_on_new,
            "extra_on_new": self.extra_on_new,
            "size_differs": self.size_differs,
            "etag_differs": self.etag_differs,
            "part_count_differs": self.part_count_differs,
        }

    def to_json(self) -> dict[str, JsonValue]:
        """For the journal and `check --json`; status and notes are derived, for readers."""
        categories = {name: found.to_json() for name, found in self._categories().items()}
        counts = {name: getattr(self, name) for name in _COUNT_FIELDS + _KNOWN_IN_FULL_FIELDS}
        return {
            "name": self.name,
            "old_bucket": self.old_bucket,
            "new_bucket": self.new_bucket,
            "prefix": self.prefix,
            "status": self.status,
            "checked_at": self.checked_at.isoformat(),
            "capped": self.capped,
            **counts,
            **categories,
            "error": self.error,
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> BucketComparison:
        """Read back from a journal record; ValueError when checked_at is not an ISO time."""
        error = json_string(data.get("error"))
        return cls(
            name=_text(data.get("name")),
            old_bucket=_text(data.get("old_bucket")),
            new_bucket=_text(data.get("new_bucket")),
            prefix=_text(data.get("prefix")),
            checked_at=_checked_at(data.get("checked_at")),
            max_objects=_count(data.get("max_objects")),
            listed_old=_count(data.get("listed_old")),
            listed_new=_count(data.get("listed_new")),
            old_objects=json_int(data.get("old_objects")),
            new_objects=json_int(data.get("new_objects")),
            old_bytes=json_int(data.get("old_bytes")),
            new_bytes=json_int(data.get("new_bytes")),
            capped=data.get("capped") is True,
            missing_on_new=KeyDifferences.from_json(data.get("missing_on_new")),
            extra_on_new=KeyDifferences.from_json(data.get("extra_on_new")),
            size_differs=KeyDifferences.from_json(data.get("size_differs")),
            etag_differs=KeyDifferences.from_json(data.get("etag_differs")),
            part_count_differs=KeyDifferences.from_json(data.get("part_count_differs")),
            compared_by_size_and_parts=_count(data.get("compared_by_size_and_parts")),
            compared_by_size_only=_count(data.get("compared_by_size_only")),
            not_compared=_count(data.get("not_compared")),
            error=None if error is None else outside_text(error, FAILURE_LIMIT_CHARS),
        )


_COUNT_FIELDS = (
    "max_objects",
    "listed_old",
    "listed_new",
    "compared_by_size_and_parts",
    "compared_by_size_only",
    "not_compared",
)
_KNOWN_IN_FULL_FIELDS = ("old_objects", "new_objects", "old_bytes", "new_bytes")


def _text(value: JsonValue) -> str:
    """A name read back, sanitized again."""
    return outside_text(json_text(value))


def _count(value: JsonValue) -> int:
    """A non-negative whole number read back; 0 for anything else."""
    number = json_int(value)
    return number if number is not None and number >= 0 else 0


def _checked_at(value: JsonValue) -> datetime:
    text = json_string(value)
    if text is None:
        raise ValueError("a bucket comparison without checked_at")
    return datetime.fromisoformat(text)


def _size_and_parts_note(count: int) -> str:
    if not count:
        return ""
    return (
        f"{_objects(count)} uploaded in parts on both sides compared by size and part count "
        "only: such ETags are not MD5s of the content and change with the part size"
    )


def _size_only_note(count: int) -> str:
    if not count:
        return ""
    return (
        f"{_objects(count)} compared by size only: uploaded whole on one side and in parts on "
        "the other (or with an ETag of neither form), so their ETags cannot be compared"
    )


def _part_count_note(count: int) -> str:
    if not count:
        return ""
    return (
        f"{_objects(count)} of the same size uploaded in another number of parts: maybe the "
        "same bytes with another part size, which only reading both copies can tell"
    )


def _objects(count: int) -> str:
    return "1 object" if count == 1 else f"{count} objects"


def _etag_note(count: int) -> str:
    if not count:
        return ""
    return (
        "an ETag is the MD5 of the content only for unencrypted and SSE-S3 objects: SSE-KMS or "
        "SSE-C objects differ by ETag even when their bytes are the same"
    )


# --- listing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingProgress:
    """How many objects have been listed so far from each bucket of a pair."""

    name: str
    listed_old: int
    listed_new: int


ProgressCallback = Callable[[ListingProgress], None]


@dataclass
class BucketListing:
    """How far the listing of one bucket got: objects and bytes listed, the last key, the cap."""

    side: BucketSide
    bucket: str
    listed: int = 0
    listed_bytes: int = 0
    last_key: str | None = None
    capped: bool = False

    def count(self, page: Sequence[tuple[str, ListedObject]]) -> None:
        """Adds a page's objects (listed in key order) to what was listed."""
        self.listed += len(page)
        self.listed_bytes += sum(listed.size_bytes for _, listed in page)
        if page:
            self.last_key = page[-1][0]

    def reached(self, key: str) -> bool:
        """Whether the listing got as far as `key`: always, unless it stopped at the cap before.

        S3 lists a general purpose bucket in UTF-8 binary order of keys, which is the order
        Python compares strings in.
        """
        return not self.capped or (self.last_key is not None and key <= self.last_key)

    @property
    def in_full(self) -> bool:
        """Whether every object under the prefix was listed."""
        return not self.capped


@dataclass(frozen=True)
class BucketLister:
    """Lists one bucket page by page with ListObjectsV2, up to max_objects, between cancels."""

    client: Any
    prefix: str
    max_objects: int
    page_size: int = PAGE_SIZE
    cancel: threading.Event | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= PAGE_SIZE:
            raise ValueError(f"page_size {self.page_size} is not within 1..{PAGE_SIZE}")

    def pages(self, listing: BucketListing) -> Iterator[list[tuple[str, ListedObject]]]:
        """Blocking: each page's (key, object) pairs, counted into `listing` before it is given.

        Stops at the last page, or at max_objects with `listing.capped` set when more follow.
        """
        token: str | None = None
        while True:
            self._stop_if_cancelled(listing)
            room = self.max_objects - listing.listed
            page = self._page(listing, min(self.page_size, room), token)
            entries = page.get("Contents") or []
            objects = [parse_listed_object(entry) for entry in entries[:room]]
            listing.count(objects)
            more = bool(page.get("IsTruncated")) or len(entries) > room
            listing.capped = more and listing.listed >= self.max_objects
            yield objects
            if not more or listing.capped:
                return
            token = _next_token(page, token, listing)

    def _page(self, listing: BucketListing, max_keys: int, token: str | None) -> Any:
        arguments: dict[str, Any] = {"Bucket": listing.bucket, "MaxKeys": max_keys}
        if self.prefix:
            arguments["Prefix"] = self.prefix
        if token is not None:
            arguments["ContinuationToken"] = token
        try:
            return self.client.list_objects_v2(**arguments)
        except Exception as error:
            raise SourceProblem(unreadable_text(listing, error)) from None

    def _stop_if_cancelled(self, listing: BucketListing) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise SourceProblem(
                f"cancelled while listing the {listing.side} bucket {listing.bucket!r}, "
                f"after {listing.listed} objects"
            )


def _next_token(page: Mapping[str, Any], previous: str | None, listing: BucketListing) -> str:
    """The following page's ContinuationToken; SourceProblem when S3 gave none to move on with."""
    token = page.get("NextContinuationToken")
    if not token or token == previous:
        raise SourceProblem(
            f"the {listing.side} bucket {listing.bucket!r} said more objects follow but gave no "
            "new continuation token; listing stopped"
        )
    return str(token)


def unreadable_text(listing: BucketListing, error: BaseException) -> str:
    """Why a bucket could not be listed, naming it and the config key to check."""
    where = f"the {listing.side} bucket {listing.bucket!r}"
    code = aws_error_code(error)
    if code == NO_SUCH_BUCKET_CODE:
        return (
            f"{where} does not exist (NoSuchBucket): check {listing.side}_bucket in "
            "[[integrity.buckets]] and the [aws] region"
        )
    needs = " (listing needs s3:ListBucket on it)" if code == ACCESS_DENIED_CODE else ""
    return f"cannot list {where}: {describe_failure(error)}{needs}"


# --- comparing ----------------------------------------------------------------------------------


@dataclass
class _KeyCollector:
    """Counts keys of one kind in full and keeps the first few, sanitized."""

    example_keys: int
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, key: str) -> None:
        self.count += 1
        if len(self.examples) < self.example_keys:
            self.examples.append(outside_text(key, KEY_CHARS))

    def frozen(self) -> KeyDifferences:
        return KeyDifferences(self.count, tuple(self.examples))


class _Tally:
    """The differences found so far, and how the keys present on both sides were compared."""

    def __init__(self, example_keys: int) -> None:
        self.missing_on_new = _KeyCollector(example_keys)
        self.extra_on_new = _KeyCollector(example_keys)
        self.changed: dict[Difference, _KeyCollector] = {
            difference: _KeyCollector(example_keys) for difference in get_args(Difference)
        }
        self.compared_by: dict[ComparedBy, int] = dict.fromkeys(get_args(ComparedBy), 0)
        self.not_compared = 0

    def both(self, key: str, old: ListedObject, new: ListedObject) -> None:
        """A key listed on both sides: counted by how it was compared, and by what differs."""
        self.compared_by[compared_by(old, new)] += 1
        difference = object_difference(old, new)
        if difference is not None:
            self.changed[difference].add(key)


class _PairComparison:
    """One pair's comparison as it runs: the old listing held by key, the new one streamed."""

    def __init__(
        self, pair: BucketPair, example_keys: int, progress: ProgressCallback | None
    ) -> None:
        self.pair = pair
        self.old = BucketListing("old", pair.old_bucket)
        self.new = BucketListing("new", pair.new_bucket)
        self.tally = _Tally(example_keys)
        self._progress = progress
        self._old_objects: dict[str, ListedObject] = {}

    def run(self, lister: BucketLister) -> None:
        """Blocking: lists the old bucket, then the new one, comparing each page as it comes."""
        for page in lister.pages(self.old):
            self._old_objects.update(page)
            self._report_progress()
        for page in lister.pages(self.new):
            self._compare_new_page(page)
            self._report_progress()
        self._count_left_on_old()

    def _compare_new_page(self, page: Sequence[tuple[str, ListedObject]]) -> None:
        for key, new in page:
            old = self._old_objects.pop(key, None)
            if not self.old.reached(key):
                self.tally.not_compared += 1
            elif old is None:
                self.tally.extra_on_new.add(key)
            else:
                self.tally.both(key, old, new)

    def _count_left_on_old(self) -> None:
        """The old keys no new key matched: missing on new, unless past where the new stopped."""
        for key in self._old_objects:
            if self.new.reached(key):
                self.tally.missing_on_new.add(key)
            else:
                self.tally.not_compared += 1
        self._old_objects.clear()

    def _report_progress(self) -> None:
        if self._progress is not None:
            self._progress(ListingProgress(self.pair.name, self.old.listed, self.new.listed))

    def result(self, checked_at: datetime, error: str | None) -> BucketComparison:
        """What was found; with an error only the listing counts, since nothing was compared."""
        pair, old, new = self.pair, self.old, self.new
        complete = error is None
        found = self.tally if complete else _Tally(0)
        return BucketComparison(
            name=pair.name,
            old_bucket=pair.old_bucket,
            new_bucket=pair.new_bucket,
            prefix=pair.prefix,
            checked_at=checked_at,
            max_objects=pair.max_objects,
            listed_old=old.listed,
            listed_new=new.listed,
            old_objects=old.listed if complete and old.in_full else None,
            new_objects=new.listed if complete and new.in_full else None,
            old_bytes=old.listed_bytes if complete and old.in_full else None,
            new_bytes=new.listed_bytes if complete and new.in_full else None,
            capped=old.capped or new.capped,
            missing_on_new=found.missing_on_new.frozen(),
            extra_on_new=found.extra_on_new.frozen(),
            size_differs=found.changed["size"].frozen(),
            etag_differs=found.changed["etag"].frozen(),
            part_count_differs=found.changed["part count"].frozen(),
            compared_by_size_and_parts=found.compared_by["size and parts"],
            compared_by_size_only=found.compared_by["size"],
            not_compared=found.not_compared,
            error=error,
        )


def compare_buckets(
    pair: BucketPair,
    clients: AwsClients,
    *,
    now: Clock,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    page_size: int = PAGE_SIZE,
    example_keys: int = EXAMPLE_KEYS,
) -> BucketComparison:
    """Blocking: the pair's two buckets listed and compared; a failure is an UNCHECKED result.

    `progress` hears the objects listed so far after every page; `cancel` is checked before
    each page. checked_at is `now()` when the comparison ends, since a large one takes minutes.
    """
    comparison = _PairComparison(pair, example_keys, progress)
    try:
        lister = BucketLister(_s3_client(clients), pair.prefix, pair.max_objects, page_size, cancel)
        comparison.run(lister)
    except Exception as failure:
        return comparison.result(now(), describe_failure(failure))
    return comparison.result(now(), None)


def _s3_client(clients: AwsClients) -> Any:
    """The shared S3 client; SourceProblem in words when it cannot be made (no [aws] section)."""
    try:
        return clients.client("s3")
    except RuntimeError as missing:
        raise SourceProblem(f"no S3 client: {missing}") from None
