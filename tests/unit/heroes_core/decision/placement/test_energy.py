"""The energy cap: it changes the plan, every path (MILP, heuristics, overrides) keeps to it, and a cap
that cannot hold, alone or with another limit, is explained with the amounts."""

from __future__ import annotations

import random

import numpy as np
import pytest

from heroes_core.decision.placement import (
    Constraints,
    Edge,
    Job,
    Network,
    Option,
    PlacementProblem,
    Violation,
    compile_problem,
    evaluate,
    greedy,
    solve,
)
from heroes_core.decision.placement._improve import within_limits
from heroes_core.decision.placement._plan import evaluate_choice


def opt(site: str, time_s: float, cost: float, energy_j: float) -> Option:
    return Option(site=site, time_s=time_s, cost=cost, energy_j=energy_j)


def assert_amounts(v: Violation, constraint: str, needed: float, available: float) -> None:
    assert v.constraint == constraint
    assert v.needed == pytest.approx(needed)
    assert v.available == pytest.approx(available)


def chain(options: list[Option], *, strategy: str = "time", **limits: float) -> PlacementProblem:
    """Jobs ``a`` then ``b``, each with ``options``."""
    return PlacementProblem(
        jobs=[Job(id=j, options=options) for j in ("a", "b")],
        edges=[Edge(parent="a", child="b")],
        constraints=Constraints(**limits),  # type: ignore[arg-type]
        strategy=strategy,  # type: ignore[arg-type]
    )


#: Fast and hungry, or slow and frugal: the energy cap trades time for joules.
FAST_OR_GREEN = [opt("hpc", 10, 2, 500), opt("green", 50, 2, 100)]
#: Frugal and dear, or hungry and cheap: the energy cap trades money for joules.
GREEN_OR_CHEAP = [opt("green", 10, 20, 100), opt("dirty", 10, 2, 500)]


def test_energy_cap_changes_the_plan() -> None:
    free = solve(chain(FAST_OR_GREEN))
    assert (free.makespan_s, free.energy_j) == (20, 1000)  # both fast
    capped = solve(chain(FAST_OR_GREEN, energy_j=700))
    assert capped.status == "optimal"
    assert (capped.makespan_s, capped.energy_j) == (60, 600)  # one job moves to the frugal site
    assert not capped.violations


def test_energy_cap_no_plan_meets_names_the_least_energy() -> None:
    result = solve(chain(FAST_OR_GREEN, energy_j=150))
    assert result.status == "infeasible"
    [v] = result.violations
    assert_amounts(v, "energy", 200, 150)
    assert "every plan uses at least 200 J, 50 J over the energy cap of 150 J" in v.detail


def test_energy_cap_that_cannot_hold_is_named_beside_a_budget_that_can() -> None:
    [v] = solve(chain(GREEN_OR_CHEAP, budget=20, energy_j=150)).violations
    assert_amounts(v, "energy", 200, 150)


def test_budget_and_energy_that_hold_alone_but_not_together() -> None:
    # within 700 J one job must run green (cost >= 22); within a budget of 20 both run dirty (1000 J)
    result = solve(chain(GREEN_OR_CHEAP, budget=20, energy_j=700))
    [v] = result.violations
    assert_amounts(v, "budget+energy", 22, 20)
    assert "cheapest plan meeting the energy cap of 700 J costs at least 22.00 > budget 20.00" in v.detail
    assert "least energy-hungry plan within the budget uses at least 1000 J" in v.detail


def test_deadline_and_energy_that_hold_alone_but_not_together() -> None:
    result = solve(chain(FAST_OR_GREEN, deadline_s=40, energy_j=700))
    [v] = result.violations
    assert_amounts(v, "deadline+energy", 60, 40)
    assert "least energy-hungry plan within the deadline uses at least 1000 J" in v.detail


