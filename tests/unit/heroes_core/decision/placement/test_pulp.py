"""The PuLP model: the same optimum as the HiGHS path, constraints of the user's own, infeasibility.

Each limit's case is checked to bind (the optimum without it is better), so agreement on it
shows that the PuLP model carries that row, not merely that both paths ignore it.
"""

from __future__ import annotations

import random

import pulp  # type: ignore[import-untyped]
import pytest

from heroes_core.decision.placement import (
    Constraints,
    Edge,
    Job,
    Network,
    Option,
    PlacementProblem,
    PlacementResult,
    Strategy,
    Weights,
    compile_problem,
    evaluate,
    solve,
    to_pulp,
)
from heroes_core.decision.placement._milp import ModelSpec, build
from heroes_core.decision.placement._pulp import default_solver
from heroes_core.errors import SpecError

SITES = ["a", "b", "c"]
STRATEGIES: list[Strategy] = ["time", "price", "energy", "weighted"]


def opt(site: str, time_s: float, cost: float, **extra: object) -> Option:
    return Option(site=site, time_s=time_s, cost=cost, **extra)  # type: ignore[arg-type]


def sites(result: PlacementResult) -> dict[str, str]:
    return {c.job: c.site for c in result.choices}


def assert_same_optimum(problem: PlacementProblem) -> PlacementResult:
    """PuLP with its default solver (CBC) and ``solve`` agree on feasibility and on the optimal objective; the PuLP plan is
    what ``evaluate`` says it is."""
    expected = solve(problem, time_limit_s=30.0)
    got = to_pulp(problem).solve()
    if expected.status == "infeasible":
        assert got.status == "infeasible"
        return got
    assert (expected.status, got.status) == ("optimal", "optimal")
    assert got.violations == []
    assert got.objective == pytest.approx(expected.objective, rel=1e-6, abs=1e-9)
    check = evaluate(problem, {c.job: c.option for c in got.choices})
    assert check.violations == []
    assert check.objective == pytest.approx(got.objective, rel=1e-12)
    assert got.lower_bound <= got.objective
    return got


def assert_binds(problem: PlacementProblem, **relaxed: object) -> None:
    """Dropping the named limits gives a strictly better optimum: the limit shapes the answer."""
    loose = problem.model_copy(update={"constraints": problem.constraints.model_copy(update=relaxed)})
    assert solve(loose).objective < solve(problem).objective * (1 - 1e-9)


FAST_OR_CHEAP = [Job(id=j, options=[opt("hpc", 10, 20), opt("cloud", 50, 2)]) for j in ("a", "b")]
CHAIN = [Edge(parent="a", child="b")]

# a -> b -> c exchanging data: moving it costs time (1 Gb/s) and egress; a's input sits on site a
DATA_JOBS = [
    Job(id="a", options=[opt("a", 30, 5), opt("b", 20, 9)], input_site="a", input_gb=2),
    Job(id="b", options=[opt("a", 40, 6), opt("b", 25, 8), opt("c", 15, 20)]),
    Job(id="c", options=[opt("b", 10, 3), opt("c", 8, 2)]),
]
DATA_EDGES = [Edge(parent="a", child="b", data_gb=3), Edge(parent="b", child="c", data_gb=1.5)]
DATA_NET = Network(
    bandwidth_gbps={("a", "b"): 2.0, ("b", "c"): 4.0},
    egress_per_gb={("a", "b"): 1.5, ("b", "c"): 0.5, ("a", "c"): 3.0},
    default_bandwidth_gbps=1.0,
    default_egress_per_gb=1.0,
)


def data_problem(
    strategy: str = "time", weights: Weights | None = None, **limits: object
) -> PlacementProblem:
    return PlacementProblem(
        jobs=DATA_JOBS,
        edges=DATA_EDGES,
        network=DATA_NET,
        constraints=Constraints(**limits),  # type: ignore[arg-type]
        strategy=strategy,  # type: ignore[arg-type]
        weights=weights,
    )


@pytest.mark.parametrize(
    ("strategy", "weights"),
    [
        ("time", None),
        ("price", None),
        ("energy", None),
        ("weighted", Weights(time=1, cost=1)),
        ("weighted", Weights(time=0.2, cost=0.3, energy=0.5)),
    ],
)
def test_each_strategy_reaches_the_same_optimum_with_transfers_and_egress(
    strategy: str, weights: Weights | None
) -> None:
    jobs = [
        job.model_copy(
            update={
                "options": [
                    o.model_copy(update={"energy_j": 100 * o.time_s - 7 * o.cost}) for o in job.options
                ]
            }
        )
        for job in DATA_JOBS
    ]
    problem = data_problem(strategy, weights).model_copy(update={"jobs": jobs})
    assert_same_optimum(problem)


