"""Searching for the best plan within a wall-clock cap, the method chosen by model size.

Heuristic plans come first (the per-job greedy and, when jobs exchange data, each site for
every job), repaired to fit the limits: they are the incumbent every later step must beat,
and what a capped solve returns when nothing better is found in time. Then:

* small models: one MILP on HiGHS, warm-started from the incumbent, until proven or capped;
* larger ones: the LP relaxation (a proven bound), its rounding and RENS, then LNS
  (:mod:`~heroes_core.decision.placement._improve`); when the full model is small enough for
  HiGHS to get through its presolve within the cap, the warm-started full MILP then tightens
  the bound, since LNS finds good plans fast but proves nothing. Before LNS, the local search
  runs on the plan so far for a fifth of the time left; when the score counts the makespan it
  iterates (tightening and kicks, see :mod:`~heroes_core.decision.placement._local`), since on
  makespans it finds better plans sooner than LNS or the full MILP. Between the local search and
  LNS, every job is freed to stay at its site or move to one target site, a site at a time
  (:func:`~heroes_core.decision.placement._improve.across_sites`): moving a group of jobs that
  exchange data to a greener or cheaper site together, paid for by jobs elsewhere, is a step of
  many jobs at once that neither the local search nor a connected LNS neighbourhood takes.

Whatever plan the MILP phases leave (unless proven optimal or proven impossible) then goes through
the local search of :mod:`~heroes_core.decision.placement._local` with the time kept for it: every
single-job and pair move evaluated exactly in one batch, then random kicks. Capped MILPs stop a few
moves short of plans those moves find; a plan that still breaks a limit is walked back within it.

The models minimise the score (the objective plus tie-breaking terms, see
``Instance.score_coef``); bounds are returned with the most the tie terms can add taken off,
so they bound the objective itself.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from heroes_core.decision.placement._heuristics import (
    best_of,
    better,
    criterion_plans,
    greedy,
    keep_better,
    single_site_plans,
)
from heroes_core.decision.placement._improve import (
    across_sites,
    lns,
    part_of,
    rens,
    round_relaxation,
    within_limits,
)
from heroes_core.decision.placement._instance import Instance, IntArray, restrict
from heroes_core.decision.placement._local import local_search, worth_searching
from heroes_core.decision.placement._milp import MilpStatus, ModelSpec, model_columns, solve_milp
from heroes_core.decision.placement._plan import Evaluation, edge_arrays, evaluate_choice

#: Models with at most this many options go straight to one MILP, which HiGHS proves well within a cap.
SMALL_MODEL_OPTIONS = 600
#: Share of the remaining time kept for the local search on the final plan (see :mod:`._local`): its
#: descent reaches a local optimum of a 100x20 plan in a fraction of it, kicks use the rest.
LOCAL_SEARCH_SHARE = 0.1
#: Share of the time left after RENS that the local search gets before the moves across sites (iterated
#: when the score counts the makespan, see :mod:`._local`). It reaches its local optimum within a second or
#: two; the moves across sites and LNS then leave it for a better basin, which the local search at the
#: end descends (a 60 s solve of bench seed 0 under an energy cap found its best plan so; with half the
#: time left here, bench seed 0 weighted stayed 1% above its 300 s plan, with a fifth it reaches it).
MIDDLE_SEARCH_SHARE = 0.2
#: Share of the time left after the local search that the moves across sites get (see
#: :func:`~._improve.across_sites`): a few sub-MILPs, the first of which usually brings the most.
SITE_SEARCH_SHARE = 0.7
#: Full models with more columns than this do not get through HiGHS's presolve within a cap: LNS only.
FULL_MILP_COLUMNS = 60_000


def search(inst: Instance, *, deadline: float) -> tuple[Evaluation, float, MilpStatus]:
    """The best plan found by ``deadline``, a proven lower bound on the objective, and the MILP's status
    (``optimal`` only when the plan is proven best, ``infeasible`` when no plan exists).

    The search runs on the undominated options only (see :func:`undominated`): the same optimum
    with fewer columns, which every later step pays for.
    """
    keep = undominated(inst)
    index = np.flatnonzero(keep)
    small = restrict(inst, keep)
    plans = [greedy(small), *(single_site_plans(small) if small.edges else [])]
    if not best_of(plans).feasible:
        plans += criterion_plans(small)
    local = worth_searching(small)
    reserve = LOCAL_SEARCH_SHARE * max(deadline - time.monotonic(), 0.0) if local else 0.0
    start = best_of(plans)
    if local and not start.feasible:  # the descent often walks the nearest heuristic plan within the limits
        start = local_search(small, start, deadline=time.monotonic() + reserve)
    best, bound, status = _by_size(small, start, deadline - reserve)
    if local and status not in ("optimal", "infeasible"):
        best = local_search(small, best, deadline=deadline, kicks=True)
    return evaluate_choice(inst, index[best.choice]), bound - _tie_ceiling(inst), status


def undominated(inst: Instance) -> np.ndarray:
    """Options no other option of the same job beats: one at the same site (so the same transfers and
    egress) that is no slower, no dearer, no hungrier, needs no more cores and no other licence is at
    least as good in every plan, so dropping the worse one keeps the optimum. Of equal options the first
    stays, as the tie-breaking by option order wants."""
    keep = np.ones(len(inst.time), dtype=bool)
    for i in range(inst.n):
        lo, hi = int(inst.begin[i]), int(inst.begin[i + 1])
        if hi - lo < 2:
            continue
        k = np.arange(lo, hi)
        a, b = k[:, None], k[None, :]  # does option b dominate option a?
        at_least = (
            (inst.site[a] == inst.site[b])
            & (inst.time[b] <= inst.time[a])
            & (inst.cost[b] <= inst.cost[a])
            & (inst.energy[b] <= inst.energy[a])
            & (inst.cores[b] <= inst.cores[a])
            & ((inst.licence[b] < 0) | (inst.licence[b] == inst.licence[a]))
            & inst.usable[b]
        )
        equal = (
            (inst.time[b] == inst.time[a])
            & (inst.cost[b] == inst.cost[a])
            & (inst.energy[b] == inst.energy[a])
            & (inst.cores[b] == inst.cores[a])
            & (inst.licence[b] == inst.licence[a])
        )
        beaten = at_least & (~equal | (b < a))
        keep[lo:hi] = ~beaten.any(axis=1)
    return keep


def prove(inst: Instance, incumbent: IntArray | None, *, deadline: float) -> float:
    """A lower bound on the objective from the full MILP run until ``deadline``, warm-started from
    ``incumbent``: how far a plan found under a short cap really is from optimal."""
    outcome = solve_milp(inst, ModelSpec(objective=inst.score_coef), deadline=deadline, incumbent=incumbent)
    return outcome.bound - _tie_ceiling(inst)


def _by_size(inst: Instance, incumbent: Evaluation, cap: float) -> tuple[Evaluation, float, MilpStatus]:
    """Best plan, proven bound on the score and MILP status (see the module docstring)."""
    spec = ModelSpec(objective=inst.score_coef)
    if len(inst.time) <= SMALL_MODEL_OPTIONS:
        outcome = solve_milp(inst, replace(spec, restart=False), deadline=cap, incumbent=incumbent.choice)
        return keep_better(inst, incumbent, outcome.choice), outcome.bound, outcome.status
    relaxed = solve_milp(inst, replace(spec, integral=False), deadline=part_of(cap, 0.5))
    if relaxed.status == "infeasible":
        return incumbent, math.inf, "infeasible"
    best = incumbent
    if relaxed.x is not None:
        rounded = round_relaxation(inst, relaxed.x)
        best = rounded if better(rounded, best) else best
        best = rens(inst, spec, relaxed.x, best, deadline=part_of(cap, 0.6))
    if model_columns(inst) > FULL_MILP_COLUMNS:
        return lns(inst, spec, best, deadline=cap), relaxed.bound, "feasible"
    if not best.feasible:
        best = within_limits(inst, best, deadline=part_of(cap, 0.85))
    best = local_search(inst, best, deadline=part_of(cap, MIDDLE_SEARCH_SHARE), kicks=inst.coef[0] > 0)
    best = across_sites(inst, spec, best, deadline=part_of(cap, SITE_SEARCH_SHARE))
    best = lns(inst, spec, best, deadline=part_of(cap, 0.4))
    outcome = solve_milp(inst, spec, deadline=cap, incumbent=best.choice)
    return keep_better(inst, best, outcome.choice), max(relaxed.bound, outcome.bound), outcome.status


def _tie_ceiling(inst: Instance) -> float:
    """Largest value the tie-breaking terms can take: a bound on the score minus it bounds the objective."""
    _parent, _child, gb = edge_arrays(inst)
    slowest = float((np.maximum.reduceat(inst.time + inst.in_time, inst.begin[:-1])).sum())
    slowest += float((gb * inst.transfer_s_per_gb.max(initial=0.0)).sum())
    dearest = float(np.maximum.reduceat(inst.cost, inst.begin[:-1]).sum())
    dearest += float((gb * inst.egress_per_gb.max(initial=0.0)).sum())
    hungriest = float(np.maximum.reduceat(inst.energy, inst.begin[:-1]).sum())
    ta, tb, tg = inst.tie
    return ta * slowest + tb * dearest + tg * hungriest