def test_three_limits_each_pair_of_which_holds() -> None:
    # each option meets two of the three limits: fast+cheap, fast+green, slow+cheap+green
    options = [opt("a", 10, 1, 500), opt("b", 10, 20, 100), opt("c", 50, 1, 100)]
    job = PlacementProblem(
        jobs=[Job(id="j", options=options)],
        constraints=Constraints(budget=5, deadline_s=20, energy_j=200),
    )
    [v] = solve(job).violations
    assert_amounts(v, "budget+deadline+energy", 20, 5)
    assert "cannot all hold" in v.detail


def test_override_over_the_energy_cap_reports_amounts() -> None:
    result = evaluate(chain(FAST_OR_GREEN, energy_j=700), {"a": 0, "b": 0})
    assert result.status == "infeasible"
    [v] = result.violations
    assert_amounts(v, "energy", 1000, 700)
    assert "the plan uses 1000 J, 300 J over the energy cap of 700 J" in v.detail


def test_heuristic_plan_respects_the_cap_without_the_milp() -> None:
    """The plan a capped solve falls back on when the MILP finds nothing in time: greedy, repaired."""
    jobs = [
        Job(id=f"j{i}", options=[opt("hpc", 10 + i, 2, 500), opt("green", 12 + i, 2, 100)]) for i in range(6)
    ]
    assert greedy(compile_problem(PlacementProblem(jobs=jobs))).energy == 3000  # every job at its fastest
    plan = greedy(compile_problem(PlacementProblem(jobs=jobs, constraints=Constraints(energy_j=1800))))
    assert plan.feasible
    assert plan.energy <= 1800


def test_heuristic_repairs_energy_and_budget_together() -> None:
    jobs = [
        Job(
            id=f"j{i}",
            options=[opt("fast", 10, 10, 500), opt("green", 20, 10, 100), opt("cheap", 20, 1, 500)],
        )
        for i in range(4)
    ]
    problem = PlacementProblem(jobs=jobs, constraints=Constraints(budget=30, energy_j=1200))
    plan = greedy(compile_problem(problem))
    assert plan.feasible
    assert plan.cost == pytest.approx(22)
    assert plan.energy == pytest.approx(1200)


def test_within_limits_finds_a_plan_under_energy_cap_and_deadline() -> None:
    inst = compile_problem(chain(FAST_OR_GREEN, strategy="energy", deadline_s=60, energy_j=700))
    both_fast = evaluate_choice(inst, np.array([0, 2]))  # 1000 J
    assert [v.constraint for v in both_fast.violations] == ["energy"]
    found = within_limits(inst, both_fast, deadline=float("inf"))
    assert found.feasible
    assert (found.makespan, found.energy) == (60, 600)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_plans_of_large_workflows_keep_to_the_cap(seed: int) -> None:
    """Past 600 options the solver rounds a relaxation and searches neighbourhoods instead of one MILP;
    whatever it returns, and however far it got, keeps to the cap (the repaired greedy plan always can)."""
    rng = random.Random(seed)
    jobs = [
        Job(
            id=f"j{i}",
            options=[
                opt(f"s{k % 6}", rng.uniform(10, 100), rng.uniform(1, 10), rng.uniform(100, 1000))
                for k in range(12)
            ],
        )
        for i in range(60)
    ]
    edges = [
        Edge(parent=f"j{i}", child=f"j{i + rng.randint(1, 6)}", data_gb=rng.uniform(0, 5)) for i in range(50)
    ]
    free = PlacementProblem(
        jobs=jobs, edges=edges, network=Network(default_egress_per_gb=0.05), strategy="time"
    )
    least = sum(min(o.energy_j for o in job.options) for job in jobs)
    fastest = greedy(compile_problem(free)).energy
    cap = (least + fastest) / 2
    result = solve(free.model_copy(update={"constraints": Constraints(energy_j=cap)}), time_limit_s=1.0)
    assert result.status in ("optimal", "feasible")
    assert result.energy_j <= cap * (1 + 1e-7)
    assert sum(c.energy_j for c in result.choices) == pytest.approx(result.energy_j)
