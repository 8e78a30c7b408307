"""Domain models shared by every layer: what a job is and what state it is in."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from heroes_core.errors import PathEscapeError

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"

Name = Annotated[str, Field(pattern=NAME_PATTERN)]


def safe_relative_path(value: str) -> str:
    """Return ``value`` normalised if it stays inside its base directory.

    User-supplied file names end up in remote commands and rclone filters; a
    lexical check here means no later layer has to trust them.
    """
    if not value or "\x00" in value or "\n" in value:
        raise PathEscapeError(f"path {value!r} is empty or has control characters",
                              fix="use a plain relative file name")
    path = PurePosixPath(value)
    if path.is_absolute():
        raise PathEscapeError(f"path {value!r} is absolute",
                              fix="give the path relative to your area, e.g. 'inputs/data.csv'")
    if any(part == ".." for part in path.parts):
        raise PathEscapeError(f"path {value!r} climbs out of your area with '..'",
                              fix="give a path inside your area without '..'")
    return str(path)


class JobState(StrEnum):
    """Scheduler-independent job state; the native state and reason travel beside it."""

    PENDING = "PENDING"
    HELD = "HELD"
    RUNNING = "RUNNING"
    SUSPENDED = "SUSPENDED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_STATES


_FINAL_STATES = {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}


class JobStatus(BaseModel):
    """One observation of a job, as the scheduler reported it."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    state: JobState
    native_state: str = ""
    reason: str = ""
    exit_code: int | None = None
    submit_time: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None


class ImageRef(BaseModel):
    """An immutable container image on a centre, named by its content digest."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(description="Absolute path of the image file on the centre.")
    digest: str = Field(pattern=DIGEST_PATTERN, description="sha256 digest, 'sha256:<hex>'.")

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or "\n" in value or "\x00" in value:
            raise ValueError(f"image path {value!r} must be an absolute path on the centre")
        return value

    @property
    def hex_digest(self) -> str:
        return self.digest.removeprefix("sha256:")


class JobSpec(BaseModel):
    """What a user asks to run: one containerised command with its inputs."""

    model_config = ConfigDict(extra="forbid")

    name: Name = Field(default="job", description="Human-readable job name.")
    image: ImageRef
    command: list[str] = Field(min_length=1, description="argv run inside the container.")
    partition: str | None = Field(default=None, description="Partition/queue; site default if None.")
    cores: int = Field(default=1, ge=1, le=100_000)
    nodes: int = Field(default=1, ge=1, le=10_000)
    memory_mb: int | None = Field(default=None, ge=1)
    time_limit_minutes: int = Field(default=10, ge=1, le=60 * 24 * 30)
    inputs: list[str] = Field(default_factory=list,
                              description="Files in the user's archive area to stage in.")
    env: dict[str, str] = Field(default_factory=dict,
                                description="Environment variables set inside the container.")

    @field_validator("inputs")
    @classmethod
    def _inputs_stay_inside(cls, value: list[str]) -> list[str]:
        return [safe_relative_path(item) for item in value]

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValueError(f"environment variable name {key!r} is not a valid name")
        return value

    @field_validator("partition")
    @classmethod
    def _partition_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(NAME_PATTERN, value):
            raise ValueError(f"partition name {value!r} is not a valid name")
        return value


class UserArea(BaseModel):
    """Who a job belongs to: it decides the job's directory on the centre and in the archive."""

    model_config = ConfigDict(frozen=True)

    organisation: Name
    user: Name
