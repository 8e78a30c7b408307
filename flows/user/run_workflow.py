"""The multi-job user workflow: plan, let the user decide, run the DAG, compare with the plan.

1. plan: predict, price and place every job in one integer program (decision module);
2. decide: show the placement as a table and pause for the user to accept it or move
   jobs (an organisation can auto-accept); a move that breaks a constraint is refused
   with the reason and the user is asked again;
3. run: jobs wave by wave, independent jobs in parallel, each through ``run_job``
   (so each is staged, billed and recorded like a single job); a child reads its
   parents' outputs from the archive, so it may run on another centre;
4. before each later wave, re-check the centres' load and propose (or, if allowed,
   make) a move when another centre is now better by more than a margin;
5. end with a predicted-vs-actual summary, and learn from every job.
"""

from __future__ import annotations

from decimal import Decimal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run as current_run
from pydantic import Field

from heroes.blocks import ApplicationCatalog
from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_CATALOG, DEFAULT_CENTRE, DEFAULT_DATABASE
from heroes.flows.user.run_job import run_job
from heroes.tasks.artifacts import artifact_key
from heroes.tasks.decision import Plan, plan_workflow, record_job_metadata, with_overrides
from heroes.tasks.resolve import load_centre, load_database
from heroes_core.costs import Ledger
from heroes_core.decision.metadata import MetadataStore
from heroes_core.decision.placement import Option, evaluate
from heroes_core.decision.planner import OptionDetail, expected_queue_wait_s
from heroes_core.errors import HeroesError, JobFailedError
from heroes_core.jobs import job_key as derive_job_key
from heroes_core.models import JobSpec, JobStatus, UserArea
from heroes_core.schedulers import SiteLoad
from heroes_core.workflows import WorkflowSpec

DEFAULT_CENTRES = [DEFAULT_CENTRE, "local-slurm-2"]


class PlacementDecision(RunInput):
    """The user's answer to a proposed placement."""

    accept: bool = Field(default=True, description="Run with this placement (after any overrides).")
    overrides: dict[str, str] = Field(
        default_factory=dict, description="Job id -> centre to run it on instead of the proposal.")


class PlacementError(HeroesError):
    """No placement meets the workflow's constraints, or the user declined it."""


def _choose(plan: Plan, *, auto_accept: bool, timeout: int) -> dict[str, int]:
    """job -> option index, after the user's decision (or the organisation's auto-accept)."""
    chosen = {c.job: c.option for c in plan.result.choices}
    if auto_accept:
        return chosen
    logger = get_run_logger()
    for attempt in range(1, 11):
        decision = pause_flow_run(wait_for_input=PlacementDecision, timeout=timeout,
                                  key=f"placement-{attempt}")
        if not decision.accept:
            raise PlacementError("the user declined the proposed placement", site="decision")
        if not decision.overrides:
            return chosen
        try:
            result = with_overrides(plan, decision.overrides)
        except ValueError as exc:
            logger.warning("Override refused: %s", exc)
            continue
        if result.violations:
            reasons = "; ".join(f"{v.constraint}: needs {v.needed:g}, {v.available:g} available "
                                f"({v.detail})" for v in result.violations)
            logger.warning("Override refused, it breaks: %s", reasons)
            continue
        return {c.job: c.option for c in result.choices}
    raise PlacementError("no acceptable placement after 10 answers", site="decision")


def _time_now(detail: OptionDetail, option: Option, loads: dict[str, SiteLoad]) -> float:
    """An option's time with today's queue: predicted runtime plus the wait its centre implies."""
    runtime = detail.prediction.runtime_s_p50 if detail.prediction else option.time_s
    return runtime + expected_queue_wait_s(loads.get(detail.site), option.cores)


