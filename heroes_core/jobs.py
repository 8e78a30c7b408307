"""The job lifecycle, step by step: prepare -> stage in -> submit -> poll -> stage out.

Each step is idempotent and keyed by the job key, which is derived from the
Prefect flow run and written into the batch job's name. Running a step again,
or resuming a whole run after a crash, finds the work already done instead of
doing it twice.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from heroes_core.containers import ENV_FILE_NAME, verify_image
from heroes_core.data import (
    HEROES_PREFIX,
    ArchiveLocation,
    MissingSourceError,
    ProgressCallback,
    Rclone,
    Requester,
    S3Endpoint,
    SFTPEndpoint,
    SFTPLocation,
    TransferLog,
    TransferOptions,
    TransferReport,
    TransferRequest,
    transfer,
)
from heroes_core.errors import (
    CommandTimeoutError,
    ConnectionLostError,
    PathEscapeError,
    SpecError,
    TransferError,
    TransportError,
)
from heroes_core.models import JobSpec, JobState, JobStatus, Name, Organisation, UserArea
from heroes_core.schedulers import KEY_PATTERN, JobSubmission
from heroes_core.sites import Site
from heroes_core.transport import shell_join

_GLOB_SPECIALS = re.compile(r"([\\*?\[\]{}])")


def job_key(run_id: str, step: str = "main", *, owner: UserArea | None = None) -> str:
    """A stable, scheduler-safe key for one job of one flow run.

    Every job of a centre runs under the same service account, so the key is what
    tells tenants' jobs apart in ``squeue --name``: a user's key carries a tag of
    its organisation and user (see :func:`require_job_key`). Keys without an owner
    are for HEROES' own jobs (smoke tests, benchmarks).
    """
    if owner is None:
        return f"heroes-{_digest(f'{run_id}/{step}', 20)}"
    scope = f"{owner.organisation}/{owner.user}"
    return f"heroes-{_owner_tag(owner)}-{_digest(f'{scope}/{run_id}/{step}', 20)}"


def require_job_key(key: str, owner: UserArea) -> str:
    """Accept a caller's job key only if it is well formed and belongs to ``owner``.

    Checked where the key enters (``run_job(job_key=...)``), before it names a
    directory, a batch job or a ledger line: another tenant's key, a path or a
    comma-separated list of names is refused.
    """
    if not re.fullmatch(KEY_PATTERN, key):
        raise SpecError(f"job key {key!r} is malformed", site="heroes",
                        fix="leave job_key empty (one is derived from the run), or pass a key "
                            "made by heroes_core.jobs.job_key(..., owner=...)")
    if not key.startswith(f"heroes-{_owner_tag(owner)}-"):
        raise SpecError(f"job key {key!r} does not belong to {owner.organisation}/{owner.user}",
                        site="heroes", fix="use a key derived for your own organisation and user")
    return key


def key_for_run(run_id: str, owner: UserArea, *, step: str = "main", given: str | None = None) -> str:
    """The caller's key if it is theirs (refused otherwise), else the one derived from the run.

    A resumed or retried run derives the same key, so it finds the job it already submitted.
    """
    return require_job_key(given, owner) if given else job_key(run_id, step, owner=owner)


class JobContext(BaseModel):
    """Who a job runs for, where, and as part of which workflow: what every step of it needs.

    The flow builds it once from its parameters and its run, then hands the same value to each
    task, so no task takes a dozen loose names that could be swapped. The owner's names and the
    job key are checked here, where they enter: a context whose key belongs to someone else
    cannot exist.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    organisation: Organisation
    user: Name
    project: str | None = Field(default=None, description="The project whose budget pays, besides "
                                                           "the organisation's.")
    workflow_id: str = Field(min_length=1, description="What budgets reserve under and job history "
                                                       "groups by: the workflow's run.")
    step: str = Field(default="main", min_length=1, description="The job's id in its workflow.")
    key: str = Field(description="The job key: names its directory, batch job and ledger lines.")
    site: str = Field(min_length=1, description="The centre the job runs on (its block name).")
    partition: str | None = None
    flow_run_id: str | None = Field(default=None, description="The run that stages, submits and "
                                                              "records this job.")
    billing: bool = Field(default=True, description="Reserve before submitting, charge after.")

    @model_validator(mode="after")
    def _key_belongs_to_owner(self) -> JobContext:
        require_job_key(self.key, self.area)
        return self

    @property
    def area(self) -> UserArea:
        return UserArea(organisation=self.organisation, user=self.user)

    @classmethod
    def for_run(cls, run_id: str, *, organisation: str, user: str, site: str, step: str = "main",
                job_key: str | None = None, project: str | None = None,
                partition: str | None = None, billing: bool = True,
                workflow_id: str | None = None) -> JobContext:
        """The context of job ``step`` of run ``run_id``; ``job_key`` overrides the derived key.

        ``workflow_id`` defaults to the run itself (a single job is its own workflow).
        """
        owner = UserArea(organisation=organisation, user=user)
        return cls(organisation=organisation, user=user, project=project,
                   workflow_id=workflow_id or run_id, step=step,
                   key=key_for_run(run_id, owner, step=step, given=job_key), site=site,
                   partition=partition, flow_run_id=run_id, billing=billing)


