"""The single-job user workflow: stage in -> submit -> poll -> stage out -> record.

The job key comes from the flow run's id, so retrying or resuming the same flow
run finds the job it already submitted. Cancelling the run in Prefect cancels
the batch job; a run that crashes leaves the job alone, for the resumed run to
pick up.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import FlowRun, State
from prefect.exceptions import Pause
from prefect.runtime import flow_run as current_run

from heroes.blocks import HPCCentre
from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_CENTRE, DEFAULT_DATABASE
from heroes.flows.user.billing import reserve_or_pause
from heroes.flows.user.waiting import IN_PROCESS_WAIT_S, in_process_limit, suspend_until_done
from heroes.tasks import (
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
from heroes.tasks.accounting import account_job, choose_energy_policy
from heroes.tasks.applications import charge_licence
from heroes.tasks.resolve import load_archive, load_centre, load_database
from heroes_core.errors import JobFailedError
from heroes_core.jobs import JobContext, JobReport, cancel_jobs
from heroes_core.logs import bind, job_log_context
from heroes_core.models import JobSpec, JobState, JobStatus

DEFAULT_ORGANISATION = "demo"
DEFAULT_USER = "scientist"


def cancel_run(flow_run_id: str, *, organisation: str, user: str, centre: str,
               job_key: str | None = None, billing: bool = True, database: str = DEFAULT_DATABASE) -> None:
    """Cancel every batch job carrying this run's key and free its budget (a cancellation hook's work)."""
    context = JobContext.for_run(flow_run_id, organisation=organisation, user=user, site=centre,
                                 job_key=job_key, billing=billing)
    site = load_centre(context.site).site()
    found = cancel_jobs(site, context.key)
    get_run_logger().info("Cancelled batch job(s) %s on %s", ", ".join(found) or "(none)",
                          site.name)
    if context.billing:
        load_database(database).budgets().release(context.workflow_id)


def _cancel_batch_job(flow: object, flow_run: FlowRun, state: State[object]) -> None:
    """on_cancellation hook: cancel every batch job carrying this run's key, free its budget."""
    params = flow_run.parameters
    cancel_run(str(flow_run.id), organisation=params.get("organisation", DEFAULT_ORGANISATION),
               user=params.get("user", DEFAULT_USER), centre=params.get("centre", DEFAULT_CENTRE),
               job_key=params.get("job_key"), billing=params.get("billing", True),
               database=params.get("database", DEFAULT_DATABASE))


@flow(name="run-job-direct", on_cancellation=[_cancel_batch_job], log_prints=True)
def run_job(
    spec: JobSpec,
    centre: str = DEFAULT_CENTRE,
    archive: str = DEFAULT_ARCHIVE,
    organisation: str = DEFAULT_ORGANISATION,
    user: str = DEFAULT_USER,
    poll_interval: float = 1.0,
    job_key: str | None = None,
    project: str | None = None,
    billing: bool = True,
    database: str = DEFAULT_DATABASE,
    budget_pause_timeout: int = 3600,
    licence_offering: int | None = None,
    application: str | None = None,
    application_version: str | None = None,
    wait_in_process_s: float | None = IN_PROCESS_WAIT_S,
) -> JobStatus:
    """Run one containerised job on an HPC centre, with its data moved through the archive.

    Every parameter is the caller's word, owner and billing included: this flow is for tests,
    admins and Python code run in-process, which hold the credentials it uses anyway. Users
    start the ``run-job`` deployment, whose flow (:func:`heroes.flows.user.entry.run_job_granted`)
    takes who runs it from a grant.

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
        licence_offering: the price book offering of the licence of the application the job
            runs, charged beside the compute (a workflow's catalogue job).
        application: what the job's accounting and the predictors file it under (default: the
            job's name); application_version: its catalogue version, if it has one.
        wait_in_process_s: how long to poll the job from this process before suspending the run
            until it ends (a run of a deployment only; None: never suspend).
    """
    return execute_job(str(current_run.id), spec, centre=centre, archive=archive,
                       organisation=organisation, user=user, poll_interval=poll_interval,
                       job_key=job_key, project=project, billing=billing, database=database,
                       budget_pause_timeout=budget_pause_timeout, licence_offering=licence_offering,
                       application=application, application_version=application_version,
                       wait_in_process_s=wait_in_process_s)


