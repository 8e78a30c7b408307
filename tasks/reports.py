"""Record what happened to a job where users and later modules can read it."""

from __future__ import annotations

import json

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from heroes.blocks import CentralArchive
from heroes.tasks.resolve import load_archive
from heroes_core.jobs import JobReport


@task(name="record-job", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def record_job(archive: CentralArchive | str, record: JobReport) -> str:
    """Write the record in HEROES' area (overwriting: re-runs never duplicate it)."""
    archive_block = load_archive(archive)
    bucket = archive_block.endpoint().bucket(record.area)
    key = record.object_key()
    archive_block.s3_client().put_object(Bucket=bucket, Key=key,
                                         Body=json.dumps(record.model_dump(mode="json"), indent=2))
    status = record.status
    outputs = record.outputs_prefix()
    create_table_artifact(
        key=f"job-record-{record.key}",
        table=[{"site": record.site, "job id": status.job_id, "state": status.state.value,
                "reason": status.reason, "outputs": f"s3://{bucket}/{outputs}"}],
        description=f"HEROES job {record.key}: final record",
    )
    get_run_logger().info("Recorded job %s at s3://%s/%s", record.key, bucket, key)
    return f"s3://{bucket}/{key}"


__all__ = ["JobReport", "record_job"]
