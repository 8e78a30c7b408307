"""An organisation's cloud cluster as a placement option: its owner only, priced from the cloud
price list with its nodes' start-up, and jobs moved off it when its nodes do not start."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D
from typing import Any

import pytest

from heroes_core.catalog import Application, Catalog
from heroes_core.costs import PriceBook, PriceModel
from heroes_core.costs.cloud_prices import InstancePrice, PriceList
from heroes_core.decision.metadata import MetadataStore
from heroes_core.decision.placement import solve
from heroes_core.decision.planner import PlanningInputs, build_problem
from heroes_core.decision.predict import Predictor
from heroes_core.decision.proposal import Plan
from heroes_core.decision.replacement import NoOtherPlacementError, replace_jobs
from heroes_core.errors import SpecError
from heroes_core.sites import CloudBinding, SiteConfig
from heroes_core.store import Database
from heroes_core.workflows import WorkflowSpec

NOW = datetime(2026, 6, 1, tzinfo=UTC)
DIGEST = "sha256:" + "c" * 64
BINDING = CloudBinding(provider="aws", account="aws-acme", organisation="acme", cluster="acme",
                       region="eu-west-1", instance_type="c5.xlarge", cores_per_node=4, max_nodes=3,
                       startup_s=240)
# 0.20 USD an hour, at 0.9 EUR to the dollar
CLOUD_PRICES = PriceList(fetched_at=NOW, prices=[InstancePrice(
    provider="aws", region="eu-west-1", instance_type="c5.xlarge", vcpus=4, price_per_hour=D("0.20"),
    fetched_at=NOW, source="snapshot")])


@pytest.fixture
def prices(database: Database) -> PriceBook:
    book = PriceBook(database)
    book.register_provider("hpc", "hpc", "resource")
    offering = book.offering("hpc", "partition", "hpc/main", site="hpc")
    book.publish("hpc", offering, PriceModel(currency="EUR", per_core_hour=D("0.10")),
                 valid_from=NOW - timedelta(days=1), now=NOW - timedelta(days=2))
    book.set_rate("USD", "EUR", D("0.9"), valid_from=NOW - timedelta(days=1))
    return book


def inputs(binding: CloudBinding = BINDING, **overrides: object) -> PlanningInputs:
    sites = [SiteConfig(name="hpc", host="h", user="u", work_root="/w", partitions=("main",)),
             SiteConfig(name="acme-cloud", host="head", user="u", work_root="/shared", partitions=("cloud",),
                        cloud=binding)]
    values: dict[str, object] = {
        "sites": sites, "organisation": "acme", "cloud_prices": CLOUD_PRICES,
        "catalog": Catalog(applications=[Application(name="sim", digest=DIGEST,
                                                     images={"hpc": "/i", "acme-cloud": "/i"})]),
    }
    values.update(overrides)
    return PlanningInputs.model_validate(values)


def spec(**job: object) -> WorkflowSpec:
    return WorkflowSpec.model_validate({"jobs": [{"id": "a", "application": "sim", "command": ["x"],
                                                  "estimate_minutes": 60, "time_limit_minutes": 120,
                                                  "cores": 4, "nodes": 2, **job}]})


def options(database: Database, prices: PriceBook, planning: PlanningInputs, workflow: WorkflowSpec | None = None
            ) -> dict[str, Any]:
    problem, details = build_problem(workflow or spec(), planning, Predictor(MetadataStore(database)), prices,
                                     now=NOW)
    return {"options": {o.site: o for o in problem.jobs[0].options},
            "details": {d.site: d for d in details["a"]}, "problem": problem, "all": details}


def test_a_cloud_option_costs_its_nodes_at_the_providers_price_for_runtime_and_start_up(
        database: Database, prices: PriceBook) -> None:
    found = options(database, prices, inputs())
    cloud = found["options"]["acme-cloud"]
    # 2 nodes x 0.20 USD/h x (3600 + 240) s, at 0.9 EUR per USD
    assert cloud.cost == pytest.approx(2 * 0.20 * (3840 / 3600) * 0.9)
    assert cloud.time_s == pytest.approx(3600 + 240) and cloud.infeasible_reason is None
    assert "240 s to start acme-cloud's nodes" in found["details"]["acme-cloud"].note
    assert found["options"]["hpc"].cost == pytest.approx(0.4)  # the price book's: 4 core-hours


def test_with_enough_nodes_running_a_cloud_job_waits_for_no_start_up(database: Database,
                                                                    prices: PriceBook) -> None:
    warm = options(database, prices, inputs(cloud_running={"acme-cloud": 2}))["options"]["acme-cloud"]
    one = options(database, prices, inputs(cloud_running={"acme-cloud": 1}))["options"]["acme-cloud"]
    assert warm.time_s == pytest.approx(3600) and warm.cost == pytest.approx(2 * 0.20 * 0.9)
    assert one.time_s == pytest.approx(3840)  # a second node must start


def test_a_cloud_instance_type_without_a_price_or_too_small_is_infeasible_and_says_why(
        database: Database, prices: PriceBook) -> None:
    unpriced = BINDING.model_copy(update={"instance_type": "x9.mega"})
    reason = options(database, prices, inputs(unpriced))["options"]["acme-cloud"].infeasible_reason
    assert reason is not None and reason.startswith("no price: no aws price for x9.mega")
    big = options(database, prices, inputs(), spec(cores=8, nodes=4))["options"]["acme-cloud"]
    assert "8 cores per node > the 4 of c5.xlarge" in big.infeasible_reason
    assert "4 nodes > the cluster's 3" in big.infeasible_reason


def test_a_cloud_price_in_a_currency_without_exchange_rate_is_infeasible(database: Database) -> None:
    book = PriceBook(database)
    reason = options(database, book, inputs())["options"]["acme-cloud"].infeasible_reason
    assert "no exchange rate from USD to EUR" in str(reason)


def test_the_cheapest_strategy_picks_the_cheaper_cloud_cluster(database: Database, prices: PriceBook) -> None:
    problem = options(database, prices, inputs(), spec().model_copy(update={"strategy": "price"}))["problem"]
    assert solve(problem).choices[0].site == "acme-cloud"


def test_another_organisations_cloud_cluster_is_refused_clearly(database: Database, prices: PriceBook) -> None:
    with pytest.raises(SpecError, match=r"acme-cloud \(of acme\).*workflows of globex cannot be placed"):
        options(database, prices, inputs(organisation="globex"))


def test_a_job_on_a_failed_cloud_cluster_moves_to_its_next_option_or_fails_naming_it(
        database: Database, prices: PriceBook) -> None:
    found = options(database, prices, inputs(), spec().model_copy(update={"strategy": "price"}))
    problem = found["problem"]
    plan = Plan(problem=problem, result=solve(problem), details=found["all"])
    assert plan.detail("a", plan.assignment()).site == "acme-cloud"
    moved = replace_jobs(plan, plan.assignment(), ["a"], {"acme-cloud": "InsufficientInstanceCapacity"})
    assert plan.detail("a", moved).site == "hpc"
    with pytest.raises(NoOtherPlacementError, match=r"acme-cloud.*InsufficientInstanceCapacity") as caught:
        replace_jobs(plan, plan.assignment(), ["a"], {"acme-cloud": "InsufficientInstanceCapacity",
                                                       "hpc": "down"})
    assert caught.value.site == "acme-cloud"
