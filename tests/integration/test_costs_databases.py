"""The costs module on the real databases: SQLite files and the test bed's PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from heroes_core.costs.budgets import BudgetExceededError, Budgets, ChargeItem
from heroes_core.costs.ledger import Ledger
from heroes_core.costs.price_book import PriceBook
from heroes_core.costs.pricing import PriceModel, Usage
from heroes_core.costs.schema import Budget, CostLine, Reservation
from heroes_core.errors import SpecError
from heroes_core.store import Base, Database
from tests.unit.heroes_core.store.test_migrations import TABLE_MODULES

NOW = datetime.now(UTC)


def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, testbed: dict[str, Any], tmp_path: Path) -> Iterator[Database]:
    if request.param == "postgres":
        url = testbed["postgres"]["test_url"]
        reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path / 'heroes.db'}"
    db = Database(url)
    yield db
    db.dispose()


@pytest.fixture
def book(database: Database) -> PriceBook:
    return PriceBook(database)


@pytest.fixture
def budgets(database: Database, book: PriceBook) -> Budgets:
    return Budgets(database, book)


def test_migrations_build_exactly_the_orm_schema(database: Database) -> None:
    assert TABLE_MODULES  # imported: every module's tables are on Base.metadata
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []
    Database(str(database.engine.url.render_as_string(hide_password=False))).dispose()  # idempotent


def test_price_history_survives_changes(book: PriceBook) -> None:
    book.register_provider("centre", "Centre", "resource")
    offering = book.offering("centre", "partition", "hpc/debug")
    now = datetime.now(UTC)
    start = now + timedelta(minutes=1)
    book.publish("centre", offering, PriceModel(currency="EUR", per_core_hour=D("0.02")), valid_from=start,
                 now=now)
    book.change_price("centre", offering, PriceModel(currency="EUR", per_core_hour=D("0.04")),
                      effective=start + timedelta(days=1), now=now)
    assert book.price_at(offering, start + timedelta(hours=23))[1].per_core_hour == D("0.02")
    assert book.price_at(offering, start + timedelta(days=2))[1].per_core_hour == D("0.04")


def test_100_concurrent_reservations_against_a_hard_budget_of_10(budgets: Budgets, book: PriceBook) -> None:
    book.register_provider("centre", "Centre", "resource")
    offering = book.offering("centre", "partition", "hpc/debug")
    book.publish("centre", offering, PriceModel(currency="EUR", fixed=D("1")),
                 valid_from=NOW - timedelta(days=1), now=NOW - timedelta(days=2))
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=1))
    results: list[str] = []
    lock = threading.Lock()
    gate = threading.Barrier(100)

    def client(n: int) -> None:
        gate.wait()
        try:
            budgets.reserve("acme", None, f"wf-{n}", D("1"), "EUR")
            outcome = "ok"
        except BudgetExceededError:
            outcome = "refused"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == 10 and results.count("refused") == 90
    view = budgets.get(budget)
    assert (view.reserved, view.committed) == (D("10"), D("0"))
    # Every successful workflow commits its job and releases: the ledger balances to the cent.
    with budgets.db.transaction() as session:
        workflows = list(session.scalars(select(Reservation.workflow_id)))
    for workflow_id in workflows:
        budgets.commit(workflow_id, organisation="acme", project=None, user="u", job_key=f"{workflow_id}-job",
                       items=[ChargeItem(offering_id=offering, usage=Usage())], incurred_at=NOW)
        budgets.release(workflow_id)
    view = budgets.get(budget)
    with budgets.db.transaction() as session:
        ledger_total = session.scalar(select(func.sum(CostLine.amount)))
    assert (view.reserved, view.committed, ledger_total) == (D("0"), D("10.00"), D("10.00"))
    assert view.committed <= view.amount


def test_a_database_failure_mid_transaction_leaves_no_partial_reservation(
        budgets: Budgets, monkeypatch: pytest.MonkeyPatch) -> None:
    org_budget = budgets.create("acme", D("100"), "EUR", period_start=NOW - timedelta(days=1))
    project_budget = budgets.create("acme", D("50"), "EUR", project="p", period_start=NOW - timedelta(days=1))
    real_flush = Session.flush
    calls = {"n": 0}

    def failing_flush(self: Session, *args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # after the first budget's reservation is written
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        real_flush(self, *args, **kwargs)

    monkeypatch.setattr(Session, "flush", failing_flush)
    with pytest.raises(OperationalError):
        budgets.reserve("acme", "p", "wf", D("5"), "EUR")
    monkeypatch.setattr(Session, "flush", real_flush)
    assert budgets.get(org_budget).reserved == 0 and budgets.get(project_budget).reserved == 0
    with budgets.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Reservation)) == 0


def test_a_crashed_workflow_reservation_is_released_by_the_cleanup(budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=3))
    budgets.reserve("acme", None, "crashed", D("4"), "EUR", now=NOW - timedelta(hours=49))
    outcomes = budgets.sweep_stale(now=NOW)
    assert [(o.workflow_id, o.action) for o in outcomes] == [("crashed", "released")]
    assert budgets.get(budget).reserved == 0
    assert Ledger(budgets.db).lines() == []


# -- races on one workflow (issue 9, item 7) -------------------------------------------------------

def small_job_offering(book: PriceBook) -> int:
    book.register_provider("centre", "Centre", "resource")
    offering = book.offering("centre", "partition", "hpc/debug")
    book.publish("centre", offering, PriceModel(currency="EUR", fixed=D("0.10")),
                 valid_from=NOW - timedelta(days=1), now=NOW - timedelta(days=2))
    return offering


def all_at_once(count: int, action: Callable[[int], object]) -> list[object]:
    """Run ``action(n)`` for n in range(count) on as many threads released together."""
    gate = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(n: int) -> None:
        gate.wait()
        try:
            results[n] = action(n)
        except Exception as exc:  # reported by the test
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_16_concurrent_reserves_of_one_workflow_hold_one_reservation_and_charge_once(
        budgets: Budgets, book: PriceBook) -> None:
    offering = small_job_offering(book)
    budget = budgets.create("acme", D("1000"), "EUR", period_start=NOW - timedelta(days=1))
    for race in range(10):
        workflow_id = f"wf-{race}"
        results = all_at_once(16, lambda n, w=workflow_id: budgets.reserve("acme", None, w, D("5"), "EUR"))
        assert not [r for r in results if isinstance(r, Exception)], results
        assert len({tuple(r) for r in results if isinstance(r, list)}) == 1  # all got the same one
        budgets.commit(workflow_id, organisation="acme", project=None, user="u", job_key="job",
                       items=[ChargeItem(offering_id=offering, usage=Usage())], incurred_at=NOW)
    with budgets.db.transaction() as session:
        per_workflow = session.execute(select(Reservation.workflow_id, func.count()).group_by(
            Reservation.workflow_id)).all()
    assert sorted(count for _, count in per_workflow) == [1] * 10
    for race in range(10):
        budgets.release(f"wf-{race}")
    view = budgets.get(budget)
    assert (view.reserved, view.committed) == (D("0"), D("1.00"))  # ten small jobs of 0.10
    assert sum(line.amount for line in Ledger(budgets.db).lines()) == D("1.00")


def test_racing_commits_and_releases_of_one_workflow_never_drive_reserved_negative(
        budgets: Budgets, book: PriceBook) -> None:
    offering = small_job_offering(book)
    budget = budgets.create("acme", D("1000"), "EUR", period_start=NOW - timedelta(days=1))
    lowest = D(0)
    for race in range(60):
        workflow_id = f"wf-{race}"
        budgets.reserve("acme", None, workflow_id, D("1"), "EUR")

        def step(n: int, workflow_id: str = workflow_id) -> object:
            if n % 2:
                return budgets.release(workflow_id)
            return budgets.commit(workflow_id, organisation="acme", project=None, user="u",
                                  job_key="job", items=[ChargeItem(offering_id=offering, usage=Usage())],
                                  incurred_at=NOW)

        results = all_at_once(4, step)
        assert not [r for r in results if isinstance(r, Exception)], results
        lowest = min(lowest, budgets.get(budget).reserved)
    view = budgets.get(budget)
    assert lowest == 0 and view.reserved == 0
    assert view.committed == D("6.00")  # each workflow's job charged once: 60 x 0.10
    with budgets.db.transaction() as session:
        assert session.scalar(select(func.sum(CostLine.amount))) == view.committed


def test_the_database_refuses_a_second_open_reservation_for_one_workflow_and_budget(
        budgets: Budgets) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "wf", D("1"), "EUR")
    with pytest.raises(IntegrityError), budgets.db.transaction() as session:
        session.add(Reservation(budget_id=budget, workflow_id="wf", amount=D(1), committed=D(0),
                                state="open", created_at=NOW))
    budgets.release("wf")
    budgets.reserve("acme", None, "wf", D("2"), "EUR")  # a released one does not block a new one
    assert budgets.get(budget).reserved == D("2.00")


# -- money on both databases (issue 9, item 9) -----------------------------------------------------

HOSTILE = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([D("NaN"), D("Infinity"), D("1e30"), D("1e12"), D("999999999999.995"), D("0.001"),
                     D("-0.01"), D("999999999999.99"), D("123456789012.34")]),
    st.decimals(min_value=D("-1e13"), max_value=D("1e13"), places=3),
    st.text(max_size=8),
    st.integers(),
)


@given(value=HOSTILE)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_money_is_refused_clearly_or_stored_exactly(budgets: Budgets, value: object) -> None:
    try:
        budget = budgets.create("acme", value, "EUR", hard=False, period_start=NOW - timedelta(days=1))  # type: ignore[arg-type]
        budgets.reserve("acme", None, "wf", value, "EUR")  # type: ignore[arg-type]
    except SpecError as error:
        assert (str(value) in str(error) or repr(value) in str(error)) and "Fix:" in str(error), str(error)
    else:
        assert isinstance(value, D)
        view = budgets.get(budget)
        assert view.amount == view.reserved == value.quantize(D("0.01"))
    finally:
        with budgets.db.transaction() as session:
            session.query(Reservation).delete()
            session.query(Budget).delete()
