"""The multi-job user workflow: plan, let the user decide, run the DAG, compare with the plan.

1. plan: check every catalogue application the jobs name (published to the caller,
   parameters valid) and its licence price, then predict, price and place every job in one
   integer program (decision module);
2. decide: show the placement as a table and pause for the user to accept it or move
   jobs (an organisation can auto-accept); a move that breaks a constraint is refused
   with the reason and the user is asked again;
3. run: jobs wave by wave, independent jobs in parallel, each through ``run_job``
   (so each is staged, billed and recorded like a single job); a child reads its
   parents' outputs from the archive, so it may run on another centre; a job that names a
   catalogue application gets its image on the chosen centre first and pays its licence;
4. before each later wave, re-plan the jobs still to run on today's predictions, queues, budget
   and energy left, under the same goals; a plan better by more than a margin (or one that must
   replace a plan that no longer holds) is put to the user (pause), or taken with ``auto_move``;
5. end with a predicted-vs-actual summary, and learn from every job.
"""

from __future__ import annotations

import math
import time
from decimal import Decimal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run as current_run
from pydantic import BaseModel, ConfigDict, Field

from heroes.blocks import ApplicationCatalog
from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_CATALOG, DEFAULT_DATABASE
from heroes.flows.user.cloud_placement import WorkflowClouds
from heroes.flows.user.run_job import DEFAULT_ORGANISATION, DEFAULT_USER, run_job
from heroes.tasks import ensure_image
from heroes.tasks.applications import licence_offering, resolve_application
from heroes.tasks.artifacts import artifact_key
from heroes.tasks.cloud_nodes import release_cloud_nodes_hook, release_workflow_nodes
from heroes.tasks.decision import (
    Licences,
    PlanningContext,
    plan_workflow,
    record_prediction,
    replan_workflow,
)
from heroes.tasks.resolve import load_archive, load_block, load_centre, load_database
from heroes_core.catalog import Catalog
from heroes_core.catalog.runs import ResolvedApp
from heroes_core.costs import Ledger, PriceBook
from heroes_core.decision.learning import actual_cost
from heroes_core.decision.metadata import MetadataStore
from heroes_core.decision.proposal import (
    Assignment,
    OverrideRefused,
    Plan,
    apply_overrides,
    describe_violations,
)
from heroes_core.decision.replanning import placements
from heroes_core.errors import HeroesError, JobFailedError, SpecError
from heroes_core.jobs import JobContext
from heroes_core.logs import log_context
from heroes_core.models import JobStatus, UserArea
from heroes_core.workflows import WorkflowSpec


class PlacementDecision(RunInput):
    """The user's answer to a proposed placement."""

    accept: bool = Field(default=True, description="Run with this placement (after any overrides).")
    overrides: dict[str, str] = Field(
        default_factory=dict, description="Job id -> centre to run it on instead of the proposal.")


class PlacementError(HeroesError):
    """No placement meets the workflow's constraints, or the user declined it."""


def _choose(plan: Plan, *, auto_accept: bool, timeout: int) -> Assignment:
    """job -> option index, after the user's decision (or the organisation's auto-accept)."""
    if auto_accept:
        return plan.assignment()
    logger = get_run_logger()
    for attempt in range(1, 11):
        decision = pause_flow_run(wait_for_input=PlacementDecision, timeout=timeout,
                                  key=f"placement-{attempt}")
        if not decision.accept:
            raise PlacementError("the user declined the proposed placement", site="decision")
        try:
            return apply_overrides(plan, decision.overrides)
        except OverrideRefused as exc:
            logger.warning("Override refused: %s", exc.detail)
    raise PlacementError("no acceptable placement after 10 answers", site="decision")


class ReplanDecision(RunInput):
    """The user's answer to a new plan proposed before a later wave."""

    accept: bool = Field(default=True, description="Move the jobs still to run as proposed.")


class Replanning(BaseModel):
    """How re-planning before each later wave decides (it plans from the workflow's context)."""

    model_config = ConfigDict(frozen=True)

    planning: PlanningContext
    margin: float
    auto_move: bool
    time_limit_s: float
    decision_timeout: int


