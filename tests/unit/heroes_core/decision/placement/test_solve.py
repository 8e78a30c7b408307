"""Placement: each limit changes the answer, strategies pick what they say, infeasibility is explained."""

from __future__ import annotations

import random

import pytest

from heroes_core.decision.placement import (
    Constraints,
    Edge,
    Job,
    Network,
    Option,
    PlacementProblem,
    PlacementResult,
    Weights,
    evaluate,
    solve,
)
from heroes_core.errors import SpecError


def opt(site: str, time_s: float, cost: float, **extra: object) -> Option:
    return Option(site=site, time_s=time_s, cost=cost, **extra)  # type: ignore[arg-type]


def problem(
    jobs: list[Job],
    edges: list[Edge] | None = None,
    *,
    strategy: str = "time",
    network: Network | None = None,
    weights: Weights | None = None,
    **limits: object,
) -> PlacementProblem:
    return PlacementProblem(
        jobs=jobs,
        edges=edges or [],
        network=network or Network(),
        constraints=Constraints(**limits),
        strategy=strategy,  # type: ignore[arg-type]
        weights=weights,
    )


def picked(result: PlacementResult) -> dict[str, int]:
    return {c.job: c.option for c in result.choices}


def sites(result: PlacementResult) -> dict[str, str]:
    return {c.job: c.site for c in result.choices}


FAST_OR_CHEAP = [Job(id=j, options=[opt("hpc", 10, 20), opt("cloud", 50, 2)]) for j in ("a", "b")]


# --- each limit changes the answer -------------------------------------------------------------------


def test_budget_holds() -> None:
    chain = [Edge(parent="a", child="b")]
    assert solve(problem(FAST_OR_CHEAP, chain)).cost == 40  # unconstrained: both fast, both dear
    result = solve(problem(FAST_OR_CHEAP, chain, budget=25))
    assert result.status == "optimal"
    assert (result.cost, result.makespan_s) == (22, 60)


def test_deadline_holds() -> None:
    chain = problem(FAST_OR_CHEAP, [Edge(parent="a", child="b")], strategy="price")
    assert solve(chain).makespan_s == 100  # unconstrained: both slow
    result = solve(chain.model_copy(update={"constraints": Constraints(deadline_s=60)}))
    assert result.makespan_s <= 60
    assert result.cost == 22


def test_allowed_sites_hold() -> None:
    assert set(sites(solve(problem(FAST_OR_CHEAP))).values()) == {"hpc"}
    result = solve(problem(FAST_OR_CHEAP, allowed_sites={"cloud"}))
    assert set(sites(result).values()) == {"cloud"}


def test_gpus_hold() -> None:
    job = Job(id="train", required_gpus=2, options=[opt("a", 10, 1, gpus=1), opt("b", 30, 1, gpus=4)])
    assert picked(solve(problem([job.model_copy(update={"required_gpus": 0})]))) == {"train": 0}
    assert picked(solve(problem([job]))) == {"train": 1}


def test_licences_hold() -> None:
    jobs = [Job(id=j, options=[opt("a", 10, 1, licence="matlab"), opt("b", 30, 1)]) for j in ("x", "y")]
    assert picked(solve(problem(jobs))) == {"x": 0, "y": 0}
    result = solve(problem(jobs, licences={"matlab": 1}))
    assert sorted(picked(result).values()) == [0, 1]


def test_data_locality_holds() -> None:
    job = Job(id="j", options=[opt("near", 100, 1), opt("far", 90, 1)])
    slow = Network(default_bandwidth_gbps=1.0, default_egress_per_gb=0.1)
    assert sites(solve(problem([job], network=slow))) == {"j": "far"}
    located = job.model_copy(update={"input_site": "near", "input_gb": 10.0})  # 80 s to move
    result = solve(problem([located], network=slow))
    assert sites(result) == {"j": "near"}
    assert result.makespan_s == 100


