"""Local search on a complete plan: batch evaluation agrees with the plan's own, moves only improve,
and plans that break limits are walked back within them instead of being thrown away."""

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
    Weights,
    _local,
    compile_problem,
)
from heroes_core.decision.placement._heuristics import best_of, better
from heroes_core.decision.placement._local import Neighbourhood, local_search
from heroes_core.decision.placement._plan import evaluate_choice


def random_problem(seed: int, **limits: float) -> PlacementProblem:
    rng = random.Random(seed)
    sites = ["a", "b", "c"]
    jobs = [
        Job(
            id=f"j{i}",
            options=[
                Option(
                    site=site,
                    partition=f"p{n}",
                    time_s=rng.uniform(10, 100),
                    cost=rng.uniform(1, 10),
                    energy_j=rng.uniform(100, 1000),
                    cores=rng.choice([1, 2, 4]),
                )
                for site in sites
                for n in range(2)
            ],
            input_site="a" if i == 0 else None,
            input_gb=5.0 if i == 0 else 0.0,
        )
        for i in range(8)
    ]
    edges = [
        Edge(parent=f"j{i}", child=f"j{j}", data_gb=rng.uniform(0.5, 5))
        for i in range(8)
        for j in range(i + 1, 8)
        if rng.random() < 0.3
    ]
    return PlacementProblem(
        jobs=jobs,
        edges=edges,
        network=Network(default_bandwidth_gbps=0.5, default_egress_per_gb=0.5),
        constraints=Constraints(site_capacity_cores={"b": 8}, **limits),  # type: ignore[arg-type]
        strategy="weighted",
        weights=Weights(time=1, cost=1, energy=1),
    )


def test_batch_evaluation_agrees_with_the_plans_own() -> None:
    inst = compile_problem(random_problem(1, budget=40.0, deadline_s=300.0))
    rng = np.random.default_rng(0)
    plans = np.array(
        [[rng.integers(inst.begin[i], inst.begin[i + 1]) for i in range(inst.n)] for _ in range(50)]
    )
    score, excess, totals = Neighbourhood(inst).measure(plans)
    for row, plan in enumerate(plans):
        ev = evaluate_choice(inst, plan)
        assert np.allclose(totals[row], ev.totals)
        assert np.isclose(score[row], ev.score)
        assert (excess[row] == 0) == ev.feasible


def test_local_search_never_returns_a_worse_plan() -> None:
    for seed in range(5):
        inst = compile_problem(random_problem(seed))
        start = evaluate_choice(inst, inst.begin[:-1].copy())  # every job's first option
        found = local_search(inst, start, deadline=float("inf"))
        assert found.feasible
        assert found.score <= start.score


def test_local_search_reaches_a_plan_no_single_move_improves() -> None:
    inst = compile_problem(random_problem(2))
    found = local_search(inst, evaluate_choice(inst, inst.begin[:-1].copy()), deadline=float("inf"))
    for i in range(inst.n):
        for k in inst.options_of(i):
            moved = found.choice.copy()
            moved[i] = k
            assert not better(evaluate_choice(inst, moved), found)


def test_a_plan_over_its_limits_is_walked_back_within_them() -> None:
    problem = random_problem(3)
    inst = compile_problem(problem)
    cheapest = np.array([inst.begin[i] + np.argmin(inst.cost[inst.options_of(i)]) for i in range(inst.n)])
    cheap = evaluate_choice(inst, cheapest)
    tight = compile_problem(problem.model_copy(update={"constraints": Constraints(budget=cheap.cost * 1.05)}))
    fastest = np.array([tight.begin[i] + np.argmin(tight.time[tight.options_of(i)]) for i in range(tight.n)])
    start = evaluate_choice(tight, fastest)
    assert [v.constraint for v in start.violations] == ["budget"]
    found = local_search(tight, start, deadline=float("inf"))
    assert found.feasible


def test_of_two_plans_over_their_limits_the_nearer_one_is_kept() -> None:
    inst = compile_problem(random_problem(4, budget=1.0))  # no plan costs so little
    plans = [evaluate_choice(inst, np.array([inst.begin[i] + k for i in range(inst.n)])) for k in range(6)]
    nearest = min(plans, key=lambda ev: ev.cost)
    assert best_of(plans) is nearest
    assert all(not better(ev, nearest) for ev in plans)


def test_chunked_neighbourhoods_reach_the_same_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = compile_problem(random_problem(5, budget=40.0))
    start = evaluate_choice(inst, inst.begin[:-1].copy())
    whole = local_search(inst, start, deadline=float("inf"))
    monkeypatch.setattr(_local, "BATCH_CELLS", 3 * inst.n)  # three plans per batch
    chunked = local_search(inst, start, deadline=float("inf"))
    assert np.array_equal(whole.choice, chunked.choice)


def test_a_neighbourhood_too_large_to_search_leaves_the_plan_as_it_is(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inst = compile_problem(random_problem(6))
    start = evaluate_choice(inst, inst.begin[:-1].copy())
    assert local_search(inst, start, deadline=float("inf")) is not start  # the first options are improvable
    monkeypatch.setattr(_local, "MAX_CELLS", len(inst.time) * inst.n - 1)
    assert local_search(inst, start, deadline=float("inf")) is start


def parallel_jobs(
    count: int, *, deadline_s: float | None = None, budget: float | None = None
) -> PlacementProblem:
    """``count`` independent jobs, each slow and cheap or fast and dear: the makespan only falls when every
    job is fast, so no single or pair move on the score lowers it."""
    jobs = [
        Job(
            id=f"j{i}",
            options=[
                Option(site="a", partition="slow", time_s=100.0, cost=1.0, energy_j=10.0, cores=1),
                Option(site="a", partition="fast", time_s=50.0, cost=2.0, energy_j=10.0, cores=1),
            ],
        )
        for i in range(count)
    ]
    return PlacementProblem(
        jobs=jobs,
        edges=[],
        network=Network(),
        constraints=Constraints(deadline_s=deadline_s, budget=budget),
        strategy="time",
    )


def test_tightening_shortens_every_critical_path_where_moves_on_the_score_cannot() -> None:
    inst = compile_problem(parallel_jobs(6))
    slow = evaluate_choice(inst, inst.begin[:-1].copy())
    assert local_search(inst, slow, deadline=float("inf")).makespan == 100.0  # a plateau for the descent
    hood = Neighbourhood(inst)
    faster = _local._faster(hood, slow.choice, float("inf"), goal=0.0)
    assert faster is not None
    assert evaluate_choice(inst, faster).makespan == 50.0


def test_a_plan_late_on_many_parallel_paths_is_walked_within_its_deadline() -> None:
    inst = compile_problem(parallel_jobs(6, deadline_s=60.0))
    slow = evaluate_choice(inst, inst.begin[:-1].copy())
    assert [v.constraint for v in slow.violations] == ["deadline"]
    found = local_search(inst, slow, deadline=float("inf"))
    assert found.feasible
    assert found.makespan == 50.0


def test_a_plan_within_budget_but_late_is_made_faster_until_it_meets_both() -> None:
    # The budget pays for exactly three fast jobs, which the deadline needs: one plan meets both.
    inst = compile_problem(parallel_jobs(3, deadline_s=60.0, budget=6.0))
    slow = evaluate_choice(inst, inst.begin[:-1].copy())
    found = local_search(inst, slow, deadline=float("inf"))
    assert found.feasible
    assert (found.makespan, found.cost) == (50.0, 6.0)
