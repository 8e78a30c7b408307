"""Improving a plan on instances too large for one MILP: relaxation rounding and neighbourhood search.

On large workflows HiGHS spends the whole cap presolving the full model before its root LP,
while the LP relaxation alone (simplex) solves well within it and is close to the optimum.
So large instances get:

1. the LP relaxation, whose value is the proven lower bound;
2. *rounding*: each job's largest LP value, then repaired to fit the limits;
3. *RENS*: the MILP restricted to the options the LP uses (plus the incumbent's), usually a
   small model because the LP is almost integral;
4. *LNS* (the decomposition): repeatedly free a connected neighbourhood of jobs (a few
   thousand options), fix all other jobs to the incumbent and solve that sub-MILP exactly;
   fixed jobs keep their start times and egress in the model, so every improvement is real.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import replace

import numpy as np

from heroes_core.decision.placement._heuristics import better, keep_better, neighbours, option_scores, repair
from heroes_core.decision.placement._instance import (
    TOTAL_LIMITS,
    FloatArray,
    Instance,
    IntArray,
    restrict,
    total_objective,
)
from heroes_core.decision.placement._local import local_search
from heroes_core.decision.placement._milp import ModelSpec, choice_of, solve_milp, stopped
from heroes_core.decision.placement._plan import Evaluation

#: Options freed per neighbourhood: small enough that each sub-MILP is solved exactly in a small share of
#: the cap, so the search takes many small steps, which finds better plans than a few large ones.
NEIGHBOURHOOD_OPTIONS = 600
#: Models with at most this many options let every job outside a neighbourhood change partition
#: (see :func:`_fixed_sites`); larger ones keep those jobs fixed, or each sub-MILP would be large.
SITE_ALTERNATIVES_UP_TO = 4_000
#: LP values below this are treated as zero when restricting to the relaxation's support.
SUPPORT = 1e-3
#: Sub-MILPs of the moves across sites that share the time left (see :func:`across_sites`): fewer than LNS
#: takes, as the first target's model (every job free to move there) often needs most of it to improve.
SITE_STEPS = 3
#: Shortest time worth giving a sub-MILP; below it, stop searching.
MIN_STEP_S = 0.5


def round_relaxation(inst: Instance, x: FloatArray) -> Evaluation:
    """Each job's option with the largest LP value, repaired to fit the limits."""
    return repair(inst, choice_of(inst, x), option_scores(inst))


def rens(
    inst: Instance,
    spec: ModelSpec,
    x: FloatArray,
    incumbent: Evaluation,
    *,
    deadline: float,
    target: float | None = None,
) -> Evaluation:
    """Best plan using only options the relaxation uses, or the incumbent's; ``target`` as for
    :func:`solve_milp`."""
    keep = x > SUPPORT
    keep[incumbent.choice] = True
    return _solve_restricted(inst, spec, keep, incumbent, deadline, target=target)


def within_limits(inst: Instance, incumbent: Evaluation, *, deadline: float) -> Evaluation:
    """A plan that meets every limit together, when the heuristics found none.

    Under a tight budget *and* deadline (or energy cap), repairing one limit breaks the other, and
    HiGHS on the weighted model may find no plan within the cap. The cheapest plan meeting the other
    limits costs at most the budget whenever any plan meets them all, and the cost-only model finds
    such plans much sooner, so it is solved until its first plan within budget: RENS first, then the
    moves across sites (:func:`across_sites`) and LNS on the cost-only model, then the whole of it.
    RENS's plan often meets the other limits a few per cent over budget; LNS then lowers its cost a
    neighbourhood at a time, each sub-MILP warm-started from it (it is a plan of the cost-only model),
    where the whole model finds no plan at all within the cap (bench-tight 5). Without a
    budget, the energy cap takes its part (the least energy-hungry plan meeting the other limits).
    When that finds nothing in its share of the time, the other limits on totals get their turn the
    same way.
    """
    first = "energy" if inst.budget is None and inst.energy_cap is not None else "budget"
    order = [first, *(name for name in inst.limits if name != first)] if inst.limits else [first]
    best = incumbent
    for turn, total in enumerate(order):
        turn_end = part_of(deadline, 0.8 if turn < len(order) - 1 else 1.0)
        first_fit = ModelSpec(objective=total_objective(total), limits=frozenset(TOTAL_LIMITS) - {total})
        target = inst.limits.get(total)
        relaxed = solve_milp(inst, replace(first_fit, integral=False), deadline=part_of(turn_end, 0.3))
        if relaxed.status == "infeasible":
            return best  # no plan meets the other limits, whatever it costs
        if relaxed.x is not None:  # RENS on this relaxation's support: small, and often holds a plan
            best = rens(inst, first_fit, relaxed.x, best, deadline=part_of(turn_end, 0.6), target=target)
            if best.feasible or stopped():
                return best
            best = across_sites(inst, first_fit, best, deadline=part_of(turn_end, 0.3), target=target)
            if best.feasible or stopped():
                return best
            best = lns(inst, first_fit, best, deadline=part_of(turn_end, 0.8))
            if best.feasible or stopped():
                return best
        outcome = solve_milp(inst, first_fit, deadline=turn_end, target=target)
        best = keep_better(inst, best, outcome.choice)
        if best.feasible or outcome.status == "infeasible" or stopped():
            return best
    return local_search(inst, best, deadline=deadline)


