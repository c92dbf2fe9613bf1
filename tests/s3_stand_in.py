"""S3 for the tests: moto's server over HTTP, buckets filled by real puts and multipart uploads.

Every pair of buckets gets fresh names, so tests sharing one server never see each other's
objects. Multipart uploads go through create_multipart_upload, upload_part and
complete_multipart_upload, so their ETags are moto's own '<hex>-<part count>'.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cockpit.config import AwsSection, BucketPair
from cockpit.io.context import AwsClients
from cockpit.sandbox.aws import AwsStandIn

TEST_KEYS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
MIB = 1024 * 1024
MIN_PART_BYTES = 5 * MIB
"""S3 (and moto) refuse a multipart upload whose parts but the last are smaller than this."""


@dataclass(frozen=True)
class Multipart:
    """An object's content and the sizes of the parts it is uploaded in."""

    content: bytes
    part_sizes: Sequence[int]

    def parts(self) -> Iterator[bytes]:
        start = 0
        for size in self.part_sizes:
            yield self.content[start : start + size]
            start += size


Content = bytes | Multipart


def content_of(size: int, seed: int = 0) -> bytes:
    """`size` bytes that are not all alike, so a shifted part boundary changes the part MD5s."""
    pattern = bytes((seed + index) % 251 for index in range(251))
    return (pattern * (size // len(pattern) + 1))[:size]


@dataclass
class S3StandIn:
    """moto's server, and the S3 client the tests fill buckets with."""

    aws: AwsStandIn

    @property
    def s3(self) -> Any:
        return self.aws.client("s3")

    def section(self) -> AwsSection:
        """[aws] for our code: moto's endpoint, one attempt per call so failures come at once."""
        return AwsSection(
            region=self.aws.region, endpoint_url=self.aws.endpoint_url, max_attempts=1
        )

    def clients(self) -> AwsClients:
        return AwsClients(self.section(), TEST_KEYS)

    def bucket(self, objects: Mapping[str, Content]) -> str:
        """A new bucket holding `objects`; returns its name."""
        name = f"cockpit-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=name)
        for key, content in objects.items():
            self.put(name, key, content)
        return name

    def pair(
        self,
        old: Mapping[str, Content],
        new: Mapping[str, Content],
        *,
        prefix: str = "",
        max_objects: int = 100_000,
    ) -> BucketPair:
        """A [[integrity.buckets]] entry naming two new buckets filled with `old` and `new`."""
        return BucketPair(
            name="assets",
            old_bucket=self.bucket(old),
            new_bucket=self.bucket(new),
            prefix=prefix,
            max_objects=max_objects,
        )

    def put(self, bucket: str, key: str, content: Content) -> None:
        if isinstance(content, Multipart):
            self._upload_in_parts(bucket, key, content)
        else:
            self.s3.put_object(Bucket=bucket, Key=key, Body=content)

    def etag(self, bucket: str, key: str) -> str:
        return str(self.s3.head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')

    def _upload_in_parts(self, bucket: str, key: str, content: Multipart) -> None:
        upload_id = self.s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        parts = []
        for number, body in enumerate(content.parts(), start=1):
            uploaded = self.s3.upload_part(
                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body
            )
            parts.append({"ETag": uploaded["ETag"], "PartNumber": number})
        self.s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )


@contextmanager
def s3_stand_in() -> Iterator[S3StandIn]:
    """moto's server in this process for S3; stopped afterwards."""
    aws = AwsStandIn()
    try:
        aws.start()
        yield S3StandIn(aws)
    finally:
        aws.stop()
