"""Prefect tasks for costs: estimate, reserve, commit, release (the decision module uses
``estimate_cost`` too). Each is idempotent per workflow and job, so retries are safe."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE

from heroes.blocks import HeroesDatabase
from heroes.tasks._context import load_database
from heroes_core.costs import (
    ChargeItem,
    CostEstimate,
    PriceBook,
    Usage,
    estimate,
    partition_offering_name,
    worst_case_usage,
)
from heroes_core.models import JobSpec, JobStatus, UserArea


def job_offering(prices: PriceBook, site: str, partition: str) -> int:
    """The price book's offering for a centre's partition (provider = the centre's block name)."""
    return prices.find_offering(site, "partition", partition_offering_name(site, partition))


@task(name="estimate-cost", cache_policy=NO_CACHE)
def estimate_cost(database: HeroesDatabase | str, site: str, partition: str,
                  spec: JobSpec) -> CostEstimate:
    """Worst-case cost of a job (its full time limit) at the price in force now."""
    db = load_database(database).database()
    prices = PriceBook(db)
    usage = worst_case_usage(time_limit_minutes=spec.time_limit_minutes, cores=spec.cores,
                             nodes=spec.nodes)
    result = estimate(prices, job_offering(prices, site, partition), usage)
    get_run_logger().info("Estimated at most %s %s on %s/%s", result.amount, result.currency,
                          site, partition)
    return result


@task(name="reserve-budget", cache_policy=NO_CACHE)
def reserve_budget(database: HeroesDatabase | str, area: UserArea, project: str | None,
                   workflow_id: str, cost: CostEstimate, site: str | None = None,
                   job_key: str | None = None) -> list[int]:
    """Set the estimate aside on the organisation's (and project's) budgets, or fail clearly.

    The job is later charged at the price version the estimate used; ``site`` and ``job_key``
    let the budget watch ask that centre whether the job is over before freeing the money.
    """
    reserved = load_database(database).budgets().reserve(
        area.organisation, project, workflow_id, cost.amount, cost.currency,
        price_versions={cost.offering_id: cost.price_version_id}, site=site, job_key=job_key)
    get_run_logger().info("Reserved %s %s for workflow %s", cost.amount, cost.currency, workflow_id)
    return reserved


@task(name="commit-cost", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def commit_cost(database: HeroesDatabase | str, area: UserArea, project: str | None,
                workflow_id: str, job_key: str, site: str, partition: str, spec: JobSpec,
                status: JobStatus) -> Decimal:
    """Charge what the job really used, at the price version its reservation recorded (else the
    one in force when it ran); charging the same batch job again adds nothing."""
    budgets = load_database(database).budgets()
    seconds = ((status.end_time - status.start_time).total_seconds()
               if status.start_time and status.end_time else 0.0)
    usage = Usage.of_job(seconds=seconds, cores=spec.cores, nodes=spec.nodes)
    when = status.end_time or status.start_time
    incurred = when.astimezone(UTC) if when else datetime.now(UTC)
    amount = budgets.commit(workflow_id, organisation=area.organisation, project=project,
                            user=area.user, job_key=job_key,
                            items=[ChargeItem(offering_id=job_offering(budgets.prices, site, partition),
                                              usage=usage, site=site)],
                            incurred_at=incurred, scheduler_job_id=status.job_id or None)
    get_run_logger().info("Charged %s for job %s (%.0f s on %d core(s))", amount, job_key, seconds,
                          spec.cores)
    return amount


@task(name="release-budget", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def release_budget(database: HeroesDatabase | str, workflow_id: str) -> Decimal:
    """Give back what the workflow reserved and did not spend."""
    budgets = load_database(database).budgets()
    returned = budgets.release(workflow_id)
    rows = [{"budget": str(b.id), "organisation": b.organisation, "project": b.project or "",
             "amount": str(b.amount), "reserved": str(b.reserved), "spent": str(b.committed),
             "available": str(b.available), "overage": str(b.overage), "currency": b.currency}
            for b in budgets.budgets_of()]
    create_table_artifact(key=f"budgets-after-{workflow_id[:8]}", table=rows,
                          description="Budgets after this workflow released its reservation")
    get_run_logger().info("Released %s unspent for workflow %s", returned, workflow_id)
    return returned
