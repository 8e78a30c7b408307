"""The scheduler interface, as template methods in the manner of psij's executors.

A scheduler turns a :class:`JobSubmission` into a native job, finds a job again
by its HEROES key, reports many jobs' states with as few commands as possible,
and cancels. It also answers what only it knows: where a job's output goes, which
partitions exist, and (where it keeps accounting) what a job used. Everything goes
through a :class:`Transport`, so the same code runs against a laptop or a centre's
login node, and no code outside this package names a scheduler.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Collection
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from heroes_core.errors import FeatureNotAvailableError, SpecError
from heroes_core.models import (
    ENERGY_POLICY_PATTERN,
    GPU_TYPE_PATTERN,
    MAX_GPUS_PER_NODE,
    NAME_PATTERN,
    JobState,
    JobStatus,
)
from heroes_core.transport import Transport

KEY_PATTERN = r"^heroes-[a-z0-9-]{8,80}$"


def require_key(key: str, site: str) -> str:
    """Refuse anything but one well-formed key before it reaches a scheduler command.

    ``squeue --name`` takes a comma-separated list: a key with a comma would list,
    and so let a caller cancel, other tenants' jobs of the shared service account.
    """
    if not re.fullmatch(KEY_PATTERN, key):
        raise SpecError(f"{key!r} is not a HEROES job key", site=site,
                        fix="pass one key made by heroes_core.jobs.job_key")
    return key


class JobSubmission(BaseModel):
    """A job ready for a batch system: the script plus its resource request."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(pattern=KEY_PATTERN, description="Idempotency key, stored as the job name.")
    job_dir: str
    script: str
    partition: str | None = Field(default=None, pattern=NAME_PATTERN)
    cores: int = 1
    nodes: int = 1
    memory_mb: int | None = None
    time_limit_minutes: int = 10
    hold: bool = Field(default=False, description="Submit held: it waits for a release to start.")
    energy_policy: str | None = Field(default=None, pattern=ENERGY_POLICY_PATTERN,
                                      description="EAR policy to run under (the centre has EAR).")
    gpus: int = Field(default=0, ge=0, le=MAX_GPUS_PER_NODE, description="GPUs on each node.")
    gpu_type: str | None = Field(default=None, pattern=GPU_TYPE_PATTERN,
                                 description="Their type as the centre names it; None: any.")


class UsageRecord(BaseModel):
    """What one finished job used, from the scheduler's accounting (allocation and steps)."""

    model_config = ConfigDict(frozen=True)

    job_id: str
    elapsed_s: float
    cores: int
    nodes: int
    gpus: int = 0
    max_memory_mb: float | None = None
    cpu_time_s: float | None = Field(default=None, description="CPU time of all its tasks (user + system).")
    energy_j: float | None = None
    energy_source: Literal["slurm", "none"] = "none"
    native_state: str
    outcome: JobState
    exit_code: int | None = None
    submitted_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def queue_wait_s(self) -> float | None:
        if self.started_at is None:
            return None
        return max(0.0, (self.started_at - self.submitted_at).total_seconds())


class SiteLoad(BaseModel):
    """How busy a site is right now: what re-evaluation weighs before each workflow step."""

    model_config = ConfigDict(frozen=True)

    pending_jobs: int
    running_jobs: int
    idle_cpus: int
    total_cpus: int
    unavailable_cpus: int = Field(default=0, description="CPUs of nodes down, drained or failing.")

    @property
    def degraded(self) -> bool:
        """Some of the centre's nodes are down or drained."""
        return self.unavailable_cpus > 0

    @property
    def usable(self) -> bool:
        """Some node could still run a job (a centre whose every node is down cannot)."""
        return self.total_cpus > self.unavailable_cpus


class Scheduler(ABC):
    """A batch system on one site."""

    name: str

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    @property
    def site(self) -> str:
        return self.transport.site

    @abstractmethod
    def submit(self, submission: JobSubmission) -> str:
        """Submit and return the native job id; not idempotent on its own (see ``find``)."""

    @abstractmethod
    def find(self, key: str) -> list[str]:
        """Ids of every job carrying ``key``, oldest first: how resubmission is avoided."""

    @abstractmethod
    def query(self, job_ids: Collection[str], *, since: datetime | None = None
              ) -> dict[str, JobStatus]:
        """States of all ``job_ids`` in a bounded number of commands, whatever their count.

        ``since`` is an aware instant no later than the jobs' submission (it bounds the
        accounting search); times in the answer are aware UTC datetimes.
        """

    @abstractmethod
    def cancel(self, job_ids: Collection[str]) -> None:
        """Ask the batch system to stop these jobs; already-finished jobs are ignored."""

    @abstractmethod
    def partitions(self) -> list[str]:
        """Partitions (queues) the site offers."""

    def require_partition(self, partition: str) -> None:
        """Refuse, before anything is submitted, a partition the site does not offer."""
        available = self.partitions()
        if partition not in available:
            raise SpecError(f"partition '{partition}' does not exist", site=self.site,
                            fix=f"choose one of: {', '.join(available) or '(none)'}")

    @abstractmethod
    def output_path(self, job_dir: str, job_id: str) -> str:
        """Where the job's stdout and stderr are written on the site."""

    commands: tuple[str, ...] = ()
    """Programs the service account must find on its PATH for this scheduler to work."""

    gives_gpus: bool = False
    """Whether the scheduler can allocate GPUs to a job (``JobSubmission.gpus``); a site
    refuses GPU jobs before submission where it cannot."""

    def usage(self, job_id: str) -> UsageRecord:
        """What a finished job used, from the scheduler's accounting.

        Raises :class:`FeatureNotAvailableError` where the scheduler keeps none.
        """
        raise FeatureNotAvailableError(f"scheduler '{self.name}' keeps no accounting of job "
                                       f"{job_id}", site=self.site,
                                       fix="record the job without usage, or run it on a centre "
                                           "with accounting")

    @abstractmethod
    def load(self) -> SiteLoad:
        """Pending and running jobs of everyone, idle and total CPUs."""