def _replan(plan: Plan, chosen: Assignment, workflow: WorkflowSpec, done: dict[str, str], *, wave: int,
            elapsed_s: float, how: Replanning) -> tuple[Plan, Assignment]:
    """Before a later wave: keep the plan, or take a clearly better one for the jobs still to run
    (the user's to accept unless ``auto_move``; a plan that no longer holds must be replaced)."""
    proposal = replan_workflow(workflow, placements(plan.details, chosen), done, how.planning,
                               elapsed_s=elapsed_s, margin=how.margin, time_limit_s=how.time_limit_s)
    if proposal is None:
        return plan, chosen
    if not how.auto_move:
        try:
            answer = pause_flow_run(wait_for_input=ReplanDecision, timeout=how.decision_timeout,
                                    key=f"replan-{wave}")
        except FlowPauseTimeout:
            answer = ReplanDecision(accept=False)
        if not answer.accept:
            if math.isinf(proposal.gain):
                raise PlacementError(f"the new plan was declined and the current one cannot run: "
                                     f"{proposal.reason()}", site="decision",
                                     fix="accept the new plan, or run the workflow again")
            get_run_logger().info("Re-planning: the current plan stays (new plan declined or not answered)")
            return plan, chosen
    get_run_logger().info("Re-planning: %s", ", ".join(f"{m.job} -> {m.to_site}" for m in proposal.moves))
    return proposal.plan, proposal.assignment


class StepApplication(BaseModel):
    """How one job gets its image and command: a centre's image (the raw form), or a resolved
    catalogue version and the licence it pays."""

    model_config = ConfigDict(frozen=True)

    resolved: ResolvedApp | None = None
    licence_offering: int | None = None

    @property
    def seats(self) -> tuple[str, int] | None:
        """The licence (named by application and version) and the runs at once its publication
        allows a workflow; None when unlimited or a raw job."""
        publication = self.resolved.publication if self.resolved else None
        if self.resolved is None or publication is None or publication.licence_seats is None:
            return None
        return (f"{self.resolved.application.organisation}/{self.resolved.application.name} "
                f"{self.resolved.version.version}", publication.licence_seats)


@task(name="run-step", cache_policy=NO_CACHE)
def run_step(workflow: WorkflowSpec, job_id: str, context: JobContext, keys: dict[str, str],
             application: StepApplication, centre_images: Catalog, archive: str, database: str,
             poll_interval: float) -> JobStatus:
    """One job of the workflow, as its own run_job subflow (staged, billed, recorded), its image on
    its centre first."""
    resolved = application.resolved
    if resolved is None:
        image = centre_images.get(workflow.job(job_id).application).image_on(context.site)
    else:
        image = ensure_image(load_centre(context.site), load_archive(archive),
                             resolved.application.organisation, resolved.version, context=context,
                             database=database)
    spec = workflow.job_spec(job_id, image=image, partition=context.partition, keys=keys, resolved=resolved)
    job = workflow.job(job_id)
    state = run_job(spec=spec, centre=context.site, archive=archive, organisation=context.organisation,
                    user=context.user, project=context.project, database=database,
                    job_key=context.key, billing=context.billing, poll_interval=poll_interval,
                    licence_offering=application.licence_offering, application=job.application,
                    application_version=resolved.version.version if resolved else None, return_state=True)
    if not state.is_completed():
        raise JobFailedError(f"job {spec.name} on {context.site}: {state.message}", site=context.site)
    result: JobStatus = state.result()
    return result


def _applications(workflow: WorkflowSpec, database: str, organisation: str,
                  project: str | None) -> dict[str, StepApplication]:
    """Each job's application, the catalogue ones resolved and checked before anything is planned."""
    found: dict[str, StepApplication] = {}
    for job in workflow.jobs:
        if not job.from_catalogue:
            found[job.id] = StepApplication()
            continue
        resolved = resolve_application(database, job.app_job(), organisation=organisation, project=project)
        found[job.id] = StepApplication(resolved=resolved,
                                        licence_offering=licence_offering(database, resolved))
    return found


@flow(name="run-workflow-direct", log_prints=True, on_failure=[release_cloud_nodes_hook],
      on_crashed=[release_cloud_nodes_hook], on_cancellation=[release_cloud_nodes_hook])