def test_binding_budget_reaches_the_same_optimum() -> None:
    problem = data_problem("time", budget=22)
    assert_binds(problem, budget=None)
    assert assert_same_optimum(problem).cost <= 22


def test_binding_deadline_reaches_the_same_optimum() -> None:
    problem = data_problem("price", deadline_s=70)
    assert_binds(problem, deadline_s=None)
    assert assert_same_optimum(problem).makespan_s <= 70


def test_budget_and_deadline_together_reach_the_same_optimum() -> None:
    problem = data_problem("weighted", Weights(time=1, cost=1), budget=25, deadline_s=80)
    assert_binds(problem, budget=None, deadline_s=None)
    assert_same_optimum(problem)


def test_binding_capacity_reaches_the_same_optimum() -> None:
    jobs = [Job(id=j, options=[opt("big", 10, 1, cores=8), opt("small", 20, 1, cores=8)]) for j in "xyz"]
    problem = PlacementProblem(jobs=jobs, constraints=Constraints(site_capacity_cores={"big": 17}))
    assert_binds(problem, site_capacity_cores={})
    assert sorted(sites(assert_same_optimum(problem)).values()) == ["big", "big", "small"]


def test_binding_licences_reach_the_same_optimum() -> None:
    jobs = [Job(id=j, options=[opt("a", 10, 1, licence="matlab"), opt("b", 30, 1)]) for j in "xyz"]
    problem = PlacementProblem(
        jobs=jobs, edges=[Edge(parent="x", child="y")], constraints=Constraints(licences={"matlab": 1})
    )
    assert_binds(problem, licences={})
    assert_same_optimum(problem)


def test_binding_energy_cap_reaches_the_same_optimum() -> None:
    jobs = [
        Job(id=j, options=[opt("fast", 10, 5, energy_j=900), opt("green", 25, 5, energy_j=200)]) for j in "xy"
    ]
    problem = PlacementProblem(
        jobs=jobs, edges=[Edge(parent="x", child="y")], constraints=Constraints(energy_j=1200)
    )
    assert_binds(problem, energy_j=None)
    assert assert_same_optimum(problem).energy_j <= 1200


def random_problem(seed: int) -> PlacementProblem:
    """A small workflow with every feature: inputs, data on edges, network prices, all limits."""
    rng = random.Random(seed)
    n = rng.randint(2, 5)
    jobs = [
        Job(
            id=f"j{i}",
            options=[
                opt(
                    rng.choice(SITES),
                    rng.randint(1, 60),
                    rng.randint(0, 30),
                    energy_j=rng.randint(0, 30),
                    cores=rng.randint(1, 4),
                    licence=rng.choice([None, None, "lic"]),
                )
                for _ in range(rng.randint(1, 3))
            ],
            input_site=rng.choice([None, *SITES]),
            input_gb=rng.randint(0, 5),
        )
        for i in range(n)
    ]
    edges = [
        Edge(parent=f"j{p}", child=f"j{c}", data_gb=rng.randint(0, 4))
        for p in range(n)
        for c in range(p + 1, n)
        if rng.random() < 0.4
    ]
    pairs = [(x, y) for x in SITES for y in SITES if x != y]
    network = Network(
        bandwidth_gbps={p: rng.choice([1.0, 2.0, 8.0]) for p in pairs},
        egress_per_gb={p: rng.choice([0.0, 0.5, 2.0]) for p in pairs},
    )
    constraints = Constraints(
        budget=rng.choice([None, rng.randint(15, 70)]),
        deadline_s=rng.choice([None, rng.randint(30, 120)]),
        site_capacity_cores={s: rng.randint(2, 8) for s in rng.sample(SITES, rng.randint(0, 2))},
        licences=rng.choice([{}, {"lic": rng.randint(0, 2)}]),
    )
    strategy: Strategy = STRATEGIES[seed % 4]
    weights = (
        Weights(time=rng.random(), cost=rng.random(), energy=rng.random()) if strategy == "weighted" else None
    )
    return PlacementProblem(
        jobs=jobs, edges=edges, network=network, constraints=constraints, strategy=strategy, weights=weights
    )


