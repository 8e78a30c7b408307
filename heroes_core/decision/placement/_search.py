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

When no heuristic plan meets the limits, the search for the plan lowest in one limited total (the
fastest, or for the ``time`` strategy the cheapest) runs beside the strategy's own in a second process
(:mod:`~heroes_core.decision.placement._side`), and its plan is taken between phases when it meets every
limit and scores better: such a limit may be as tight as the lowest total any plan within the others
reaches, which only that search finds in time (see :func:`_lowest_beside`). Its answer also ends the phase
running when it comes (see :func:`_from_relaxation`), so the phases improving its plan get the rest of the
time rather than what a vain search for a plan within the limits leaves.

A limit on the objective's own total (the ``price`` strategy's budget, say) is left out of the search
(see :func:`objective_limit_aside`): the plans that meet it are those whose objective does, so the
phases minimise the objective freely, and the answer is checked against every limit at the end.

The models minimise the score (the objective plus tie-breaking terms, see
``Instance.score_coef``); bounds are returned with the most the tie terms can add taken off,
so they bound the objective itself.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial

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
from heroes_core.decision.placement._instance import (
    Instance,
    IntArray,
    allowed,
    restrict,
    total_objective,
    without_limit,
)
from heroes_core.decision.placement._local import local_search, worth_searching
from heroes_core.decision.placement._milp import (
    MilpOutcome,
    MilpStatus,
    ModelSpec,
    model_columns,
    solve_milp,
    stopping_when,
)
from heroes_core.decision.placement._plan import Evaluation, edge_arrays, evaluate_choice
from heroes_core.decision.placement._side import Call

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
#: Time kept at the end of a search for the answer of the search beside it (see :func:`_lowest_beside`),
#: which stops this much before the deadline: its last sub-MILP's interruption and the answer's way back.
ANSWER_WAIT_S = 0.3
#: The order in which a limit is set aside for the search beside the strategy's own (see
#: :func:`_lowest_beside`): the deadline first, as its search (the ``time`` strategy's) is the one that
#: finds the plans only a tight deadline allows, which a search weighing time against cost misses.
_ASIDE_ORDER = ("deadline", "budget", "energy")
#: Full models with more columns than this do not get through HiGHS's presolve within a cap: LNS only.
FULL_MILP_COLUMNS = 60_000

_log = logging.getLogger(__name__)


def search(inst: Instance, *, deadline: float) -> tuple[Evaluation, float, MilpStatus]:
    """The best plan found by ``deadline``, a proven lower bound on the objective, and the MILP's status
    (``optimal`` only when the plan is proven best, ``infeasible`` when no plan exists).

    The search runs on the undominated options only (see :func:`undominated`): the same optimum
    with fewer columns, which every later step pays for; and without the limit on the objective's own
    total (see :func:`objective_limit_aside`), so its phases' plans are within the other limits only.
    """
    keep = undominated(inst)
    index = np.flatnonzero(keep)
    small = restrict(inst, keep)
    start = _phase("heuristics", lambda: _heuristic_plan(small))
    searched = objective_limit_aside(small)
    pace = _Pace(beside=_lowest_beside(small, start, deadline), whole=None if searched is small else small)
    try:
        best, bound, status = _improve(searched, evaluate_choice(searched, start.choice), deadline, pace)
    finally:
        if pace.beside is not None:
            pace.beside.close()
    return evaluate_choice(inst, index[best.choice]), bound - _tie_ceiling(inst), status


def lowest_within(inst: Instance, goal: float, deadline: float) -> IntArray:
    """The plan lowest in ``inst``'s objective (one total: the strategy ``time``, ``price`` or ``energy``)
    within its limits found by ``deadline``, or the first whose objective meets ``goal``: what
    :func:`_lowest_beside` runs in the second process."""
    best, _bound, _status = _improve(inst, _heuristic_plan(inst), deadline, _Pace(goal=goal))
    return best.choice


def objective_limit_aside(inst: Instance) -> Instance:
    """``inst`` without the limit on the total its objective is (the budget of the ``price`` strategy, the
    deadline of ``time``, the energy cap of ``energy``), if it has one.

    A plan meets that limit exactly when its objective does, so minimising the objective without it finds
    the same plans within every limit, and the plan found meets it or none does. As a row of the model, it
    made HiGHS look for a plan within it before improving any: on bench seed 1 ``price`` (a budget and a
    deadline that both bind), RENS found none in 4 s and a 10 s solve answered "no plan" in 3 of 4 runs;
    without it, RENS finds a plan 0.02% over budget in the same time, which the local search brings within
    it at once (see ``docs/decisions/0002-placement-on-highs.md`` for the runs).
    """
    own = _objective_limit(inst)
    return inst if own is None else without_limit(inst, own)


