"""Budget operations under contention, on SQLite and PostgreSQL, against a naive baseline.

1. Reservations per second: 16 concurrent clients each try 50 reservations of 1 EUR
   against one hard budget of 500 EUR (so contention is real and the budget binds);
   every success is then committed (a 1 EUR job) and released.
2. Price-at-instant lookups per second over one offering with 10,000 price versions.
3. Overspend: total committed beyond hard budgets across the run (must be 0).
4. PostgreSQL contention on one workflow and across workflows: 32 clients at once
   reserve, commit a small job and release (a) the same workflow, (b) a workflow each,
   10 rounds, against a hard budget that binds, while a watcher samples ``reserved``.
   Must hold: overspend 0, one reservation per workflow, the lowest ``reserved`` seen
   is 0 or more, and the ledger equals what the budget moved (committed + overage).
Baseline in the same run: a naive read-check-write reservation without row locks
(what an ORM gives by default) on PostgreSQL, to show what the locking buys.
Prints a table, then a final JSON line.
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import NamedTuple

from _testbed import testbed
from sqlalchemy import func, select, text

from heroes_core.costs import BudgetExceededError, Budgets, ChargeItem, PriceBook, PriceModel, Usage
from heroes_core.costs.schema import Budget, CostLine, PriceVersion, Reservation
from heroes_core.store import Database

CLIENTS, PER_CLIENT, BUDGET = 16, 50, D("500")
RACERS, ROUNDS, RACE_BUDGET = 32, 10, D("20")


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


class Contention(NamedTuple):
    ops_per_s: float
    same_workflow_reservations: int
    max_reservations_per_workflow: int
    reserved_min: D
    overspend: D
    ledger: D
    budget_moved: D
    reserved_end: D


def contention(db: Database) -> Contention:
    """32 clients at once reserve 1 EUR, commit a 0.10 EUR job and release: all on one workflow,
    then each on its own workflow for ROUNDS rounds, against a hard budget of 20 EUR."""
    prices = PriceBook(db)
    budgets = Budgets(db, prices)
    prices.register_provider("race", "race", "resource")
    offering = prices.offering("race", "partition", "race/p")
    now = datetime.now(UTC)
    prices.publish("race", offering, PriceModel(currency="EUR", fixed=D("0.10")), valid_from=now, now=now)
    budget_id = budgets.create("race", RACE_BUDGET, "EUR", hard=True, period_start=now - timedelta(days=1))
    job = [ChargeItem(offering_id=offering, usage=Usage(), site="race")]
    lowest = [D(0)]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.005):  # sample reserved while the clients race
            lowest[0] = min(lowest[0], budgets.get(budget_id).reserved)

    def lifecycle(workflow_id: str, gate: threading.Barrier | None) -> None:
        try:
            budgets.reserve("race", None, workflow_id, D(1), "EUR")
        except BudgetExceededError:
            return
        finally:
            if gate is not None:
                gate.wait()  # every client holds (or was refused) its reservation before any commit
        budgets.commit(workflow_id, organisation="race", project=None, user="u", job_key="job",
                       items=job, incurred_at=datetime.now(UTC))
        budgets.release(workflow_id)

    def own_workflow(round_: int, n: int) -> None:
        lifecycle(f"wf-{round_}-{n}", None)

    def race(target: Callable[[int], None]) -> float:
        start_gate = threading.Barrier(RACERS)

        def client(n: int) -> None:
            start_gate.wait()
            target(n)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(RACERS)]
        began = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - began

    watcher = threading.Thread(target=watch)
    watcher.start()
    same_gate = threading.Barrier(RACERS)
    seconds = race(lambda n: lifecycle("wf-same", same_gate))
    for round_ in range(ROUNDS):
        seconds += race(functools.partial(own_workflow, round_))
    done.set()
    watcher.join()
    view = budgets.get(budget_id)
    lowest[0] = min(lowest[0], view.reserved)
    with db.transaction() as session:
        per_workflow = dict(session.execute(select(Reservation.workflow_id, func.count()).group_by(
            Reservation.workflow_id)).all())
        ledger = session.scalar(select(func.coalesce(func.sum(CostLine.budget_amount), 0)).where(
            CostLine.organisation == "race"))
    operations = RACERS * (ROUNDS + 1) * 3
    return Contention(ops_per_s=operations / seconds, same_workflow_reservations=per_workflow["wf-same"],
                      max_reservations_per_workflow=max(per_workflow.values()),
                      reserved_min=lowest[0], overspend=max(view.committed - view.amount, D(0)),
                      ledger=D(ledger or 0), budget_moved=view.committed + view.overage,
                      reserved_end=view.reserved)


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
    race_db = fresh_postgres(pg_url)
    race = contention(race_db)
    race_db.dispose()
    naive_db = fresh_postgres(pg_url)
    naive_rate, naive_over = naive_run(naive_db)
    naive_db.dispose()
    print(f"{'':<40}{'attempts/s':>12}{'overspend EUR':>15}")
    print(f"{'HEROES reserve, SQLite (BEGIN IMMEDIATE)':<40}{sqlite_rate:>12.0f}{sqlite_over:>15}")
    print(f"{'HEROES reserve, PostgreSQL (FOR UPDATE)':<40}{pg_rate:>12.0f}{pg_over:>15}")
    print(f"{'baseline: naive, PostgreSQL (no lock)':<40}{naive_rate:>12.0f}{naive_over:>15}")
    print(f"price-at-instant over 10,000 versions: SQLite {sqlite_lookups:.0f}/s, "
          f"PostgreSQL {pg_lookups:.0f}/s")
    print(f"PostgreSQL contention, {RACERS} clients reserve/commit/release ({race.ops_per_s:.0f} ops/s): "
          f"one workflow -> {race.same_workflow_reservations} reservation(s); at most "
          f"{race.max_reservations_per_workflow} per workflow; lowest reserved seen "
          f"{race.reserved_min}; overspend {race.overspend}; ledger {race.ledger} vs budget "
          f"moved {race.budget_moved}; reserved at the end {race.reserved_end}")
    print(json.dumps({"reserve_per_s_sqlite": round(sqlite_rate, 1),
                      "reserve_per_s_postgres": round(pg_rate, 1),
                      "price_lookups_per_s": round(min(sqlite_lookups, pg_lookups), 1),
                      "price_lookups_per_s_sqlite": round(sqlite_lookups, 1),
                      "price_lookups_per_s_postgres": round(pg_lookups, 1),
                      "overspend": float(sqlite_over + pg_over + race.overspend),
                      "naive_overspend_postgres": float(naive_over),
                      "pg_contention_ops_per_s": round(race.ops_per_s, 1),
                      "pg_same_workflow_reservations": race.same_workflow_reservations,
                      "pg_max_reservations_per_workflow": race.max_reservations_per_workflow,
                      "reserved_min": float(race.reserved_min),
                      "ledger_equals_budget_moves": race.ledger == race.budget_moved}))


if __name__ == "__main__":
    main()
