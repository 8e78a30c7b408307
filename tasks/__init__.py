"""Prefect tasks: the HEROES SDK for composing your own flows.

    from heroes.tasks import prepare_job, stage_in, submit_job, wait_for_job, stage_out
"""

from heroes.tasks.jobs import (
    cancel_job,
    find_job,
    prepare_job,
    stage_in,
    stage_out,
    submit_job,
    wait_for_job,
)
from heroes.tasks.records import JobRecord, record_job

__all__ = [
    "JobRecord",
    "cancel_job",
    "find_job",
    "prepare_job",
    "record_job",
    "stage_in",
    "stage_out",
    "submit_job",
    "wait_for_job",
]
