"""The job lifecycle, step by step: prepare -> stage in -> submit -> poll -> stage out.

Each step is idempotent and keyed by the job key, which is derived from the
Prefect flow run and written into the batch job's name. Running a step again,
or resuming a whole run after a crash, finds the work already done instead of
doing it twice.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel

from heroes_core.containers import verify_image
from heroes_core.data import ARCHIVE, CENTRE, Rclone, S3Endpoint, TransferReport
from heroes_core.errors import (
    ConnectionLostError,
    PathEscapeError,
    SpecError,
    TransferError,
    TransportError,
)
from heroes_core.models import JobSpec, JobState, JobStatus, UserArea
from heroes_core.schedulers import JobSubmission, SlurmScheduler
from heroes_core.sites import Site

_GLOB_SPECIALS = re.compile(r"([\\*?\[\]{}])")


def job_key(run_id: str, step: str = "main") -> str:
    """A stable, scheduler-safe key for one job of one flow run."""
    digest = hashlib.sha256(f"{run_id}/{step}".encode()).hexdigest()[:20]
    return f"heroes-{digest}"


def job_directory(site: Site, area: UserArea, key: str) -> str:
    return f"{site.config.work_root.rstrip('/')}/{area.organisation}/{area.user}/{key}"


class SubmitResult(BaseModel):
    job_id: str
    reused: bool


def validate(site: Site, spec: JobSpec) -> None:
    """Fail fast, before any data moves: limits, partition, image digest."""
    site.check_limits(spec)
    partition = site.partition_for(spec)
    if partition and isinstance(site.scheduler, SlurmScheduler):
        site.scheduler.require_partition(partition)
    verify_image(site.transport, spec.image)


_MAKE_AREA = r"""
set -eu
umask 077
dir="$1"; shift
for part in "$@"; do
  dir="$dir/$part"
  if [ -L "$dir" ]; then echo "$dir is a symbolic link" >&2; exit 3; fi
  [ -d "$dir" ] || mkdir -- "$dir"
  chmod 700 -- "$dir"