def _reevaluate(plan: Plan, chosen: dict[str, int], wave: list[str], centres: list[str], *,
                margin: float, auto_move: bool) -> dict[str, int]:
    """Before a wave: move (or propose moving) jobs whose centre is now clearly worse."""
    logger = get_run_logger()
    loads = {name: load_centre(name).site().scheduler.load() for name in centres}
    proposals = []
    for job_id in wave:
        options = plan.problem.jobs[[j.id for j in plan.problem.jobs].index(job_id)].options
        details = plan.details[job_id]
        current = chosen[job_id]
        times = {i: _time_now(details[i], options[i], loads) for i, o in enumerate(options)
                 if o.infeasible_reason is None}
        best = min(times, key=times.__getitem__)
        if best == current or times[best] >= times.get(current, float("inf")) * (1 - margin):
            continue
        moved = {**chosen, job_id: best}
        if evaluate(plan.problem, moved).violations:
            continue
        proposals.append({"job": job_id, "from": details[current].site, "to": details[best].site,
                          "time now (s)": f"{times.get(current, float('nan')):.0f}",
                          "time after move (s)": f"{times[best]:.0f}", "applied": str(auto_move)})
        if auto_move:
            chosen = moved
    if proposals:
        logger.info("Re-evaluation proposes %d move(s)", len(proposals))
        create_table_artifact(key="reevaluation", table=proposals,
                              description="Moves proposed before this step (centre load changed)")
    return chosen


def _job_spec(workflow: WorkflowSpec, job_id: str, catalog: ApplicationCatalog, site: str,
              partition: str | None, keys: dict[str, str]) -> JobSpec:
    job = workflow.job(job_id)
    inputs = list(job.inputs)
    env = dict(job.env)
    for edge in workflow.incoming(job_id):
        inputs += [f"jobs/{keys[edge.parent]}/{name}" for name in edge.files]
        env[f"HEROES_PARENT_{edge.parent.upper().replace('-', '_').replace('.', '_')}"] = \
            f"jobs/{keys[edge.parent]}"
    return JobSpec(name=job.id, image=catalog.catalog().get(job.application).image_on(site),
                   command=job.command, partition=partition, cores=job.cores, nodes=job.nodes,
                   memory_mb=job.memory_mb, time_limit_minutes=job.time_limit_minutes,
                   inputs=inputs, env=env)


@task(name="run-step", cache_policy=NO_CACHE)
def run_step(spec: JobSpec, centre: str, key: str, organisation: str, user: str,
             project: str | None, archive: str, database: str, poll_interval: float) -> JobStatus:
    """One job of the workflow, as its own run_job subflow (staged, billed, recorded)."""
    state = run_job(spec=spec, centre=centre, archive=archive, organisation=organisation, user=user,
                    project=project, database=database, job_key=key, poll_interval=poll_interval,
                    return_state=True)
    if not state.is_completed():
        raise JobFailedError(f"job {spec.name} on {centre}: {state.message}", site=centre)
    result: JobStatus = state.result()  # type: ignore[assignment]
    return result


