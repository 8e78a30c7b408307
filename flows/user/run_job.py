"""The single-job user workflow: stage in -> submit -> poll -> stage out -> record.

The job key comes from the flow run's id, so retrying or resuming the same flow
run finds the job it already submitted. Cancelling the run in Prefect cancels
the batch job; a run that crashes leaves the job alone, for the resumed run to
pick up.
"""

from __future__ import annotations

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import FlowRun
from prefect.runtime import flow_run as current_run
from prefect.states import State

from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_CENTRE, DEFAULT_DATABASE
from heroes.flows.user.billing import reserve_or_pause
from heroes.tasks import (
    JobReport,
    commit_cost,
    estimate_cost,
    find_job,
    prepare_job,
    record_job,
    release_budget,
    stage_in,
    stage_out,
    submit_job,
    wait_for_job,
)
from heroes.tasks._context import load_archive, load_centre, load_database
from heroes_core.errors import JobFailedError
from heroes_core.jobs import job_key as derive_job_key
from heroes_core.jobs import require_job_key
from heroes_core.models import JobSpec, JobState, JobStatus, UserArea


def _key_for(area: UserArea, run_id: str, given: str | None) -> str:
    """The caller's key if it is theirs (refused otherwise), else one derived from the run."""
    return require_job_key(given, area) if given else derive_job_key(run_id, owner=area)


def _cancel_batch_job(flow: object, flow_run: FlowRun, state: State[object]) -> None:
    """on_cancellation hook: cancel every batch job carrying this run's key, free its budget."""
    params = flow_run.parameters
    site = load_centre(params.get("centre", DEFAULT_CENTRE)).site()
    area = UserArea(organisation=params.get("organisation", "demo"),
                    user=params.get("user", "scientist"))
    key = _key_for(area, str(flow_run.id), params.get("job_key"))
    found = site.scheduler.find(key)
    site.scheduler.cancel(found)
    get_run_logger().info("Cancelled batch job(s) %s on %s", ", ".join(found) or "(none)",
                          site.name)
    if params.get("billing", True):
        load_database(params.get("database", DEFAULT_DATABASE)).budgets().release(str(flow_run.id))


@flow(name="run-job", on_cancellation=[_cancel_batch_job], log_prints=True)
def run_job(
    spec: JobSpec,
    centre: str = DEFAULT_CENTRE,
    archive: str = DEFAULT_ARCHIVE,
    organisation: str = "demo",
    user: str = "scientist",
    poll_interval: float = 1.0,
    job_key: str | None = None,
    project: str | None = None,
    billing: bool = True,
    database: str = DEFAULT_DATABASE,
    budget_pause_timeout: int = 3600,
) -> JobStatus:
    """Run one containerised job on an HPC centre, with its data moved through the archive.

    Args:
        spec: what to run: image (path and sha256 digest), command, resources, inputs.
        centre: name of the HEROES HPC Centre block to run on.
        archive: name of the HEROES Central Archive block holding inputs and outputs.
        organisation: the user's organisation (its bucket and directory on the centre).
        user: the user (their area in the bucket and on the centre).
        poll_interval: seconds between status polls at first (backs off to 10 s).
        job_key: override the idempotency key (defaults to one derived from this run); it must
            be a key made for this organisation and user (``job_key(..., owner=...)``).
        project: the organisation's project whose budget (besides the organisation's) pays.
        billing: reserve the worst-case cost before submitting, charge the actual cost after.
        database: name of the HEROES Database block holding prices and budgets.
        budget_pause_timeout: seconds to wait for a billing admin when the budget is short.
    """
    area = UserArea(organisation=organisation, user=user)
    key = _key_for(area, str(current_run.id), job_key)
    centre_block = load_centre(centre)
    archive_block = load_archive(archive)
    site_name = centre_block.site_config().name

    workflow_id = str(current_run.id)
    database_block = load_database(database) if billing else None
    partition = centre_block.site().partition_for(spec) or "default"

    job_id = find_job(centre_block, key)
    job_dir = prepare_job(centre_block, spec, area, key, check=job_id is None)
    if database_block is not None:
        cost = estimate_cost(database_block, site_name, partition, spec)
        reserve_or_pause(database_block, area, project, workflow_id, cost,
                         pause_timeout=budget_pause_timeout, site=site_name, job_key=key)
    try:
        staged_in = None
        if job_id is None:
            staged_in = stage_in(archive_block, centre_block, spec, area, job_dir)
            job_id = submit_job(centre_block, spec, key, job_dir)
        status = wait_for_job(centre_block, job_id, key, poll_interval)
        try:  # outputs first: a billing error must not leave them on the centre only
            staged_out = stage_out(archive_block, centre_block, spec, area, key, job_dir)
            record_job(archive_block, JobReport(
                key=key, site=site_name, organisation=organisation, user=user, spec=spec,
                status=status, flow_run_id=workflow_id, stage_in=staged_in, stage_out=staged_out,
            ))
        finally:  # ... and a failed stage-out must not make the job free
            if database_block is not None:
                commit_cost(database_block, area, project, workflow_id, key, site_name, partition,
                            spec, status)
    finally:
        if database_block is not None:
            release_budget(database_block, workflow_id)
    if status.state is not JobState.COMPLETED:
        raise JobFailedError(f"job {status.job_id} ended {status.state.value}: {status.reason}",
                             site=site_name, fix="read slurm-<id>.out among the job's outputs")
    return status
