"""What the decision module learns from a finished job: its usage, energy and cost beside what
was predicted for the option it ran on.

Costs are recorded in the currency they were predicted in, so that predicted and actual can be
compared: a job charged in other currencies is converted line by line at the rate in force when
each line was incurred. The energy of a run without a measurement is modelled with the same
watts per core the predictor uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from heroes_core.costs import LedgerLine, PriceBook
from heroes_core.decision.metadata import JobMetadata
from heroes_core.decision.planner import OptionDetail
from heroes_core.decision.predict import DEFAULT_WATTS_PER_CORE
from heroes_core.jobs import JobContext
from heroes_core.schedulers import UsageRecord
from heroes_core.workflows import WorkflowJob


def actual_cost(lines: Sequence[LedgerLine], currency: str, prices: PriceBook) -> Decimal | None:
    """What the job was charged, in ``currency``; None if it was never charged.

    A line in another currency is converted at the rate in force when it was incurred; without
    such a rate the price book's error names the rate to record (the sum is never labelled with
    a currency some of its lines are not in).
    """
    if not lines:
        return None
    return sum((prices.convert(line.amount, line.currency, currency, line.incurred_at)
                for line in lines), Decimal(0))


def job_metadata(usage: UsageRecord, context: JobContext, job: WorkflowJob, option: OptionDetail, *,
                 cost: Decimal | None, watts_per_core: float = DEFAULT_WATTS_PER_CORE) -> JobMetadata:
    """The history row of a finished workflow job: what it used, cost and was predicted to.

    ``cost`` is in the option's currency (see :func:`actual_cost`).
    """
    prediction = option.prediction
    return JobMetadata.from_usage(
        usage, watts_per_core=watts_per_core, job_key=context.key, workflow_id=context.workflow_id,
        organisation=context.organisation, user=context.user, application=job.application,
        size=job.size, site=option.site, partition=option.partition,
        requested_time_s=job.time_limit_minutes * 60,
        predicted_time_s=prediction.runtime_s_p50 if prediction else None,
        predicted_energy_j=prediction.energy_j_p50 if prediction else None,
        predicted_cost=option.cost, cost=cost, currency=option.currency)
