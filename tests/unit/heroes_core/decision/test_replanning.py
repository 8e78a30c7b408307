"""Re-planning before a later wave: a new plan only when clearly better under the same goals,
finished jobs pinned where they ran, limits reduced by what is spent."""

from __future__ import annotations

import itertools
import math
from decimal import Decimal

import pytest

from heroes_core.decision.placement import (
    Constraints,
    Edge,
    Job,
    Option,
    PlacementProblem,
    Strategy,
    evaluate,
)
from heroes_core.decision.planner import OptionDetail
from heroes_core.decision.proposal import Plan
from heroes_core.decision.replanning import Placement, remaining_problem, replan

X, Y = ("x", "main"), ("y", "main")


def today(times: dict[str, dict[str, float]], *, costs: dict[str, float] | None = None,
          energy: dict[str, float] | None = None, strategy: Strategy = "time", **limits: object) -> Plan:
    """A chain a -> b (-> c ...) with options on x and y: job -> site -> predicted time today."""
    costs, energy = costs or {}, energy or {}
    jobs, details = [], {}
    for job, by_site in times.items():
        jobs.append(Job(id=job, options=[Option(site=s, partition="main", time_s=t, cost=costs.get(s, 1.0),
                                                energy_j=energy.get(s, 100.0)) for s, t in by_site.items()]))
        details[job] = [OptionDetail(site=s, partition="main", prediction=None, cost=Decimal(1), currency="EUR",
                                     queue_wait_s=0.0, note="") for s in by_site]
    ids = list(times)
    problem = PlacementProblem(jobs=jobs, edges=[Edge(parent=p, child=c) for p, c in itertools.pairwise(ids)],
                               strategy=strategy, constraints=Constraints.model_validate(limits))
    return Plan(problem=problem, result=evaluate(problem, {job: 0 for job in ids}), details=details)


def run(plan: Plan, current: dict[str, Placement], done: dict[str, Placement], *, margin: float = 0.2,
        spent_energy_j: float = 0.0, elapsed_s: float = 0.0):  # type: ignore[no-untyped-def]
    return replan(plan.problem, plan.details, current, done, spent_energy_j=spent_energy_j, elapsed_s=elapsed_s, margin=margin,
                  time_limit_s=5)


def test_a_job_still_to_run_moves_when_its_centre_became_clearly_slower_and_a_finished_one_stays() -> None:
    plan = today({"a": {"x": 100, "y": 100}, "b": {"x": 900, "y": 150}})
    proposal = run(plan, {"a": X, "b": X}, {"a": X})
    assert proposal is not None
    assert [(m.job, m.from_site, m.to_site) for m in proposal.moves] == [("b", "x", "y")]
    assert proposal.gain == pytest.approx((900 - 150) / 900, rel=0.01)
    assert proposal.plan.problem.jobs[0].options[0].site == "x"  # a is pinned where it ran
    assert "better: makespan" in proposal.reason()


def test_a_gain_within_the_margin_keeps_the_current_plan() -> None:
    plan = today({"a": {"x": 100, "y": 100}, "b": {"x": 170, "y": 150}})  # 12 % better elsewhere
    assert run(plan, {"a": X, "b": X}, {"a": X}, margin=0.2) is None
    assert run(plan, {"a": X, "b": X}, {"a": X}, margin=0.05) is not None


def test_the_same_strategy_judges_so_a_price_plan_does_not_move_to_a_faster_dearer_centre() -> None:
    plan = today({"a": {"x": 100, "y": 100}, "b": {"x": 900, "y": 150}}, costs={"x": 1.0, "y": 5.0},
                 strategy="price")
    assert run(plan, {"a": X, "b": X}, {"a": X}) is None


def test_a_move_the_budget_left_cannot_pay_is_not_proposed() -> None:
    plan = today({"a": {"x": 100, "y": 100}, "b": {"x": 900, "y": 150}}, costs={"x": 1.0, "y": 5.0}, budget=4.0)
    assert run(plan, {"a": X, "b": X}, {"a": X}) is None  # a is paid: only b's 1 or 5 counts, within 4


def test_the_energy_cap_left_is_the_cap_less_what_finished_jobs_used() -> None:
    plan = today({"a": {"x": 100, "y": 100}, "b": {"x": 900, "y": 150}}, energy={"x": 100.0, "y": 400.0},
                 energy_j=500.0)
    assert run(plan, {"a": X, "b": X}, {"a": X}, spent_energy_j=0.0) is not None
    assert run(plan, {"a": X, "b": X}, {"a": X}, spent_energy_j=200.0) is None  # 300 J left: y's 400 J is over
    pinned, _ = remaining_problem(plan.problem, plan.details, {"a": X}, spent_energy_j=200.0, elapsed_s=30.0)
    assert pinned.constraints.energy_j == 300.0


def test_a_current_plan_that_no_longer_holds_is_replaced_whatever_the_margin() -> None:
    plan = today({"a": {"x": 100, "y": 100}, "b": {"y": 150}})  # x is no longer a candidate for b
    proposal = run(plan, {"a": X, "b": X}, {"a": X}, margin=10.0)
    assert proposal is not None and math.isinf(proposal.gain)
    assert "no longer a candidate" in proposal.reason()
    assert proposal.assignment == {"a": 0, "b": 0}


def test_the_deadline_left_is_the_deadline_less_the_time_gone() -> None:
    plan = today({"a": {"x": 100, "y": 100}, "b": {"x": 900, "y": 150}}, deadline_s=1000.0)
    remaining, _ = remaining_problem(plan.problem, plan.details, {"a": X}, spent_energy_j=0.0, elapsed_s=400.0)
    assert remaining.constraints.deadline_s == 600
    proposal = run(plan, {"a": X, "b": X}, {"a": X}, elapsed_s=400.0)  # x now breaks the deadline left
    assert proposal is not None and math.isinf(proposal.gain)
    assert run(plan, {"a": X, "b": X}, {"a": X}, elapsed_s=990.0) is None  # no plan holds: nothing to propose
