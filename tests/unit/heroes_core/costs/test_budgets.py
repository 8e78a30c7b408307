"""Reserve, commit, release: the budget invariants on SQLite."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from heroes_core.costs.budgets import BudgetExceededError, Budgets, ChargeItem
from heroes_core.costs.catalogue import PriceBook
from heroes_core.costs.ledger import Ledger
from heroes_core.costs.pricing import PriceModel, Usage
from heroes_core.errors import SpecError

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def partition(prices: PriceBook) -> int:
    prices.register_provider("centre", "Centre", "resource")
    offering = prices.offering("centre", "partition", "hpc/debug", site="hpc")
    prices.publish("centre", offering, PriceModel(currency="EUR", fixed=D("1"), per_core_hour=D("0.5")),
                   valid_from=NOW - timedelta(days=30), now=NOW - timedelta(days=31))
    return offering


def test_a_hard_budget_refuses_what_it_cannot_cover_and_writes_nothing(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "wf-1", D("8"), "EUR", now=NOW)
    with pytest.raises(BudgetExceededError, match=r"has 2\.00 EUR left; this needs 3\.00"):
        budgets.reserve("acme", None, "wf-2", D("3"), "EUR", now=NOW)
    view = budgets.get(budget)
    assert (view.reserved, view.committed) == (D("8"), D("0"))


def test_a_soft_budget_lets_it_through(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", hard=False, period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "wf-1", D("15"), "EUR", now=NOW)
    assert budgets.get(budget).available == D("-5")


def test_commit_prices_actual_usage_and_release_returns_the_rest(budgets: Budgets, partition: int) -> None:
    budget = budgets.create("acme", D("100"), "EUR", project="p1", period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", "p1", "wf-1", D("20"), "EUR", now=NOW)
    item = ChargeItem(offering_id=partition, usage=Usage.of_job(seconds=3600, cores=4), site="hpc")
    added = budgets.commit("wf-1", organisation="acme", project="p1", user="ada", job_key="job-1",
                           items=[item], incurred_at=NOW)
    assert added == D("3.00")  # 1 + 4 core-hours x 0.5
    assert budgets.commit("wf-1", organisation="acme", project="p1", user="ada", job_key="job-1",
                          items=[item], incurred_at=NOW) == D("0")  # idempotent
    view = budgets.get(budget)
    assert (view.reserved, view.committed) == (D("17.00"), D("3.00"))
    assert budgets.release("wf-1", now=NOW) == D("17.00")
    assert budgets.release("wf-1", now=NOW) == D("0")
    view = budgets.get(budget)
    assert (view.reserved, view.committed, view.available) == (D("0"), D("3.00"), D("97.00"))
    lines = Ledger(budgets.db).lines(organisation="acme")
    assert [(line.unit, line.amount) for line in lines] == [("use", D("1.00")), ("core-hour", D("2.00"))]


def test_project_and_organisation_budgets_must_both_have_room(budgets: Budgets) -> None:
    budgets.create("acme", D("100"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.create("acme", D("5"), "EUR", project="small", period_start=NOW - timedelta(days=1))
    with pytest.raises(BudgetExceededError):
        budgets.reserve("acme", "small", "wf-1", D("6"), "EUR", now=NOW)
    assert all(v.reserved == 0 for v in budgets.budgets_of("acme"))
    assert len(budgets.reserve("acme", "small", "wf-2", D("4"), "EUR", now=NOW)) == 2


def test_a_budget_in_another_currency_needs_a_rate(budgets: Budgets, prices: PriceBook) -> None:
    budgets.create("acme", D("100"), "USD", period_start=NOW - timedelta(days=1))
    with pytest.raises(SpecError, match="no exchange rate from EUR to USD"):
        budgets.reserve("acme", None, "wf-1", D("10"), "EUR", now=NOW)
    prices.set_rate("EUR", "USD", D("1.2"), valid_from=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "wf-1", D("10"), "EUR", now=NOW)
    assert budgets.budgets_of("acme")[0].reserved == D("12.00")


def test_no_budget_in_force_is_a_clear_error(budgets: Budgets) -> None:
    budgets.create("acme", D("10"), "EUR", period_start=NOW + timedelta(days=1))
    with pytest.raises(SpecError, match="'acme' has no budget in force"):
        budgets.reserve("acme", None, "wf", D("1"), "EUR", now=NOW)


def test_a_crash_between_reserve_and_commit_is_cleaned_up_by_the_release_path(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "crashed-wf", D("7"), "EUR", now=NOW)
    # ... the workflow process dies here: no commit, no release ...
    assert budgets.get(budget).reserved == D("7")
    assert budgets.release_stale(older_than=NOW + timedelta(hours=1)) == ["crashed-wf"]
    assert budgets.get(budget).reserved == D("0")


def test_billing_views_consolidate_and_export_csv(budgets: Budgets, partition: int) -> None:
    budgets.create("acme", D("100"), "EUR", period_start=NOW - timedelta(days=1))
    for n, user in enumerate(["ada", "ada", "bob"]):
        budgets.reserve("acme", None, f"wf-{n}", D("5"), "EUR", now=NOW)
        budgets.commit(f"wf-{n}", organisation="acme", project=None, user=user, job_key=f"j{n}",
                       items=[ChargeItem(offering_id=partition, usage=Usage.of_job(seconds=3600, cores=2),
                                         site="hpc")], incurred_at=NOW)
    ledger = Ledger(budgets.db)
    rows = ledger.consolidate(ledger.lines(), ["user", "month"])
    assert rows == [{"user": "ada", "month": "2026-03", "currency": "EUR", "amount": "4.00"},
                    {"user": "bob", "month": "2026-03", "currency": "EUR", "amount": "2.00"}]
    assert ledger.to_csv(rows).splitlines()[0] == "user,month,currency,amount"


def test_available_for_planning_is_the_tightest_hard_budget(budgets: Budgets) -> None:
    assert budgets.available_for("acme", "p1", "EUR", NOW) is None
    budgets.create("acme", D("100"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.create("acme", D("30"), "EUR", project="p1", period_start=NOW - timedelta(days=1))
    budgets.create("acme", D("5"), "EUR", project="p1", hard=False, period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", "p1", "wf", D("10"), "EUR", now=NOW)
    assert budgets.available_for("acme", "p1", "EUR", NOW) == D("20")
    assert budgets.available_for("acme", None, "EUR", NOW) == D("90")
