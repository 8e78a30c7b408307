"""What is learnt from a finished job: its cost in the currency it was predicted in, its energy."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from heroes_core.costs import LedgerLine, PriceBook
from heroes_core.decision.learning import actual_cost, job_metadata
from heroes_core.decision.planner import OptionDetail
from heroes_core.decision.predict import DEFAULT_WATTS_PER_CORE, Prediction
from heroes_core.errors import SpecError
from heroes_core.jobs import JobContext
from heroes_core.models import JobState
from heroes_core.schedulers import UsageRecord
from heroes_core.store import Database
from heroes_core.workflows import WorkflowJob

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
                       native_state="COMPLETED", outcome=JobState.COMPLETED, submitted_at=T0,
                       started_at=T0 + timedelta(seconds=5), ended_at=T0 + timedelta(seconds=105))


def option(prediction: Prediction | None) -> OptionDetail:
    return OptionDetail(site="hpc1", partition="batch", prediction=prediction, cost=D("0.40"),
                        currency="CHF", queue_wait_s=0.0, note="")


PREDICTED = Prediction(application="sim", site="hpc1", runtime_s_p50=90.0, runtime_s_p90=120.0,
                       memory_mb_p50=None, memory_mb_p90=None, energy_j_p50=3600.0, energy_j_p90=5000.0,
                       energy_source="model", source="model", samples=12, note="")
CONTEXT = JobContext.for_run("wf-1", organisation="acme", user="ada", site="hpc1", step="solve",
                             partition="batch")
JOB = WorkflowJob(id="solve", application="sim", command=["solve"], cores=4, time_limit_minutes=5,
                  size=2.0)


def test_the_history_row_joins_usage_prediction_and_cost_in_one_currency() -> None:
    row = job_metadata(usage(), CONTEXT, JOB, option(PREDICTED), cost=D("0.38"))
    assert (row.job_key, row.workflow_id, row.organisation, row.user) == (CONTEXT.key, "wf-1", "acme", "ada")
    assert (row.application, row.size, row.site, row.partition) == ("sim", 2.0, "hpc1", "batch")
    assert (row.requested_time_s, row.used_time_s, row.queue_wait_s) == (300, 100.0, 5.0)
    assert (row.predicted_time_s, row.predicted_energy_j) == (90.0, 3600.0)
    assert (row.predicted_cost, row.cost, row.currency) == (D("0.40"), D("0.38"), "CHF")


def test_energy_without_a_measurement_is_modelled_with_the_predictors_watts_per_core() -> None:
    modelled = job_metadata(usage(), CONTEXT, JOB, option(None), cost=None)
    assert modelled.energy_source == "model"
    assert modelled.energy_j == 4 * 100.0 * DEFAULT_WATTS_PER_CORE
    assert (modelled.predicted_time_s, modelled.cost) == (None, None)
    measured = job_metadata(usage(energy_j=2500.0), CONTEXT, JOB, option(None), cost=None)
    assert (measured.energy_j, measured.energy_source) == (2500.0, "slurm")
