"""The user-facing flows: the ``run-job``, ``run-application``, ``run-workflow``, ``publish-application``,
``unpublish-application`` and ``billing-report`` deployments.

Each takes a ``grant`` and only the parameters a user may choose: no organisation, user or
project (they come from the grant), no billing switch (always on), no database, archive,
catalogue or job key (HEROES' defaults). Before its first step it admits the run
(:func:`heroes.flows.user.admission.admit`), then runs the same steps as the full-parameter
flows (``run_job``, ``run_workflow``, ``billing_report``), which stay for tests, admins and
Python code run in-process.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import FlowRun, State
from prefect.runtime import flow_run as current_run

from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_CATALOG, DEFAULT_CENTRE, DEFAULT_DATABASE
from heroes.flows.architecture.accounting import report_usage
from heroes.flows.architecture.budgets import report_billing
from heroes.flows.user.admission import admit, admitted_grant
from heroes.flows.user.applications import execute_application, execute_publication, execute_unpublication
from heroes.flows.user.run_job import cancel_run, execute_job
from heroes.flows.user.run_workflow import execute_workflow
from heroes.flows.user.waiting import IN_PROCESS_WAIT_S
from heroes.tasks.cloud_nodes import release_cloud_nodes_hook
from heroes_core.catalog import ApplicationVersion, PublicationTarget
from heroes_core.catalog.functional_test import FunctionalTest
from heroes_core.catalog.runs import AppJob
from heroes_core.decision.metadata import UsageSummary
from heroes_core.identity import Action
from heroes_core.models import JobSpec, JobStatus
from heroes_core.workflows import WorkflowSpec

RUN_JOB: Final = "run-job"
RUN_APPLICATION: Final = "run-application"
RUN_WORKFLOW: Final = "run-workflow"
PUBLISH_APPLICATION: Final = "publish-application"
UNPUBLISH_APPLICATION: Final = "unpublish-application"
BILLING_REPORT: Final = "billing-report"
USAGE_SUMMARY: Final = "usage-summary"

# The flows that take a grant, by flow name, and the action a grant for them authorises:
# the gateway issues grants for deployments of these flows only.
GRANTED_FLOWS: Final[Mapping[str, Action]] = MappingProxyType({
    RUN_JOB: Action.SUBMIT_WORKFLOW, RUN_APPLICATION: Action.SUBMIT_WORKFLOW,
    RUN_WORKFLOW: Action.SUBMIT_WORKFLOW, PUBLISH_APPLICATION: Action.PUBLISH_APPLICATION,
    UNPUBLISH_APPLICATION: Action.PUBLISH_APPLICATION, BILLING_REPORT: Action.BILLING,
    USAGE_SUMMARY: Action.BILLING})


def _cancel_granted_job(flow: object, flow_run: FlowRun, state: State[object]) -> None:
    """on_cancellation hook: as ``run_job``'s, for the owner the run was admitted with."""
    grant = admitted_grant(flow_run)
    if grant is None:
        get_run_logger().info("The run was never admitted: nothing to cancel")
        return
    cancel_run(str(flow_run.id), organisation=grant.identity.organisation, user=grant.identity.user,
               centre=flow_run.parameters.get("centre", DEFAULT_CENTRE))