def run_workflow(
    workflow: WorkflowSpec,
    organisation: str = DEFAULT_ORGANISATION,
    user: str = DEFAULT_USER,
    project: str | None = None,
    centres: list[str] | None = None,
    archive: str = DEFAULT_ARCHIVE,
    database: str = DEFAULT_DATABASE,
    catalog: str = DEFAULT_CATALOG,
    auto_accept: bool = False,
    auto_move: bool = False,
    move_margin: float = 0.2,
    solver_time_limit_s: float = 10.0,
    decision_timeout: int = 3600,
    poll_interval: float = 1.0,
) -> dict[str, JobStatus]:
    """Place a DAG of jobs across centres to meet the organisation's goals, then run it.

    Every parameter is the caller's word, owner included: this flow is for tests, admins and
    Python code run in-process. Users start the ``run-workflow`` deployment, whose flow
    (:func:`heroes.flows.user.entry.run_workflow_granted`) takes who runs it from a grant.
    """
    return execute_workflow(
        str(current_run.id), workflow, organisation=organisation, user=user, project=project,
        centres=centres, archive=archive, database=database, catalog=catalog, auto_accept=auto_accept,
        auto_move=auto_move, move_margin=move_margin, solver_time_limit_s=solver_time_limit_s,
        decision_timeout=decision_timeout, poll_interval=poll_interval)


def execute_workflow(workflow_id: str, workflow: WorkflowSpec, *, organisation: str, user: str,
                     project: str | None, centres: list[str] | None, archive: str, database: str,
                     catalog: str, auto_accept: bool, auto_move: bool, move_margin: float,
                     solver_time_limit_s: float, decision_timeout: int,
                     poll_interval: float) -> dict[str, JobStatus]:
    """The steps of a workflow run, inside the calling flow; ``workflow_id`` keys its jobs and budget.

    However it ends, the cloud nodes it leased are released (the flows' hooks do the same for a
    run whose process was killed)."""
    with log_context(organisation=organisation, user=user, project=project, workflow_id=workflow_id):
        try:
            return _execute_workflow(workflow_id, workflow, organisation=organisation, user=user,
                                     project=project, centres=centres, archive=archive, database=database,
                                     catalog=catalog, auto_accept=auto_accept, auto_move=auto_move,
                                     move_margin=move_margin, solver_time_limit_s=solver_time_limit_s,
                                     decision_timeout=decision_timeout, poll_interval=poll_interval)
        finally:
            release_workflow_nodes(workflow_id, organisation)