JOB_REPORT_NAME = "heroes-job.json"


class JobReport(BaseModel):
    """The durable account of one job: who, where, what, how it ended.

    It lives in HEROES' own area of the organisation's bucket, not beside the outputs in the
    user's home: retention removes a job directory on the strength of it, and accounting reads
    it, so the user who can write their home must not be able to forge or delete it.
    """

    key: str
    site: str
    organisation: str
    user: str
    spec: JobSpec
    status: JobStatus
    flow_run_id: str | None = None
    stage_in: TransferReport | None = None
    stage_out: TransferReport | None = None

    @classmethod
    def of(cls, context: JobContext, spec: JobSpec, status: JobStatus, *,
           stage_in: TransferReport | None = None,
           stage_out: TransferReport | None = None) -> JobReport:
        return cls(key=context.key, site=context.site, organisation=context.organisation,
                   user=context.user, spec=spec, status=status, flow_run_id=context.flow_run_id,
                   stage_in=stage_in, stage_out=stage_out)

    @property
    def area(self) -> UserArea:
        return UserArea(organisation=self.organisation, user=self.user)

    def object_key(self) -> str:
        """Where the report lives in the organisation's bucket: under ``_heroes/``, which no user
        path reaches, one folder per user and job."""
        return f"{HEROES_PREFIX}/jobs/{self.user}/{self.key}/{JOB_REPORT_NAME}"

    def outputs_prefix(self) -> str:
        """Where the job's outputs are, in the user's home."""
        return f"{self.user}/jobs/{self.key}/"


def _owner_tag(owner: UserArea) -> str:
    return _digest(f"{owner.organisation}/{owner.user}", 8)


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def job_directory(site: Site, area: UserArea, key: str) -> str:
    return f"{site.config.work_root.rstrip('/')}/{area.organisation}/{area.user}/{key}"


class SubmitResult(BaseModel):
    job_id: str
    reused: bool


def validate(site: Site, spec: JobSpec) -> None:
    """Fail fast, before any data moves: limits, partition, image digest."""
    site.check_limits(spec)
    partition = site.partition_for(spec)
    if partition:
        site.scheduler.require_partition(partition)
    verify_image(site.transport, spec.image, roots=site.image_roots)


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
    """The batch script: re-check the image digest, prepare it, run the container.

    Every line that carries a value is built from an argv by :func:`shell_join`:
    no value is ever pasted inside another quoted string.
    """
    image = spec.image
    argv = site.runtime.exec_argv(image, spec.command, job_dir, spec.env, site.image_cache_dir)
    check = shell_join(["printf", r"%s  %s\n", image.hex_digest, image.path])
    complaint = shell_join(["printf", r"HEROES: image %s does not match %s\n", image.path,
                            image.digest])
    lines = [
        "#!/bin/bash",
        "set -euo pipefail",
        f"# HEROES job {spec.name}",
        shell_join(["cd", "--", job_dir]),
        f"if ! {check} | sha256sum --check --status; then",
        f"  {complaint} >&2",
        "  exit 97",
        "fi",
        *site.runtime.prepare_lines(image, site.image_cache_dir, job_dir=job_dir, env=spec.env),
        *_limited(argv, site.output_limit_bytes(spec)),
        "",
    ]
    return "\n".join(lines)


OUTPUT_LIMIT_EXIT = 98
OUTPUT_LIMIT_MARK = ".heroes-output-limit"
_WATCH_SECONDS = 10


