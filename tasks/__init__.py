"""Prefect tasks: the HEROES SDK for composing your own flows.

    from heroes.tasks import JobContext, prepare_job, stage_in, submit_job, wait_for_job, stage_out

Build one :class:`JobContext` per job (``JobContext.for_run(run_id, organisation=..., user=...,
site=...)``) and hand it to each step.
"""

from heroes.tasks.costs import commit_cost, estimate_cost, release_budget, reserve_budget
from heroes.tasks.jobs import (
    cancel_job,
    find_job,
    prepare_job,
    stage_in,
    stage_out,
    submit_job,
    wait_for_job,
)
from heroes.tasks.reports import JobReport, record_job
from heroes_core.jobs import JobContext

__all__ = [
    "JobContext",
    "JobReport",
    "cancel_job",
    "commit_cost",
    "estimate_cost",
    "find_job",
    "prepare_job",
    "record_job",
    "release_budget",
    "reserve_budget",
    "stage_in",
    "stage_out",
    "submit_job",
    "wait_for_job",
]