done
"""


def ensure_job_directory(site: Site, area: UserArea, key: str) -> str:
    """Create the per-organisation, per-user, per-job directory (mode 0700).

    Each level is made one at a time and refused if it is a symbolic link, so a
    link planted in the work root can never redirect a job (or its outputs) elsewhere.
    """
    job_dir = job_directory(site, area, key)
    result = site.transport.run(["sh", "-c", _MAKE_AREA, "sh", site.config.work_root.rstrip("/"),
                                 area.organisation, area.user, key])
    if result.exit_code == 3:
        raise PathEscapeError(f"{job_dir} escapes the user's area: {result.stderr.strip()}",
                              site=site.name, fix="remove the symbolic link from the work root")
    if not result.ok:
        raise TransportError(f"cannot create {job_dir}: {result.describe()}", site=site.name,
                             fix="check that work_root exists and belongs to the service account")
    return job_dir


def render_script(site: Site, spec: JobSpec, job_dir: str) -> str:
    """The batch script: re-check the image digest, prepare it, run the container."""
    image = spec.image
    argv = site.runtime.exec_argv(image, spec.command, job_dir, spec.env, site.image_cache_dir)
    check = shlex.quote(f"{image.hex_digest}  {image.path}")
    lines = [
        "#!/bin/bash",
        "set -euo pipefail",
        f"# HEROES job {spec.name}",
        f"cd {shlex.quote(job_dir)}",
        f"if ! echo {check} | sha256sum --check --status; then",
        f"  echo 'HEROES: image {shlex.quote(image.path)} does not match {image.digest}' >&2",
        "  exit 97",
        "fi",
        *site.runtime.prepare_lines(image, site.image_cache_dir),
        " ".join(shlex.quote(arg) for arg in argv),
        "",
    ]
    return "\n".join(lines)


def submission_for(site: Site, spec: JobSpec, key: str, job_dir: str) -> JobSubmission:
    return JobSubmission(key=key, job_dir=job_dir, script=render_script(site, spec, job_dir),
                         partition=site.partition_for(spec), cores=spec.cores, nodes=spec.nodes,
                         memory_mb=spec.memory_mb, time_limit_minutes=spec.time_limit_minutes)


def find_job(site: Site, key: str) -> str | None:
    """The newest job already carrying ``key``, if any."""
    found = site.scheduler.find(key)
    return found[-1] if found else None


def submit_once(site: Site, submission: JobSubmission) -> SubmitResult:
    """Submit unless a job with this key exists; reconcile by key if the link drops mid-submit."""
    existing = find_job(site, submission.key)
    if existing:
        return SubmitResult(job_id=existing, reused=True)
    try:
        return SubmitResult(job_id=site.scheduler.submit(submission), reused=False)
    except ConnectionLostError:
        existing = find_job(site, submission.key)
        if existing:
            return SubmitResult(job_id=existing, reused=False)
        raise


def stage_in(rclone: Rclone, archive: S3Endpoint, area: UserArea, spec: JobSpec,
             job_dir: str) -> TransferReport | None:
    """Copy the job's inputs from the user's archive area into its job directory.

    Missing inputs are reported all at once, before any byte moves. If the copy
    or its verification fails, the partial inputs are removed from the centre.
    """
    if not spec.inputs:
        return None
    source = f"{ARCHIVE}:{archive.user_prefix(area)}"
    present = set(rclone.list_files(source, spec.inputs))
    missing = [name for name in spec.inputs if name not in present]
    if missing:
        raise SpecError(f"input file(s) {', '.join(missing)} not found in the archive at "
                        f"s3://{archive.user_prefix(area)}/", site="archive",
                        fix="upload them to the archive first, or correct the names")
    try:
        return rclone.copy_verified(source, f"{CENTRE}:{job_dir}", files=spec.inputs)
    except TransferError:
        rclone.run(["delete", f"{CENTRE}:{job_dir}", "--files-from-raw", "-"],
                   stdin="\n".join(spec.inputs) + "\n")
        raise


def stage_out(rclone: Rclone, archive: S3Endpoint, area: UserArea, spec: JobSpec, key: str,
              job_dir: str) -> TransferReport:
    """Copy everything the job produced (logs included, inputs and links excluded)."""
    excludes = [_GLOB_SPECIALS.sub(r"\\\1", "/" + name) for name in spec.inputs]
    return rclone.copy_verified(f"{CENTRE}:{job_dir}", f"{ARCHIVE}:{archive.job_prefix(area, key)}",
                                exclude=excludes)


class JobTracker:
    """Follows many jobs on one site with one query per round, whatever their number."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.since: datetime | None = None
        self.jobs: dict[str, JobStatus | None] = {}
        self.rounds = 0

    def track(self, job_id: str, submitted: datetime | None = None) -> None:
        self.jobs.setdefault(job_id, None)
        stamp = submitted or datetime.now(UTC).astimezone().replace(tzinfo=None)
        self.since = min(self.since, stamp) if self.since else stamp

    def poll(self) -> dict[str, JobStatus]:
        """One round: query every job that is not final yet."""
        live = [i for i, s in self.jobs.items() if s is None or not s.state.is_final]
        if not live:
            return {}
        self.rounds += 1
        since = self.since.replace(hour=0, minute=0, second=0) if self.since else None
        statuses = self.site.scheduler.query(live, since=since)
        self.jobs.update(statuses)
        return statuses


def wait_for(site: Site, job_id: str, *, interval: float = 1.0, max_interval: float = 30.0,
             on_change: Callable[[JobStatus], None] | None = None,
             unknown_limit: int = 60) -> JobStatus:
    """Poll one job until it ends; the link may drop and come back meanwhile."""
    tracker = JobTracker(site)
    tracker.track(job_id)
    last: JobStatus | None = None
    unknown = 0
    delay = interval
    while True:
        status = tracker.poll()[job_id]
        if last is None or (status.state, status.reason) != (last.state, last.reason):
            if on_change:
                on_change(status)
            delay = interval
        last = status
        if status.state.is_final:
            return status
        unknown = unknown + 1 if status.state is JobState.UNKNOWN else 0
        if unknown >= unknown_limit:
            raise TransportError(f"job {job_id} has not been seen for {unknown} polls",
                                 site=site.name, fix="check the scheduler's accounting")
        time.sleep(delay)
        delay = min(delay * 1.5, max_interval)
