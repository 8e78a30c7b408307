"""Problems shared by the placement tests."""

from __future__ import annotations

import random

from heroes_core.decision.placement import Constraints, Edge, Job, Option, PlacementProblem, Weights
from heroes_core.decision.placement._problem import Strategy


def frontier_chain(seed: int, *, strategy: Strategy = "price") -> PlacementProblem:
    """A chain of 40 jobs at one site, each with 16 options on its time-cost frontier (640 options, none
    dominated), under the budget and deadline of the plan taking each job's cheapest option at 3 units
    of cost per second: no heuristic plan meets both, and the ``time`` search finds one that does."""
    rng = random.Random(seed)
    jobs: list[Job] = []
    budget = deadline = 0.0
    for i in range(40):
        times = sorted(rng.uniform(10, 100) for _ in range(16))
        costs = sorted((rng.uniform(1, 20) for _ in range(16)), reverse=True)
        k = min(range(16), key=lambda o: times[o] + 3 * costs[o])
        budget, deadline = budget + costs[k], deadline + times[k]
        options = [Option(site="hpc", partition=f"p{o}", time_s=times[o], cost=costs[o]) for o in range(16)]
        jobs.append(Job(id=f"j{i}", options=options))
    return PlacementProblem(
        jobs=jobs,
        edges=[Edge(parent=f"j{i}", child=f"j{i + 1}") for i in range(39)],
        constraints=Constraints(budget=budget, deadline_s=deadline),
        strategy=strategy,
        weights=Weights(time=1, cost=1) if strategy == "weighted" else None,
    )
