"""Record what happened to a job where users and later modules can read it."""

from __future__ import annotations

import json

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from heroes.blocks import CentralArchive
from heroes.tasks._context import load_archive
from heroes_core.data import TransferReport
from heroes_core.models import JobSpec, JobStatus, UserArea


class JobReport(BaseModel):
    """The durable account of one job: who, where, what, and how it ended."""

    key: str
    site: str
    organisation: str
    user: str
    spec: JobSpec
    status: JobStatus
    flow_run_id: str | None = None
    stage_in: TransferReport | None = None
    stage_out: TransferReport | None = None


@task(name="record-job", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def record_job(archive: CentralArchive | str, record: JobReport) -> str:
    """Write the record next to the job's outputs (overwriting: re-runs never duplicate it)."""
    archive_block = load_archive(archive)
    endpoint = archive_block.endpoint()
    area = UserArea(organisation=record.organisation, user=record.user)
    bucket = endpoint.bucket(area)
    key = f"{area.user}/jobs/{record.key}/heroes-job.json"
    archive_block.s3_client().put_object(Bucket=bucket, Key=key,
                                         Body=json.dumps(record.model_dump(mode="json"), indent=2))
    status = record.status
    create_table_artifact(
        key=f"job-record-{record.key}",
        table=[{"site": record.site, "job id": status.job_id, "state": status.state.value,
                "reason": status.reason, "outputs": f"s3://{bucket}/{area.user}/jobs/{record.key}/"}],
        description=f"HEROES job {record.key}: final record",
    )
    get_run_logger().info("Recorded job %s at s3://%s/%s", record.key, bucket, key)
    return f"s3://{bucket}/{key}"
