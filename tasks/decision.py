"""Prefect tasks of the decision module: plan a workflow, learn from a finished job."""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel, ConfigDict, Field

from heroes.blocks import ApplicationCatalog, HeroesDatabase
from heroes.blocks.defaults import DEFAULT_CENTRES
from heroes.tasks.accounting import log_accounting
from heroes.tasks.artifacts import artifact_key
from heroes.tasks.centre_events import unavailable_shares
from heroes.tasks.cloud_nodes import cloud_price_list, cloud_running
from heroes.tasks.resolve import load_archive, load_block, load_centre, load_database
from heroes_core.costs import Ledger, PriceBook
from heroes_core.data import Archive, Area
from heroes_core.decision.cloud_options import check_tenancy
from heroes_core.decision.learning import actual_cost
from heroes_core.decision.metadata import MetadataStore
from heroes_core.decision.placement import PlacementProblem, solve
from heroes_core.decision.planner import OptionDetail, PlanningInputs, build_problem, input_sizes
from heroes_core.decision.policy import DecisionPolicies, DecisionPolicy, goals_for
from heroes_core.decision.predictors import shared_predictor
from heroes_core.decision.proposal import Plan, describe_violations
from heroes_core.decision.replanning import Placement, Replan, replan
from heroes_core.enrolment import Enrolments
from heroes_core.errors import SpecError
from heroes_core.jobs import JobContext
from heroes_core.logs import DECISIONS_DATASET, job_log_context
from heroes_core.models import UserArea
from heroes_core.workflows import WorkflowJob, WorkflowSpec


class Licences(BaseModel):
    """The licences of a workflow's catalogue jobs, by job id: the fee's price book offering, and
    the licence name and seats where the publication limits runs at once."""

    model_config = ConfigDict(frozen=True)

    offerings: dict[str, int] = {}
    seats: dict[str, tuple[str, int]] = {}


class PlanningContext(BaseModel):
    """For whom and from what a workflow is planned: the same at its first plan and at every
    re-plan before a later wave."""

    model_config = ConfigDict(frozen=True)

    owner: UserArea
    project: str | None
    centres: list[str] | None = Field(description="Candidates; None: the platforms the organisation's "
                                                  "policy allows (else the default centres) and those "
                                                  "the spec names.")
    catalog: str
    database: str
    archive: str
    licences: Licences = Licences()


def planning_inputs(centres: list[str], planning: PlanningContext, database: HeroesDatabase,
                    policy: DecisionPolicy) -> PlanningInputs:
    """The centres jobs may be placed on, their load, the centres' images, the licence fees, the
    organisation's decision policy and the budget left."""
    placeable = Enrolments(database.database()).placeable(centres)
    left_out = [name for name in centres if name not in placeable]
    if left_out:
        get_run_logger().warning("Not placing jobs on %s: last compliance check failed",
                                 ", ".join(left_out))
    blocks = [load_centre(name) for name in placeable]
    sites = [block.site_config() for block in blocks]
    check_tenancy(sites, planning.owner.organisation)  # before anything asks another's cluster
    loads = {site.name: block.site().scheduler.load() for site, block in zip(sites, blocks, strict=True)}
    shares = unavailable_shares(placeable)
    for name, share in shares.items():
        get_run_logger().warning("Centre %s reported %.0f%% of its CPUs down or drained", name, 100 * share)
    inputs = PlanningInputs(sites=sites, catalog=load_block(ApplicationCatalog, planning.catalog).catalog(),
                            loads=loads, licences=planning.licences.offerings,
                            licence_seats=planning.licences.seats, unavailable_share=shares, policy=policy,
                            archive=planning.archive)
    budget = database.budgets().available_for(planning.owner.organisation, planning.project, inputs.currency)
    clouds = {"organisation": planning.owner.organisation, "cloud_running": cloud_running(sites),
              "cloud_prices": cloud_price_list() if any(site.cloud for site in sites) else None}
    return inputs.model_copy(update={"budget": budget, **clouds})


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


def _today(spec: WorkflowSpec, planning: PlanningContext
           ) -> tuple[PlacementProblem, dict[str, list[OptionDetail]], DecisionPolicy, PlanningInputs]:
    """Today's placement problem of ``spec``: predictions, prices, loads, inputs' sizes in the
    archive, budget left, the organisation's policy."""
    database = load_database(planning.database)
    owner = planning.owner
    policy = DecisionPolicies(database.database()).get(owner.organisation, spec.name)
    # the spec's own centres are candidates too: those it leaves out are shown as not allowed
    candidates = planning.centres or list(dict.fromkeys([*(policy.allowed_platforms or DEFAULT_CENTRES),
                                                         *(spec.allowed_sites or ())]))
    inputs = planning_inputs(candidates, planning, database, policy)
    sizes = input_sizes(spec, Archive(load_archive(planning.archive).endpoint()),
                        Area.home(owner.organisation, owner.user))
    problem, details = build_problem(spec, inputs.model_copy(update={"input_gb": sizes}),
                                     shared_predictor(database.database()), database.budgets().prices)
    return problem, details, policy, inputs


