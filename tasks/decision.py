"""Prefect tasks of the decision module: plan a workflow, re-check a step, learn from a job."""

from __future__ import annotations

from decimal import Decimal

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from heroes.blocks import ApplicationCatalog, HeroesDatabase
from heroes.tasks.artifacts import artifact_key
from heroes.tasks.resolve import load_centre, load_database
from heroes_core.decision.metadata import JobMetadata, MetadataStore
from heroes_core.decision.placement import PlacementProblem, PlacementResult, evaluate, solve
from heroes_core.decision.planner import OptionDetail, PlanningInputs, build_problem
from heroes_core.decision.predict import Predictor
from heroes_core.enrolment.enrolments import Enrolments
from heroes_core.errors import SpecError
from heroes_core.models import JobStatus
from heroes_core.workflows import WorkflowJob, WorkflowSpec


class Plan(BaseModel):
    """A proposed placement with everything needed to explain or change it."""

    problem: PlacementProblem
    result: PlacementResult
    details: dict[str, list[OptionDetail]]


_predictors: dict[str, Predictor] = {}


def predictor_for(database: HeroesDatabase) -> Predictor:
    """One predictor per database per process, so fitted models are reused between steps."""
    db = database.database()
    key = str(db.engine.url)
    if key not in _predictors:
        _predictors[key] = Predictor(MetadataStore(db))
    return _predictors[key]


def compliant_centres(centres: list[str], database: HeroesDatabase) -> list[str]:
    """Leave out centres whose last compliance check failed (the check's event says why)."""
    failing = Enrolments(database.database()).failing(centres)
    if failing:
        get_run_logger().warning("Not placing jobs on %s: last compliance check failed",
                                 ", ".join(failing))
    kept = [name for name in centres if name not in failing]
    if not kept:
        raise SpecError(f"every candidate centre failed its last compliance check: {', '.join(failing)}",
                        site="decision", fix="repair the centres and re-run check-hpc-centre-compliance")
    return kept


def planning_inputs(centres: list[str], catalog: str, database: HeroesDatabase, organisation: str,
                    project: str | None, currency: str = "EUR") -> PlanningInputs:
    blocks = [load_centre(name) for name in compliant_centres(centres, database)]
    sites = [block.site_config() for block in blocks]  # type: ignore[attr-defined]
    loads = {site.name: block.site().scheduler.load()  # type: ignore[attr-defined]
             for site, block in zip(sites, blocks, strict=True)}
    budget = database.budgets().available_for(organisation, project, currency)
    catalog_block: ApplicationCatalog = ApplicationCatalog.load(catalog)  # type: ignore[assignment]
    return PlanningInputs(sites=sites, catalog=catalog_block.catalog(), currency=currency,
                          budget=budget, loads=loads)


def placement_table(plan: Plan) -> list[dict[str, str]]:
    rows = []
    for choice in plan.result.choices:
        detail = plan.details[choice.job][choice.option]
        runners = ", ".join(f"{plan.details[choice.job][i].site}/{plan.details[choice.job][i].partition}"
                            for i in choice.runners_up)
        rows.append({"job": choice.job, "site": choice.site, "partition": str(detail.partition),
                     "start (s)": f"{choice.start_s:.0f}", "predicted time (s)": f"{choice.time_s:.0f}",
                     "cost": f"{choice.cost:.2f} {detail.currency}",
                     "energy (kJ)": f"{choice.energy_j / 1000:.1f}", "why": choice.why,
                     "prediction": detail.note, "runners-up": runners})
    return rows


@task(name="plan-workflow", cache_policy=NO_CACHE)
def plan_workflow(spec: WorkflowSpec, centres: list[str], catalog: str, database: HeroesDatabase | str,
                  organisation: str, project: str | None, time_limit_s: float = 10.0) -> Plan:
    """Predict, price and place every job; show the proposal as a table artifact."""
    database_block = load_database(database)
    inputs = planning_inputs(centres, catalog, database_block, organisation, project)
    problem, details = build_problem(spec, inputs, predictor_for(database_block),
                                     database_block.budgets().prices)
    result = solve(problem, time_limit_s=time_limit_s)
    plan = Plan(problem=problem, result=result, details=details)
    logger = get_run_logger()
    if result.status == "infeasible":
        for violation in result.violations:
            logger.error("Cannot place the workflow: %s needs %s, %s available (%s)",
                         violation.constraint, violation.needed, violation.available, violation.detail)
        return plan
    create_table_artifact(
        key=artifact_key("placement", spec.name), table=placement_table(plan),
        description=(f"Proposed placement ({result.status}, gap {result.gap:.1%}): makespan "
                     f"{result.makespan_s:.0f} s, cost {result.cost:.2f} {inputs.currency}, "
                     f"energy {result.energy_j / 1000:.1f} kJ"))
    logger.info("Placement %s in %.2f s: %s", result.status, result.solve_s,
                ", ".join(f"{c.job}->{c.site}" for c in result.choices))
    return plan


def with_overrides(plan: Plan, overrides: dict[str, str]) -> PlacementResult:
    """The plan with some jobs moved to other sites, re-checked against every constraint."""
    assignment = {choice.job: choice.option for choice in plan.result.choices}
    for job_id, site in overrides.items():
        if job_id not in assignment:
            raise ValueError(f"override names unknown job '{job_id}'")
        options = [i for i, d in enumerate(plan.details[job_id]) if d.site == site]
        if not options:
            raise ValueError(f"job '{job_id}' has no option on site '{site}'")
        assignment[job_id] = options[0]
    return evaluate(plan.problem, assignment)


@task(name="record-job-metadata", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def record_job_metadata(database: HeroesDatabase | str, centre: str, job: WorkflowJob,
                        status: JobStatus, *, job_key: str, workflow_id: str, organisation: str,
                        user: str, partition: str | None, predicted_time_s: float | None,
                        predicted_energy_j: float | None, predicted_cost: float | None,
                        cost: Decimal | None) -> None:
    """Learn from a finished job: its scheduler's accounting joins the performance metadata."""
    site = load_centre(centre).site()
    usage = site.scheduler.usage(status.job_id)
    record = JobMetadata.from_usage(
        usage, watts_per_core=10.0, job_key=job_key, workflow_id=workflow_id,
        organisation=organisation, user=user, application=job.application, size=job.size,
        site=site.name, partition=partition, requested_time_s=job.time_limit_minutes * 60,
        predicted_time_s=predicted_time_s, predicted_energy_j=predicted_energy_j,
        predicted_cost=Decimal(str(round(predicted_cost, 2))) if predicted_cost is not None else None,
        cost=cost, currency="EUR" if cost is not None else None)
    MetadataStore(load_database(database).database()).record(record)