def test_transfer_time_and_egress_count_between_sites() -> None:
    jobs = [Job(id="a", options=[opt("x", 10, 1)]), Job(id="b", options=[opt("y", 10, 1)])]
    net = Network(bandwidth_gbps={("x", "y"): 8.0}, egress_per_gb={("x", "y"): 0.5})
    result = solve(problem(jobs, [Edge(parent="a", child="b", data_gb=4)], network=net))
    assert result.makespan_s == pytest.approx(24)  # 4 GB at 8 Gb/s = 4 s
    assert result.cost == pytest.approx(4)


def test_capacity_holds() -> None:
    jobs = [Job(id=j, options=[opt("big", 10, 1, cores=8), opt("small", 20, 1, cores=8)]) for j in ("x", "y")]
    assert set(sites(solve(problem(jobs))).values()) == {"big"}
    result = solve(problem(jobs, site_capacity_cores={"big": 10}))
    assert sorted(sites(result).values()) == ["big", "small"]


# --- strategies --------------------------------------------------------------------------------------

THREE_WAY = [
    Job(
        id="j",
        options=[
            opt("fast", 10, 30, energy_j=500),
            opt("cheap", 40, 1, energy_j=400),
            opt("green", 60, 10, energy_j=50),
        ],
    )
]


@pytest.mark.parametrize(("strategy", "site"), [("time", "fast"), ("price", "cheap"), ("energy", "green")])
def test_strategy_picks_its_criterion(strategy: str, site: str) -> None:
    assert sites(solve(problem(THREE_WAY, strategy=strategy))) == {"j": site}


def test_weighted_trades_relative_losses() -> None:
    # cheap: 4x slower, 30x cheaper than the ideal points (10 s, 1): equal weights favour it
    result = solve(problem(THREE_WAY, strategy="weighted", weights=Weights(time=0.5, cost=0.5)))
    assert sites(result) == {"j": "cheap"}
    result = solve(problem(THREE_WAY, strategy="weighted", weights=Weights(time=0.99, cost=0.01)))
    assert sites(result) == {"j": "fast"}


@pytest.mark.parametrize("weights", [Weights(time=0, cost=0, energy=0), Weights(time=-1, cost=0.5)])
def test_weights_must_sum_to_a_positive_value(weights: Weights) -> None:
    with pytest.raises(SpecError, match="weights"):
        solve(problem(THREE_WAY, strategy="weighted", weights=weights))


def test_result_explains_and_ranks_runners_up() -> None:
    result = solve(problem(THREE_WAY))
    choice = result.choices[0]
    assert choice.runners_up == [1, 2]
    assert "fast" in choice.why and "runner-up" in choice.why


# --- infeasibility is explained ----------------------------------------------------------------------


def test_budget_too_small_says_by_how_much() -> None:
    result = solve(problem(FAST_OR_CHEAP, budget=3))
    assert result.status == "infeasible"
    [v] = result.violations
    assert (v.constraint, v.needed, v.available) == ("budget", pytest.approx(4), 3)


def test_deadline_too_short_says_by_how_much() -> None:
    chain = problem(FAST_OR_CHEAP, [Edge(parent="a", child="b")], deadline_s=15)
    [v] = solve(chain).violations
    assert (v.constraint, v.needed, v.available) == ("deadline", pytest.approx(20), 15)


def test_budget_and_deadline_binding_together() -> None:
    chain = problem(FAST_OR_CHEAP, [Edge(parent="a", child="b")], budget=30, deadline_s=40)
    result = solve(chain)
    [v] = result.violations
    assert v.constraint == "budget+deadline"
    assert (v.needed, v.available) == (pytest.approx(40), 30)
    assert "fastest plan within the budget takes at least 60" in v.detail


def test_job_without_usable_option_is_named() -> None:
    broken = Job(id="big", options=[opt("a", 1, 1, infeasible_reason="needs 2 TB of memory")])
    [v] = solve(problem([broken, *FAST_OR_CHEAP])).violations
    assert v.constraint == "no_option:big"
    assert "2 TB" in v.detail


