"""Prefect tasks for retention: which job directories a centre holds, and removing one once its
outputs are safe in the archive (:mod:`heroes_core.retention`)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from heroes.blocks import CentralArchive, HeroesDatabase, HPCCentre
from heroes.tasks.resolve import centre_endpoint, load_archive, load_centre, transfer_log
from heroes_core import jobs
from heroes_core.jobs import JobContext, JobReport
from heroes_core.retention import JobDirectory, Verdict, job_directories, remove_job_directory, verdict


@task(name="list-job-directories", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def list_job_directories(centre: HPCCentre | str) -> list[JobDirectory]:
    return job_directories(load_centre(centre).site())


@task(name="judge-job-directory", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[5, 30])
def judge_job_directory(archive: CentralArchive | str, centre: HPCCentre | str, directory: JobDirectory,
                        *, now: datetime, grace: timedelta) -> tuple[Verdict, JobReport | None]:
    """The directory's verdict, from the job record the archive holds for it."""
    block = load_archive(archive)
    client = block.s3_client()
    probe = JobReport.model_construct(user=directory.user, key=directory.key)
    try:
        body = client.get_object(Bucket=block.endpoint().bucket(directory.area),
                                 Key=probe.object_key())["Body"].read()
        report: JobReport | None = JobReport.model_validate(json.loads(body))
    except client.exceptions.NoSuchKey:
        report = None
    except client.exceptions.NoSuchBucket:
        report = None
    return verdict(directory, report, load_centre(centre).site_config().name, now=now, grace=grace), report


@task(name="retire-job-directory", cache_policy=NO_CACHE)
def retire_job_directory(archive: CentralArchive | str, centre: HPCCentre | str, report: JobReport,
                         directory: JobDirectory, database: HeroesDatabase | str | None) -> int:
    """Check-then-copy the directory to the archive once more (recorded), then remove it; the bytes
    the last copy moved (0 when the archive held everything)."""
    centre_block = load_centre(centre)
    context = JobContext(organisation=report.organisation, user=report.user,
                         workflow_id=report.flow_run_id or report.key, key=report.key, site=report.site,
                         flow_run_id=report.flow_run_id)
    last = jobs.stage_out(load_archive(archive).endpoint(), centre_endpoint(centre_block), context,
                          report.spec, directory.path, log=transfer_log(database))
    remove_job_directory(centre_block.site(), directory)
    get_run_logger().info("Removed %s (%d byte(s) copied first)", directory.path, last.bytes_transferred)
    return last.bytes_transferred
