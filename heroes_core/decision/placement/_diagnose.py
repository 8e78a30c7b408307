"""Why no plan exists: which limit cannot hold, and by how much.

"Infeasible" alone tells a user nothing. The diagnosis solves relaxations, each a proven
bound, in the order a user would relax things:

1. capacity and licences alone (an elastic model: the least overflow of each limit);
2. the cheapest plan ignoring the deadline, against the budget;
3. the fastest plan ignoring the budget, against the deadline;
4. when each holds alone but not both: the cheapest plan that meets the deadline
   (and the fastest plan within the budget), so the user sees the price of the deadline.

Amounts are the solver's proven bounds, so "needs at least X" is a fact, not an estimate.
Per-job problems (no usable option, GPUs, allowed sites) are found earlier, when compiling.
"""

from __future__ import annotations

import math

from heroes_core.decision.placement import _violations as violations
from heroes_core.decision.placement._instance import Instance
from heroes_core.decision.placement._milp import ModelSpec, solve_milp
from heroes_core.decision.placement._plan import evaluate_choice
from heroes_core.decision.placement._problem import Violation

_TOL = 1e-6


def diagnose(inst: Instance, *, deadline: float) -> list[Violation]:
    """Violations explaining why ``inst`` has no feasible plan (empty if none was found in time)."""
    resources = _resource_overflow(inst, deadline)
    if resources:
        return resources
    budget, limit = inst.budget, inst.deadline
    out: list[Violation] = []
    cheapest = _least(inst, (0.0, 1.0, 0.0), deadline, budget=False, with_deadline=False)
    if budget is not None and cheapest > budget * (1 + _TOL):
        out.append(violations.limit("budget", cheapest, budget, claim="every plan costs at least"))
    fastest = _least(inst, (1.0, 0.0, 0.0), deadline, budget=False, with_deadline=False)
    if limit is not None and fastest > limit * (1 + _TOL):
        out.append(violations.limit("deadline", fastest, limit, claim="every plan takes at least"))
    if out or budget is None or limit is None:
        return out
    return _joint(inst, deadline, budget, limit)


def _joint(inst: Instance, deadline: float, budget: float, limit: float) -> list[Violation]:
    price = _least(inst, (0.0, 1.0, 0.0), deadline, budget=False, with_deadline=True)
    if not (math.isfinite(price) and price > budget * (1 + _TOL)):
        return []  # not proven in the time left: the caller reports the time limit instead
    makespan = _least(inst, (1.0, 0.0, 0.0), deadline, budget=True, with_deadline=False)
    return [violations.budget_and_deadline(price, budget, limit, makespan)]


def _least(
    inst: Instance,
    objective: tuple[float, float, float],
    deadline: float,
    *,
    budget: bool,
    with_deadline: bool,
) -> float:
    """Proven minimum of one criterion under the chosen limits (capacity and licences always hold)."""
    spec = ModelSpec(objective=objective, budget=budget, deadline=with_deadline, rel_gap=1e-6)
    outcome = solve_milp(inst, spec, deadline=deadline)
    if outcome.status == "infeasible":
        return math.inf
    if outcome.status == "optimal" and outcome.choice is not None:
        ev = evaluate_choice(inst, outcome.choice)
        return ev.cost if objective[1] else ev.makespan
    return outcome.bound


def _resource_overflow(inst: Instance, deadline: float) -> list[Violation]:
    """Capacity and licence limits no plan can meet, with the overflow of the least-overflowing plan."""
    spec = ModelSpec(objective=(0.0, 0.0, 0.0), budget=False, deadline=False, elastic=True)
    outcome = solve_milp(inst, spec, deadline=deadline)
    out: list[Violation] = []
    for name, slack in sorted(outcome.slack.items()):
        if slack <= _TOL:
            continue
        kind, _, what = name.partition(":")
        available = (
            float(inst.capacity[inst.sites.index(what)])
            if kind == "capacity"
            else float(inst.seats[inst.licence_names.index(what)])
        )
        claim = "the plan that overflows the limits least still needs"
        out.append(violations.limit(name, available + slack, available, claim=claim))
    return out
