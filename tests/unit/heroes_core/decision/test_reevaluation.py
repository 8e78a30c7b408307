"""Re-evaluation before a wave: a move only when clearly faster and still within every limit."""

from decimal import Decimal

import pytest

from heroes_core.decision.placement import Constraints, Job, Option, PlacementProblem, evaluate
from heroes_core.decision.planner import OptionDetail
from heroes_core.decision.predict import Prediction
from heroes_core.decision.proposal import Plan
from heroes_core.decision.reevaluation import Move, reevaluate, time_now
from heroes_core.schedulers import SiteLoad

IDLE = SiteLoad(pending_jobs=0, running_jobs=0, idle_cpus=64, total_cpus=64)
BUSY = SiteLoad(pending_jobs=9, running_jobs=64, idle_cpus=0, total_cpus=64)  # 600 s wait


def prediction(site: str, runtime_s: float) -> Prediction:
    return Prediction(application="sim", site=site, runtime_s_p50=runtime_s, runtime_s_p90=runtime_s,
                      memory_mb_p50=None, memory_mb_p90=None, energy_j_p50=None, energy_j_p90=None,
                      energy_source=None, source="model", samples=10, note="")


def plan(runtimes: dict[str, float], *, budget: float | None = None, infeasible: str | None = None,
         costs: dict[str, float] | None = None) -> Plan:
    costs = costs or {}
    opts = [Option(site=s, time_s=t, cost=costs.get(s, 1.0), cores=4,
                   infeasible_reason=infeasible if s == "b" else None) for s, t in runtimes.items()]
    details = [OptionDetail(site=s, partition=None, prediction=prediction(s, t), cost=Decimal(1),
                            currency="EUR", queue_wait_s=0.0, note="") for s, t in runtimes.items()]
    problem = PlacementProblem(jobs=[Job(id="j", options=opts)], constraints=Constraints(budget=budget))
    return Plan(problem=problem, result=evaluate(problem, {"j": 0}), details={"j": details})


def test_the_time_now_adds_the_wait_the_centres_queue_implies() -> None:
    proposal = plan({"a": 100.0})
    option, detail = proposal.problem.jobs[0].options[0], proposal.details["j"][0]
    assert time_now(detail, option, {"a": IDLE}) == 100.0
    assert time_now(detail, option, {"a": BUSY}) == 100.0 + 600.0
    assert time_now(detail, option, {}) == 100.0  # a centre that did not answer adds nothing


def test_a_job_moves_when_its_centre_is_now_clearly_slower() -> None:
    proposal = plan({"a": 100.0, "b": 150.0})
    chosen, moves = reevaluate(proposal, {"j": 0}, ["j"], {"a": BUSY, "b": IDLE}, margin=0.2,
                               auto_move=True)
    assert chosen == {"j": 1}
    assert moves == [Move(job="j", from_site="a", to_site="b", time_now_s=700.0, time_after_s=150.0,
                          applied=True)]


def test_without_auto_move_the_move_is_only_proposed() -> None:
    chosen, moves = reevaluate(plan({"a": 100.0, "b": 150.0}), {"j": 0}, ["j"], {"a": BUSY}, margin=0.2,
                               auto_move=False)
    assert chosen == {"j": 0} and [m.applied for m in moves] == [False]


@pytest.mark.parametrize("margin", [0.2, 0.5])
def test_a_gain_within_the_margin_is_not_worth_a_move(margin: float) -> None:
    # 100 s here against 85 s there: 15 % faster, below either margin
    chosen, moves = reevaluate(plan({"a": 100.0, "b": 85.0}), {"j": 0}, ["j"], {}, margin=margin,
                               auto_move=True)
    assert (chosen, moves) == ({"j": 0}, [])


def test_no_move_to_an_infeasible_option_or_one_that_breaks_a_limit() -> None:
    infeasible = plan({"a": 100.0, "b": 10.0}, infeasible="too many cores")
    assert reevaluate(infeasible, {"j": 0}, ["j"], {"a": BUSY}, margin=0.2, auto_move=True) == ({"j": 0}, [])
    over_budget = plan({"a": 100.0, "b": 10.0}, budget=5.0, costs={"b": 50.0})
    assert reevaluate(over_budget, {"j": 0}, ["j"], {"a": BUSY}, margin=0.2, auto_move=True) == ({"j": 0}, [])