@pytest.mark.parametrize("seed", range(40))
def test_random_small_workflows_reach_the_same_optimum(seed: int) -> None:
    assert_same_optimum(random_problem(seed))


def test_the_pulp_model_has_the_highs_model_columns_and_rows() -> None:
    problem = data_problem("weighted", Weights(time=1, cost=1), budget=25, deadline_s=80)
    inst = compile_problem(problem)
    highs, _layout = build(inst, ModelSpec(objective=inst.score_coef))
    model = to_pulp(problem)
    assert model.lp.numVariables() == highs.num_col_
    assert model.lp.numConstraints() == highs.num_row_
    assert set(model.choose) == {(j.id, k) for j in DATA_JOBS for k in range(len(j.options))}
    assert set(model.start) == {"a", "b", "c"}


def test_the_variables_read_back_the_plan() -> None:
    model = to_pulp(data_problem("time", budget=22))
    result = model.solve()
    assert model.makespan.varValue == pytest.approx(result.makespan_s, rel=1e-6)
    for c in result.choices:
        assert model.choose[(c.job, c.option)].varValue == pytest.approx(1.0)


def test_forbidding_a_site_for_one_job_moves_only_that_job() -> None:
    problem = PlacementProblem(jobs=FAST_OR_CHEAP, edges=CHAIN)
    assert sites(to_pulp(problem).solve()) == {"a": "hpc", "b": "hpc"}
    model = to_pulp(problem)
    model.lp += model.at_site("a", "hpc") == 0
    result = model.solve()
    assert sites(result) == {"a": "cloud", "b": "hpc"}
    assert result.makespan_s == pytest.approx(60)


def test_a_constraint_on_the_named_variables_holds() -> None:
    model = to_pulp(PlacementProblem(jobs=FAST_OR_CHEAP, edges=CHAIN))
    model.lp += model.choose[("b", 0)] == 0  # b may not take its first option (hpc)
    assert sites(model.solve()) == {"a": "hpc", "b": "cloud"}


def test_any_pulp_solver_gives_the_same_optimum() -> None:
    problem = data_problem("weighted", Weights(time=1, cost=1), budget=25, deadline_s=80)
    assert isinstance(default_solver(), pulp.COIN_CMD)  # CBC, installed or bundled (a subclass)
    by_cbc = to_pulp(problem).solve()
    by_highs = to_pulp(problem).solve(pulp.HiGHS(msg=False))
    assert by_highs.objective == pytest.approx(by_cbc.objective, rel=1e-6)


def test_an_infeasible_problem_is_infeasible_for_pulp_and_says_why() -> None:
    model = to_pulp(PlacementProblem(jobs=FAST_OR_CHEAP, constraints=Constraints(budget=3)))
    result = model.solve()
    assert pulp.LpStatus[model.lp.status] == "Infeasible"
    assert result.status == "infeasible"
    assert [v.constraint for v in result.violations] == ["budget"]


def test_a_job_that_cannot_run_anywhere_makes_the_model_infeasible() -> None:
    jobs = [Job(id="gpu", required_gpus=1, options=[opt("a", 10, 1)]), *FAST_OR_CHEAP]
    model = to_pulp(PlacementProblem(jobs=jobs))
    result = model.solve()
    assert pulp.LpStatus[model.lp.status] == "Infeasible"
    assert [v.constraint for v in result.violations] == ["gpus:gpu"]


def test_added_constraints_that_cannot_hold_are_named_as_the_cause() -> None:
    model = to_pulp(PlacementProblem(jobs=FAST_OR_CHEAP))
    model.lp += model.at_site("a", "hpc") == 0
    model.lp += model.at_site("a", "cloud") == 0
    result = model.solve()
    assert pulp.LpStatus[model.lp.status] == "Infeasible"
    assert [v.constraint for v in result.violations] == ["model"]


def test_reading_an_unsolved_model_is_refused() -> None:
    with pytest.raises(SpecError, match="no plan to read"):
        to_pulp(PlacementProblem(jobs=FAST_OR_CHEAP)).result()


def test_a_replaced_objective_claims_no_bound_from_the_solve() -> None:
    model = to_pulp(data_problem("time"))
    own = model.solve()
    assert own.gap == pytest.approx(0.0, abs=1e-6)
    model.lp.setObjective(model.makespan + 0 * model.start["a"])
    replaced = model.solve()
    assert replaced.lower_bound < own.lower_bound