def test_gpu_and_site_shortfalls_are_named() -> None:
    gpu = Job(id="g", required_gpus=8, options=[opt("a", 1, 1, gpus=4)])
    assert solve(problem([gpu])).violations[0].constraint == "gpus:g"
    assert solve(problem(FAST_OR_CHEAP, allowed_sites={"moon"})).violations[0].constraint == "allowed_sites:a"


def test_capacity_that_no_plan_meets() -> None:
    jobs = [Job(id=j, options=[opt("only", 10, 1, cores=8)]) for j in ("x", "y")]
    [v] = solve(problem(jobs, site_capacity_cores={"only": 10})).violations
    assert (v.constraint, v.needed, v.available) == ("capacity:only", 16, 10)


# --- evaluate (user overrides) -----------------------------------------------------------------------


def test_override_over_budget_reports_amounts() -> None:
    result = evaluate(problem(FAST_OR_CHEAP, budget=25), {"a": 0, "b": 0})
    assert result.status == "infeasible"
    [v] = result.violations
    assert (v.constraint, v.needed, v.available) == ("budget", 40, 25)
    assert result.makespan_s == 10


def test_override_on_unusable_option_is_flagged() -> None:
    jobs = [Job(id="j", options=[opt("a", 1, 1), opt("b", 1, 1, infeasible_reason="no memory")])]
    [v] = evaluate(problem(jobs), {"j": 1}).violations
    assert v.constraint == "option:j"


def test_override_must_cover_every_job() -> None:
    with pytest.raises(SpecError, match="without an option"):
        evaluate(problem(FAST_OR_CHEAP), {"a": 0})


# --- input validation --------------------------------------------------------------------------------


def test_cycle_is_refused_and_named() -> None:
    edges = [Edge(parent="a", child="b"), Edge(parent="b", child="a")]
    with pytest.raises(SpecError, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        solve(problem(FAST_OR_CHEAP, edges))


def test_unknown_edge_endpoint_is_refused() -> None:
    with pytest.raises(SpecError, match="unknown job 'ghost'"):
        solve(problem(FAST_OR_CHEAP, [Edge(parent="a", child="ghost")]))


@pytest.mark.parametrize(
    ("field", "value"), [("time_s", -1.0), ("time_s", 0.0), ("cost", -5.0), ("energy_j", -1.0)]
)
def test_negative_numbers_are_refused(field: str, value: float) -> None:
    bad = opt("a", 1, 1).model_copy(update={field: value})
    with pytest.raises(SpecError, match=f"job 'j' option 0 .*{field}"):
        solve(problem([Job(id="j", options=[bad])]))


def test_job_without_options_is_refused() -> None:
    with pytest.raises(SpecError, match="job 'j' has no options"):
        solve(problem([Job(id="j", options=[])]))


# --- wall clock --------------------------------------------------------------------------------------


def test_solve_returns_within_its_time_limit() -> None:
    rng = random.Random(3)
    jobs = [
        Job(
            id=f"j{i}",
            options=[opt(f"s{k % 6}", rng.uniform(10, 100), rng.uniform(1, 10)) for k in range(12)],
        )
        for i in range(80)
    ]
    edges = [
        Edge(parent=f"j{i}", child=f"j{i + rng.randint(1, 9)}", data_gb=rng.uniform(0, 10)) for i in range(70)
    ]
    net = Network(default_bandwidth_gbps=1.0, default_egress_per_gb=0.05)
    result = solve(
        problem(jobs, edges, network=net, strategy="weighted", weights=Weights(time=1, cost=1), budget=400),
        time_limit_s=1.0,
    )
    assert result.status in ("optimal", "feasible")
    assert result.solve_s < 2.0
    assert 0 <= result.lower_bound <= result.objective


def test_problem_round_trips_through_json() -> None:
    net = Network(bandwidth_gbps={("hpc", "cloud"): 2.5}, egress_per_gb={("cloud", "hpc"): 0.09})
    original = problem(FAST_OR_CHEAP, [Edge(parent="a", child="b", data_gb=3)], network=net, budget=30)
    assert PlacementProblem.model_validate_json(original.model_dump_json()) == original
