"""The start-up of a cloud cluster's nodes is billed to the workflow that started them, once per start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from heroes_core.cloud import Lease, acquire_nodes, charge_startup, heroes_tags
from heroes_core.costs.budgets import Budgets
from heroes_core.costs.ledger import Ledger
from heroes_core.costs.price_book import PriceBook
from heroes_core.costs.pricing import PriceModel
from heroes_core.jobs import JobContext
from heroes_core.store import Database
from tests.unit.heroes_core.cloud.fake_nodes import FakeNodes
from tests.unit.heroes_core.cloud.test_leases import BINDING

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
CENTRE = "acme-cloud"


@pytest.fixture
def budgets(database: Database) -> Budgets:
    return Budgets(database, PriceBook(database))


@pytest.fixture
def offering(budgets: Budgets) -> int:
    """The cloud centre's partition at 0.40 EUR per node-hour, as integrate-cloud-platform publishes it."""
    budgets.prices.register_provider(CENTRE, "acme's cloud cluster", "resource")
    offering = budgets.prices.offering(CENTRE, "partition", f"{CENTRE}/compute", site=CENTRE)
    budgets.prices.publish(CENTRE, offering, PriceModel(currency="EUR", per_node_hour=D("0.40")),
                           valid_from=NOW - timedelta(days=1), now=NOW - timedelta(days=1))
    return offering


def payer(workflow: str = "wf-1") -> JobContext:
    return JobContext.for_run(workflow, organisation="acme", user="ada", site=CENTRE, step="train",
                              partition="compute")


def lease(started: tuple[str, ...], *, at: datetime = NOW, startup_s: float = 450.0) -> Lease:
    return Lease(workflow="wf-1", nodes=("i-0", "i-1"), started=started, until=at + timedelta(hours=2), at=at,
                 startup_s=startup_s)


def test_the_nodes_a_workflow_started_are_charged_their_start_up_with_its_job_once(
        budgets: Budgets, offering: int) -> None:
    budget = budgets.create("acme", D("10"), "EUR", period_start=NOW - timedelta(days=1))
    job = payer()
    lines = charge_startup(budgets, lease(("i-0", "i-1")), BINDING, offering, job)
    # two nodes x 450 s = 0.25 node-hours at 0.40
    assert [(line.unit, line.quantity, line.amount) for line in lines] == [("node-hour", D("0.25"), D("0.10"))]
    assert charge_startup(budgets, lease(("i-0", "i-1")), BINDING, offering, job) == []  # the same start
    assert budgets.get(budget).committed == D("0.10")
    (line,) = Ledger(budgets.db).lines(organisation="acme")
    assert (line.workflow_id, line.job_key, line.site) == ("wf-1", job.key, CENTRE)

    later = lease(("i-0",), at=NOW + timedelta(hours=3), startup_s=900.0)  # stopped between waves, started again
    assert sum(line.amount for line in charge_startup(budgets, later, BINDING, offering, job)) == D("0.10")
    assert budgets.get(budget).committed == D("0.20")


def test_a_lease_on_nodes_already_running_costs_nothing_more(budgets: Budgets, offering: int) -> None:
    assert charge_startup(budgets, lease(()), BINDING, offering, payer()) == []
    assert Ledger(budgets.db).lines(organisation="acme") == []


def test_another_workflows_lease_is_not_charged_to_this_one(budgets: Budgets, offering: int) -> None:
    with pytest.raises(ValueError, match="lease of workflow wf-1 cannot be charged to workflow wf-2"):
        charge_startup(budgets, lease(("i-0",)), BINDING, offering, payer("wf-2"))
    assert Ledger(budgets.db).lines(organisation="acme") == []


def test_a_lease_says_when_it_started_its_nodes_and_how_long_they_took() -> None:
    nodes = FakeNodes()
    for state in ("stopped", "running"):
        nodes.add(state, heroes_tags("acme", role="compute", cluster="acme", now=NOW - timedelta(hours=3)))
    first = acquire_nodes(nodes, BINDING, "wf-1", 2, hold_s=3600, now=NOW)
    assert first.at == NOW and len(first.started) == 1 and first.startup_s >= 0
    again = acquire_nodes(nodes, BINDING, "wf-1", 2, hold_s=3600, now=NOW + timedelta(minutes=5))
    assert again.started == () and again.startup_s == 0  # renewed: nothing started, nothing to bill
