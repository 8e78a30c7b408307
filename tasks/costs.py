"""Prefect tasks for costs: estimate, reserve, commit, release (the decision module uses
``estimate_cost`` too). Each is idempotent per workflow and job, so retries are safe."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from heroes.blocks import HeroesDatabase
from heroes.tasks.resolve import load_database
from heroes_core.costs import (
    ChargeItem,
    CostEstimate,
    PriceBook,
    Usage,
    estimate,
    partition_offering,
    worst_case_usage,
)
from heroes_core.jobs import JobContext
from heroes_core.models import JobSpec, JobStatus


@task(name="estimate-cost", cache_policy=NO_CACHE)
def estimate_cost(database: HeroesDatabase | str, context: JobContext, spec: JobSpec) -> CostEstimate:
    """Worst-case cost of a job (its full time limit) at the price in force now."""
    db = load_database(database).database()
    prices = PriceBook(db)
    usage = worst_case_usage(time_limit_minutes=spec.time_limit_minutes, cores=spec.cores,
                             nodes=spec.nodes)
    result = estimate(prices, partition_offering(prices, context.site, context.partition), usage)
    get_run_logger().info("Estimated at most %s %s on %s/%s", result.amount, result.currency,
                          context.site, context.partition or "default")
    return result


@task(name="reserve-budget", cache_policy=NO_CACHE)
def reserve_budget(database: HeroesDatabase | str, context: JobContext, cost: CostEstimate) -> list[int]:
    """Set the estimate aside on the organisation's (and project's) budgets, or fail clearly.

    The job is later charged at the price version the estimate used; the context's site and
    job key let the budget watch ask that centre whether the job is over before freeing the money.
    """
    reserved = load_database(database).budgets().reserve(
        context.organisation, context.project, context.workflow_id, cost.reservation, cost.currency,
        price_versions={cost.offering_id: cost.price_version_id}, site=context.site,
        job_key=context.key)
    get_run_logger().info("Reserved %s %s for workflow %s", cost.reservation, cost.currency,
                          context.workflow_id)
    return reserved


@task(name="commit-cost", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def commit_cost(database: HeroesDatabase | str, context: JobContext, spec: JobSpec,
                status: JobStatus) -> Decimal:
    """Charge what the job really used, at the price version its reservation recorded (else the
    one in force when it ran); charging the same batch job again adds nothing."""
    budgets = load_database(database).budgets()
    seconds = status.elapsed_s or 0.0
    usage = Usage.of_job(seconds=seconds, cores=spec.cores, nodes=spec.nodes)
    incurred = (status.last_event_time or datetime.now(UTC)).astimezone(UTC)
    offering = partition_offering(budgets.prices, context.site, context.partition)
    amount = budgets.commit(context.workflow_id, organisation=context.organisation,
                            project=context.project, user=context.user, job_key=context.key,
                            items=[ChargeItem(offering_id=offering, usage=usage, site=context.site)],
                            incurred_at=incurred, scheduler_job_id=status.job_id or None)
    get_run_logger().info("Charged %s for job %s (%.0f s on %d core(s))", amount, context.key,
                          seconds, spec.cores)
    return amount


@task(name="release-budget", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def release_budget(database: HeroesDatabase | str, context: JobContext) -> Decimal:
    """Give back what the workflow reserved and did not spend; show the organisation's budgets."""
    budgets = load_database(database).budgets()
    returned = budgets.release(context.workflow_id)
    rows = [{"budget": str(b.id), "organisation": b.organisation, "project": b.project or "",
             "amount": str(b.amount), "reserved": str(b.reserved), "spent": str(b.committed),
             "available": str(b.available), "overage": str(b.overage), "currency": b.currency}
            for b in budgets.budgets_of(context.organisation)]
    create_table_artifact(key=f"budgets-after-{context.workflow_id[:8]}", table=rows,
                          description=f"Budgets of {context.organisation} after this workflow released "
                                      "its reservation")
    get_run_logger().info("Released %s unspent for workflow %s", returned, context.workflow_id)
    return returned
