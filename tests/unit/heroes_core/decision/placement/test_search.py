"""Search helpers: a plan within budget and deadline together, and longer proofs of a plan's quality."""

from __future__ import annotations

import random

import numpy as np

from heroes_core.decision.placement import (
    Constraints,
    Edge,
    Job,
    Network,
    Option,
    PlacementProblem,
    Weights,
    compile_problem,
    greedy,
    prove_bound,
    solve,
)
from heroes_core.decision.placement._improve import within_limits
from heroes_core.decision.placement._plan import evaluate_choice


def chain_problem(**limits: float) -> PlacementProblem:
    jobs = [
        Job(id=j, options=[Option(site="hpc", time_s=10, cost=20), Option(site="cloud", time_s=50, cost=2)])
        for j in ("a", "b")
    ]
    return PlacementProblem(
        jobs=jobs,
        edges=[Edge(parent="a", child="b")],
        constraints=Constraints(**limits),  # type: ignore[arg-type]
        strategy="weighted",
        weights=Weights(time=1, cost=1),
    )


def test_within_limits_finds_the_plan_that_meets_budget_and_deadline_together() -> None:
    inst = compile_problem(chain_problem(budget=25, deadline_s=60))
    both_fast = evaluate_choice(inst, np.array([0, 2]))  # 40 > budget 25
    assert [v.constraint for v in both_fast.violations] == ["budget"]
    found = within_limits(inst, both_fast, deadline=float("inf"))
    assert found.feasible
    assert (found.cost, found.makespan) == (22, 60)


def test_within_limits_claims_nothing_when_no_plan_meets_both() -> None:
    inst = compile_problem(chain_problem(budget=21, deadline_s=60))  # meeting 60 s costs at least 22
    both_fast = evaluate_choice(inst, np.array([0, 2]))
    assert not within_limits(inst, both_fast, deadline=float("inf")).feasible


def test_longer_proof_bounds_the_plan_from_below_and_never_weakens() -> None:
    rng = random.Random(5)
    jobs = [
        Job(
            id=f"j{i}",
            options=[
                Option(site=f"s{k % 4}", time_s=rng.uniform(10, 100), cost=rng.uniform(1, 10))
                for k in range(8)
            ],
        )
        for i in range(40)
    ]
    edges = [
        Edge(parent=f"j{i}", child=f"j{i + rng.randint(1, 5)}", data_gb=rng.uniform(0, 10)) for i in range(34)
    ]
    problem = PlacementProblem(
        jobs=jobs,
        edges=edges,
        network=Network(default_bandwidth_gbps=1.0, default_egress_per_gb=0.05),
        strategy="weighted",
        weights=Weights(time=1, cost=1),
    )
    quick = solve(problem, time_limit_s=0.2)
    bound = prove_bound(problem, quick, time_limit_s=5.0)
    assert quick.lower_bound <= bound <= quick.objective * (1 + 1e-6)
    optimal = solve(problem, time_limit_s=30.0)
    assert optimal.status == "optimal"
    assert bound <= optimal.objective * (1 + 1e-6)


def test_budget_repair_counts_egress_and_co_locates_jobs() -> None:
    """Each job's fastest option is on a different site; only egress breaks the budget."""
    jobs = [
        Job(id="a", options=[Option(site="x", time_s=10, cost=5), Option(site="y", time_s=50, cost=6)]),
        Job(id="b", options=[Option(site="x", time_s=50, cost=6), Option(site="y", time_s=10, cost=5)]),
    ]
    problem = PlacementProblem(
        jobs=jobs,
        edges=[Edge(parent="a", child="b", data_gb=10)],
        network=Network(default_egress_per_gb=10.0),
        constraints=Constraints(budget=20),
        strategy="time",
    )
    plan = greedy(compile_problem(problem))
    assert plan.feasible
    assert plan.cost == 11  # both on one site: no egress
