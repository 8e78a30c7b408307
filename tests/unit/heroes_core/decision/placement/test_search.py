"""Search helpers: a plan within budget and deadline together, and longer proofs of a plan's quality."""

from __future__ import annotations

import itertools
import logging
import random
import time
from typing import Any

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
    _heuristics,
    _improve,
    _search,
    compile_problem,
    greedy,
    prove_bound,
    solve,
)
from heroes_core.decision.placement._heuristics import local_egress
from heroes_core.decision.placement._improve import _meets, _promising_sites, across_sites, within_limits
from heroes_core.decision.placement._instance import TOTAL_LIMITS, Instance, total_objective, without_limit
from heroes_core.decision.placement._local import local_search
from heroes_core.decision.placement._milp import MilpOutcome, ModelSpec, stopped, stopping_when
from heroes_core.decision.placement._plan import Evaluation, evaluate_choice
from heroes_core.decision.placement._problem import Strategy
from heroes_core.decision.placement._search import undominated
from tests.unit.heroes_core.decision.placement.conftest import frontier_chain


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


def test_a_chain_moves_to_a_greener_site_all_together_where_single_and_pair_moves_cannot() -> None:
    """Each job is greener at ``green`` for a little more money, but data crossing between the sites
    costs egress: one or two jobs moved alone break the budget, the whole chain moved keeps it."""
    chain = ["a", "b", "c", "d", "e"]
    problem = PlacementProblem(
        jobs=[
            Job(
                id=j,
                options=[
                    Option(site="old", time_s=10, cost=1.0, energy_j=100),
                    Option(site="green", time_s=10, cost=1.2, energy_j=10),
                ],
            )
            for j in chain
        ],
        edges=[Edge(parent=p, child=c, data_gb=10) for p, c in itertools.pairwise(chain)],
        network=Network(default_bandwidth_gbps=1.0, default_egress_per_gb=1.0),
        constraints=Constraints(budget=6.5),
        strategy="energy",
    )
    inst = compile_problem(problem)
    all_old = evaluate_choice(inst, inst.begin[:-1].copy())
    assert all_old.feasible and all_old.objective == 500
    assert local_search(inst, all_old, deadline=float("inf")).objective == 500  # no single or pair move
    found = across_sites(inst, ModelSpec(objective=inst.score_coef), all_old, deadline=float("inf"))
    assert found.feasible
    assert (found.objective, found.cost) == (50, 6.0)
    assert list(found.choice) == list(inst.begin[:-1] + 1)


def test_moves_across_sites_try_only_targets_whose_relaxation_beats_the_plan_best_first() -> None:
    """From a plan at ``home``, moving to ``big`` saves most and to ``small`` a little, while ``dear``
    saves nothing: its model is never solved, and ``big``'s comes first."""
    prices = {"home": 3.0, "small": 2.5, "big": 1.0, "dear": 5.0}
    problem = PlacementProblem(
        jobs=[
            Job(id=j, options=[Option(site=s, time_s=10, cost=c) for s, c in prices.items()]) for j in "abc"
        ],
        strategy="price",
    )
    inst = compile_problem(problem)
    at_home = evaluate_choice(inst, inst.begin[:-1].copy())
    spec = ModelSpec(objective=inst.score_coef)
    ranked = _promising_sites(inst, spec, at_home, float("inf"), None)
    assert [inst.sites[site] for site, _x in ranked] == ["big", "small"]
    big_x = ranked[0][1]
    assert {inst.sites[s] for s in inst.site[big_x > 0]} == {"big"}  # every job moves there


def test_moves_across_sites_first_solve_the_small_model_of_the_target_relaxation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The target's relaxation moves every job to ``big``: the model of its options and the plan's holds
    the better plan, so the target's whole model (every option at ``home`` too) is never built."""
    prices = {"home": 3.0, "small": 2.5, "big": 1.0}
    problem = PlacementProblem(
        jobs=[
            Job(
                id=j,
                options=[
                    *(Option(site=s, time_s=10, cost=c) for s, c in prices.items()),
                    Option(site="home", time_s=20, cost=2.9),
                ],
            )
            for j in "abc"
        ],
        strategy="price",
    )
    inst = compile_problem(problem)
    at_home = evaluate_choice(inst, inst.begin[:-1].copy())
    models: list[set[str]] = []
    solve_restricted = _improve._solve_restricted

    def spy(inst: Instance, spec: ModelSpec, keep: np.ndarray, *args: Any, **kwargs: Any) -> Evaluation:
        models.append({f"{inst.sites[inst.site[k]]}:{inst.time[k]:.0f}" for k in np.flatnonzero(keep)})
        return solve_restricted(inst, spec, keep, *args, **kwargs)

    monkeypatch.setattr(_improve, "_solve_restricted", spy)
    found = across_sites(inst, ModelSpec(objective=inst.score_coef), at_home, deadline=float("inf"))
    assert found.cost == 3.0
    assert models == [{"home:10", "big:10"}]