@task(name="plan-workflow", cache_policy=NO_CACHE)
def plan_workflow(spec: WorkflowSpec, planning: PlanningContext, time_limit_s: float = 10.0) -> Plan:
    """Predict, price (compute, transfers and the catalogue jobs' licences) and place every job
    under the organisation's decision policy; show the proposal as a table artifact."""
    problem, details, policy, inputs = _today(spec, planning)
    result = solve(problem, time_limit_s=time_limit_s)
    plan = Plan(problem=problem, result=result, details=details)
    logger = get_run_logger()
    if result.status == "infeasible":
        logger.error("Cannot place the workflow: %s", describe_violations(result.violations))
        return plan
    cap = problem.constraints.energy_j
    create_table_artifact(
        key=artifact_key("placement", spec.name), table=placement_table(plan),
        description=(f"Proposed placement ({result.status}, gap {result.gap:.1%}, strategy "
                     f"{problem.strategy}): makespan {result.makespan_s:.0f} s, cost {result.cost:.2f} "
                     f"{inputs.currency}, energy {result.energy_j / 1000:.1f} kJ"
                     f"{f' of a cap of {cap / 1000:g} kJ' if cap is not None else ''}. "
                     f"{goals_for(spec, policy).policy}."))
    logger.info("Placement %s in %.2f s: %s", result.status, result.solve_s,
                ", ".join(f"{c.job}->{c.site}" for c in result.choices))
    return plan


@task(name="replan-workflow", cache_policy=NO_CACHE)
def replan_workflow(spec: WorkflowSpec, current: dict[str, Placement], done: dict[str, str],
                    planning: PlanningContext, *, elapsed_s: float, margin: float,
                    time_limit_s: float = 10.0) -> Replan | None:
    """Before a later wave: re-solve the jobs still to run on today's predictions, queues, budget
    left and energy left (``done``: finished job -> its job key), under the same goals; a clearly
    better plan is returned (and shown as a table artifact), else None."""
    problem, details, _, _ = _today(spec, planning)
    store = MetadataStore(load_database(planning.database).database())
    records = [store.get(key) for key in done.values()]
    spent = sum(record.energy_j or 0.0 for record in records if record is not None)
    proposal = replan(problem, details, current, {job: current[job] for job in done}, spent_energy_j=spent,
                      elapsed_s=elapsed_s, margin=margin, time_limit_s=time_limit_s)
    if proposal is None:
        get_run_logger().info("Re-planning before the next wave: the current plan stays")
        return None
    create_table_artifact(
        key=artifact_key("replan", spec.name),
        description=f"New plan for the jobs still to run: {proposal.reason()}",
        table=[{"job": move.job, "from": f"{move.from_site}/{move.from_partition}",
                "to": f"{move.to_site}/{move.to_partition}"} for move in proposal.moves])
    get_run_logger().info("Re-planning proposes %d move(s): %s", len(proposal.moves), proposal.reason())
    return proposal


@task(name="record-prediction", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def record_prediction(database: HeroesDatabase | str, context: JobContext, job: WorkflowJob,
                      option: OptionDetail) -> bool:
    """Put the prediction a workflow job ran on beside its accounting record (made by its run_job),
    its cost converted to the predicted currency: the predictors and the dashboard compare them."""
    db = load_database(database).database()
    try:
        cost = actual_cost(Ledger(db).lines(job_key=context.key), option.currency, PriceBook(db))
    except SpecError as exc:
        get_run_logger().warning("Cost of job %s not compared: %s", context.key, exc)
        cost = None
    prediction = option.prediction
    added = MetadataStore(db).add_prediction(
        context.key, size=job.size, predicted_time_s=prediction.runtime_s_p50 if prediction else None,
        predicted_energy_j=prediction.energy_j_p50 if prediction else None, predicted_cost=option.cost,
        cost=cost, currency=option.currency if cost is not None else None)
    if not added:
        get_run_logger().warning("Job %s has no accounting record: its prediction is not kept", context.key)
        return False
    stored = MetadataStore(db).get(context.key)
    if stored is not None:  # predicted beside actual, for the decisions dashboard
        with job_log_context(context):
            log_accounting(stored, DECISIONS_DATASET)
    return True
