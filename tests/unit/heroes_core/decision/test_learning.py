"""What is recorded of a finished job: its cost in the currency it was predicted in, its context, its
energy with provenance."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from heroes_core.costs import LedgerLine, PriceBook
from heroes_core.decision.learning import accounting_record, actual_cost
from heroes_core.decision.metadata import JobMetadata
from heroes_core.energy import PowerModel
from heroes_core.errors import SpecError
from heroes_core.jobs import JobContext
from heroes_core.models import JobState
from heroes_core.schedulers import UsageRecord
from heroes_core.store import Database

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def line(amount: str, currency: str, at: datetime = T0) -> LedgerLine:
    return LedgerLine(organisation="acme", project=None, user="ada", workflow_id="w", job_key="k",
                      site="hpc1", offering_id=1, price_version_id=1, unit="core_hour",
                      quantity=D(1), unit_price=D(amount), amount=D(amount), currency=currency,
                      incurred_at=at)


def test_a_job_never_charged_has_no_cost(database: Database) -> None:
    assert actual_cost([], "EUR", PriceBook(database)) is None


def test_lines_in_the_wanted_currency_are_summed_as_they_are(database: Database) -> None:
    assert actual_cost([line("1.25", "EUR"), line("0.75", "EUR")], "EUR", PriceBook(database)) == D("2.00")


def test_lines_in_other_currencies_are_converted_at_the_rate_in_force_when_incurred(
        database: Database) -> None:
    prices = PriceBook(database)
    prices.set_rate("USD", "EUR", D("0.5"), valid_from=T0 - timedelta(days=10))
    prices.set_rate("USD", "EUR", D("0.9"), valid_from=T0 + timedelta(days=1))
    lines = [line("1.00", "EUR"), line("2.00", "USD"), line("10.00", "USD", T0 + timedelta(days=2))]
    assert actual_cost(lines, "EUR", prices) == D("1.00") + D("1.00") + D("9.00")


def test_without_a_rate_the_sum_is_refused_not_mislabelled(database: Database) -> None:
    with pytest.raises(SpecError, match="no exchange rate from USD to EUR"):
        actual_cost([line("1.00", "EUR"), line("2.00", "USD")], "EUR", PriceBook(database))


def usage(energy_j: float | None = None) -> UsageRecord:
    return UsageRecord(job_id="42", elapsed_s=100.0, cores=4, nodes=1, energy_j=energy_j,
                       native_state="COMPLETED", outcome=JobState.COMPLETED, exit_code=0, submitted_at=T0,
                       started_at=T0 + timedelta(seconds=5), ended_at=T0 + timedelta(seconds=105))


CONTEXT = JobContext.for_run("wf-1", organisation="acme", user="ada", site="hpc1", step="solve",
                             partition="batch", project="p1")
POWER = PowerModel(idle_watts_per_node=50, watts_per_core=12.5, pue=1.2)


def record(usage: UsageRecord, *, ear_energy_j: float | None = None, power: PowerModel | None = POWER,
           cost: D | None = None) -> JobMetadata:
    return accounting_record(usage, CONTEXT, application="sim", application_version="2.0",
                             requested_time_s=300, ear_energy_j=ear_energy_j, power=power,
                             energy_policy="min_energy", cost=cost, currency="EUR" if cost else None)


def test_the_accounting_row_joins_the_schedulers_figures_with_who_where_and_what() -> None:
    row = record(usage(), cost=D("0.38"))
    assert (row.job_key, row.workflow_id, row.organisation, row.project, row.user, row.step) == (
        CONTEXT.key, "wf-1", "acme", "p1", "ada", "solve")
    assert (row.application, row.application_version, row.site, row.partition) == ("sim", "2.0", "hpc1", "batch")
    assert (row.requested_time_s, row.used_time_s, row.queue_wait_s) == (300, 100.0, 5.0)
    assert (row.scheduler_job_id, row.exit_code, row.energy_policy) == ("42", 0, "min_energy")
    assert (row.cost, row.currency, row.predicted_time_s) == (D("0.38"), "EUR", None)


def test_energy_comes_from_ear_then_slurm_then_the_partitions_declared_power_model() -> None:
    assert (record(usage(2500.0), ear_energy_j=900.0).energy_j, record(usage(), ear_energy_j=900.0).energy_source) \
        == (900.0, "ear")
    measured = record(usage(energy_j=2500.0))
    assert (measured.energy_j, measured.energy_source) == (2500.0, "slurm")
    modelled = record(usage())
    assert modelled.energy_source == "model"
    assert modelled.energy_j == pytest.approx(100.0 * (50 + 4 * 12.5) * 1.2)  # one node, four busy cores
    unknown = record(usage(), power=None)
    assert (unknown.energy_j, unknown.energy_source) == (None, "none")
