"""Why no plan exists: which limit cannot hold, and by how much.

"Infeasible" alone tells a user nothing. The diagnosis solves relaxations, each a proven
bound, in the order a user would relax things:

1. capacity and licences alone (an elastic model: the least overflow of each limit);
2. each limit on the plan's totals alone, the others dropped: the cheapest plan against the
   budget, the fastest against the deadline, the least energy-hungry against the energy cap;
3. when each holds alone but not together, every pair: the best plan on one limit's total that
   meets the other (the cheapest plan meeting the deadline, and the fastest plan within the
   budget), so the user sees the price of each limit;
4. when every pair holds but not all three: the cheapest plan meeting the deadline and the energy cap.

Amounts are the solver's proven bounds, so "needs at least X" is a fact, not an estimate.
Per-job problems (no usable option, GPUs, allowed sites) are found earlier, when compiling.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from itertools import combinations

from heroes_core.decision.placement import _violations as violations
from heroes_core.decision.placement._instance import TOTAL_LIMITS, Instance, total_objective
from heroes_core.decision.placement._milp import ModelSpec, solve_milp
from heroes_core.decision.placement._plan import evaluate_choice
from heroes_core.decision.placement._problem import Violation

_TOL = 1e-6


def diagnose(inst: Instance, *, deadline: float) -> list[Violation]:
    """Violations explaining why ``inst`` has no feasible plan (empty if none was found in time)."""
    resources = _resource_overflow(inst, deadline)
    if resources:
        return resources
    limits = inst.limits
    out: list[Violation] = []
    for name, cap in limits.items():
        least = _least(inst, name, deadline, under=())
        if least > cap * (1 + _TOL):
            claim = f"every plan {violations.verb(name)} at least"
            out.append(violations.limit(name, least, cap, claim=claim))
    if out or len(limits) < 2:
        return out
    return _joint(inst, deadline, limits)


def _joint(inst: Instance, deadline: float, limits: dict[str, float]) -> list[Violation]:
    """Pairs of limits that cannot hold together, or, when every pair can, all of them at once."""
    out: list[Violation] = []
    for first, second in combinations(limits, 2):
        needed = _least(inst, first, deadline, under=(second,))
        if _proven_over(needed, limits[first]):
            other = _least(inst, second, deadline, under=(first,))
            pair = {first: limits[first], second: limits[second]}
            out.append(violations.joint(pair, needed, other))
    if out or len(limits) < 3:
        return out
    first, *rest = limits
    needed = _least(inst, first, deadline, under=rest)
    return [violations.joint(limits, needed)] if _proven_over(needed, limits[first]) else []


def _proven_over(least: float, cap: float) -> bool:
    """Whether a least value breaks ``cap``; an infinite one was not proven in the time left (the caller
    then reports the time limit instead)."""
    return math.isfinite(least) and least > cap * (1 + _TOL)


def _least(inst: Instance, total: str, deadline: float, *, under: Collection[str]) -> float:
    """Proven minimum of the total the limit ``total`` bounds, with only the limits ``under`` kept
    (capacity and licences always hold)."""
    spec = ModelSpec(objective=total_objective(total), limits=frozenset(under), rel_gap=1e-6)
    outcome = solve_milp(inst, spec, deadline=deadline)
    if outcome.status == "infeasible":
        return math.inf
    if outcome.status == "optimal" and outcome.choice is not None:
        return evaluate_choice(inst, outcome.choice).totals[TOTAL_LIMITS[total]]
    return outcome.bound


def _resource_overflow(inst: Instance, deadline: float) -> list[Violation]:
    """Capacity and licence limits no plan can meet, with the overflow of the least-overflowing plan."""
    spec = ModelSpec(objective=(0.0, 0.0, 0.0), limits=frozenset(), elastic=True)
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
