"""Prefect tasks: the HEROES SDK for composing your own flows.

    from heroes.tasks import JobContext, prepare_job, stage_in, submit_job, wait_for_job, stage_out

Build one :class:`JobContext` per job (``JobContext.for_run(run_id, organisation=..., user=...,
site=...)``) and hand it to each step.
"""

from heroes.tasks.costs import commit_cost, estimate_cost, release_budget, reserve_budget
from heroes.tasks.data import transfer
from heroes.tasks.images import ensure_image
from heroes.tasks.jobs import (
    cancel_job,
    find_job,
    prepare_job,
    stage_in,
    stage_out,
    submit_job,
    wait_for_job,
)
from heroes.tasks.metering import archive_organisations, meter_storage, meter_transfers
from heroes.tasks.reports import JobReport, record_job
from heroes_core.jobs import JobContext

__all__ = [
    "JobContext",
    "JobReport",
    "archive_organisations",
    "cancel_job",
    "commit_cost",
    "ensure_image",
    "estimate_cost",
    "find_job",
    "meter_storage",
    "meter_transfers",
    "prepare_job",
    "record_job",
    "release_budget",
    "reserve_budget",
    "stage_in",
    "stage_out",
    "submit_job",
    "transfer",
    "wait_for_job",
]
