"""Prefect tasks: the HEROES SDK for composing your own flows.

    from heroes.tasks import prepare_job, stage_in, submit_job, wait_for_job, stage_out
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

__all__ = [
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
