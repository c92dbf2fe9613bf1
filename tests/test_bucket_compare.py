"""Comparing an old and a new S3 bucket, against moto's S3 over HTTP.

Buckets are filled with real puts and real multipart uploads; the comparison lists them with
ListObjectsV2 through our own AWS clients. Failures come from moto (NoSuchBucket), a loopback
endpoint answering AccessDenied, and a port nobody listens on.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from cockpit.clock import FrozenClock
from cockpit.config import AwsSection, BucketPair
from cockpit.io.bucket_compare import (
    KEY_CHARS,
    BucketComparison,
    KeyDifferences,
    ListedObject,
    ListingProgress,
    compare_buckets,
    compared_by,
    object_difference,
    parse_listed_object,
)
from cockpit.io.context import AwsClients
from cockpit.sandbox.shared import free_port
from tests.aws_stand_ins import XML_CONTENT, answering_endpoint
from tests.s3_stand_in import MIB, MIN_PART_BYTES, TEST_KEYS, Multipart, S3StandIn, content_of
from tests.s3_stand_in import s3_stand_in as start_s3_stand_in

CHECKED_AT = datetime(2025, 3, 1, 2, 30, tzinfo=UTC)
ACCESS_DENIED_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>Access Denied</Message><RequestId>R1</RequestId><HostId>H1</HostId></Error>"
)
SAME = {"index.html": b"<html>home</html>", "img/logo.png": b"\x89PNG logo", "robots.txt": b""}


@pytest.fixture(scope="module")
def s3() -> Iterator[S3StandIn]:
    with start_s3_stand_in() as stand_in:
        yield stand_in


def compare(s3: S3StandIn, pair: BucketPair, **options: Any) -> BucketComparison:
    return compare_buckets(pair, s3.clients(), now=FrozenClock(CHECKED_AT), **options)


def keys(count: int, prefix: str = "k") -> dict[str, bytes]:
    return {f"{prefix}{number:03d}": f"object {number}".encode() for number in range(count)}


# --- what is compared ---------------------------------------------------------------------------


def test_identical_buckets_are_ok_with_counts_and_bytes_of_each_side(s3: S3StandIn) -> None:
    result = compare(s3, s3.pair(SAME, SAME))

    assert result.status == "OK"
    assert (result.old_objects, result.new_objects) == (3, 3)
    total = sum(len(content) for content in SAME.values())
    assert (result.old_bytes, result.new_bytes) == (total, total)
    assert (result.listed_old, result.listed_new, result.capped) == (3, 3, False)
    assert result.differences == 0
    assert result.notes == ()
    assert result.error is None
    assert result.checked_at == CHECKED_AT


def test_missing_extra_and_changed_objects_are_counted_exactly(s3: S3StandIn) -> None:
    old = {**SAME, "gone.txt": b"only old", "grown.txt": b"short", "edited.txt": b"version 1"}
    new = {**SAME, "added.txt": b"only new", "grown.txt": b"longer now", "edited.txt": b"version 2"}

    result = compare(s3, s3.pair(old, new))

    assert result.status == "DIFFERENT"
    assert result.missing_on_new == KeyDifferences(1, ("gone.txt",))
    assert result.extra_on_new == KeyDifferences(1, ("added.txt",))
    assert result.size_differs == KeyDifferences(1, ("grown.txt",))
    assert result.etag_differs == KeyDifferences(1, ("edited.txt",))
    assert result.part_count_differs == KeyDifferences()
    assert result.differences == 4
    assert (result.old_objects, result.new_objects) == (6, 6)


def test_counts_are_exact_while_examples_stop_at_the_limit(s3: S3StandIn) -> None:
    result = compare(s3, s3.pair(keys(7), {}), example_keys=2)

    assert result.missing_on_new == KeyDifferences(7, ("k000", "k001"))


def test_a_prefix_limits_both_sides(s3: S3StandIn) -> None:
    old = {"site/a.html": b"a", "site/b.html": b"b", "logs/1.log": b"old log"}
    new = {"site/a.html": b"a", "site/b.html": b"b", "logs/2.log": b"new log", "sitemap": b"x"}

    result = compare(s3, s3.pair(old, new, prefix="site/"))

    assert result.status == "OK"
    assert (result.old_objects, result.new_objects) == (2, 2)
    assert result.prefix == "site/"


def test_every_page_is_followed_and_progress_told_after_each(s3: S3StandIn) -> None:
    old = keys(7)
    new = {key: content for key, content in old.items() if key != "k005"}
    heard: list[ListingProgress] = []

    result = compare(s3, s3.pair(old, new), page_size=2, progress=heard.append)

    assert result.missing_on_new == KeyDifferences(1, ("k005",))
    assert (result.old_objects, result.new_objects) == (7, 6)
    assert [(p.listed_old, p.listed_new) for p in heard] == [
        (2, 0), (4, 0), (6, 0), (7, 0), (7, 2), (7, 4), (7, 6),
    ]  # fmt: skip
    assert {p.name for p in heard} == {"assets"}


# --- the cap ------------------------------------------------------------------------------------


def test_a_capped_listing_never_reads_as_identical(s3: S3StandIn) -> None:
    result = compare(s3, s3.pair(keys(5), keys(5), max_objects=3), page_size=2)

    assert result.status == "UNCHECKED"
    assert result.capped is True
    assert (result.listed_old, result.listed_new) == (3, 3)
    assert (result.old_objects, result.new_objects) == (None, None)
    assert (result.old_bytes, result.new_bytes) == (None, None)
    assert result.unchecked_reason is not None
    assert "max_objects = 3" in result.unchecked_reason
    assert result.unchecked_reason in result.notes


def test_exactly_max_objects_is_not_capped(s3: S3StandIn) -> None:
    result = compare(s3, s3.pair(keys(3), keys(3), max_objects=3))

    assert (result.status, result.capped, result.old_objects) == ("OK", False, 3)


def test_a_difference_before_the_cap_counts_and_keys_past_it_are_not_compared(
    s3: S3StandIn,
) -> None:
    old = dict.fromkeys(("a", "c", "e", "g"), b"x")
    new = dict.fromkeys(("a", "b", "c", "d", "e", "g"), b"x")

    result = compare(s3, s3.pair(old, new, max_objects=3))

    # Old listed a, c, e; new listed a, b, c: b is really extra, e lies past where new stopped.
    assert result.status == "DIFFERENT"
    assert result.capped is True
    assert result.extra_on_new == KeyDifferences(1, ("b",))
    assert result.missing_on_new == KeyDifferences()
    assert result.not_compared == 1
    assert result.old_objects is None


# --- multipart uploads --------------------------------------------------------------------------


def test_multipart_copies_with_other_part_sizes_are_compared_by_size_and_part_count(
    s3: S3StandIn,
) -> None:
    content = content_of(MIN_PART_BYTES + MIB + 1)
    old = {"video.mp4": Multipart(content, (MIN_PART_BYTES, MIB + 1))}
    new = {"video.mp4": Multipart(content, (MIN_PART_BYTES + 1, MIB))}
    pair = s3.pair(old, new)
    old_etag, new_etag = (
        s3.etag(pair.old_bucket, "video.mp4"),
        s3.etag(pair.new_bucket, "video.mp4"),
    )
    assert old_etag != new_etag
    assert old_etag.endswith("-2") and new_etag.endswith("-2")

    result = compare(s3, pair)

    assert result.status == "OK"
    assert result.compared_by_size_and_parts == 1
    assert result.etag_differs == KeyDifferences()
    assert any(
        n.startswith("1 object uploaded in parts on both sides compared by size and part count")
        for n in result.notes
    )


def test_multipart_copies_in_a_different_number_of_parts_differ_by_part_count(
    s3: S3StandIn,
) -> None:
    content = content_of(MIN_PART_BYTES + 1, seed=1)
    old = {"dump.gz": Multipart(content, (MIN_PART_BYTES, 1))}
    new = {"dump.gz": Multipart(content, (MIN_PART_BYTES + 1,))}

    result = compare(s3, s3.pair(old, new))

    assert result.status == "DIFFERENT"
    assert result.part_count_differs == KeyDifferences(1, ("dump.gz",))
    assert result.etag_differs == KeyDifferences()
    assert result.compared_by_size_and_parts == 1
    assert any(
        "1 object of the same size uploaded in another number of parts" in n for n in result.notes
    )


def test_a_multipart_copy_and_a_whole_copy_are_compared_by_size_only(s3: S3StandIn) -> None:
    old = {"report.pdf": Multipart(b"same bytes", (10,)), "notes.txt": Multipart(b"abc", (3,))}
    new = {"report.pdf": b"same bytes", "notes.txt": b"abcd"}

    result = compare(s3, s3.pair(old, new))

    assert result.status == "DIFFERENT"
    assert result.compared_by_size_only == 2
    assert result.size_differs == KeyDifferences(1, ("notes.txt",))
    assert result.etag_differs == KeyDifferences()
    assert any(n.startswith("2 objects compared by size only") for n in result.notes)


MD5_A = "9e107d9d372bb6826bd81d3542a419d6"
MD5_B = "e4d909c290d0fb1ca068ffaddf22cbd0"


@pytest.mark.parametrize(
    ("old_etag", "new_etag", "how", "difference"),
    [
        (f'"{MD5_A}"', MD5_A.upper(), "etag", None),
        (MD5_A, MD5_B, "etag", "etag"),
        (f"{MD5_A}-2", f"{MD5_B}-2", "size and parts", None),
        (f"{MD5_A}-2", f"{MD5_A}-3", "size and parts", "part count"),
        (MD5_A, f"{MD5_B}-1", "size", None),
        ("opaque-upload-id", "opaque-upload-id-2", "size", None),
        ("", MD5_A, "size", None),
    ],
)
def test_how_two_copies_are_compared_follows_the_form_of_their_etags(
    old_etag: str, new_etag: str, how: str, difference: str | None
) -> None:
    _, old = parse_listed_object({"Key": "k", "Size": 10, "ETag": old_etag})
    _, new = parse_listed_object({"Key": "k", "Size": 10, "ETag": new_etag})

    assert compared_by(old, new) == how
    assert object_difference(old, new) == difference
    assert object_difference(old, ListedObject(11, new.etag)) == "size"


# --- hostile keys -------------------------------------------------------------------------------


def test_hostile_keys_are_compared_as_sent_and_arrive_sanitized(s3: S3StandIn) -> None:
    hostile = {
        "\x1b[31mred\x1b[0m": b"1",
        "bell\x07": b"2",
        "two\rlines": b"3",
        "two\tlines": b"3",
        "two lines": b"4",
        "right-to-left \u202eevil": b"6",
        "long-" + "x" * 900: b"5",
    }
    shared = {"\x1b]0;title\x07shared": b"same on both"}

    result = compare(s3, s3.pair({**hostile, **shared}, shared))

    assert result.missing_on_new.count == 7
    assert result.compared_by_size_only + result.compared_by_size_and_parts == 0
    examples = result.missing_on_new.examples
    assert all(example.isprintable() for example in examples)
    assert all(len(example) <= KEY_CHARS for example in examples)
    assert "\\x1b[31mred\\x1b[0m" in examples
    assert examples.count("two lines") == 3
    assert "right-to-left \\u202eevil" in examples
    assert "bell\\x07" in examples


# --- when it cannot compare ---------------------------------------------------------------------


def test_a_missing_bucket_is_unchecked_with_its_name_and_what_to_check(s3: S3StandIn) -> None:
    present = s3.bucket(SAME)
    pair = BucketPair(name="assets", old_bucket=present, new_bucket="cockpit-no-such-bucket")

    result = compare(s3, pair)

    assert result.status == "UNCHECKED"
    assert result.unchecked_reason == result.error
    assert result.error == (
        "the new bucket 'cockpit-no-such-bucket' does not exist (NoSuchBucket): check "
        "new_bucket in [[integrity.buckets]] and the [aws] region"
    )
    assert result.listed_old == 3
    assert (result.old_objects, result.new_objects) == (None, None)


def test_access_denied_is_worded_without_the_xml_body() -> None:
    pair = BucketPair(name="assets", old_bucket="old-assets", new_bucket="new-assets")
    with answering_endpoint(403, ACCESS_DENIED_XML, XML_CONTENT) as (url, _):
        clients = AwsClients(AwsSection(region="us-east-1", endpoint_url=url), TEST_KEYS)
        result = compare_buckets(pair, clients, now=FrozenClock(CHECKED_AT))

    assert result.status == "UNCHECKED"
    assert result.error == (
        "cannot list the old bucket 'old-assets': access denied by AWS IAM "
        "(listing needs s3:ListBucket on it)"
    )


def test_an_endpoint_nobody_answers_on_is_unchecked() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    pair = BucketPair(name="assets", old_bucket="old-assets", new_bucket="new-assets")
    section = AwsSection(region="us-east-1", endpoint_url=url, max_attempts=1)

    result = compare_buckets(pair, AwsClients(section, TEST_KEYS), now=FrozenClock(CHECKED_AT))

    assert result.status == "UNCHECKED"
    assert result.error == (
        f"cannot list the old bucket 'old-assets': cannot reach the AWS endpoint {url} "
        "(connection refused or timed out)"
    )


def test_without_an_aws_section_it_is_unchecked() -> None:
    pair = BucketPair(name="assets", old_bucket="old-assets", new_bucket="new-assets")

    result = compare_buckets(pair, AwsClients(None, {}), now=FrozenClock(CHECKED_AT))

    assert result.error == "no S3 client: no [aws] section in the config"


def test_a_cancel_between_pages_stops_the_comparison_unchecked(s3: S3StandIn) -> None:
    cancel = threading.Event()
    heard: list[ListingProgress] = []

    def cancel_after_the_first_page(progress: ListingProgress) -> None:
        heard.append(progress)
        cancel.set()

    pair = s3.pair(keys(5), keys(5))
    result = compare(s3, pair, page_size=2, progress=cancel_after_the_first_page, cancel=cancel)

    assert len(heard) == 1
    assert result.status == "UNCHECKED"
    assert result.error == (
        f"cancelled while listing the old bucket {pair.old_bucket!r}, after 2 objects"
    )
    assert result.listed_old == 2


# --- journaling ---------------------------------------------------------------------------------


def test_a_result_reads_back_from_its_json_as_it_was(s3: S3StandIn) -> None:
    old = {**SAME, "gone.txt": b"old", "\x1b[2Jwipe": b"x"}
    result = compare(s3, s3.pair(old, {**SAME, "added.txt": b"new"}, max_objects=4))

    document = json.loads(json.dumps(result.to_json()))

    assert BucketComparison.from_json(document) == result
    assert document["status"] == result.status
    assert document["notes"] == list(result.notes)
    assert document["missing_on_new"] == {"count": 2, "examples": ["\\x1b[2Jwipe", "gone.txt"]}
    assert (document["capped"], document["not_compared"]) == (True, 1)


def test_a_tampered_record_reads_back_sanitized_and_status_is_derived_again() -> None:
    record = {
        "name": "assets\x1b[31m",
        "checked_at": CHECKED_AT.isoformat(),
        "status": "OK",
        "max_objects": 10,
        "listed_old": -4,
        "old_objects": "many",
        "missing_on_new": {"count": 2, "examples": ["\x1b]52;c;evil\x07", 7]},
        "error": None,
    }

    result = BucketComparison.from_json(record)

    assert result.name == "assets\\x1b[31m"
    assert result.status == "DIFFERENT"
    assert result.listed_old == 0
    assert result.old_objects is None
    assert result.missing_on_new.examples == ("\\x1b]52;c;evil\\x07", "7")


def test_a_record_without_checked_at_is_refused() -> None:
    with pytest.raises(ValueError, match="checked_at"):
        BucketComparison.from_json({"name": "assets"})


def test_a_page_size_s3_cannot_give_is_refused_in_words(s3: S3StandIn) -> None:
    result = compare(s3, s3.pair(SAME, SAME), page_size=0)

    assert result.error == "ValueError: page_size 0 is not within 1..1000"