@flow(name=RUN_JOB, on_cancellation=[_cancel_granted_job], log_prints=True)
def run_job_granted(
    spec: JobSpec,
    grant: str = "",
    centre: str = DEFAULT_CENTRE,
    poll_interval: float = 1.0,
    budget_pause_timeout: int = 3600,
    wait_in_process_s: float | None = IN_PROCESS_WAIT_S,
) -> JobStatus:
    """Run one containerised job on an HPC centre, with its data moved through the archive.

    Args:
        spec: what to run: image (path and sha256 digest), command, resources, inputs.
        grant: filled in by the HEROES gateway when it launches the run; a run without it
            fails at entry.
        centre: name of the HEROES HPC Centre block to run on.
        poll_interval: seconds between status polls at first (backs off to 10 s).
        budget_pause_timeout: seconds to wait for a billing admin when the budget is short.
        wait_in_process_s: how long this run polls the job itself; past that it is suspended
            (no process) until the job ends. None: never suspend.
    """
    admitted = admit(grant, GRANTED_FLOWS[RUN_JOB])
    return execute_job(str(current_run.id), spec, centre=centre, archive=DEFAULT_ARCHIVE,
                       organisation=admitted.identity.organisation, user=admitted.identity.user,
                       poll_interval=poll_interval, job_key=None, project=admitted.project, billing=True,
                       database=DEFAULT_DATABASE, budget_pause_timeout=budget_pause_timeout,
                       wait_in_process_s=wait_in_process_s)


@flow(name=RUN_APPLICATION, on_cancellation=[_cancel_granted_job], log_prints=True)
def run_application_granted(
    job: AppJob,
    grant: str = "",
    centre: str = DEFAULT_CENTRE,
    poll_interval: float = 1.0,
    budget_pause_timeout: int = 3600,
) -> JobStatus:
    """Run an application from the catalogue by name, version and parameters.

    Args:
        job: the application, its version (or tag), its parameters (checked against its
            schema), and the resources the job asks for.
        grant: filled in by the HEROES gateway when it launches the run; a run without it
            fails at entry.
        centre: name of the HEROES HPC Centre block to run on.
        poll_interval: seconds between status polls at first (backs off to 10 s).
        budget_pause_timeout: seconds to wait for a billing admin when the budget is short.
    """
    admitted = admit(grant, GRANTED_FLOWS[RUN_APPLICATION])
    return execute_application(str(current_run.id), job, centre=centre, archive=DEFAULT_ARCHIVE,
                               organisation=admitted.identity.organisation, user=admitted.identity.user,
                               project=admitted.project, database=DEFAULT_DATABASE,
                               poll_interval=poll_interval, budget_pause_timeout=budget_pause_timeout)


@flow(name=PUBLISH_APPLICATION, log_prints=True)
def publish_application_granted(
    application: str,
    version: str,
    targets: list[PublicationTarget],
    licence_terms: str,
    price_offering: str,
    test: FunctionalTest,
    grant: str = "",
    centre: str = DEFAULT_CENTRE,
    licence_seats: int | None = None,
) -> ApplicationVersion:
    """Run a version's functional test on the platform, then publish it if it passed.

    Args:
        application: an application of your organisation.
        version: the version (or tag) to test and publish.
        targets: who may run it: projects, organisations, or everyone.
        licence_terms: the terms users accept by running it.
        price_offering: the licence fee's business model in the price book (your organisation's).
        test: parameters and inputs to run it with, and the outputs that prove it works.
        grant: filled in by the HEROES gateway when it launches the run.
        centre: the HPC Centre block the test runs on.
        licence_seats: runs one workflow may hold at once under the licence (none: unlimited).
    """
    admitted = admit(grant, GRANTED_FLOWS[PUBLISH_APPLICATION])
    return execute_publication(str(current_run.id), application, version, targets=targets,
                               licence_terms=licence_terms, price_offering=price_offering, test=test,
                               centre=centre, archive=DEFAULT_ARCHIVE,
                               organisation=admitted.identity.organisation, user=admitted.identity.user,
                               project=admitted.project, database=DEFAULT_DATABASE,
                               licence_seats=licence_seats)


@flow(name=UNPUBLISH_APPLICATION, log_prints=True)
def unpublish_application_granted(application: str, version: str, target: PublicationTarget,
                                  grant: str = "") -> ApplicationVersion:
    """Stop offering a version to one target (runs already started finish).

    Args:
        application: an application of your organisation.
        version: the version (or tag).
        target: the project, organisation or everyone to withdraw it from.
        grant: filled in by the HEROES gateway when it launches the run.
    """
    admitted = admit(grant, GRANTED_FLOWS[UNPUBLISH_APPLICATION])
    return execute_unpublication(application, version, target, organisation=admitted.identity.organisation,
                                 user=admitted.identity.user, database=DEFAULT_DATABASE)