def execute_job(run_id: str, spec: JobSpec, *, centre: str, archive: str, organisation: str, user: str,
                poll_interval: float, job_key: str | None, project: str | None, billing: bool,
                database: str, budget_pause_timeout: int, licence_offering: int | None = None,
                application: str | None = None, application_version: str | None = None,
                wait_in_process_s: float | None = IN_PROCESS_WAIT_S) -> JobStatus:
    """The steps of a job run, inside the calling flow: the job key and budget are ``run_id``'s.

    ``licence_offering``: the price book offering of the application's licence, charged beside
    the compute (a job run by application name, :mod:`heroes.flows.user.applications`).
    ``application`` (default: the job's name) and ``application_version``: what the job's
    accounting record names it.
    """
    centre_block = load_centre(centre)
    context = JobContext.for_run(
        run_id, organisation=organisation, user=user,
        site=centre_block.site_config().name, job_key=job_key, project=project, billing=billing,
        partition=centre_block.site().partition_for(spec))
    with job_log_context(context):  # every record below carries the job's HEROES fields
        return _run_steps(context, spec, centre_block, archive, database, billing=billing,
                          poll_interval=poll_interval, budget_pause_timeout=budget_pause_timeout,
                          licence_offering=licence_offering, application=application,
                          application_version=application_version, wait_in_process_s=wait_in_process_s)


def _run_steps(context: JobContext, spec: JobSpec, centre_block: HPCCentre, archive: str, database: str, *,
               billing: bool, poll_interval: float, budget_pause_timeout: int, licence_offering: int | None,
               application: str | None, application_version: str | None,
               wait_in_process_s: float | None) -> JobStatus:
    """Reserve, stage in, submit, wait, stage out, record, charge, release, account: the job id and
    its outcome join the log fields as soon as they are known. A long wait suspends the run
    (:mod:`heroes.flows.user.waiting`): the reservation stays with the job meanwhile."""
    archive_block = load_archive(archive)
    database_block = load_database(database) if billing else None
    spec = choose_energy_policy(database, context, spec)

    job_id = find_job(centre_block, context.key)
    job_dir = prepare_job(centre_block, context, spec, check=job_id is None)
    if database_block is not None:
        cost = estimate_cost(database_block, context, spec)
        reserve_or_pause(database_block, context, cost, pause_timeout=budget_pause_timeout)
    suspending = False
    try:
        staged_in = None
        if job_id is None:
            staged_in = stage_in(archive_block, centre_block, context, spec, job_dir, database)
            job_id = submit_job(centre_block, context, spec, job_dir)
        bind(job_id=job_id)
        status = wait_for_job(centre_block, context, job_id, poll_interval,
                              up_to_s=in_process_limit(wait_in_process_s))
        if not status.state.is_final:
            try:
                suspend_until_done(database, context, status)
            except Pause:
                suspending = True
                raise
            status = wait_for_job(centre_block, context, job_id, poll_interval)
        try:  # outputs first: a billing error must not leave them on the centre only
            staged_out = stage_out(archive_block, centre_block, context, spec, job_dir, database)
            record_job(archive_block, JobReport.of(context, spec, status, stage_in=staged_in,
                                                   stage_out=staged_out))
        finally:  # ... and a failed stage-out must not make the job free
            if database_block is not None:
                commit_cost(database_block, context, spec, status)
                if licence_offering is not None:
                    charge_licence(database_block, context, spec, status, licence_offering)
    finally:
        if database_block is not None and not suspending:
            release_budget(database_block, context)
    bind(outcome="success" if status.state is JobState.COMPLETED else "failure")
    accounted = account_job(database, centre_block, context, spec, status, job_dir,
                            application=application or spec.name, application_version=application_version,
                            return_state=True)
    if not accounted.is_completed():  # its outputs are archived and its cost charged: the run goes on
        get_run_logger().warning("Job %s was not accounted: %s", context.key, accounted.message)
    if status.state is not JobState.COMPLETED:
        output = PurePosixPath(centre_block.site().scheduler.output_path(job_dir, status.job_id)).name
        raise JobFailedError(f"job {status.job_id} ended {status.state.value}: {status.reason}",
                             site=context.site, fix=f"read {output} among the job's outputs")
    return status
