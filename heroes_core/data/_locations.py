"""Where a transfer starts or ends: an endpoint and a path on it.

The archive is an :class:`S3Endpoint` and a ``bucket/prefix`` path; a centre's login node, or a
cloud cluster's headnode (registered as a centre), is an :class:`SFTPEndpoint` and a directory;
a local directory serves the tools and the tests. Paths never climb with ``..``.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from heroes_core.data._endpoints import S3Endpoint, SFTPEndpoint
from heroes_core.data._rclone import ARCHIVE, Rclone
from heroes_core.models import UserArea, safe_relative_path


def _plain_path(value: str, *, absolute: bool | None) -> str:
    """``value`` without '..', control characters or a trailing '/'; absolute if required."""
    if not value or "\x00" in value or "\n" in value or "\r" in value:
        raise ValueError(f"path {value!r} is empty or has control characters")
    path = PurePosixPath(value)
    if any(part == ".." for part in path.parts):
        raise ValueError(f"path {value!r} climbs with '..'")
    if absolute is True and not path.is_absolute():
        raise ValueError(f"path {value!r} must be absolute")
    if absolute is False and path.is_absolute():
        raise ValueError(f"path {value!r} must be relative (bucket/prefix)")
    return str(path)


class _Location(BaseModel):
    model_config = ConfigDict(frozen=True)

    path: str

    @property
    def site(self) -> str:
        raise NotImplementedError

    @property
    def label(self) -> str:
        """How people read it: ``s3://bucket/prefix``, ``site:/path`` or ``local:/path``."""
        return f"{self.site}:{self.path}"

    @property
    def where(self) -> str:
        """In a sentence: 'in the archive at s3://...', 'on hpc1 at /path'."""
        return f"on {self.site} at {self.path}"

    def rclone_path(self, rclone: Rclone) -> str:
        raise NotImplementedError

    def joinpath(self, *parts: str) -> Self:
        """The location of ``parts`` (relative, no '..') below this one."""
        path = PurePosixPath(self.path).joinpath(*(safe_relative_path(part) for part in parts))
        return self.model_copy(update={"path": str(path)})


class ArchiveLocation(_Location):
    """A ``bucket/prefix`` in the central archive."""

    kind: Literal["archive"] = "archive"
    archive: S3Endpoint

    @field_validator("path")
    @classmethod
    def _bucket_and_prefix(cls, value: str) -> str:
        return _plain_path(value, absolute=False)

    @classmethod
    def of_user(cls, archive: S3Endpoint, area: UserArea) -> ArchiveLocation:
        """A user's home in their organisation's bucket (their inputs live below it)."""
        return cls(archive=archive, path=archive.user_prefix(area))

    @classmethod
    def of_job(cls, archive: S3Endpoint, area: UserArea, key: str) -> ArchiveLocation:
        """Where a job's outputs go in the archive."""
        return cls(archive=archive, path=archive.job_prefix(area, key))

    @property
    def site(self) -> str:
        return ARCHIVE

    @property
    def label(self) -> str:
        return f"s3://{self.path}/"

    @property
    def where(self) -> str:
        return f"in the archive at {self.label}"

    def rclone_path(self, rclone: Rclone) -> str:
        return f"{rclone.remote(self.archive)}:{self.path}"


class SFTPLocation(_Location):
    """A directory on a centre's login node or a cloud cluster's headnode (absolute, or below
    the service account's home)."""

    kind: Literal["sftp"] = "sftp"
    server: SFTPEndpoint

    @field_validator("path")
    @classmethod
    def _plain(cls, value: str) -> str:
        return _plain_path(value, absolute=None)

    @property
    def site(self) -> str:
        return self.server.site

    def rclone_path(self, rclone: Rclone) -> str:
        return f"{rclone.remote(self.server)}:{self.path}"


class LocalLocation(_Location):
    """An absolute directory on the machine running the transfer."""

    kind: Literal["local"] = "local"

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        return _plain_path(value, absolute=True)

    @property
    def site(self) -> str:
        return "local"

    def rclone_path(self, rclone: Rclone) -> str:
        return self.path


Location = Annotated[ArchiveLocation | SFTPLocation | LocalLocation, Field(discriminator="kind")]

__all__ = ["ArchiveLocation", "LocalLocation", "Location", "SFTPLocation"]