def _objective_limit(inst: Instance) -> str | None:
    """The limit (of those set) on the total the objective is, if the objective is one total."""
    return next((limit for limit in inst.limits if inst.coef == total_objective(limit)), None)


@dataclass(frozen=True)
class _Pace:
    """What may end a search early or feed it: a ``goal`` (the total a search for the plan lowest in one
    total stops at) and the plans of such a search running beside it (``beside``). ``whole`` is the
    instance with every limit when the search runs with one set aside (see :func:`objective_limit_aside`):
    only a plan within all of them ends the search beside."""

    goal: float | None = None
    beside: Call | None = None
    whole: Instance | None = None

    @property
    def target(self) -> float | None:
        """The score a sub-MILP may stop at: when the objective is one total, any score within the goal
        means that total within it (the tie-breaking terms only add)."""
        return None if self.goal is None else allowed(self.goal)

    def last_call(self, deadline: float) -> float:
        """When a search ending at ``deadline`` must stop to wait for the answer of the search beside it."""
        return deadline if self.beside is None else deadline - ANSWER_WAIT_S

    def answered(self) -> bool:
        """Whether the search beside has answered and its plan is not yet taken: a phase looking for a plan
        within the limits then stops, so the next :meth:`settle` takes it and the phases improving a plan
        get the time (bench seed 1 ``energy``: ``within_limits`` searched 6 of its 10 s in vain while the
        plan beside waited)."""
        return self.beside is not None and self.beside.waiting()

    def within_every_limit(self, plan: Evaluation) -> bool:
        return (plan if self.whole is None else evaluate_choice(self.whole, plan.choice)).feasible

    def reached(self, plan: Evaluation) -> bool:
        return self.goal is not None and plan.feasible and plan.objective <= allowed(self.goal)

    def settle(self, inst: Instance, plan: Evaluation, *, until: float | None = None) -> Evaluation:
        """``plan``, or the plan the search beside it has returned (waiting for it ``until`` then) if that
        one meets every limit and scores better."""
        if self.beside is None:
            return plan
        if self.within_every_limit(plan):  # the strategy's own search got there: leave it the whole machine
            self.beside.cancel()
        choice = self.beside.result(0.0 if until is None else until - time.monotonic())
        if not isinstance(choice, np.ndarray):
            return plan
        found = evaluate_choice(inst, choice)
        return _logged("beside", None, found) if found.feasible and better(found, plan) else plan


def _heuristic_plan(inst: Instance) -> Evaluation:
    """The best heuristic plan: the per-job greedy, each site for every job (when jobs exchange data),
    and one plan per criterion when those break a limit."""
    plans = [greedy(inst), *(single_site_plans(inst) if inst.edges else [])]
    if not best_of(plans).feasible:
        plans += criterion_plans(inst)
    return best_of(plans)


def _lowest_beside(inst: Instance, start: Evaluation, deadline: float) -> Call | None:
    """The search for the plan lowest in one limited total (that limit set aside) in the second process,
    when the strategy's own search may not meet that limit alone.

    When no heuristic plan meets the limits, a limit may be as tight as the lowest total any plan within
    the others reaches: a deadline as tight as the fastest plan within budget, which only the ``time``
    search finds, or, for the ``time`` strategy, a budget as tight as the cheapest plan within the
    deadline, which only the ``price`` search finds. Such a search needs most of a 10 s cap to get there
    (bench tight 1: RENS at about 5 s; bench tight 2: its final local search, with 7 s as with 10 s). The
    strategy's own search cannot spend that time on it without losing the plans its other phases find,
    so both run at once: the search beside stops at its goal (a plan that meets the limit) or just before
    the deadline, and the strategy's search takes its plan at the next phase, or waits for it at the end,
    when it meets every limit and scores better. Once the strategy's search has a plan within every
    limit, the one beside is stopped. The limit set aside is the first of deadline, budget and energy
    whose total is not the whole objective already. Small models are solved whole.
    """
    if start.feasible or len(inst.time) <= SMALL_MODEL_OPTIONS:
        return None
    limits, own = inst.limits, _objective_limit(inst)
    for limit in _ASIDE_ORDER:
        if limit in limits and limit != own:
            aside = without_limit(inst, limit)
            return Call.start(lowest_within, aside, limits[limit], deadline - ANSWER_WAIT_S)
    return None