def part_of(deadline: float, share: float) -> float:
    """A deadline ``share`` of the way from now to ``deadline``: how the phases of a capped search split
    the time left."""
    now = time.monotonic()
    return now + share * max(deadline - now, 0.0)


def lns(inst: Instance, spec: ModelSpec, incumbent: Evaluation, *, deadline: float) -> Evaluation:
    """Free one neighbourhood at a time (critical jobs first) until the deadline; keep every improvement."""
    best = incumbent
    adjacent = neighbours(inst)
    alternatives = len(inst.time) <= SITE_ALTERNATIVES_UP_TO
    for seeds in _seed_orders(inst, best):
        improved = False
        covered = np.zeros(inst.n, dtype=bool)
        for seed in seeds:
            if covered[seed]:
                continue
            if deadline - time.monotonic() < MIN_STEP_S or stopped():
                return best
            free = _neighbourhood(inst, adjacent, int(seed))
            covered[free] = True
            keep = _fixed_sites(inst, best.choice, alternatives)
            for i in free:
                keep[inst.begin[i] : inst.begin[i + 1]] = True
            found = _solve_restricted(inst, spec, keep, best, _step_deadline(deadline))
            if better(found, best):
                best, improved = found, True
        if not improved:
            return best
    return best


def across_sites(
    inst: Instance, spec: ModelSpec, incumbent: Evaluation, *, deadline: float, target: float | None = None
) -> Evaluation:
    """Free every job to stay at its site (any partition) or move to one target site, one target at a
    time, until no target's model can improve the plan or the deadline; keep every improvement.

    Data moved between sites costs egress and transfer time, so a job is worth moving to a greener or
    cheaper site mostly together with the jobs it exchanges data with, and what that costs is paid for
    by jobs elsewhere: many jobs moving at once across the whole workflow, which neither a single or
    pair move nor a connected neighbourhood of LNS reaches. Each such model has a few options per job
    and is often solved exactly in a fraction of a second, but which target holds the better plan is
    not known beforehand and a 10 s cap has time for a few: see :func:`_promising_sites`. Each target
    first gets RENS (its relaxation's options and the plan's, a model a fraction of the size), and its
    whole model only when that finds nothing better: HiGHS may need many times as long to find the same
    plan in the whole model (bench seed 1 ``energy``: 5.3 s against 0.2 s), and trying the small model
    first lowered bench seed 0 ``energy``'s 10 s plan by 5.9%. With ``target`` (see
    :func:`within_limits`), the model's objective must reach it, and the search stops there.
    """
    best = incumbent
    while True:
        for site, x in _promising_sites(inst, spec, best, deadline, target):
            if deadline - time.monotonic() < MIN_STEP_S or stopped():
                return best
            step = _step_deadline(deadline, 2 * SITE_STEPS)  # the small model gets half a step
            found = rens(inst, spec, x, best, deadline=step, target=target)
            if not better(found, best) and deadline - time.monotonic() >= MIN_STEP_S:
                keep = _staying(inst, best.choice) | (inst.site == site)
                step = _step_deadline(deadline, SITE_STEPS)
                found = _solve_restricted(inst, spec, keep, best, step, target=target)
            if better(found, best):
                best = found
                break  # the plan changed, and with it every target's model: rank them again
        else:
            return best