@flow(name="run-workflow", log_prints=True)
def run_workflow(
    workflow: WorkflowSpec,
    organisation: str = "demo",
    user: str = "scientist",
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
    """Place a DAG of jobs across centres to meet the organisation's goals, then run it."""
    logger = get_run_logger()
    area = UserArea(organisation=organisation, user=user)  # names checked before any planning
    centres = centres or DEFAULT_CENTRES
    workflow_id = str(current_run.id)
    plan = plan_workflow(workflow, centres, catalog, database, organisation, project,
                         time_limit_s=solver_time_limit_s)
    if plan.result.status == "infeasible":
        reasons = "; ".join(f"{v.constraint}: needs {v.needed:g}, {v.available:g} available ({v.detail})"
                            for v in plan.result.violations)
        raise PlacementError(f"no placement meets the constraints: {reasons}", site="decision",
                             fix="relax the deadline, raise the budget or allow more centres")
    chosen = _choose(plan, auto_accept=auto_accept, timeout=decision_timeout)
    catalog_block: ApplicationCatalog = ApplicationCatalog.load(catalog)  # type: ignore[assignment]
    keys = {job.id: derive_job_key(workflow_id, job.id, owner=area) for job in workflow.jobs}
    statuses: dict[str, JobStatus] = {}
    problems: dict[str, str] = {}
    for index, wave in enumerate(workflow.levels()):
        if index:
            chosen = _reevaluate(plan, chosen, wave, centres, margin=move_margin, auto_move=auto_move)
        futures = {}
        for job_id in wave:
            blocked = [p for p in workflow.graph()[job_id] if p not in statuses]
            if blocked:
                problems[job_id] = f"skipped: parent(s) {', '.join(blocked)} did not complete"
                continue
            detail = plan.details[job_id][chosen[job_id]]
            spec = _job_spec(workflow, job_id, catalog_block, detail.site, detail.partition, keys)
            futures[job_id] = run_step.submit(spec, detail.site, keys[job_id], organisation, user,
                                              project, archive, database, poll_interval)
        for job_id, future in futures.items():
            try:
                statuses[job_id] = future.result()
            except Exception as exc:
                problems[job_id] = str(exc)
        _learn(plan, chosen, workflow, statuses, keys, wave, database=database,
               workflow_id=workflow_id, organisation=organisation, user=user)
    _summary(plan, chosen, workflow, statuses, problems, keys, database)
    if problems:
        raise JobFailedError("; ".join(f"{job}: {why}" for job, why in problems.items()),
                             site="workflow", fix="see the summary artifact")
    logger.info("Workflow %s completed: %d job(s)", workflow.name, len(statuses))
    return statuses


def _actual_cost(database: str, key: str) -> Decimal | None:
    lines = Ledger(load_database(database).database()).lines(job_key=key)
    return sum((line.amount for line in lines), Decimal(0)) if lines else None


def _learn(plan: Plan, chosen: dict[str, int], workflow: WorkflowSpec, statuses: dict[str, JobStatus],
           keys: dict[str, str], wave: list[str], **context: str) -> None:
    """Record every finished job of the wave with the prediction of the option it ran on."""
    for job_id in wave:
        if job_id not in statuses:
            continue
        detail = plan.details[job_id][chosen[job_id]]
        prediction = detail.prediction
        record_job_metadata(
            context["database"], detail.site, workflow.job(job_id), statuses[job_id],
            job_key=keys[job_id], workflow_id=context["workflow_id"],
            organisation=context["organisation"], user=context["user"], partition=detail.partition,
            predicted_time_s=prediction.runtime_s_p50 if prediction else None,
            predicted_energy_j=prediction.energy_j_p50 if prediction else None,
            predicted_cost=float(detail.cost), cost=_actual_cost(context["database"], keys[job_id]))


def _energy(database: str, key: str) -> str:
    record = MetadataStore(load_database(database).database()).get(key)
    if record is None or record.energy_j is None:
        return ""
    return f"{record.energy_j / 1000:.2f} ({record.energy_source})"


def _summary(plan: Plan, chosen: dict[str, int], workflow: WorkflowSpec, statuses: dict[str, JobStatus],
             problems: dict[str, str], keys: dict[str, str], database: str) -> None:
    rows = []
    for job in workflow.jobs:
        detail = plan.details[job.id][chosen[job.id]]
        status = statuses.get(job.id)
        actual_s = ((status.end_time - status.start_time).total_seconds()
                    if status and status.start_time and status.end_time else None)
        cost = _actual_cost(database, keys[job.id])
        predicted_s = detail.prediction.runtime_s_p50 if detail.prediction else None
        rows.append({
            "job": job.id, "site": detail.site, "state": status.state.value if status else "NOT RUN",
            "predicted time (s)": f"{predicted_s:.0f}" if predicted_s is not None else "",
            "actual time (s)": f"{actual_s:.0f}" if actual_s is not None else "",
            "predicted cost": f"{detail.cost}", "actual cost": f"{cost}" if cost is not None else "",
            "predicted energy (kJ)": f"{(detail.prediction.energy_j_p50 or 0) / 1000:.2f}"
            if detail.prediction else "",
            "actual energy (kJ)": _energy(database, keys[job.id]), "note": problems.get(job.id, ""),
        })
    create_table_artifact(key=artifact_key("workflow-summary", workflow.name), table=rows,
                          description="Predicted vs actual time, cost and energy per job")


__all__ = ["PlacementDecision", "PlacementError", "run_workflow"]
