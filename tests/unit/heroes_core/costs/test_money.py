"""Money input: only finite Decimals, rounded to the cent before any check, bounded to the columns,
stored exactly (issue 9, item 9). Hostile values get a SpecError naming the amount and a fix."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import create_engine, func, select, text

from heroes_core.costs.budgets import Budgets, ChargeItem
from heroes_core.costs.currencies import MAX_AMOUNT, money
from heroes_core.costs.price_book import PriceBook
from heroes_core.costs.pricing import PriceModel, Usage
from heroes_core.costs.schema import Budget, CostLine, Reservation
from heroes_core.errors import SpecError
from heroes_core.store import Database, migrate

NOW = datetime(2026, 3, 1, tzinfo=UTC)

HOSTILE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([D("NaN"), D("-NaN"), D("sNaN"), D("Infinity"), D("-Infinity"), D("1e30"),
                     D("-1e30"), D("1e12"), D("999999999999.995"), D("0.001"), D("0.004999"),
                     D("-0.01"), D(0), D("-0"), D("1E-30"), D("999999999999.99"), D("0.005")]),
    st.decimals(min_value=D("-1e13"), max_value=D("1e13"), places=4),
    st.text(max_size=12),
    st.integers(min_value=-10**20, max_value=10**20),
    st.booleans(),
    st.none(),
)


def names_amount_and_fix(error: SpecError, value: object) -> bool:
    message = str(error)
    return (str(value) in message or repr(value) in message) and "Fix:" in message


@given(value=HOSTILE)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_reservation_amount_is_refused_clearly_or_stored_to_the_cent(budgets: Budgets, value: object) -> None:
    budget = budgets.create("acme", D("999999999999.99"), "EUR", hard=False,
                            period_start=NOW - timedelta(days=1))
    try:
        budgets.reserve("acme", None, "wf", value, "EUR", now=NOW)  # type: ignore[arg-type]
    except SpecError as error:
        assert names_amount_and_fix(error, value), str(error)
        assert budgets.get(budget).reserved == 0
    else:
        assert isinstance(value, D) and value.is_finite()
        cents = value.quantize(D("0.01"))
        assert D("0.01") <= cents < MAX_AMOUNT
        assert budgets.get(budget).reserved == cents
    finally:
        budgets.release("wf", now=NOW)
        with budgets.db.transaction() as session:
            session.query(Reservation).delete()
            session.query(Budget).delete()


@given(value=HOSTILE)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_budget_amount_is_refused_clearly_or_stored_to_the_cent(budgets: Budgets, value: object) -> None:
    try:
        budget = budgets.create("acme", value, "EUR", period_start=NOW - timedelta(days=1))  # type: ignore[arg-type]
    except SpecError as error:
        assert names_amount_and_fix(error, value), str(error)
    else:
        assert isinstance(value, D)
        assert budgets.get(budget).amount == value.quantize(D("0.01"))
        with budgets.db.transaction() as session:
            session.query(Budget).delete()


def test_a_thousandth_of_a_euro_is_refused_instead_of_reserving_nothing(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=1))
    with pytest.raises(SpecError, match=r"reservation amount 0\.001 rounds to 0\.00.*Fix:"):
        budgets.reserve("acme", None, "wf", D("0.001"), "EUR", now=NOW)
    with budgets.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Reservation)) == 0
    assert budgets.get(budget).reserved == 0


def test_a_float_amount_is_refused_with_the_decimal_to_use(budgets: Budgets) -> None:
    budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=1))
    with pytest.raises(SpecError, match=r"reservation amount 0\.1 is a float.*Fix: pass Decimal\('0\.1'\)"):
        budgets.reserve("acme", None, "wf", 0.1, "EUR", now=NOW)  # type: ignore[arg-type]


def test_raising_a_budget_checks_the_new_amount_too(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=1))
    for hostile in (D("NaN"), D("1e30"), "20"):
        with pytest.raises(SpecError, match="Fix:"):
            budgets.raise_amount(budget, hostile)  # type: ignore[arg-type]
    budgets.raise_amount(budget, D("20.005"))
    assert budgets.get(budget).amount == D("20.00")


def test_a_budget_that_would_outgrow_its_column_is_refused(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("999999999999.99"), "EUR", hard=False, period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "wf-1", D("999999999999.99"), "EUR", now=NOW)
    with pytest.raises(SpecError, match="Fix:"):
        budgets.reserve("acme", None, "wf-2", D("1"), "EUR", now=NOW)
    assert budgets.get(budget).reserved == D("999999999999.99")


def test_exchange_rates_and_prices_are_bounded_and_finite(prices: PriceBook) -> None:
    for hostile in (D("NaN"), D("Infinity"), D("1e30"), 1.2, D("0"), D("-1")):
        with pytest.raises(SpecError, match="Fix:"):
            prices.set_rate("EUR", "USD", hostile, valid_from=NOW)  # type: ignore[arg-type]
    for hostile_price in (D("1e30"), D("1e12"), "NaN"):
        with pytest.raises(ValidationError):
            PriceModel(currency="EUR", fixed=hostile_price)  # type: ignore[arg-type]
    assert PriceModel(currency="EUR", per_core_hour=D("0.00000049"), fixed=D(1)).per_core_hour == D("0")


def test_the_largest_amounts_are_stored_to_the_last_digit_on_sqlite(budgets: Budgets, prices: PriceBook) -> None:
    budget = budgets.create("acme", D("999999999999.99"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "wf", D("999999999999.97"), "EUR", now=NOW)
    view = budgets.get(budget)
    assert (view.amount, view.reserved) == (D("999999999999.99"), D("999999999999.97"))
    prices.register_provider("c", "C", "resource")
    offering = prices.offering("c", "partition", "c/p")
    prices.publish("c", offering, PriceModel(currency="EUR", per_core_hour=D("123456.123457")),
                   valid_from=NOW - timedelta(days=1), now=NOW - timedelta(days=2))
    assert prices.price_at(offering, NOW)[1].per_core_hour == D("123456.123457")
    for n in range(10):  # sums in SQL are exact too: 10 x 0.10 is 1.00, not 0.9999999999
        budgets.commit("wf", organisation="acme", project=None, user="u", job_key=f"j{n}",
                       items=[ChargeItem(offering_id=offering,
                                         usage=Usage(uses=D(0), core_hours=D("0.00000081")))],
                       incurred_at=NOW)
    with budgets.db.transaction() as session:
        assert session.scalar(select(func.sum(CostLine.amount))) == D("1.00")
        assert session.scalar(select(func.sum(CostLine.quantity))) == D("0.000010")


def test_money_rounds_half_even_before_it_checks() -> None:
    with pytest.raises(SpecError, match=r"rounds to 0\.00"):
        money(D("0.005"), "amount")
    assert money(D("0.015"), "amount") == D("0.02")
    with pytest.raises(SpecError, match="largest amount"):
        money(D("999999999999.995"), "amount")


def test_an_existing_sqlite_database_keeps_its_amounts_exactly_after_the_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    old = Database(url, create=False)
    migrate(old.engine, "0003")
    with old.engine.begin() as connection:  # what the previous release wrote: REAL values
        connection.execute(text(
            "INSERT INTO budgets (organisation, project, amount, currency, period_start, period_end, "
            "hard, reserved, committed) VALUES ('acme', NULL, 12345678.91, 'EUR', "
            "'2026-01-01 00:00:00.000000', NULL, 1, 0.3, 1234.56)"))
        for _ in (1, 2):  # two open reservations of one workflow: what the race left behind
            connection.execute(text(
                "INSERT INTO reservations (budget_id, workflow_id, amount, committed, state, created_at) "
                "VALUES (1, 'wf', 0.15, 0, 'open', '2026-01-01 00:00:00.000000')"))
    old.dispose()
    raw = create_engine(url)
    with raw.connect() as connection:
        assert connection.execute(text("SELECT typeof(amount) FROM budgets")).scalar() == "real"
    raw.dispose()
    upgraded = Database(url)
    with upgraded.transaction() as session:
        budget = session.scalars(select(Budget)).one()
        assert (budget.amount, budget.reserved, budget.committed) == (D("12345678.91"), D("0.15"), D("1234.56"))
        states = sorted(r.state for r in session.scalars(select(Reservation)))
        assert states == ["open", "released"]
    upgraded.dispose()
