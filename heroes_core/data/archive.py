"""The archive as users reach it: short-lived presigned URLs, never the archive's keys.

Uploads are always multipart, whatever their size, so there is one path to get right:

1. :meth:`Archive.start_upload` checks the quota, opens a multipart upload whose metadata
   carries the sha256 the client declared, and presigns a URL per part;
2. the client PUTs each part straight to the archive (HEROES never carries the bytes);
3. :meth:`Archive.complete_upload` compares each part the archive holds with the MD5 the
   client computed from its own bytes (S3's ETag of a part is the MD5 of what it received),
   and the total size with the declared one, before completing. A mismatch names the parts
   to send again; nothing is completed.

An upload cut midway is resumed: :meth:`Archive.uploaded_parts` says what the archive has,
and new URLs are presigned for the rest. Until it is completed, a multipart upload is
invisible: no partial object is ever listed or downloadable. Downloads are presigned GETs
(ranges allowed, so they resume too); the client checks the sha256 recorded at upload, or
the MD5 S3 and rclone record, on what it received.

The presigning, listing, copying and deleting go through the ``minio`` SDK. Its multipart
control calls (create, list parts, complete, abort) are private in that SDK, so those four go
through boto3's public ones (decision 0006).
"""

from __future__ import annotations

import base64
import hashlib
import io
import math
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import boto3  # type: ignore[import-untyped]
from botocore.config import Config  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]
from minio import Minio
from minio.commonconfig import CopySource
from minio.deleteobjects import DeleteObject
from minio.error import S3Error
from pydantic import BaseModel, ConfigDict, Field

from heroes_core.data._endpoints import HEROES_PREFIX, S3Endpoint
from heroes_core.data.areas import ArchivePath, Area, AreaKind
from heroes_core.errors import ChecksumMismatchError, NotInArchiveError, SpecError, TransferError

SHA256_META: Final = "sha256"  # x-amz-meta-sha256: the hex sha256 the uploader declared
MIN_PART: Final = 8 * 1024 * 1024
MAX_PARTS: Final = 10_000  # S3's limit
MAX_OBJECT: Final = 5 * 1024**4  # S3's limit: 5 TiB
URL_BATCH: Final = 100  # part URLs handed out per request
DEFAULT_EXPIRY: Final = timedelta(minutes=15)
_HEX64 = frozenset("0123456789abcdef")


class ArchiveObject(BaseModel):
    """One file in an area."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(description="As the user writes it, e.g. home/inputs/a.csv.")
    size: int
    modified: datetime | None = None
    etag: str | None = None
    sha256: str | None = Field(default=None, description="Recorded at upload, when uploaded through HEROES.")


class PartUrl(BaseModel):
    number: int
    url: str


class UploadTicket(BaseModel):
    """What a client needs to send a file: where each part goes, for how long."""

    path: str
    upload_id: str
    size: int
    part_size: int
    part_count: int
    missing_parts: int = Field(description="Parts the archive does not hold yet.")
    parts: list[PartUrl] = Field(description="Presigned PUT URLs for (up to 100 of) the parts still "
                                             "missing; ask again for the rest.")
    expires: datetime


class UploadedPart(BaseModel):
    number: int
    size: int
    md5: str


class Download(BaseModel):
    """A presigned GET and what the bytes must hash to."""

    object: ArchiveObject
    url: str
    expires: datetime
    md5: str | None = Field(default=None, description="Hex MD5 of the whole file, when the archive knows it.")


def part_size_for(size: int) -> int:
    """Parts of at least 8 MiB, few enough to stay within S3's 10,000 parts."""
    return max(MIN_PART, math.ceil(size / MAX_PARTS / (1024 * 1024)) * 1024 * 1024)


def part_count(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))


def _check_sha256(value: str) -> str:
    digest = value.lower().removeprefix("sha256:")
    if len(digest) != 64 or not set(digest) <= _HEX64:
        raise SpecError(f"{value!r} is not a sha256 digest", fix="send the file's hex sha256 (64 characters)")
    return digest