@flow(name=RUN_WORKFLOW, log_prints=True, on_failure=[release_cloud_nodes_hook],
      on_crashed=[release_cloud_nodes_hook], on_cancellation=[release_cloud_nodes_hook])
def run_workflow_granted(
    workflow: WorkflowSpec,
    grant: str = "",
    centres: list[str] | None = None,
    auto_accept: bool = False,
    auto_move: bool = False,
    move_margin: float = 0.2,
    solver_time_limit_s: float = 10.0,
    decision_timeout: int = 3600,
    poll_interval: float = 1.0,
) -> dict[str, JobStatus]:
    """Place a DAG of jobs across centres to meet the organisation's goals, then run it.

    Args:
        workflow: the jobs, the files on their edges, goals and limits.
        grant: filled in by the HEROES gateway when it launches the run; a run without it
            fails at entry.
        centres: HPC Centre blocks the jobs may be placed on (default: the platforms your organisation
            allows, else the default centres); the organisation's decision policy fences them.
        auto_accept: run the proposed placement without pausing for a decision.
        auto_move: take a better plan found before a later wave without asking.
        move_margin: how much better (relatively, in the workflow's strategy) a new plan must be
            before it is proposed.
        solver_time_limit_s: time the placement solver may take.
        decision_timeout: seconds to wait for the placement decision.
        poll_interval: seconds between status polls at first.
    """
    admitted = admit(grant, GRANTED_FLOWS[RUN_WORKFLOW])
    return execute_workflow(
        str(current_run.id), workflow, organisation=admitted.identity.organisation,
        user=admitted.identity.user, project=admitted.project, centres=centres, archive=DEFAULT_ARCHIVE,
        database=DEFAULT_DATABASE, catalog=DEFAULT_CATALOG, auto_accept=auto_accept, auto_move=auto_move,
        move_margin=move_margin, solver_time_limit_s=solver_time_limit_s,
        decision_timeout=decision_timeout, poll_interval=poll_interval)


@flow(name=BILLING_REPORT)
def billing_report_granted(grant: str = "", by: list[str] | None = None) -> str:
    """Consolidate the ledger of the caller's organisation, show it as a table, export it as CSV.

    Args:
        grant: filled in by the HEROES gateway when it launches the run; a run without it
            fails at entry.
        by: dimensions to group by (project, user, site, month by default).
    """
    admitted = admit(grant, GRANTED_FLOWS[BILLING_REPORT])
    return report_billing(admitted.identity.organisation, database=DEFAULT_DATABASE,
                          archive=DEFAULT_ARCHIVE, by=by)


@flow(name=USAGE_SUMMARY)
def usage_summary_granted(grant: str = "", days: int = 30) -> UsageSummary:
    """Your organisation's jobs per day, core-hours, energy (measured and modelled apart) and most
    used applications over the last ``days``, as table artifacts.

    Args:
        grant: filled in by the HEROES gateway when it launches the run; a run without it
            fails at entry.
        days: how many days back to summarise (1-366).
    """
    admitted = admit(grant, GRANTED_FLOWS[USAGE_SUMMARY])
    return report_usage(admitted.identity.organisation, database=DEFAULT_DATABASE, archive=DEFAULT_ARCHIVE,
                        days=days)


__all__ = [
    "BILLING_REPORT",
    "GRANTED_FLOWS",
    "PUBLISH_APPLICATION",
    "RUN_APPLICATION",
    "RUN_JOB",
    "RUN_WORKFLOW",
    "UNPUBLISH_APPLICATION",
    "USAGE_SUMMARY",
    "billing_report_granted",
    "publish_application_granted",
    "run_application_granted",
    "run_job_granted",
    "run_workflow_granted",
    "unpublish_application_granted",
    "usage_summary_granted",
]
