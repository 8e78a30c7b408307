"""A proposed placement and the user's moves: each re-checked against every constraint."""

from decimal import Decimal

import pytest

from heroes_core.decision.placement import (
    Constraints,
    Edge,
    Job,
    Option,
    PlacementProblem,
    Violation,
    evaluate,
)
from heroes_core.decision.planner import OptionDetail
from heroes_core.decision.proposal import (
    OverrideRefused,
    Plan,
    apply_overrides,
    describe_violations,
    with_overrides,
)


def options(cost_far: float = 1.0) -> list[Option]:
    return [Option(site="near", partition="p", time_s=100, cost=1.0),
            Option(site="far", partition="p1", time_s=50, cost=cost_far),
            Option(site="far", partition="p2", time_s=40, cost=cost_far)]


def detail(site: str, partition: str) -> OptionDetail:
    return OptionDetail(site=site, partition=partition, prediction=None, cost=Decimal("1.00"),
                        currency="EUR", queue_wait_s=0.0, note="")


def plan(budget: float | None = None, cost_far: float = 1.0) -> Plan:
    problem = PlacementProblem(jobs=[Job(id=j, options=options(cost_far)) for j in ("a", "b")],
                               edges=[Edge(parent="a", child="b")],
                               constraints=Constraints(budget=budget))
    details = [detail("near", "p"), detail("far", "p1"), detail("far", "p2")]
    return Plan(problem=problem, result=evaluate(problem, {"a": 0, "b": 0}),
                details={"a": details, "b": details})


def test_the_proposal_is_the_assignment_of_its_choices() -> None:
    proposal = plan()
    assert proposal.assignment() == {"a": 0, "b": 0}
    assert proposal.detail("b", {"a": 0, "b": 2}).partition == "p2"


def test_a_move_goes_to_the_first_option_on_the_named_site_and_is_re_evaluated() -> None:
    result = with_overrides(plan(), {"b": "far"})
    assert {c.job: (c.site, c.option) for c in result.choices} == {"a": ("near", 0), "b": ("far", 1)}
    assert apply_overrides(plan(), {"b": "far"}) == {"a": 0, "b": 1}


@pytest.mark.parametrize(("overrides", "message", "fix"), [
    ({"zz": "far"}, "unknown job 'zz'", "use one of: a, b"),
    ({"a": "moon"}, "job 'a' has no option on site 'moon'", "choose one of: far, near"),
])
def test_a_move_naming_an_unknown_job_or_site_is_refused_with_the_choices(
        overrides: dict[str, str], message: str, fix: str) -> None:
    with pytest.raises(OverrideRefused, match=message) as refused:
        apply_overrides(plan(), overrides)
    assert refused.value.fix == fix


def test_a_move_that_breaks_the_budget_is_refused_saying_what_it_needs() -> None:
    over = plan(budget=3.0, cost_far=5.0)
    assert with_overrides(over, {"a": "far"}).violations  # still evaluated, for the UI
    with pytest.raises(OverrideRefused, match=r"the moves break: budget: needs 6, 3 available"):
        apply_overrides(over, {"a": "far"})


def test_violations_read_as_one_line() -> None:
    violations = [Violation(constraint="deadline", needed=7200, available=3600, detail="path a->b"),
                  Violation(constraint="budget", needed=12.5, available=10, detail="EUR")]
    assert describe_violations(violations) == (
        "deadline: needs 7200, 3600 available (path a->b); budget: needs 12.5, 10 available (EUR)")