class Archive:
    """One archive (an S3 service), acting on users' areas; who may is the caller's check."""

    def __init__(self, endpoint: S3Endpoint, *, expiry: timedelta = DEFAULT_EXPIRY) -> None:
        self.endpoint = endpoint
        self.expiry = expiry
        parts = urlsplit(endpoint.endpoint_url)
        if not parts.netloc:
            raise SpecError(f"archive endpoint {endpoint.endpoint_url!r} is not a URL", site="archive")
        secret = endpoint.secret_access_key.get_secret_value()
        self.minio = Minio(parts.netloc, access_key=endpoint.access_key_id, secret_key=secret,
                           secure=parts.scheme == "https", region=endpoint.region)
        self._s3 = boto3.client("s3", endpoint_url=endpoint.endpoint_url, region_name=endpoint.region,
                                aws_access_key_id=endpoint.access_key_id, aws_secret_access_key=secret,
                                config=Config(s3={"addressing_style": "path"},
                                              retries={"max_attempts": 5, "mode": "standard"}))

    # -- areas ---------------------------------------------------------------------------

    def bucket(self, area: Area) -> str:
        return self.endpoint.bucket_for(area.organisation)

    def ensure_bucket(self, organisation: str) -> str:
        """The organisation's bucket, created if it does not exist yet."""
        bucket = self.endpoint.bucket_for(organisation)
        try:
            if not self.minio.bucket_exists(bucket):
                self.minio.make_bucket(bucket)
        except S3Error as error:
            if error.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise self._error(error, f"cannot create bucket {bucket}") from error
        return bucket

    def ensure_area(self, area: Area) -> None:
        """The organisation's bucket and the area in it (an empty folder object marks it)."""
        bucket = self.ensure_bucket(area.organisation)
        self._guard(area, area.prefix)
        self._call(lambda: self.minio.put_object(bucket, area.prefix, io.BytesIO(b""), 0),
                   f"cannot create {area.label}")

    # -- reading -------------------------------------------------------------------------

    def files(self, path: ArchivePath) -> list[ArchiveObject]:
        """Files at or below ``path`` (a folder), or the one file ``path`` names."""
        return [self._object(path, item) for item in self._listed(path)]

    def usage(self, area: Area) -> int:
        """Bytes stored in an area (what its quota counts)."""
        return sum(item.size or 0 for item in self._listed(ArchivePath(area=area)))

    def bucket_usage(self, organisation: str, *, by_prefix: int = 1) -> dict[str, int]:
        """Bytes per top-level prefix (homes, ``projects/<p>``, ``_heroes``) of an organisation's bucket."""
        bucket = self.endpoint.bucket_for(organisation)
        totals: dict[str, int] = {}
        try:
            for item in self.minio.list_objects(bucket, recursive=True):
                name = str(item.object_name)
                depth = 2 if name.startswith("projects/") else by_prefix
                key = "/".join(name.split("/")[:depth])
                totals[key] = totals.get(key, 0) + int(item.size or 0)
        except S3Error as error:
            if error.code == "NoSuchBucket":
                return {}
            raise self._error(error, f"cannot list bucket {bucket}") from error
        return totals

    def stat(self, path: ArchivePath) -> ArchiveObject:
        return self._stat(path)[0]

    def download(self, path: ArchivePath) -> Download:
        found, meta = self._stat(path)
        url = self._call(lambda: self.minio.presigned_get_object(
            self.bucket(path.area), path.key, expires=self.expiry), f"cannot presign {path}")
        # a single-part object's ETag is its MD5; rclone records a multipart one's (base64)
        recorded = meta.get("x-amz-meta-md5chksum")
        md5 = found.etag if found.etag and "-" not in found.etag else \
            (base64.b64decode(recorded).hex() if recorded else None)
        return Download(object=found, url=url, expires=self._expires(), md5=md5)

    # -- uploading -----------------------------------------------------------------------

    def start_upload(self, path: ArchivePath, *, size: int, sha256: str) -> UploadTicket:
        """Open a multipart upload of ``size`` bytes to ``path`` (the quota is the caller's check)."""
        if path.is_folder:
            raise SpecError(f"{path} is a folder: an upload needs a file name",
                            fix="end the path with a name")
        if not 0 <= size <= MAX_OBJECT:
            raise SpecError(f"a file of {size} bytes cannot be stored (at most 5 TiB)")
        digest = _check_sha256(sha256)
        self._guard(path.area, path.key)
        bucket = self.bucket(path.area)
        created = self._boto(lambda: self._s3.create_multipart_upload(
            Bucket=bucket, Key=path.key, Metadata={SHA256_META: digest}), f"cannot start uploading {path}")
        upload_id = str(created["UploadId"])
        part_bytes = part_size_for(size)
        return self._ticket(path, upload_id, size, part_bytes, range(1, part_count(size, part_bytes) + 1))

    def resume_upload(self, path: ArchivePath, upload_id: str, *, size: int) -> UploadTicket:
        """Fresh URLs for the parts the archive does not hold yet."""
        have = {part.number for part in self.uploaded_parts(path, upload_id)}
        part_bytes = part_size_for(size)
        missing = [n for n in range(1, part_count(size, part_bytes) + 1) if n not in have]
        return self._ticket(path, upload_id, size, part_bytes, missing)

    def uploaded_parts(self, path: ArchivePath, upload_id: str) -> list[UploadedPart]:
        bucket = self.bucket(path.area)
        parts: list[UploadedPart] = []
        marker = 0
        while True:
            answer = self._boto(lambda marker=marker: self._s3.list_parts(
                Bucket=bucket, Key=path.key, UploadId=upload_id, PartNumberMarker=marker),
                f"no upload {upload_id} of {path}", missing=True)
            parts += [UploadedPart(number=int(p["PartNumber"]), size=int(p["Size"]),
                                   md5=str(p["ETag"]).strip('"')) for p in answer.get("Parts", [])]
            if not answer.get("IsTruncated"):
                return parts
            marker = int(answer["NextPartNumberMarker"])

    def complete_upload(self, path: ArchivePath, upload_id: str, *, size: int,
                        md5s: dict[int, str]) -> ArchiveObject:
        """Complete the upload if every part the archive holds is the one the client sent."""
        expected = part_count(size, part_size_for(size))
        held = {part.number: part for part in self.uploaded_parts(path, upload_id)}
        missing = [n for n in range(1, expected + 1) if n not in held]
        if missing:
            raise ChecksumMismatchError(f"{path}: part(s) {_ranges(missing)} of {expected} have not arrived",
                                        site="archive", fix="resume the upload (the CLI does it by itself)")
        wrong = [n for n in range(1, expected + 1) if md5s.get(n, "").lower() != held[n].md5.lower()]
        if wrong:
            raise ChecksumMismatchError(f"{path}: part(s) {_ranges(wrong)} differ from what was sent "
                                        "(MD5 mismatch)", site="archive", fix="send those parts again")
        total = sum(held[n].size for n in range(1, expected + 1))
        if total != size:
            raise ChecksumMismatchError(f"{path}: the parts hold {total} bytes, not the {size} declared",
                                        site="archive", fix="start the upload again")
        bucket = self.bucket(path.area)
        parts = [{"PartNumber": n, "ETag": held[n].md5} for n in range(1, expected + 1)]
        self._boto(lambda: self._s3.complete_multipart_upload(
            Bucket=bucket, Key=path.key, UploadId=upload_id, MultipartUpload={"Parts": parts}),
            f"cannot complete the upload of {path}")
        return self.stat(path)

    def abort_upload(self, path: ArchivePath, upload_id: str) -> None:
        bucket = self.bucket(path.area)
        self._boto(lambda: self._s3.abort_multipart_upload(Bucket=bucket, Key=path.key, UploadId=upload_id),
                   f"no upload {upload_id} of {path}", missing=True)

    # -- changing ------------------------------------------------------------------------

    def remove(self, path: ArchivePath) -> list[str]:
        """Delete a file, or a folder and everything below it; the paths deleted."""
        bucket = self.bucket(path.area)
        keys = [str(item.object_name) for item in self._listed(path, markers=path.is_folder)]
        if not keys:
            raise NotInArchiveError(f"nothing at {path} in the archive", site="archive",
                                    fix="list your files with `heroes data ls`")
        errors = list(self.minio.remove_objects(bucket, (DeleteObject(key) for key in keys)))
        if errors:
            raise TransferError(f"could not delete {len(errors)} of {len(keys)} file(s) under {path}: "
                                f"{errors[0].message}", site="archive")
        return [str(path.relative(key)) for key in keys if not key.endswith("/")]

    def move(self, source: ArchivePath, destination: ArchivePath) -> list[ArchiveObject]:
        """Copy each file (server side, metadata kept), check its size, then delete the source."""
        if source.is_folder != destination.is_folder:
            raise SpecError(f"cannot move {'a folder' if source.is_folder else 'a file'} {source} onto "
                            f"{'a folder' if destination.is_folder else 'a file'} {destination}",
                            fix="end both paths with '/' to move a folder, or neither to move a file")
        moved: list[ArchiveObject] = []
        items = list(self._listed(source))
        if not items:
            raise NotInArchiveError(f"nothing at {source} in the archive", site="archive")
        for item in items:
            key = str(item.object_name)
            target = ArchivePath(area=destination.area, path=destination.path + key[len(source.key):]) \
                if source.is_folder else destination
            self._guard(target.area, target.key)
            self._call(lambda key=key, target=target: self.minio.copy_object(
                self.bucket(target.area), target.key, CopySource(self.bucket(source.area), key)),
                f"cannot copy {source.relative(key)} to {target}")
            copied = self.stat(target)
            if copied.size != int(item.size or 0):
                raise ChecksumMismatchError(f"{target} holds {copied.size} bytes after the copy, not "
                                            f"{item.size}; the source is kept", site="archive")
            moved.append(copied)
        for item in items:
            self._call(lambda item=item: self.minio.remove_object(
                self.bucket(source.area), str(item.object_name)), f"cannot delete {source}")
        return moved

    def copy_file(self, source: ArchivePath, destination: ArchivePath) -> ArchiveObject:
        """Copy one file server side (its metadata kept) and check the copy's size."""
        self._guard(destination.area, destination.key)
        found = self.stat(source)
        self._call(lambda: self.minio.copy_object(
            self.bucket(destination.area), destination.key, CopySource(self.bucket(source.area), source.key)),
            f"cannot copy {source} to {destination}")
        copied = self.stat(destination)
        if copied.size != found.size:
            raise ChecksumMismatchError(f"{destination} holds {copied.size} bytes after the copy, not "
                                        f"{found.size}", site="archive")
        return copied

    def sha256_of(self, path: ArchivePath) -> str:
        """The hex sha256 of the bytes the archive holds at ``path``, read back in full."""
        digest = hashlib.sha256()
        response = self._call(lambda: self.minio.get_object(self.bucket(path.area), path.key),
                              f"cannot read {path}")
        try:
            for chunk in response.stream(1024 * 1024):
                digest.update(chunk)
        finally:
            response.close()
            response.release_conn()
        return digest.hexdigest()

    # -- internals -----------------------------------------------------------------------

    def _listed(self, path: ArchivePath, *, markers: bool = False) -> Iterator[Any]:
        bucket = self.bucket(path.area)
        try:
            for item in self.minio.list_objects(bucket, prefix=path.key, recursive=True):
                name = str(item.object_name)
                if not path.is_folder and name != path.key:
                    continue  # 'a.csv' must not list 'a.csv.bak'
                if name.endswith("/") and not markers:
                    continue  # an area's marker, not a file
                yield item
        except S3Error as error:
            if error.code == "NoSuchBucket":
                return
            raise self._error(error, f"cannot list {path}") from error

    def _object(self, path: ArchivePath, item: Any) -> ArchiveObject:
        return ArchiveObject(path=str(path.relative(str(item.object_name))), size=int(item.size or 0),
                             modified=item.last_modified, etag=(item.etag or "").strip('"') or None)

    def _ticket(self, path: ArchivePath, upload_id: str, size: int, part_bytes: int,
                numbers: Sequence[int]) -> UploadTicket:
        bucket = self.bucket(path.area)
        urls = [PartUrl(number=n, url=self._call(lambda n=n: self.minio.get_presigned_url(
            "PUT", bucket, path.key, expires=self.expiry,
            extra_query_params={"uploadId": upload_id, "partNumber": str(n)}), f"cannot presign {path}"))
            for n in list(numbers)[:URL_BATCH]]
        return UploadTicket(path=str(path), upload_id=upload_id, size=size, part_size=part_bytes,
                            part_count=part_count(size, part_bytes), missing_parts=len(numbers), parts=urls,
                            expires=self._expires())

    def _stat(self, path: ArchivePath) -> tuple[ArchiveObject, dict[str, str]]:
        """The file at ``path`` and its metadata (lower-case names), in one request."""
        if path.is_folder:
            raise SpecError(f"{path} is a folder, not a file", fix="name a file")
        try:
            found = self.minio.stat_object(self.bucket(path.area), path.key)
        except S3Error as error:
            if error.code in ("NoSuchKey", "NoSuchBucket", "NoSuchObject"):
                raise NotInArchiveError(f"no file {path} in the archive", site="archive",
                                        fix="list your files with `heroes data ls`") from None
            raise self._error(error, f"cannot read {path}") from error
        meta = {key.lower(): str(value) for key, value in (found.metadata or {}).items()}
        return ArchiveObject(path=str(path), size=int(found.size or 0), modified=found.last_modified,
                             etag=(found.etag or "").strip('"') or None,
                             sha256=meta.get(f"x-amz-meta-{SHA256_META}")), meta

    def _expires(self) -> datetime:
        return datetime.now(UTC) + self.expiry

    @staticmethod
    def _guard(area: Area, key: str) -> None:
        """No key outside its area, and HEROES' own prefix only for HEROES' own area, whatever built it."""
        heroes_own = key.startswith(f"{HEROES_PREFIX}/")
        if not key.startswith(area.prefix) or heroes_own != (area.kind is AreaKind.HEROES):
            raise SpecError(f"{key!r} is outside {area.label}", site="archive")

    def _call(self, action: Any, what: str) -> Any:
        try:
            return action()
        except S3Error as error:
            raise self._error(error, what) from error

    def _boto(self, action: Any, what: str, *, missing: bool = False) -> Any:
        try:
            return action()
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if missing and code in ("NoSuchUpload", "NoSuchKey", "404"):
                raise NotInArchiveError(what, site="archive",
                                        fix="start the upload again (it may have been completed or "
                                            "aborted)") from None
            raise TransferError(f"{what}: {code or error}", site="archive") from error

    @staticmethod
    def _error(error: S3Error, what: str) -> TransferError:
        return TransferError(f"{what}: {error.code} ({error.message})", site="archive",
                             fix="check the archive block's endpoint and credentials")


def _ranges(numbers: Sequence[int]) -> str:
    shown = ", ".join(str(n) for n in numbers[:10])
    return shown + (f" and {len(numbers) - 10} more" if len(numbers) > 10 else "")