def _promising_sites(
    inst: Instance, spec: ModelSpec, plan: Evaluation, deadline: float, target: float | None
) -> list[tuple[int, FloatArray]]:
    """Target sites whose model's LP relaxation could beat ``plan`` (or reach ``target``), the lowest
    relaxation first, each with that relaxation's option values (zero outside the target's model).

    The relaxations take a few tens of milliseconds each and rank the targets well: on bench seed 0
    ``time`` the target holding a 2.4% faster plan came last of eight by how much more of it the whole
    model's relaxation uses, and first by its own model's. A target whose relaxation cannot beat the plan is
    skipped, since its model holds no better plan.
    """
    staying = _staying(inst, plan.choice)
    goal = min(_objective_of(plan, spec), math.inf if target is None else target)
    ranked: list[tuple[float, int, FloatArray]] = []
    for site in np.unique(inst.site):
        keep = staying | (inst.site == site)
        if keep.sum() == staying.sum():
            continue
        relaxed = solve_milp(restrict(inst, keep), replace(spec, integral=False), deadline=deadline)
        if relaxed.bound < goal * (1 - 1e-9):
            x = np.zeros(len(keep))
            if relaxed.x is not None:
                x[keep] = relaxed.x
            ranked.append((relaxed.bound, int(site), x))
    ranked.sort(key=lambda entry: entry[0])
    return [(site, x) for _bound, site, x in ranked]


def _staying(inst: Instance, choice: IntArray) -> np.ndarray:
    """Options at the site each job's option in ``choice`` is at."""
    staying: np.ndarray = inst.site == np.repeat(inst.site[choice], np.diff(inst.begin))
    return staying


def _step_deadline(deadline: float, steps: int = 4) -> float:
    """When one sub-MILP of a search ending at ``deadline`` must stop: ``1 / steps`` of the time left, so
    the search takes several steps, but never less than ``MIN_STEP_S``."""
    now = time.monotonic()
    return min(deadline, now + max(MIN_STEP_S, (deadline - now) / steps))


def _fixed_sites(inst: Instance, choice: IntArray, alternatives: bool) -> np.ndarray:
    """Options the jobs outside a neighbourhood keep: the incumbent's, and with ``alternatives`` every
    other option at the incumbent's site. Under a binding budget or energy cap a faster plan for the
    neighbourhood must be paid for elsewhere; another partition on the same site moves no data, so the
    sub-MILP stays as small while every job can give up money or joules."""
    keep = np.zeros(len(inst.time), dtype=bool)
    keep[choice] = True
    if alternatives:
        keep |= _staying(inst, choice)
    return keep


def _seed_orders(inst: Instance, start: Evaluation) -> list[IntArray]:
    """Passes over the jobs: latest finishers first (they set the makespan), then the rest."""
    order = np.argsort(-start.finish, kind="stable")
    return [order, order[::-1].copy(), order]


def _neighbourhood(inst: Instance, adjacent: list[list[int]], seed: int) -> list[int]:
    """Jobs reached from ``seed`` breadth-first along edges (either way) up to the option budget."""
    sizes = np.diff(inst.begin)
    picked: list[int] = []
    seen = {seed}
    queue = deque([seed])
    total = 0
    while queue and total < NEIGHBOURHOOD_OPTIONS:
        i = queue.popleft()
        picked.append(i)
        total += int(sizes[i])
        for j in adjacent[i]:
            if j not in seen:
                seen.add(j)
                queue.append(j)
    if total < NEIGHBOURHOOD_OPTIONS:  # few edges: top up with the next jobs in order
        for j in range(inst.n):
            if total >= NEIGHBOURHOOD_OPTIONS:
                break
            if j not in seen:
                seen.add(j)
                picked.append(j)
                total += int(sizes[j])
    return picked


def _solve_restricted(
    inst: Instance,
    spec: ModelSpec,
    keep: np.ndarray,
    incumbent: Evaluation,
    deadline: float,
    *,
    target: float | None = None,
) -> Evaluation:
    """Solve the MILP over the options in ``keep`` (which include the incumbent's) and map the plan back;
    ``target`` as for :func:`solve_milp`."""
    sub = restrict(inst, keep)
    index = np.flatnonzero(keep)
    local = np.searchsorted(index, incumbent.choice)
    outcome = solve_milp(
        sub,
        replace(spec, rel_gap=1e-4),
        deadline=deadline,
        incumbent=local if _meets(incumbent, spec) else None,
        target=target,
    )
    return keep_better(inst, incumbent, None if outcome.choice is None else index[outcome.choice])


def _objective_of(plan: Evaluation, spec: ModelSpec) -> float:
    """``plan``'s value in the model ``spec``, which a better plan of the model must get below (infinite
    when ``plan`` is not a plan of the model)."""
    return float(np.dot(spec.objective, plan.totals)) if _meets(plan, spec) else math.inf


def _meets(plan: Evaluation, spec: ModelSpec) -> bool:
    """Whether ``plan`` is a plan of the model ``spec``: it breaks only limits the model leaves out (so
    within :func:`within_limits` a plan over budget still warm-starts the cost-only model)."""
    return all(v.constraint in TOTAL_LIMITS and v.constraint not in spec.limits for v in plan.violations)
