"""Prefect tasks for the steps of one job; scientists can call them from their own flows.

Each task is a thin wrapper over :mod:`heroes_core.jobs`, which makes every step
idempotent by the job key. Retries with back-off cover transient link failures;
errors that retrying cannot fix (bad input, refused host key) are not retried.
"""

from __future__ import annotations

from datetime import datetime

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State

from heroes.blocks import CentralArchive, HeroesDatabase, HPCCentre
from heroes.blocks.defaults import DEFAULT_DATABASE
from heroes.tasks.artifacts import artifact_key
from heroes.tasks.data import ProgressReporter
from heroes.tasks.resolve import centre_endpoint, load_archive, load_centre, project_database, transfer_log
from heroes_core import jobs
from heroes_core.data import Archive, ArchivePath, Area, Quotas, TransferOptions, TransferReport
from heroes_core.data.centre_quota import check_centre_quota
from heroes_core.errors import CommandTimeoutError, ConnectionLostError
from heroes_core.jobs import JobContext
from heroes_core.models import JobSpec, JobStatus


def _retry_transient(task: object, task_run: object, state: State[object]) -> bool:
    """Retry a link that dropped or a command that timed out; fail fast on anything else.

    Bad input, refused keys, unreachable hosts and programming errors are not
    retried here: the transport already reconnects with back-off, and rclone
    retries its own transient errors, so a second attempt would only delay the
    message.
    """
    try:
        state.result()
    except (ConnectionLostError, CommandTimeoutError):
        return True
    except Exception:
        return False
    return False


@task(name="prepare-job", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10],
      retry_condition_fn=_retry_transient)
def prepare_job(centre: HPCCentre | str, context: JobContext, spec: JobSpec,
                check: bool = True) -> str:
    """Check limits, partition and image digest, then make the job directory (0700).

    ``check=False`` is for a resumed run whose job already exists: the image was
    checked before it was submitted, and a republished image must not now keep
    its outputs from being staged out.
    """
    site = load_centre(centre).site()
    if check:
        jobs.validate(site, spec)
    job_dir = jobs.ensure_job_directory(site, context.area, context.key)
    get_run_logger().info("Job %s will run in %s on %s", context.key, job_dir, site.name)
    return job_dir


@task(name="stage-in", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=_retry_transient)
def stage_in(archive: CentralArchive | str, centre: HPCCentre | str, context: JobContext,
             spec: JobSpec, job_dir: str, database: HeroesDatabase | str | None = DEFAULT_DATABASE,
             options: TransferOptions | None = None) -> TransferReport | None:
    """Copy the job's inputs from the archive to the centre, verified, shown and recorded.

    Refused first, with the numbers, if they would take the user's or organisation's job area on
    the centre past its quota. ``database``: where the transfer is recorded and the quotas are
    (None: the default project database).
    """
    archive_endpoint = load_archive(archive).endpoint()
    if spec.inputs:  # the user's job area on the centre must have room for them, or nothing moves
        home = Area.home(context.organisation, context.user)
        incoming = sum(item.size for name in spec.inputs
                       for item in Archive(archive_endpoint).files(ArchivePath(area=home, path=name)))
        check_centre_quota(Quotas(project_database(database)), load_centre(centre).site(), context.area,
                           incoming, what=f"staging in the inputs of job {context.key}")
    reporter = ProgressReporter(f"Stage-in of job {context.key}",
                                key=artifact_key("stage-in", context.key))
    report = jobs.stage_in(archive_endpoint, centre_endpoint(centre), context, spec,
                           job_dir, log=transfer_log(database), on_progress=reporter,
                           options=options)
    if report:
        reporter.finished(report)
    return report


@task(name="find-job", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[2, 10, 30],
      retry_condition_fn=_retry_transient)
def find_job(centre: HPCCentre | str, key: str) -> str | None:
    """The job already submitted under this key, if any (how a resumed run finds its job)."""
    return jobs.find_job(load_centre(centre).site(), key)


@task(name="submit-job", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=_retry_transient)
def submit_job(centre: HPCCentre | str, context: JobContext, spec: JobSpec, job_dir: str) -> str:
    """Submit the job once: a job already carrying the key is reused, never duplicated."""
    site = load_centre(centre).site()
    result = jobs.submit_once(site, jobs.submission_for(site, spec, context.key, job_dir))
    verb = "Found existing" if result.reused else "Submitted"
    get_run_logger().info("%s job %s on %s (key %s)", verb, result.job_id, site.name, context.key)
    return result.job_id


def _progress_row(site: str, status: JobStatus) -> dict[str, str]:
    def stamp(value: datetime | None) -> str:
        return value.isoformat(sep=" ") if value else ""
    return {"site": site, "job id": status.job_id, "state": status.state.value,
            "reason": status.reason, "submitted": stamp(status.submit_time),
            "started": stamp(status.start_time), "ended": stamp(status.end_time),
            "exit code": "" if status.exit_code is None else str(status.exit_code)}


@task(name="wait-for-job", cache_policy=NO_CACHE, retries=3, retry_delay_seconds=[5, 30, 60],
      retry_condition_fn=_retry_transient)
def wait_for_job(centre: HPCCentre | str, context: JobContext, job_id: str,
                 poll_interval: float = 1.0, up_to_s: float | None = None) -> JobStatus:
    """Poll until the job ends (or ``up_to_s`` passed: its status then, not final), logging each
    change and keeping a progress table artifact."""
    site = load_centre(centre).site()
    logger = get_run_logger()
    history: list[dict[str, str]] = []

    def report(status: JobStatus) -> None:
        logger.info("Job %s on %s is %s (%s)", status.job_id, site.name, status.state.value,
                    status.reason)
        history.append(_progress_row(site.name, status))
        create_table_artifact(key=f"job-{context.key}", table=history,
                              description=f"Progress of HEROES job {context.key} on {site.name}")

    return jobs.wait_for(site, job_id, interval=poll_interval, max_interval=max(poll_interval, 10.0),
                         on_change=report, up_to_s=up_to_s)


@task(name="stage-out", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=_retry_transient)
def stage_out(archive: CentralArchive | str, centre: HPCCentre | str, context: JobContext,
              spec: JobSpec, job_dir: str, database: HeroesDatabase | str | None = DEFAULT_DATABASE,
              output_limit_bytes: int | None = None,
              options: TransferOptions | None = None) -> TransferReport:
    """Copy what the job produced (logs included) to the archive, verified, shown and recorded.

    ``output_limit_bytes``: refuse, before any byte moves, outputs above it (None: the job's
    output limit on this centre, ``Site.output_limit_bytes``). ``database``: where the transfer is
    recorded (None: the default project database).
    """
    if output_limit_bytes is None:
        output_limit_bytes = load_centre(centre).site().output_limit_bytes(spec)
    archive_block = load_archive(archive)
    archive_block.ensure_bucket(context.organisation)
    reporter = ProgressReporter(f"Stage-out of job {context.key}",
                                key=artifact_key("stage-out", context.key))
    report = jobs.stage_out(archive_block.endpoint(), centre_endpoint(centre), context, spec,
                            job_dir, output_limit_bytes=output_limit_bytes,
                            log=transfer_log(database), on_progress=reporter, options=options)
    reporter.finished(report)
    return report


@task(name="cancel-job", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def cancel_job(centre: HPCCentre | str, key: str) -> list[str]:
    """Cancel every job carrying this key."""
    return jobs.cancel_jobs(load_centre(centre).site(), key)