def _improve(
    inst: Instance, start: Evaluation, deadline: float, pace: _Pace
) -> tuple[Evaluation, float, MilpStatus]:
    """From the heuristic plan ``start``: the walk within the limits, the search by model size and the
    final local search (see the module docstring)."""
    local = worth_searching(inst)
    reserve = LOCAL_SEARCH_SHARE * max(deadline - time.monotonic(), 0.0) if local else 0.0
    if local and not start.feasible:  # the descent often walks the nearest heuristic plan within the limits
        start = _phase("walk", lambda: local_search(inst, start, deadline=time.monotonic() + reserve))
    best, bound, status = _by_size(inst, start, deadline - reserve, pace)
    best = pace.settle(inst, best)
    if local and status not in ("optimal", "infeasible") and not pace.reached(best):
        best = _phase(
            "local search", lambda: local_search(inst, best, deadline=pace.last_call(deadline), kicks=True)
        )
    return pace.settle(inst, best, until=None if status == "infeasible" else deadline), bound, status


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


def _by_size(
    inst: Instance, incumbent: Evaluation, cap: float, pace: _Pace
) -> tuple[Evaluation, float, MilpStatus]:
    """Best plan, proven bound on the score and MILP status (see the module docstring)."""
    spec = ModelSpec(objective=inst.score_coef)
    if len(inst.time) <= SMALL_MODEL_OPTIONS:
        outcome = solve_milp(inst, replace(spec, restart=False), deadline=cap, incumbent=incumbent.choice)
        return keep_better(inst, incumbent, outcome.choice), outcome.bound, outcome.status
    relaxed = solve_milp(inst, replace(spec, integral=False), deadline=part_of(cap, 0.5))
    if relaxed.status == "infeasible":
        return incumbent, math.inf, "infeasible"
    with stopping_when(pace.answered):
        return _from_relaxation(inst, spec, relaxed, incumbent, cap, pace)


def _from_relaxation(
    inst: Instance, spec: ModelSpec, relaxed: MilpOutcome, incumbent: Evaluation, cap: float, pace: _Pace
) -> tuple[Evaluation, float, MilpStatus]:
    """The phases after the LP relaxation ``relaxed`` on a large model (see the module docstring).

    Between phases the plan of the search beside this one is taken when better (see
    :func:`_lowest_beside`), and a search with a goal stops once it is met. The phases run in
    :func:`~._milp.stopping_when` the search beside has answered: those looking for a plan within the
    limits then stop, so the next phase starts from its plan instead of waiting for theirs to end.
    """
    best = incumbent
    if (x := relaxed.x) is not None:
        rounded = round_relaxation(inst, x)
        best = rounded if better(rounded, best) else best
        best = pace.settle(inst, best)
        best = _phase(
            "rens", lambda: rens(inst, spec, x, best, deadline=part_of(cap, 0.6), target=pace.target)
        )
    if model_columns(inst) > FULL_MILP_COLUMNS:
        return _phase("lns", lambda: lns(inst, spec, best, deadline=cap)), relaxed.bound, "feasible"
    phases: list[tuple[str, Callable[[Evaluation], Evaluation]]] = [
        (
            "within limits",
            lambda plan: plan if plan.feasible else within_limits(inst, plan, deadline=part_of(cap, 0.85)),
        ),
        (
            "local search",
            lambda plan: local_search(
                inst, plan, deadline=part_of(cap, MIDDLE_SEARCH_SHARE), kicks=inst.coef[0] > 0
            ),
        ),
        (
            "across sites",
            lambda plan: across_sites(
                inst, spec, plan, deadline=part_of(cap, SITE_SEARCH_SHARE), target=pace.target
            ),
        ),
        ("lns", lambda plan: lns(inst, spec, plan, deadline=part_of(cap, 0.4))),
    ]
    for name, phase in phases:
        best = pace.settle(inst, best)
        if pace.reached(best):
            return best, relaxed.bound, "feasible"
        best = _phase(name, partial(phase, best))
    best = pace.settle(inst, best)
    if pace.reached(best):
        return best, relaxed.bound, "feasible"
    began = time.monotonic()
    outcome = solve_milp(inst, spec, deadline=cap, incumbent=best.choice)
    best = _logged("full milp", began, keep_better(inst, best, outcome.choice))
    return best, max(relaxed.bound, outcome.bound), outcome.status


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


def _phase(name: str, run: Callable[[], Evaluation]) -> Evaluation:
    """``run()``, logged with its time and plan (see :func:`_logged`)."""
    began = time.monotonic()
    return _logged(name, began, run())


def _logged(name: str, began: float | None, plan: Evaluation) -> Evaluation:
    """``plan``, the result of the phase ``name`` begun at ``began`` (``None``: not timed), logged at debug
    level: which phases find a capped solve's plans differs by strategy and instance, and the benchmark's
    ``--trace`` shows it for every case."""
    if _log.isEnabledFor(logging.DEBUG):
        broken = ", ".join(v.constraint for v in plan.violations)
        state = f"breaks {broken}" if broken else "within limits"
        seconds = "" if began is None else f"{time.monotonic() - began:.2f}s"
        _log.debug("%-14s%7s  objective %.6g, %s", name, seconds, plan.objective, state)
    return plan