def _limited(argv: list[str], limit: int) -> list[str]:
    """Run the container so that it cannot write past ``limit`` bytes into its job directory.

    Two guards: no single file may grow past the limit (``ulimit -f``: the writer gets
    SIGXFSZ at once), and a watchdog measures the whole directory every few seconds and stops
    the container when it holds more, leaving a mark that the job ends with exit 98. So a
    runaway job stops near its limit instead of filling the centre's disk.
    """
    blocks = max(1, limit // 1024)  # bash counts ulimit -f in 1024-byte blocks
    stop = shell_join(["printf", r"HEROES: the job wrote %s bytes into its directory, past its output limit "
                                 r"of %s bytes: stopped\n"])
    too_big = shell_join(["printf", r"HEROES: the job tried to write a file larger than its output limit "
                                    r"of %s bytes: stopped\n", str(limit)])
    quiet = " </dev/null >/dev/null 2>&1"
    return [
        f"rm -f -- {OUTPUT_LIMIT_MARK}",
        f"( ulimit -f {blocks}; exec {shell_join(argv)} ) &",
        "heroes_child=$!",
        # the watchdog's sleeps hold no output open: killed, it must not keep the job's log busy
        "( set +e; while kill -0 \"$heroes_child\" 2>/dev/null; do sleep " + str(_WATCH_SECONDS) + quiet + ";"
        " used=$(du -sb . 2>/dev/null | cut -f1); if [ \"${used:-0}\" -gt " + str(limit) + " ]; then"
        f" {stop} \"$used\" {limit} >&2; echo \"$used\" > {OUTPUT_LIMIT_MARK};"
        " kill -TERM \"$heroes_child\" 2>/dev/null; sleep 10" + quiet + ";"
        " kill -KILL \"$heroes_child\" 2>/dev/null;"
        " fi; done ) &",
        "heroes_watchdog=$!",
        "set +e; wait \"$heroes_child\"; heroes_status=$?; set -e",
        "kill \"$heroes_watchdog\" 2>/dev/null || true",
        f"if [ -e {OUTPUT_LIMIT_MARK} ]; then exit {OUTPUT_LIMIT_EXIT}; fi",
        f"if [ \"$heroes_status\" -eq 153 ]; then {too_big} >&2; exit {OUTPUT_LIMIT_EXIT}; fi  # SIGXFSZ",
        "exit \"$heroes_status\"",
    ]


def submission_for(site: Site, spec: JobSpec, key: str, job_dir: str) -> JobSubmission:
    return JobSubmission(key=key, job_dir=job_dir, script=render_script(site, spec, job_dir),
                         partition=site.partition_for(spec), cores=spec.cores, nodes=spec.nodes,
                         memory_mb=spec.memory_mb, time_limit_minutes=spec.time_limit_minutes,
                         gpus=spec.gpus, gpu_type=spec.gpu_type, energy_policy=spec.energy_policy)


def find_job(site: Site, key: str) -> str | None:
    """The job already carrying ``key``, if any; extra copies are cancelled (see submit_once)."""
    found = site.scheduler.find(key)
    if len(found) > 1:
        site.scheduler.cancel(found[1:])
    return found[0] if found else None


def cancel_jobs(site: Site, key: str) -> list[str]:
    """Cancel every batch job carrying ``key``; the ids cancelled (none if nothing carried it)."""
    found = site.scheduler.find(key)
    site.scheduler.cancel(found)
    return found


def submit_once(site: Site, submission: JobSubmission, *, settle_s: float = 2.0,
                attempts: int = 5) -> SubmitResult:
    """Submit unless a job with this key exists; reconcile by key if the outcome is unknown.

    A dropped link and a command that timed out both leave the submission's fate
    unknown: the batch system may have the job, or may get it a moment later. The
    key is looked up again (a few times, ``settle_s`` apart) instead of submitting
    twice, and if two jobs ever carry the key the later ones are cancelled.
    """
    existing = find_job(site, submission.key)
    if existing:
        return SubmitResult(job_id=existing, reused=True)
    try:
        return SubmitResult(job_id=site.scheduler.submit(submission), reused=False)
    except (ConnectionLostError, CommandTimeoutError):
        for attempt in range(attempts):
            existing = find_job(site, submission.key)
            if existing:
                return SubmitResult(job_id=existing, reused=False)
            if attempt + 1 < attempts:
                time.sleep(settle_s)
        raise


def transfer_requester(context: JobContext) -> Requester:
    """Who a job's transfers are for: its owner, project, key and flow run."""
    return Requester(organisation=context.organisation, user=context.user, project=context.project,
                     job_key=context.key, flow_run_id=context.flow_run_id)


def stage_in(archive: S3Endpoint, centre: SFTPEndpoint, context: JobContext, spec: JobSpec,
             job_dir: str, *, log: TransferLog | None = None,
             on_progress: ProgressCallback | None = None, options: TransferOptions | None = None,
             rclone: Rclone | None = None) -> TransferReport | None:
    """Copy the job's inputs from the user's archive area into its job directory, verified and
    recorded in ``log``.

    Missing inputs are reported all at once, before any byte moves. If the copy
    or its verification fails, the partial inputs are removed from the centre.
    """
    if not spec.inputs:
        return None
    rclone = rclone or Rclone(archive, centre)
    destination = SFTPLocation(server=centre, path=job_dir)
    request = TransferRequest(requester=transfer_requester(context),
                              source=ArchiveLocation.of_user(archive, context.area),
                              destination=destination, files=spec.inputs,
                              options=options or TransferOptions())
    try:
        return transfer(request, log=log, on_progress=on_progress, rclone=rclone)
    except MissingSourceError:
        raise  # nothing moved
    except TransferError as exc:
        try:
            rclone.run(["delete", destination.rclone_path(rclone), "--files-from-raw", "-"],
                       stdin="".join(f"{name}\n" for name in spec.inputs))
        except TransferError as cleanup:
            exc.add_note(f"The partial inputs could not be removed from {destination.label}: "
                         f"{cleanup}")
        raise


def stage_out(archive: S3Endpoint, centre: SFTPEndpoint, context: JobContext, spec: JobSpec,
              job_dir: str, *, output_limit_bytes: int | None = None,
              log: TransferLog | None = None, on_progress: ProgressCallback | None = None,
              options: TransferOptions | None = None,
              rclone: Rclone | None = None) -> TransferReport:
    """Copy everything the job produced (logs included; inputs, the env file and links excluded)
    to its place in the archive, verified and recorded in ``log``.

    Outputs above ``output_limit_bytes`` are refused before any byte moves, with a
    :class:`~heroes_core.data.TransferLimitError` naming the job, the bytes found and the limit.
    """
    excludes = [_GLOB_SPECIALS.sub(r"\\\1", "/" + name) for name in [*spec.inputs, ENV_FILE_NAME]]
    request = TransferRequest(requester=transfer_requester(context),
                              source=SFTPLocation(server=centre, path=job_dir),
                              destination=ArchiveLocation.of_job(archive, context.area, context.key),
                              exclude=excludes, limit_bytes=output_limit_bytes,
                              options=options or TransferOptions())
    return transfer(request, log=log, on_progress=on_progress, rclone=rclone or Rclone(archive, centre))


class JobTracker:
    """Follows many jobs on one site with one query per round, whatever their number."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.since: datetime | None = None
        self.jobs: dict[str, JobStatus | None] = {}
        self.rounds = 0

    def track(self, job_id: str, submitted: datetime | None = None) -> None:
        """Follow ``job_id``, submitted at the aware instant ``submitted`` (default: now)."""
        if submitted is not None and submitted.utcoffset() is None:
            raise ValueError(f"submitted={submitted.isoformat()} has no time zone: give an "
                             "aware datetime (e.g. datetime.now(UTC))")
        self.jobs.setdefault(job_id, None)
        stamp = (submitted or datetime.now(UTC)).astimezone(UTC)
        self.since = min(self.since, stamp) if self.since else stamp

    def poll(self) -> dict[str, JobStatus]:
        """One round: query every job that is not final yet."""
        live = [i for i, s in self.jobs.items() if s is None or not s.state.is_final]
        if not live:
            return {}
        self.rounds += 1
        # An instant: the scheduler turns it into the centre's own terms (and adds a margin).
        statuses = self.site.scheduler.query(live, since=self.since)
        self.jobs.update(statuses)
        return statuses


def wait_for(site: Site, job_id: str, *, interval: float = 1.0, max_interval: float = 30.0,
             on_change: Callable[[JobStatus], None] | None = None,
             unknown_limit: int = 60, up_to_s: float | None = None) -> JobStatus:
    """Poll one job until it ends, or (``up_to_s``) until that long has passed: then its last
    status, not final, for the caller to wait some other way. The link may drop and come back
    meanwhile."""
    tracker = JobTracker(site)
    tracker.track(job_id)
    last: JobStatus | None = None
    unknown = 0
    delay = interval
    give_up = None if up_to_s is None else time.monotonic() + up_to_s
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
        if give_up is not None and time.monotonic() + delay > give_up:
            return status
        time.sleep(delay)
        delay = min(delay * 1.5, max_interval)
