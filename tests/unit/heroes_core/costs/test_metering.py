"""Metering archive storage and transfers through the ledger, on SQLite."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from heroes_core.costs.budgets import Budgets, ChargeItem
from heroes_core.costs.ledger import Ledger
from heroes_core.costs.metering import (
    METERING_USER,
    Metering,
    consolidate_by_charge,
    days_in_month,
    gb_months,
    organisations_in,
)
from heroes_core.costs.price_book import PriceBook
from heroes_core.costs.pricing import PriceModel, Usage
from heroes_core.data import S3Endpoint, TransferLog, TransferOutcome, TransferRecord
from heroes_core.errors import SpecError
from heroes_core.store import Database

ARCHIVE = "heroes-archive"
APRIL = date(2026, 4, 10)  # a 30-day month
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # prices and budgets start here
GB = 10**9


def publish(prices: PriceBook, kind: str, model: PriceModel, *, provider: str = ARCHIVE,
            since: datetime = EPOCH) -> int:
    prices.register_provider(provider, "the central archive", "resource")
    offering = prices.offering(provider, kind, "archive", site=provider)
    prices.publish(provider, offering, model, valid_from=since, now=since)
    return offering


@pytest.fixture
def priced(prices: PriceBook) -> None:
    """3 EUR per GB-month (so 10 GB for a day of a 30-day month is 1 EUR), 0.02 EUR per GB moved;
    each with a fixed part that metering must not charge."""
    publish(prices, "storage", PriceModel(currency="EUR", fixed=D("5"), per_gb_month=D("3")))
    publish(prices, "transfer", PriceModel(currency="EUR", fixed=D("5"), per_gb_transferred=D("0.02")))


@pytest.fixture
def metering(budgets: Budgets) -> Metering:
    return Metering(budgets, ARCHIVE)


def transfer(database: Database, *, outcome: TransferOutcome = TransferOutcome.SUCCEEDED,
             size: int = 50 * GB, organisation: str = "acme", project: str | None = "cfd",
             finished: datetime = datetime(2026, 4, 10, 12, tzinfo=UTC)) -> TransferRecord:
    return TransferLog(database).record(
        organisation=organisation, project=project, user="ada", what="inputs", source_site="archive",
        source="s3://heroes-acme/ada/in", destination_site="hpc", destination="/work/in",
        started_at=finished - timedelta(minutes=5), finished_at=finished, outcome=outcome,
        bytes=size, job_key="job-1", flow_run_id="run-1",
        error="connection reset" if outcome is TransferOutcome.FAILED else None)


def test_projects_are_charged_to_themselves_homes_to_the_organisation_and_heroes_objects_not_at_all(
        budgets: Budgets, metering: Metering, priced: None) -> None:
    usage = {"projects/cfd": 10 * GB, "ada": 20 * GB, "_heroes": 500 * GB, "projects/": 0}
    results = metering.meter_storage("acme", usage, APRIL)
    assert [(r.what, r.project, r.user, r.outcome, r.amount) for r in results] == [
        ("storage ada 2026-04-10", None, "ada", "charged", D("2.00")),
        ("storage projects/cfd 2026-04-10", "cfd", METERING_USER, "charged", D("1.00")),
    ]
    lines = Ledger(budgets.db).lines(organisation="acme")
    assert [(line.project, line.user, line.unit, line.quantity, line.amount, line.site) for line in lines] == [
        (None, "ada", "gb-month", D("0.666667"), D("2.00"), ARCHIVE),
        ("cfd", METERING_USER, "gb-month", D("0.333333"), D("1.00"), ARCHIVE),
    ]  # no "use" line: the fixed part of a price is per job, not per day of storage
    assert all(line.incurred_at == datetime(2026, 4, 10, tzinfo=UTC) for line in lines)


def test_metering_a_day_twice_charges_it_once(budgets: Budgets, metering: Metering, priced: None) -> None:
    budget = budgets.create("acme", D("100"), "EUR", period_start=EPOCH)
    assert [r.outcome for r in metering.meter_storage("acme", {"ada": 10 * GB}, APRIL)] == ["charged"]
    again = metering.meter_storage("acme", {"ada": 12 * GB}, APRIL)  # it grew meanwhile
    assert [(r.outcome, r.amount) for r in again] == [("already charged", D("0"))]
    assert budgets.get(budget).committed == D("1.00")
    next_day = metering.meter_storage("acme", {"ada": 10 * GB}, APRIL + timedelta(days=1))
    assert [(r.outcome, r.charge_ref) for r in next_day] == [("charged", "storage:acme/ada/2026-04-11")]
    assert budgets.get(budget).committed == D("2.00")
    assert len(Ledger(budgets.db).lines(organisation="acme")) == 2


@pytest.mark.parametrize(("day", "days"), [(date(2026, 2, 3), 28), (date(2028, 2, 3), 29),
                                           (date(2026, 4, 30), 30), (date(2026, 12, 31), 31)])
def test_a_day_is_its_share_of_its_own_month(day: date, days: int, metering: Metering,
                                             priced: None) -> None:
    assert days_in_month(day) == days
    assert gb_months(days * GB, day) == D(1)
    [result] = metering.meter_storage("acme", {"ada": days * 10 * GB}, day)
    assert (result.quantity, result.amount) == (D(10), D("30.00"))  # 10 GB-months at 3 EUR


def test_without_a_price_the_meter_says_so_and_charges_nothing(budgets: Budgets, metering: Metering,
                                                               prices: PriceBook, database: Database) -> None:
    [result] = metering.meter_storage("acme", {"ada": 10 * GB}, APRIL)
    assert result.outcome == "no price" and result.amount == 0
    assert "no storage 'archive' is offered by 'heroes-archive'" in result.note
    assert "publish a per_gb_month price" in result.note
    # offered, but only from May on: April has no price in force
    publish(prices, "storage", PriceModel(currency="EUR", per_gb_month=D("3")),
            since=datetime(2026, 5, 1, tzinfo=UTC))
    [result] = metering.meter_storage("acme", {"ada": 10 * GB}, APRIL)
    assert result.outcome == "no price" and "in force at 2026-04-10T00:00:00+00:00" in result.note
    # a transfer price with no per-GB part prices nothing either
    publish(prices, "transfer", PriceModel(currency="EUR", fixed=D("1")))
    moved = metering.meter_transfer(transfer(database))
    assert moved.outcome == "no price" and "has no per_gb_transferred part" in moved.note
    assert Ledger(budgets.db).lines() == []


def test_a_hard_budget_takes_what_it_has_left_and_the_rest_is_overage(
        budgets: Budgets, metering: Metering, priced: None) -> None:
    organisation_budget = budgets.create("acme", D("1.50"), "EUR", period_start=EPOCH)
    project_budget = budgets.create("acme", D("100"), "EUR", project="cfd", period_start=EPOCH)
    soft = budgets.create("acme", D("1"), "EUR", hard=False, period_start=EPOCH)
    budgets.reserve("acme", None, "wf-running", D("0.50"), "EUR", now=EPOCH + timedelta(days=1))
    [result] = metering.meter_storage("acme", {"projects/cfd": 30 * GB}, APRIL)  # 3.00 EUR
    assert result.amount == D("3.00")
    hard = budgets.get(organisation_budget)
    assert (hard.reserved, hard.committed, hard.overage) == (D("0.50"), D("1.00"), D("2.00"))
    assert budgets.get(project_budget).committed == D("3.00")
    assert (budgets.get(soft).committed, budgets.get(soft).overage) == (D("3.00"), D("0"))
    [line] = Ledger(budgets.db).lines(organisation="acme")
    assert (line.amount, line.overage) == (D("3.00"), D("2.00"))


def test_a_home_is_not_charged_to_a_project_budget(budgets: Budgets, metering: Metering,
                                                   priced: None) -> None:
    project_budget = budgets.create("acme", D("100"), "EUR", project="cfd", period_start=EPOCH)
    metering.meter_storage("acme", {"ada": 10 * GB}, APRIL)
    assert budgets.get(project_budget).committed == D("0")


def test_succeeded_transfers_are_charged_once_and_failed_ones_not_at_all(
        budgets: Budgets, metering: Metering, priced: None, database: Database) -> None:
    budget = budgets.create("acme", D("100"), "EUR", period_start=EPOCH)
    moved = transfer(database)
    failed = transfer(database, outcome=TransferOutcome.FAILED)
    empty = transfer(database, size=0)
    other = transfer(database, organisation="umbrella", project=None)
    assert [t.id for t in metering.unmetered_transfers()] == [moved.id, other.id]
    assert [t.id for t in metering.unmetered_transfers(["acme"])] == [moved.id]
    result = metering.meter_transfer(moved)
    assert (result.outcome, result.amount, result.quantity) == ("charged", D("1.00"), D(50))
    assert metering.meter_transfer(moved).outcome == "already charged"
    refused = metering.meter_transfer(failed)
    assert (refused.outcome, refused.note) == ("not charged", "a failed transfer costs nothing")
    assert metering.meter_transfer(empty).outcome == "not charged"
    assert [t.id for t in metering.unmetered_transfers()] == [other.id]
    assert budgets.get(budget).committed == D("1.00")
    [line] = Ledger(budgets.db).lines(organisation="acme")
    assert (line.unit, line.project, line.user, line.job_key, line.workflow_id, line.incurred_at) == (
        "gb-transferred", "cfd", "ada", "job-1", "run-1", moved.finished_at)


def test_the_billing_view_shows_storage_and_transfers_beside_compute(
        budgets: Budgets, metering: Metering, prices: PriceBook, priced: None,
        database: Database) -> None:
    prices.register_provider("centre", "Centre", "resource")
    partition = prices.offering("centre", "partition", "hpc/debug", site="hpc")
    prices.publish("centre", partition, PriceModel(currency="EUR", per_core_hour=D("0.5")),
                   valid_from=EPOCH, now=EPOCH)
    budgets.commit("wf-1", organisation="acme", project="cfd", user="ada", job_key="job-1",
                   items=[ChargeItem(offering_id=partition, usage=Usage.of_job(seconds=3600, cores=4),
                                     site="hpc")], incurred_at=datetime(2026, 4, 10, tzinfo=UTC))
    metering.meter_storage("acme", {"projects/cfd": 10 * GB}, APRIL)
    metering.meter_transfer(transfer(database))
    lines = Ledger(budgets.db).lines(organisation="acme")
    assert consolidate_by_charge(lines, ["charge", "project"]) == [
        {"charge": "compute", "project": "cfd", "currency": "EUR", "amount": "2.00", "overage": "0.00"},
        {"charge": "storage", "project": "cfd", "currency": "EUR", "amount": "1.00", "overage": "0.00"},
        {"charge": "transfer", "project": "cfd", "currency": "EUR", "amount": "1.00", "overage": "0.00"},
    ]
    assert consolidate_by_charge(lines, ["site", "charge"])[0] == {
        "site": "heroes-archive", "charge": "storage", "currency": "EUR", "amount": "1.00",
        "overage": "0.00"}
    assert consolidate_by_charge(lines, ["project"]) == Ledger.consolidate(lines, ["project"])
    with pytest.raises(SpecError, match="cannot group by"):
        consolidate_by_charge(lines, ["colour"])


def test_the_organisations_are_those_whose_bucket_the_template_names() -> None:
    endpoint = S3Endpoint(endpoint_url="http://127.0.0.1:8333", access_key_id="k",
                          secret_access_key="s", bucket_template="{organisation}-heroes")
    buckets = ["acme-heroes", "umbrella-heroes", "heroes-acme", "acme-heroes-old", "-heroes",
               "x-heroes", "a-b-heroes", "Acme-heroes"]
    assert organisations_in(endpoint, buckets) == ["a-b", "acme", "umbrella"]