def test_a_plan_over_budget_still_warm_starts_the_model_without_the_budget() -> None:
    inst = compile_problem(chain_problem(budget=25, deadline_s=60))
    both_fast = evaluate_choice(inst, np.array([0, 2]))  # 40 > budget 25, meets the deadline
    cost_only = ModelSpec(objective=total_objective("budget"), limits=frozenset(TOTAL_LIMITS) - {"budget"})
    assert _meets(both_fast, cost_only)
    assert not _meets(both_fast, ModelSpec(objective=inst.score_coef))


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


def test_within_limits_takes_no_further_step_once_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = compile_problem(frontier_chain(0))
    own = _search._heuristic_plan(inst)
    for name in ("across_sites", "lns", "local_search"):
        monkeypatch.setattr(_improve, name, _must_not_run)
    monkeypatch.setattr(_improve, "rens", lambda inst, spec, x, plan, **kwargs: plan)
    relaxation = MilpOutcome(status="feasible", choice=None, bound=0.0, x=np.zeros(len(inst.time)))
    monkeypatch.setattr(_improve, "solve_milp", lambda *args, **kwargs: relaxation)
    with stopping_when(lambda: True):
        assert within_limits(inst, own, deadline=time.monotonic() + 30) is own


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


def test_an_option_beaten_on_its_own_site_is_dropped_and_of_equal_ones_the_first_stays() -> None:
    options = [
        Option(site="x", time_s=10, cost=5, cores=4),  # kept
        Option(site="x", time_s=12, cost=6, cores=4),  # slower and dearer on x: dropped
        Option(site="y", time_s=12, cost=6, cores=4),  # only option on y: kept
        Option(site="x", time_s=10, cost=5, cores=4),  # equal to the first: dropped
        Option(site="x", time_s=11, cost=4, cores=8),  # cheaper, but needs more cores: kept
    ]
    inst = compile_problem(PlacementProblem(jobs=[Job(id="a", options=options)], strategy="time"))
    assert undominated(inst).tolist() == [True, False, True, False, True]


def test_local_egress_charges_each_option_for_the_edges_its_move_would_cross() -> None:
    jobs = [
        Job(id=j, options=[Option(site="x", time_s=1, cost=1), Option(site="y", time_s=1, cost=1)])
        for j in "abc"
    ]
    problem = PlacementProblem(
        jobs=jobs,
        edges=[Edge(parent="a", child="b", data_gb=2), Edge(parent="b", child="c", data_gb=3)],
        network=Network(egress_per_gb={("x", "y"): 10.0, ("y", "x"): 1.0}),
    )
    inst = compile_problem(problem)
    everything_on_x = np.array([0, 2, 4])
    # a to y: its 2 GB go y -> x; b to y: 2 GB x -> y in, 3 GB y -> x out; c to y: 3 GB x -> y
    assert local_egress(inst, everything_on_x).tolist() == [0, 2, 0, 23, 0, 30]


