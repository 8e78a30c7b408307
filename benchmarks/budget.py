"""Budget operations under contention, on SQLite and PostgreSQL, against a naive baseline.

1. Reservations per second: 16 concurrent clients each try 50 reservations of 1 EUR
   against one hard budget of 500 EUR (so contention is real and the budget binds);
   every success is then committed (a 1 EUR job) and released.
2. Price-at-instant lookups per second over one offering with 10,000 price versions.
3. Overspend: total committed beyond hard budgets across the run (must be 0).
Baseline in the same run: a naive read-check-write reservation without row locks
(what an ORM gives by default) on PostgreSQL, to show what the locking buys.
Prints a table, then a final JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from _testbed import testbed
from sqlalchemy import select, text

from heroes_core.costs import BudgetExceededError, Budgets, ChargeItem, Database, PriceBook, PriceModel, Usage
from heroes_core.costs.schema import Budget, PriceVersion, Reservation

CLIENTS, PER_CLIENT, BUDGET = 16, 50, D("500")


def fresh_postgres(url: str) -> Database:
    db = Database(url, create=False)
    with db.engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    db.dispose()
    return Database(url)


def setup(db: Database) -> tuple[Budgets, int, int]:
    prices = PriceBook(db)
    budgets = Budgets(db, prices)
    prices.register_provider("bench", "bench", "resource")
    offering = prices.offering("bench", "partition", "bench/p")
    now = datetime.now(UTC)
    prices.publish("bench", offering, PriceModel(currency="EUR", fixed=D(1)), valid_from=now, now=now)
    budget_id = budgets.create("bench", BUDGET, "EUR", hard=True, period_start=now - timedelta(days=1))
    return budgets, offering, budget_id


def naive_reserve(db: Database, workflow_id: str) -> bool:
    """Read, check, write — no lock: two clients can both see the same balance."""
    with db.transaction() as session:
        budget = session.scalars(select(Budget).where(Budget.organisation == "bench")).one()
        if budget.amount - budget.reserved - budget.committed < 1:
            return False
        budget.reserved = budget.reserved + 1
        session.add(Reservation(budget_id=budget.id, workflow_id=workflow_id, amount=D(1),
                                committed=D(0), state="open", created_at=datetime.now(UTC)))
        return True


def contend(reserve: Callable[[str], bool]) -> tuple[float, int]:
    successes = []
    lock = threading.Lock()
    barrier = threading.Barrier(CLIENTS)

    def client(n: int) -> None:
        barrier.wait()
        for i in range(PER_CLIENT):
            if reserve(f"wf-{n}-{i}"):
                with lock:
                    successes.append(f"wf-{n}-{i}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return CLIENTS * PER_CLIENT / (time.perf_counter() - started), len(successes)


def heroes_run(db: Database) -> tuple[float, D]:
    budgets, offering, budget_id = setup(db)

    def reserve(workflow_id: str) -> bool:
        try:
            budgets.reserve("bench", None, workflow_id, D(1), "EUR")
            return True
        except BudgetExceededError:
            return False

    rate, _ = contend(reserve)
    with db.transaction() as session:
        workflows = list(session.scalars(select(Reservation.workflow_id)))
    now = datetime.now(UTC)
    for workflow_id in workflows:
        budgets.commit(workflow_id, organisation="bench", project=None, user="u", job_key=workflow_id,
                       items=[ChargeItem(offering_id=offering, usage=Usage())], incurred_at=now)
        budgets.release(workflow_id)
    view = budgets.get(budget_id)
    return rate, max(view.committed - view.amount, D(0))


def naive_run(db: Database) -> tuple[float, D]:
    setup(db)
    rate, successes = contend(lambda wf: naive_reserve(db, wf))
    return rate, max(D(successes) - BUDGET, D(0))


def lookups_per_s(db: Database, versions: int = 10_000, lookups: int = 5_000) -> float:
    prices = PriceBook(db)
    prices.register_provider("history", "history", "resource")
    offering = prices.offering("history", "partition", "history/p")
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with db.transaction() as session:  # bulk set-up: one version per hour, contiguous
        session.add_all(PriceVersion(
            offering_id=offering, currency="EUR", fixed=D(1), per_core_hour=D(n) / 1000,
            per_node_hour=D(0), per_gpu_hour=D(0), per_gb_month=D(0), per_gb_transferred=D(0),
            valid_from=start + timedelta(hours=n), valid_to=start + timedelta(hours=n + 1),
            recorded_at=start, recorded_by="history") for n in range(versions))
    rng = random.Random(0)
    instants = [start + timedelta(seconds=rng.uniform(0, versions * 3600)) for _ in range(lookups)]
    began = time.perf_counter()
    for instant in instants:
        prices.price_at(offering, instant)
    return lookups / (time.perf_counter() - began)


def main() -> None:
    argparse.ArgumentParser(description=__doc__).parse_args()
    pg_url = testbed()["postgres"]["test_url"]
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_db = Database(f"sqlite:///{tmp}/bench.db")
        sqlite_rate, sqlite_over = heroes_run(sqlite_db)
        sqlite_lookups = lookups_per_s(sqlite_db)
        sqlite_db.dispose()
    pg_db = fresh_postgres(pg_url)
    pg_rate, pg_over = heroes_run(pg_db)
    pg_lookups = lookups_per_s(pg_db)
    pg_db.dispose()
    naive_db = fresh_postgres(pg_url)
    naive_rate, naive_over = naive_run(naive_db)
    naive_db.dispose()
    print(f"{'':<40}{'attempts/s':>12}{'overspend EUR':>15}")
    print(f"{'HEROES reserve, SQLite (BEGIN IMMEDIATE)':<40}{sqlite_rate:>12.0f}{sqlite_over:>15}")
    print(f"{'HEROES reserve, PostgreSQL (FOR UPDATE)':<40}{pg_rate:>12.0f}{pg_over:>15}")
    print(f"{'baseline: naive, PostgreSQL (no lock)':<40}{naive_rate:>12.0f}{naive_over:>15}")
    print(f"price-at-instant over 10,000 versions: SQLite {sqlite_lookups:.0f}/s, "
          f"PostgreSQL {pg_lookups:.0f}/s")
    print(json.dumps({"reserve_per_s_sqlite": round(sqlite_rate, 1),
                      "reserve_per_s_postgres": round(pg_rate, 1),
                      "price_lookups_per_s": round(min(sqlite_lookups, pg_lookups), 1),
                      "price_lookups_per_s_sqlite": round(sqlite_lookups, 1),
                      "price_lookups_per_s_postgres": round(pg_lookups, 1),
                      "overspend": float(sqlite_over + pg_over),
                      "naive_overspend_postgres": float(naive_over)}))


if __name__ == "__main__":
    main()