def _execute_workflow(workflow_id: str, workflow: WorkflowSpec, *, organisation: str, user: str,
                      project: str | None, centres: list[str] | None, archive: str, database: str,
                      catalog: str, auto_accept: bool, auto_move: bool, move_margin: float,
                      solver_time_limit_s: float, decision_timeout: int,
                      poll_interval: float) -> dict[str, JobStatus]:
    """Plan, decide, run wave by wave, summarise: :func:`execute_workflow` under its log fields."""
    logger = get_run_logger()
    UserArea(organisation=organisation, user=user)  # names checked before any planning
    applications = _applications(workflow, database, organisation, project)
    licences = Licences(
        offerings={job_id: app.licence_offering for job_id, app in applications.items()
                   if app.licence_offering is not None},
        seats={job_id: app.seats for job_id, app in applications.items() if app.seats is not None})
    planning = PlanningContext(owner=UserArea(organisation=organisation, user=user), project=project,
                               centres=centres, catalog=catalog, database=database, archive=archive,
                               licences=licences)
    plan = plan_workflow(workflow, planning, time_limit_s=solver_time_limit_s)
    if plan.result.status == "infeasible":
        raise PlacementError(f"no placement meets the constraints: "
                             f"{describe_violations(plan.result.violations)}", site="decision",
                             fix="relax the deadline, raise the budget or allow more centres")
    chosen = _choose(plan, auto_accept=auto_accept, timeout=decision_timeout)
    planned_at = time.monotonic()
    replanning = Replanning(planning=planning, margin=move_margin, auto_move=auto_move,
                            time_limit_s=solver_time_limit_s, decision_timeout=decision_timeout)
    centre_images = load_block(ApplicationCatalog, catalog).catalog()

    def context(job_id: str, assignment: Assignment) -> JobContext:
        detail = plan.detail(job_id, assignment)
        return JobContext.for_run(workflow_id, organisation=organisation, user=user, project=project,
                                  step=job_id, site=detail.site, partition=detail.partition)

    keys = {job.id: context(job.id, chosen).key for job in workflow.jobs}
    clouds = WorkflowClouds(workflow_id, database)
    statuses: dict[str, JobStatus] = {}
    problems: dict[str, str] = {}
    waves = workflow.levels()
    for index, wave in enumerate(waves):
        if index:
            done = {job_id: keys[job_id] for level in waves[:index] for job_id in level}
            plan, chosen = _replan(plan, chosen, workflow, done, wave=index,
                                   elapsed_s=time.monotonic() - planned_at, how=replanning)
        runnable = [job_id for job_id in wave if all(p in statuses for p in workflow.graph()[job_id])]
        chosen = clouds.prepare(plan, chosen, workflow, runnable, context)  # nodes started, or jobs moved
        contexts = {job_id: context(job_id, chosen) for job_id in wave}
        futures = {}
        for job_id in wave:
            blocked = [p for p in workflow.graph()[job_id] if p not in statuses]
            if blocked:
                problems[job_id] = f"skipped: parent(s) {', '.join(blocked)} did not complete"
                continue
            futures[job_id] = run_step.submit(workflow, job_id, contexts[job_id], keys, applications[job_id],
                                              centre_images, archive, database, poll_interval)
        for job_id, future in futures.items():
            try:
                statuses[job_id] = future.result()
            except Exception as exc:
                problems[job_id] = str(exc)
        for job_id in wave:  # learn from every finished job, with the prediction it ran on
            if job_id in statuses:
                record_prediction(database, contexts[job_id], workflow.job(job_id),
                                  plan.detail(job_id, chosen))
        clouds.release_unneeded(plan, chosen, [job_id for level in waves[index + 1:] for job_id in level])
    _summary(plan, chosen, workflow, statuses, problems, keys, database)
    if problems:
        raise JobFailedError("; ".join(f"{job}: {why}" for job, why in problems.items()),
                             site="workflow", fix="see the summary artifact")
    logger.info("Workflow %s completed: %d job(s)", workflow.name, len(statuses))
    return statuses


def _actual_cost(database: str, key: str, currency: str) -> str:
    db = load_database(database).database()
    try:
        cost: Decimal | None = actual_cost(Ledger(db).lines(job_key=key), currency, PriceBook(db))
    except SpecError as exc:
        return f"unknown: {exc.detail}"
    return f"{cost:.2f} {currency}" if cost is not None else ""


def _energy(database: str, key: str) -> str:
    record = MetadataStore(load_database(database).database()).get(key)
    if record is None or record.energy_j is None:
        return ""
    return f"{record.energy_j / 1000:.2f} ({record.energy_source})"


def _summary(plan: Plan, chosen: Assignment, workflow: WorkflowSpec, statuses: dict[str, JobStatus],
             problems: dict[str, str], keys: dict[str, str], database: str) -> None:
    rows = []
    for job in workflow.jobs:
        detail = plan.detail(job.id, chosen)
        status = statuses.get(job.id)
        actual_s = status.elapsed_s if status else None
        predicted_s = detail.prediction.runtime_s_p50 if detail.prediction else None
        rows.append({
            "job": job.id, "site": detail.site, "state": status.state.value if status else "NOT RUN",
            "predicted time (s)": f"{predicted_s:.0f}" if predicted_s is not None else "",
            "actual time (s)": f"{actual_s:.0f}" if actual_s is not None else "",
            "predicted cost": f"{detail.cost} {detail.currency}",
            "actual cost": _actual_cost(database, keys[job.id], detail.currency),
            "predicted energy (kJ)": f"{(detail.prediction.energy_j_p50 or 0) / 1000:.2f}"
            if detail.prediction else "",
            "actual energy (kJ)": _energy(database, keys[job.id]), "note": problems.get(job.id, ""),
        })
    create_table_artifact(key=artifact_key("workflow-summary", workflow.name), table=rows,
                          description="Predicted vs actual time, cost and energy per job")


__all__ = ["PlacementDecision", "PlacementError", "run_workflow"]