def test_a_repair_that_swings_between_limits_returns_the_plan_nearest_them_and_stops(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On the frontier chain no repair meets budget and deadline together: each round fixes one limit by
    breaking the other."""
    inst = compile_problem(frontier_chain(0))
    seen: list[Evaluation] = []

    def recorded(inst: Instance, choice: np.ndarray) -> Evaluation:
        seen.append(evaluate_choice(inst, choice))
        return seen[-1]

    monkeypatch.setattr(_heuristics, "evaluate_choice", recorded)
    repaired = _heuristics.repair(inst, inst.begin[:-1].copy(), _heuristics.option_scores(inst))
    assert not repaired.feasible
    assert repaired.excess == min(plan.excess for plan in seen)
    assert len(seen) - 1 < _heuristics.MAX_ROUNDS


def search_without_its_own_phases(monkeypatch: pytest.MonkeyPatch) -> None:
    """Leave this process's search only its heuristic plan (the second process is not patched)."""
    monkeypatch.setattr(_search, "local_search", lambda inst, plan, **kwargs: plan)
    monkeypatch.setattr(_search, "within_limits", lambda inst, plan, **kwargs: plan)
    monkeypatch.setattr(_search, "across_sites", lambda inst, spec, plan, **kwargs: plan)
    monkeypatch.setattr(_search, "lns", lambda inst, spec, plan, **kwargs: plan)
    nothing = MilpOutcome(status="feasible", choice=None, bound=0.0)
    monkeypatch.setattr(_search, "solve_milp", lambda *args, **kwargs: nothing)


@pytest.mark.parametrize("strategy", ["price", "time"])  # the time search beside, then the price search
def test_a_plan_only_the_search_beside_finds_is_the_answer(
    monkeypatch: pytest.MonkeyPatch, strategy: Strategy
) -> None:
    problem = frontier_chain(0, strategy=strategy)
    search_without_its_own_phases(monkeypatch)
    result = solve(problem, time_limit_s=30)
    assert result.status == "feasible"
    assert result.cost <= problem.constraints.budget * (1 + 1e-7)  # type: ignore[operator]
    assert result.makespan_s <= problem.constraints.deadline_s * (1 + 1e-7)  # type: ignore[operator]


@pytest.mark.parametrize("strategy", ["price", "time"])
def test_without_the_search_beside_the_same_search_finds_no_plan(
    monkeypatch: pytest.MonkeyPatch, strategy: Strategy
) -> None:
    """The control of the test above: its plan came from the second process."""
    search_without_its_own_phases(monkeypatch)
    monkeypatch.setattr(_search.Call, "start", lambda *args: None)
    assert solve(frontier_chain(0, strategy=strategy), time_limit_s=2).status == "infeasible"


def spy_on_starts(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    starts: list[tuple[Any, ...]] = []
    monkeypatch.setattr(_search.Call, "start", lambda *args: starts.append(args))
    return starts


@pytest.mark.parametrize(
    ("strategy", "aside", "searched_by"),
    [
        ("weighted", "deadline", "time"),  # the deadline may be as tight as the fastest plan within budget
        ("time", "budget", "price"),  # the budget, as the cheapest plan within the deadline
    ],
)
def test_the_search_for_the_lowest_total_starts_beside_when_no_heuristic_plan_meets_the_limits(
    monkeypatch: pytest.MonkeyPatch, strategy: Strategy, aside: str, searched_by: str
) -> None:
    starts = spy_on_starts(monkeypatch)
    inst = compile_problem(frontier_chain(1, strategy=strategy))
    _search._lowest_beside(inst, _search._heuristic_plan(inst), time.monotonic() + 10)
    [(function, lowest, goal, _stop)] = starts
    assert function is _search.lowest_within
    assert goal == inst.limits[aside]
    assert lowest.limits == {name: cap for name, cap in inst.limits.items() if name != aside}
    assert lowest.problem.strategy == searched_by and lowest.coef == total_objective(aside)


@pytest.mark.parametrize(
    "change",
    [
        {"constraints": Constraints(budget=1e9, deadline_s=1e9)},  # a heuristic plan meets the limits
        {"constraints": Constraints(budget=1.0)},  # the only limit bounds the objective itself (price)
    ],
)
def test_no_search_starts_beside_where_it_cannot_help(
    monkeypatch: pytest.MonkeyPatch, change: dict[str, Any]
) -> None:
    starts = spy_on_starts(monkeypatch)
    inst = compile_problem(frontier_chain(1).model_copy(update=change))
    _search._lowest_beside(inst, _search._heuristic_plan(inst), time.monotonic() + 10)
    assert starts == []


def test_small_models_are_solved_whole_without_the_search_beside(monkeypatch: pytest.MonkeyPatch) -> None:
    starts = spy_on_starts(monkeypatch)
    assert solve(chain_problem(budget=30, deadline_s=70), time_limit_s=5).status == "optimal"
    assert starts == []


def test_the_time_search_stops_at_the_first_plan_within_its_goal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("within_limits", "across_sites", "lns", "local_search"):
        monkeypatch.setattr(_search, name, _must_not_run)
    fast = without_limit(compile_problem(frontier_chain(2)), "deadline")
    choice = _search.lowest_within(fast, 1e9, time.monotonic() + 30)
    assert evaluate_choice(fast, choice).feasible


def _must_not_run(*args: object, **kwargs: object) -> Evaluation:
    raise AssertionError("the search went on past its goal")


class _Answered:
    """A call of the second process that has returned ``choice``."""

    def __init__(self, choice: np.ndarray) -> None:
        self.choice: np.ndarray | None = choice
        self.cancelled = False

    def result(self, wait: float = 0.0) -> np.ndarray | None:
        return self.choice

    def cancel(self) -> None:
        self.cancelled, self.choice = True, None


def plans_of(seed: int) -> tuple[Instance, Evaluation, Evaluation, Evaluation]:
    """The frontier chain's heuristic plan (over its limits), a plan within them, and its fastest plan
    (over budget)."""
    inst = compile_problem(frontier_chain(seed))
    own = _search._heuristic_plan(inst)
    within = within_limits(inst, own, deadline=time.monotonic() + 30)
    fastest = evaluate_choice(inst, inst.begin[:-1].copy())  # options are sorted fastest first
    assert not own.feasible and within.feasible and not fastest.feasible
    return inst, own, within, fastest


def test_a_plan_from_beside_within_every_limit_replaces_one_over_them() -> None:
    inst, own, within, _fastest = plans_of(0)
    pace = _search._Pace(beside=_Answered(within.choice))  # type: ignore[arg-type]
    assert np.array_equal(pace.settle(inst, own).choice, within.choice)


def test_a_plan_from_beside_over_a_limit_is_not_taken() -> None:
    inst, own, _within, fastest = plans_of(0)
    pace = _search._Pace(beside=_Answered(fastest.choice))  # type: ignore[arg-type]
    assert pace.settle(inst, own) is own


def test_once_the_own_search_meets_every_limit_the_search_beside_is_stopped() -> None:
    inst, _own, within, fastest = plans_of(0)
    beside = _Answered(fastest.choice)
    pace = _search._Pace(beside=beside)  # type: ignore[arg-type]
    assert pace.settle(inst, within) is within
    assert beside.cancelled


def test_each_phase_of_a_search_is_logged_with_its_plan_and_the_last_logged_plan_is_the_answer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    problem = frontier_chain(1)
    with caplog.at_level(logging.DEBUG, logger=_search.__name__):
        result = solve(problem, time_limit_s=3)
    lines = [record.getMessage() for record in caplog.records if record.name == _search.__name__]
    phases = [line[:14].strip() for line in lines]
    assert phases[0] == "heuristics"
    assert {"rens", "local search"} <= set(phases)
    assert result.status != "infeasible"
    last = float(lines[-1].split("objective ")[1].split(",")[0])
    assert last == pytest.approx(result.objective, rel=1e-5)
    assert lines[-1].endswith("within limits")


def test_a_phase_looking_for_a_plan_stops_once_the_search_beside_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``within_limits`` here finds nothing and would wait out its share of the cap; the search beside (the
    real second process) finds the frontier chain's plan, and its answer ends the wait. The strategy weighs
    time and cost: the ``price`` search leaves its budget out (see ``objective_limit_aside``), so a plan
    breaking only the budget is one it improves, not one it walks within the limits."""
    search_without_its_own_phases(monkeypatch)
    ended_by: list[str] = []

    def waiting_for_a_stop(inst: Instance, plan: Evaluation, *, deadline: float) -> Evaluation:
        while not stopped() and time.monotonic() < deadline:
            time.sleep(0.02)
        ended_by.append("stop" if stopped() else "deadline")
        return plan

    monkeypatch.setattr(_search, "within_limits", waiting_for_a_stop)
    result = solve(frontier_chain(0, strategy="weighted"), time_limit_s=60)
    assert ended_by == ["stop"]
    assert result.status == "feasible"


@pytest.mark.parametrize(
    ("strategy", "own"), [("price", "budget"), ("time", "deadline"), ("energy", "energy"), ("weighted", None)]
)
def test_the_limit_on_the_objective_own_total_is_left_out_of_the_search_and_the_others_kept(
    strategy: Strategy, own: str | None
) -> None:
    limits = Constraints(budget=100.0, deadline_s=1_000.0, energy_j=1e9)
    inst = compile_problem(frontier_chain(0, strategy=strategy).model_copy(update={"constraints": limits}))
    searched = _search.objective_limit_aside(inst)
    assert searched.limits == {name: cap for name, cap in inst.limits.items() if name != own}
    assert searched.score_coef == inst.score_coef


def test_a_plan_over_the_objective_own_limit_leaves_the_search_beside_running_and_takes_its_plan() -> None:
    inst = compile_problem(frontier_chain(0, strategy="price"))
    searched = _search.objective_limit_aside(inst)
    within = within_limits(inst, _search._heuristic_plan(inst), deadline=time.monotonic() + 30)
    over_budget = evaluate_choice(searched, inst.begin[:-1].copy())  # the fastest plan, within the deadline
    assert over_budget.feasible and [
        v.constraint for v in evaluate_choice(inst, over_budget.choice).violations
    ] == ["budget"]
    beside = _Answered(within.choice)
    pace = _search._Pace(beside=beside, whole=inst)  # type: ignore[arg-type]
    assert np.array_equal(pace.settle(searched, over_budget).choice, within.choice)
    assert not beside.cancelled


def test_a_price_search_answers_no_plan_when_even_its_cheapest_plan_is_over_budget() -> None:
    """The search leaves the budget out (it is the objective's own limit): the answer is still checked
    against it, and the diagnosis names it."""
    problem = chain_problem(budget=3.0)  # the cheapest plan costs 4
    result = solve(problem.model_copy(update={"strategy": "price", "weights": None}), time_limit_s=5)
    assert result.status == "infeasible"
    assert "budget" in {v.constraint for v in result.violations}
