"""Domain models shared by every layer: what a job is and what state it is in."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from heroes_core.errors import PathEscapeError

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# An EAR policy as `--ear-policy` takes it: a short lower-case word, never an option of its own.
ENERGY_POLICY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
ORGANISATION_PATTERN = r"^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$"
DIGEST_PATTERN = r"^sha256:[0-9a-f]{64}$"
IMAGE_PATH_PATTERN = r"^(/[A-Za-z0-9._+-]+)+$"
# A GPU type as a centre names it (e.g. a100): it becomes part of the batch system's GPU request
# (``gpu:TYPE:N``), so never a ':' or ',' that would split it. Batch systems compare types
# case-sensitively and centres do name them in capitals (A100), so both cases are accepted.
GPU_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"
# More GPUs than any node holds (the largest have 8 or 16): a typo, refused at once.
MAX_GPUS_PER_NODE = 64

# Names a user may not take: HEROES keeps (or will keep) its own things beside users' homes.
RESERVED_USER_NAMES = frozenset({"heroes", "billing", "terraform", "projects", "shared", "system"})
# Organisation directories sit beside these in a centre's work root (images is the default
# image root, the rest are HEROES' caches and registries).
RESERVED_ORGANISATION_NAMES = frozenset({"images", "heroes"})

# A single argument or environment value, and all of them together, must fit what execve
# and sbatch accept (Linux: 128 KiB per string); refuse before anything is staged or reserved.
MAX_ARGUMENT_BYTES = 64 * 1024
MAX_COMMAND_BYTES = 256 * 1024

Name = Annotated[str, Field(pattern=NAME_PATTERN)]
Organisation = Annotated[str, Field(
    pattern=ORGANISATION_PATTERN,
    description="Lower-case letters, digits and '-', 3-40 characters: it names the organisation's "
                "bucket and directories, so two organisations can never share them.")]


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

    @property
    def elapsed_s(self) -> float | None:
        """Seconds the job ran; None until it has both started and ended."""
        if self.start_time is None or self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()

    @property
    def last_event_time(self) -> datetime | None:
        """When the job last changed as the scheduler saw it: its end, else its start."""
        return self.end_time or self.start_time


class ImageRef(BaseModel):
    """An immutable container image on a centre, named by its content digest."""

    model_config = ConfigDict(frozen=True)

    path: str = Field(description="Absolute path of the image file on the centre.")
    digest: str = Field(pattern=DIGEST_PATTERN, description="sha256 digest, 'sha256:<hex>'.")

    @field_validator("path")
    @classmethod
    def _safe_absolute(cls, value: str) -> str:
        if not re.fullmatch(IMAGE_PATH_PATTERN, value):
            raise ValueError(f"image path {value!r} must be an absolute path of letters, digits and "
                             "'._+-' (no spaces, quotes or shell characters)")
        if any(part in (".", "..") for part in value.split("/")):
            raise ValueError(f"image path {value!r} must not contain '.' or '..' components")
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
    output_limit_mb: int | None = Field(default=None, ge=1, le=1024 * 1024,
                                        description="Most the job may write, in MiB (at most the "
                                                    "centre's limit, which applies if None).")
    inputs: list[str] = Field(default_factory=list,
                              description="Files in the user's archive area to stage in.")
    env: dict[str, str] = Field(default_factory=dict,
                                description="Environment variables set inside the container.")
    energy_policy: str | None = Field(
        default=None, pattern=ENERGY_POLICY_PATTERN,
        description="EAR policy to run under on centres with EAR (e.g. min_energy), if your "
                    "organisation lets users choose; else its default applies.")
    gpus: int = Field(
        default=0, ge=0, le=MAX_GPUS_PER_NODE,
        description="GPUs on each node of the job (as batch systems count a GPU request, e.g. "
                    "Slurm's --gres=gpu:N): a job on 2 nodes with gpus=4 holds 8. 0 asks for none.")
    gpu_type: str | None = Field(
        default=None, pattern=GPU_TYPE_PATTERN,
        description="GPU model the job needs, as the centre names it (e.g. a100); None takes "
                    "whatever GPUs the partition has. Only with gpus of 1 or more.")

    @field_validator("command")
    @classmethod
    def _command_runs_as_given(cls, value: list[str]) -> list[str]:
        for index, arg in enumerate(value):
            _check_text(f"command argument {index}", arg)
        return value

    @field_validator("inputs")
    @classmethod
    def _inputs_stay_inside(cls, value: list[str]) -> list[str]:
        return [safe_relative_path(item) for item in value]

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", key):
                raise ValueError(f"environment variable name {key!r} is not a valid name")
            _check_text(f"environment variable {key}", value[key])
        return value

    @model_validator(mode="after")
    def _gpu_type_with_gpus(self) -> JobSpec:
        check_gpu_request(self.gpus, self.gpu_type)
        return self

    @model_validator(mode="after")
    def _fits_a_command_line(self) -> JobSpec:
        total = sum(len(arg.encode()) + 1 for arg in self.command) + sum(
            len(k.encode()) + len(v.encode()) + 2 for k, v in self.env.items())
        if total > MAX_COMMAND_BYTES:
            raise ValueError(f"command and environment take {total} bytes; at most "
                             f"{MAX_COMMAND_BYTES} fit a job's command line (put large data in an "
                             "input file)")
        return self

    @field_validator("partition")
    @classmethod
    def _partition_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(NAME_PATTERN, value):
            raise ValueError(f"partition name {value!r} is not a valid name")
        return value


def check_gpu_request(gpus: int, gpu_type: str | None) -> None:
    """A GPU type without a count asks for nothing: say so rather than run without a GPU."""
    if gpu_type is not None and gpus == 0:
        raise ValueError(f"gpu_type '{gpu_type}' is given without gpus: ask for gpus=1 or more "
                         "with it, or drop gpu_type")


def _check_text(what: str, value: str) -> None:
    """Text that reaches a batch script must survive it byte for byte, or be refused now.

    sbatch rejects scripts with carriage returns, execve cuts at NUL, a lone surrogate
    cannot be encoded, and one string over 128 KiB fails at exec time: all of them
    after stage-in and the budget reservation, unless caught here.
    """
    if "\x00" in value or "\r" in value:
        raise ValueError(f"{what} contains a NUL or carriage-return character")
    try:
        size = len(value.encode())
    except UnicodeEncodeError:
        raise ValueError(f"{what} is not valid Unicode text (lone surrogate)") from None
    if size > MAX_ARGUMENT_BYTES:
        raise ValueError(f"{what} is {size} bytes; at most {MAX_ARGUMENT_BYTES} are accepted "
                         "(put large data in an input file)")


class UserArea(BaseModel):
    """Who a job belongs to: it decides the job's directory on the centre and in the archive."""

    model_config = ConfigDict(frozen=True)

    organisation: Organisation
    user: Name

    @field_validator("organisation")
    @classmethod
    def _organisation_not_reserved(cls, value: str) -> str:
        if value in RESERVED_ORGANISATION_NAMES:
            raise ValueError(f"organisation name {value!r} is reserved for HEROES; choose another")
        return value

    @field_validator("user")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.lower() in RESERVED_USER_NAMES:
            raise ValueError(f"user name {value!r} is reserved for HEROES; choose another")
        return value
