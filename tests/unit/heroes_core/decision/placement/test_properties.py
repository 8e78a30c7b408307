"""The solver's optimum equals brute-force enumeration on random small workflows.

The brute force re-implements the semantics from the docstring of
:mod:`heroes_core.decision.placement` independently (no solver code), so it also checks
makespan, transfer, egress, energy, capacity and licence accounting.
"""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heroes_core.decision.placement import Constraints, Edge, Job, Network, Option, PlacementProblem, solve

SITES = ["a", "b", "c"]


@st.composite
def problems(draw: st.DrawFn) -> PlacementProblem:
    n = draw(st.integers(1, 6))
    jobs = []
    for i in range(n):
        options = [
            Option(
                site=draw(st.sampled_from(SITES)),
                time_s=draw(st.integers(1, 60)),
                cost=draw(st.integers(0, 30)),
                energy_j=draw(st.integers(0, 30)),
                cores=draw(st.integers(1, 4)),
                licence=draw(st.sampled_from([None, None, "lic"])),
                infeasible_reason=draw(st.sampled_from([None] * 5 + ["no memory"])),
            )
            for _ in range(draw(st.integers(1, 4)))
        ]
        local = draw(st.booleans())
        jobs.append(
            Job(
                id=f"j{i}",
                options=options,
                input_site=draw(st.sampled_from(SITES)) if local else None,
                input_gb=draw(st.integers(0, 5)) if local else 0.0,
            )
        )
    edges = [
        Edge(parent=f"j{p}", child=f"j{c}", data_gb=draw(st.integers(0, 4)))
        for p in range(n)
        for c in range(p + 1, n)
        if draw(st.integers(0, 2)) == 0
    ]
    pairs = [(x, y) for x in SITES for y in SITES if x != y]
    network = Network(
        bandwidth_gbps={p: draw(st.sampled_from([1.0, 2.0, 8.0])) for p in pairs},
        egress_per_gb={p: draw(st.sampled_from([0.0, 0.5, 2.0])) for p in pairs},
    )
    constraints = Constraints(
        budget=draw(st.one_of(st.none(), st.integers(0, 120))),
        deadline_s=draw(st.one_of(st.none(), st.integers(1, 200))),
        energy_j=draw(st.one_of(st.none(), st.integers(0, 120))),
        site_capacity_cores=draw(st.dictionaries(st.sampled_from(SITES), st.integers(1, 8), max_size=2)),
        licences=draw(st.dictionaries(st.just("lic"), st.integers(0, 2), max_size=1)),
    )
    strategy = draw(st.sampled_from(["time", "price", "energy"]))
    return PlacementProblem(
        jobs=jobs, edges=edges, network=network, constraints=constraints, strategy=strategy
    )


def brute_force(problem: PlacementProblem) -> float | None:
    """Best objective over every assignment of usable options, or None if no assignment meets the limits."""
    net, cons = problem.network, problem.constraints
    jobs = problem.jobs
    menus = [[o for o in j.options if o.infeasible_reason is None] for j in jobs]
    best: float | None = None
    for combo in itertools.product(*menus):
        values = _plan(problem, dict(zip([j.id for j in jobs], combo, strict=True)), net)
        if values is None:
            continue
        makespan, cost, energy = values
        if cons.budget is not None and cost > cons.budget + 1e-9:
            continue
        if cons.deadline_s is not None and makespan > cons.deadline_s + 1e-9:
            continue
        if cons.energy_j is not None and energy > cons.energy_j + 1e-9:
            continue
        value = {"time": makespan, "price": cost, "energy": energy}[problem.strategy]
        best = value if best is None else min(best, value)
    return best


def _plan(
    problem: PlacementProblem, chosen: dict[str, Option], net: Network
) -> tuple[float, float, float] | None:
    cons = problem.constraints
    for site, cap in cons.site_capacity_cores.items():
        if sum(o.cores for o in chosen.values() if o.site == site) > cap:
            return None
    for name, seats in cons.licences.items():
        if sum(1 for o in chosen.values() if o.licence == name) > seats:
            return None

    def move(src: str, dst: str, gb: float) -> tuple[float, float]:
        if src == dst:
            return 0.0, 0.0
        return gb * 8 / net.bandwidth_gbps[(src, dst)], gb * net.egress_per_gb[(src, dst)]

    cost = sum(o.cost for o in chosen.values())
    finish: dict[str, float] = {}
    for job in problem.jobs:  # generated with edges from lower to higher index: already in order
        o = chosen[job.id]
        start = 0.0
        if job.input_site is not None:
            seconds, money = move(job.input_site, o.site, job.input_gb)
            start, cost = seconds, cost + money
        for e in problem.edges:
            if e.child == job.id:
                seconds, money = move(chosen[e.parent].site, o.site, e.data_gb)
                start, cost = max(start, finish[e.parent] + seconds), cost + money
        finish[job.id] = start + o.time_s
    return max(finish.values()), cost, sum(o.energy_j for o in chosen.values())


@settings(max_examples=200, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_solver_matches_brute_force(problem: PlacementProblem) -> None:
    expected = brute_force(problem)
    result = solve(problem, time_limit_s=5.0)
    if expected is None:
        assert result.status == "infeasible"
        assert result.violations
        return
    assert result.status == "optimal"
    assert result.objective == pytest.approx(expected, rel=1e-5, abs=1e-6)
    assert result.lower_bound <= result.objective + 1e-9
    assert not result.violations
    assert math.isfinite(result.makespan_s)
    cap = problem.constraints.energy_j
    assert cap is None or result.energy_j <= cap * (1 + 1e-7)
