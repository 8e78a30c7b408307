"""The costs module on the real databases: SQLite files and the test bed's PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from heroes_core.costs.budgets import BudgetExceededError, Budgets, ChargeItem
from heroes_core.costs.catalogue import PriceBook
from heroes_core.costs.db import Database
from heroes_core.costs.ledger import Ledger
from heroes_core.costs.pricing import PriceModel, Usage
from heroes_core.costs.schema import Base, CostLine, Reservation

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
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=1))
    budgets.reserve("acme", None, "crashed", D("4"), "EUR", now=NOW - timedelta(hours=2))
    assert budgets.release_stale(older_than=NOW - timedelta(hours=1)) == ["crashed"]
    assert budgets.get(budget).reserved == 0
    assert Ledger(budgets.db).lines() == []
