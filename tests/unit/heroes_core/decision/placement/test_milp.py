"""The compact MILP under a cap: what ends a solve besides its deadline."""

from __future__ import annotations

import math
import random
import time

from heroes_core.decision.placement import Constraints, Edge, Job, Option, PlacementProblem, compile_problem
from heroes_core.decision.placement._milp import ModelSpec, solve_milp, stopped, stopping_when


def frontier_chain() -> PlacementProblem:
    """A chain of 30 jobs with 12 options each on a time-cost frontier, under a budget and a deadline that
    both bind: a model HiGHS proves in a moment, but not in its presolve alone."""
    rng = random.Random(3)
    jobs, budget, deadline = [], 0.0, 0.0
    for i in range(30):
        times = sorted(rng.uniform(10, 100) for _ in range(12))
        costs = sorted((rng.uniform(1, 20) for _ in range(12)), reverse=True)
        budget, deadline = budget + costs[6], deadline + times[5]
        jobs.append(
            Job(
                id=f"j{i}",
                options=[
                    Option(site="hpc", partition=f"p{o}", time_s=times[o], cost=costs[o]) for o in range(12)
                ],
            )
        )
    return PlacementProblem(
        jobs=jobs,
        edges=[Edge(parent=f"j{i}", child=f"j{i + 1}") for i in range(29)],
        constraints=Constraints(budget=budget, deadline_s=deadline),
        strategy="price",
    )


def test_a_solve_ends_unproven_once_the_check_of_its_context_is_true() -> None:
    inst = compile_problem(frontier_chain())
    spec = ModelSpec(objective=inst.score_coef)
    assert solve_milp(inst, spec, deadline=time.monotonic() + 60).status == "optimal"
    checks: list[float] = []

    def stop() -> bool:
        checks.append(time.monotonic())
        return True

    with stopping_when(stop):
        outcome = solve_milp(inst, spec, deadline=time.monotonic() + 60)
    assert checks
    assert outcome.status != "optimal"
    assert outcome.bound < math.inf


def test_stopped_holds_only_within_its_block() -> None:
    assert not stopped()
    with stopping_when(lambda: True):
        assert stopped()
        with stopping_when(lambda: False):
            assert not stopped()
        assert stopped()
    assert not stopped()
