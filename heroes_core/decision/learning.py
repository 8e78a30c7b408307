"""What the decision module learns from a finished job: its usage, energy and cost beside what
was predicted for the option it ran on.

Costs are recorded in the currency they were predicted in, so that predicted and actual can be
compared: a job charged in other currencies is converted line by line at the rate in force when
each line was incurred. The energy of a run without a measurement is modelled from the same
declared power model of its partition the predictor uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from heroes_core.costs import LedgerLine, PriceBook
from heroes_core.decision.metadata import JobMetadata
from heroes_core.energy import PowerModel
from heroes_core.jobs import JobContext
from heroes_core.schedulers import UsageRecord


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


def accounting_record(usage: UsageRecord, context: JobContext, *, application: str,
                      application_version: str | None, requested_time_s: float,
                      ear_energy_j: float | None, power: PowerModel | None, energy_policy: str | None,
                      cost: Decimal | None, currency: str | None) -> JobMetadata:
    """The accounting row of a finished job, whichever flow ran it: the scheduler's accounting
    joined with who ran it, where and what, its energy with provenance, and what it cost."""
    return JobMetadata.from_usage(
        usage, ear_energy_j=ear_energy_j, power=power, job_key=context.key,
        workflow_id=context.workflow_id, organisation=context.organisation, project=context.project,
        user=context.user, step=context.step, application=application,
        application_version=application_version, site=context.site, partition=context.partition,
        requested_time_s=requested_time_s, energy_policy=energy_policy, cost=cost, currency=currency)
