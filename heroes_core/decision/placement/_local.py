"""Local search on a complete plan: every single-job move, then pairs of moves, evaluated in one batch.

The MILP phases on 100-job workflows are cut by the wall clock, and their plans are often a
few single-job changes away from a better one: a job off the critical path moved to a cheaper
partition, a critical job moved to a faster site paid for by another job moved to a cheaper
one. Such moves are invisible to a sub-MILP that runs out of time, and cheap to check exactly.

Every plan differing from the current one in one job (or, when none improves, in two jobs
among the most promising single moves) is scheduled at once: the candidate plans are rows of
a matrix, the schedule walks the jobs in topological order once for all rows with numpy, so
the whole neighbourhood of a 100x20 plan costs about as much as a few plain evaluations.

The same search repairs plans that break limits (the *elastic* phase): while the plan is
infeasible, it minimises the summed relative excess over the limits (budget, deadline,
energy, capacity, licences) before the score, so a plan slightly over budget that meets the
deadline is walked to one that meets both instead of being thrown away. Its deadline term adds
to the makespan's excess every job's lateness (its longest path's length past the deadline,
divided by the number of jobs): shortening one of two critical paths leaves the makespan where
it was but lowers that sum, so the descent can cross a plateau of equal makespans.

When the score counts the makespan, the search also *tightens*: it sets itself a deadline a
little below the plan's makespan and walks the plan within it by the elastic phase, then lowers
it again (a smaller step when one fails). A makespan is the longest of many paths, so a plan
whose improvement must shorten several of them at once (paid for by cheaper options elsewhere
under a binding budget) is reached by steps no single or pair move on the score takes. A plan
that misses its deadline is made to meet it the same way, from the fastest plan within the
other limits the descent finds.
"""

from __future__ import annotations

import copy
import math
import time

import numpy as np

from heroes_core.decision.placement._heuristics import better
from heroes_core.decision.placement._instance import (
    TIE_EPS,
    TOLERANCE,
    TOTAL_LIMITS,
    FloatArray,
    Instance,
    IntArray,
    allowed,
)
from heroes_core.decision.placement._plan import Evaluation, edge_arrays, evaluate_choice

#: Single moves of each kind (best score, most of each limited total freed) paired in the pair phase:
#: pairs grow with its square, and the moves worth pairing are among the best of some kind.
PAIR_POOL = 40
#: Jobs moved at random by one kick of the iterated local search: more than a pair move reaches, few
#: enough that the descent after it stays near the best plan.
KICK_JOBS = 3
#: Largest neighbourhood (options x jobs) the local search is run on: a 100x20 plan's is ~0.2 million
#: entries and one pass over it takes milliseconds; a 1,000x50 one's is ~50 million, where one pass
#: takes seconds that the relaxation and LNS use better.
MAX_CELLS = 2_000_000
#: Plan entries (plans x jobs) scheduled in one batch: the neighbourhood of a 100x20 plan in one go,
#: that of a 1,000x50 one in chunks of a few megabytes.
BATCH_CELLS = 400_000
#: First step by which :func:`_faster` lowers the makespan a plan must meet (a share of it), and the step
#: below which it stops: a 100x20 plan takes tens of steps from 2% down to 0.01%.
TIGHTEN_STEP = 0.02
MIN_TIGHTEN_STEP = 1e-4
#: Relative improvement a move must bring, so round-off never makes the search cycle.
_IMPROVE = 1e-9


class Neighbourhood:
    """Scores and limit excesses of many plans of one instance at once (one plan per row)."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.job_of = inst.job_of()
        self.parent, self.child, self.gb = edge_arrays(inst)
        self.parents = [
            (
                np.array([p for p, _ in inst.parents[i]], dtype=np.int64),
                np.array([g for _, g in inst.parents[i]]),
            )
            for i in range(inst.n)
        ]
        self.children: list[list[tuple[int, float]]] = [[] for _ in range(inst.n)]
        for i, parents in enumerate(inst.parents):
            for p, gb in parents:
                self.children[p].append((i, gb))
        self.limited_sites = np.flatnonzero(np.isfinite(inst.capacity))
        self.timing = inst.needs_timing
        self.limits = dict(inst.limits)
        self.coef = inst.score_coef

    def fastest_without_deadline(self) -> Neighbourhood:
        """The same neighbourhood scoring as the ``time`` strategy does (the makespan, then cost and energy
        as tie-breaks), with no deadline: its descents look for the fastest plan within the other limits."""
        other = copy.copy(self)
        other.limits = {name: cap for name, cap in self.limits.items() if name != "deadline"}
        other.timing = True
        norms = self.inst.norms
        other.coef = (1.0, TIE_EPS / max(norms[1], 1e-300), TIE_EPS / max(norms[2], 1e-300))
        return other

    def targeting(self, makespan: float) -> Neighbourhood:
        """The same neighbourhood with the deadline lowered to ``makespan``: a plan meeting it is faster."""
        other = copy.copy(self)
        other.limits = {**self.limits, "deadline": min(self.limits.get("deadline", math.inf), makespan)}
        other.timing = True
        return other

    def measure(self, plans: IntArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Per plan (rows of ``plans``): score, summed relative excess over the limits, and the totals
        (makespan, cost, energy) as columns."""
        inst = self.inst
        site = inst.site[plans]
        cost = inst.cost[plans].sum(axis=1)
        if len(self.gb):
            cost += (self.gb * inst.egress_per_gb[site[:, self.parent], site[:, self.child]]).sum(axis=1)
        energy = inst.energy[plans].sum(axis=1)
        deadline = self.limits.get("deadline")
        if self.timing:
            makespan, late = self._makespan(plans, site, deadline)
        else:
            makespan, late = np.zeros(len(plans)), np.zeros(len(plans))
        totals = np.stack((makespan, cost, energy), axis=1)
        a, b, g = self.coef
        score = a * makespan + b * cost + g * energy
        excess = np.zeros(len(plans))
        for name, cap in self.limits.items():
            over = totals[:, TOTAL_LIMITS[name]] - allowed(cap)
            excess += np.maximum(over, 0.0) / max(cap, 1e-9)
        if deadline is not None:
            excess += late / max(deadline, 1e-9) / inst.n
        for s in self.limited_sites:
            cores = np.where(site == s, inst.cores[plans], 0.0).sum(axis=1)
            excess += np.maximum(cores - inst.capacity[s] - TOLERANCE, 0.0) / max(inst.capacity[s], 1.0)
        if len(inst.licence_names):
            licence = inst.licence[plans]
            for n, seats in enumerate(inst.seats):
                excess += np.maximum((licence == n).sum(axis=1) - seats, 0.0) / max(seats, 1.0)
        return score, excess, totals

    def _makespan(
        self, plans: IntArray, site: IntArray, deadline: float | None
    ) -> tuple[FloatArray, FloatArray]:
        """Critical path of every plan (the schedule of :func:`~._plan.schedule`, one job at a time for
        all rows) and, under a deadline, the summed lateness of every job's longest path through it."""
        finish = self._finish(plans, site)
        makespan: FloatArray = finish.max(axis=0)
        if deadline is None:
            return makespan, np.zeros(len(plans))
        through = finish + self._tail(plans, site)
        late: FloatArray = np.maximum(through - allowed(deadline), 0.0).sum(axis=0)
        return makespan, late

    def _finish(self, plans: IntArray, site: IntArray) -> FloatArray:
        """Finish time of every job (rows) in every plan (columns)."""
        inst = self.inst
        by_job = site.T
        duration = inst.time[plans].T
        finish = inst.in_time[plans].T.copy()
        transfer = inst.transfer_s_per_gb
        for i in range(inst.n):
            start = finish[i]
            parents, gb = self.parents[i]
            for p, size in zip(parents, gb, strict=True):
                start = np.maximum(start, finish[p] + size * transfer[by_job[p], by_job[i]])
            finish[i] = start + duration[i]
        return finish

    def _tail(self, plans: IntArray, site: IntArray) -> FloatArray:
        """Longest time from each job's end to the workflow's end along its children, per plan."""
        inst = self.inst
        by_job = site.T
        duration = inst.time[plans].T
        transfer = inst.transfer_s_per_gb
        tail = np.zeros(duration.shape)
        for i in range(inst.n - 1, -1, -1):
            for c, size in self.children[i]:
                tail[i] = np.maximum(tail[i], size * transfer[by_job[i], by_job[c]] + duration[c] + tail[c])
        return tail


def worth_searching(inst: Instance) -> bool:
    """Whether the local search is cheap enough to run on ``inst`` (see ``MAX_CELLS``)."""
    return len(inst.time) * inst.n <= MAX_CELLS


def local_search(inst: Instance, start: Evaluation, *, deadline: float, kicks: bool = False) -> Evaluation:
    """The plan best-improvement local search reaches from ``start`` by ``deadline`` (see the module
    docstring); never worse than ``start`` (an infeasible start is only replaced by a feasible plan or
    one that breaks its limits by less).

    A start that misses its deadline is first walked within the other limits with the deadline set
    aside, then made faster step by step down to the deadline (see :func:`_faster`): lowering the
    makespan a little at a time finds plans a descent on the summed excess stalls short of.

    With ``kicks``, the time left after a local optimum goes to iterated local search: when the score
    counts the makespan, the plan is first made as fast as the steps reach and the descent resumes from
    there; otherwise (or when that no longer helps) a few jobs of the best plan are moved at random
    (seeded, so a run is repeatable given the same time). The best plan seen is kept. Single and pair
    moves cannot leave a plan whose improvement needs several jobs to move at once; both perturbations can.
    """
    if inst.n == 0 or not worth_searching(inst) or time.monotonic() >= deadline:
        return start
    hood = Neighbourhood(inst)
    rng = np.random.default_rng(0)
    kicks = kicks and math.isfinite(deadline)  # kicks stop only at the deadline
    choice, score, excess = _descend(hood, start.choice.copy(), *_measure_one(hood, start.choice), deadline)
    if excess > 0 and "deadline" in hood.limits:
        fastest = hood.fastest_without_deadline()
        walked = _fastest(fastest, choice, deadline, hood.limits["deadline"], rng, kicks)
        if walked is not None:
            found, s, e = _descend(hood, walked, *_measure_one(hood, walked), deadline)
            if e < excess:
                choice, score, excess = found, s, e
    timed = inst.coef[0] > 0
    tighten = timed
    while kicks and time.monotonic() < deadline:
        if tighten and excess <= 0:
            perturbed = _faster(hood, choice, deadline, goal=0.0)
            tighten = perturbed is not None and not np.array_equal(perturbed, choice)
        else:
            perturbed = _kicked(hood, choice, rng)
            if timed and excess <= 0:  # a kicked plan's own fastest version is the one to compare
                perturbed, _s, _e = _descend(hood, perturbed, *_measure_one(hood, perturbed), deadline)
                perturbed = _faster(hood, perturbed, deadline, goal=0.0)
        if perturbed is None:
            continue
        found, s, e = _descend(hood, perturbed, *_measure_one(hood, perturbed), deadline)
        if (e < excess * (1 - _IMPROVE)) if excess > 0 else (e <= 0 and s < score - _IMPROVE * abs(score)):
            choice, score, excess = found, s, e
            tighten = timed
    found_plan = evaluate_choice(inst, choice)
    if start.feasible or found_plan.feasible:
        return found_plan if better(found_plan, start) else start
    return found_plan if excess < _excess(hood, start.choice) else start


def _kicked(hood: Neighbourhood, choice: IntArray, rng: np.random.Generator) -> IntArray:
    """``choice`` with ``KICK_JOBS`` jobs moved to random options."""
    inst = hood.inst
    kicked = choice.copy()
    for i in rng.choice(inst.n, size=min(KICK_JOBS, inst.n), replace=False):
        kicked[i] = rng.integers(inst.begin[i], inst.begin[i + 1])
    return kicked


def _fastest(
    hood: Neighbourhood, choice: IntArray, deadline: float, goal: float, rng: np.random.Generator, kicks: bool
) -> IntArray | None:
    """A plan within the limits with a makespan of at most ``goal``, or the fastest found by ``deadline``
    (``None`` when none is within the limits): :func:`_faster` from ``choice``, then, with ``kicks``,
    from kicked copies of the fastest plan, each made to beat it."""
    best = _faster(hood, choice, deadline, goal=goal)
    if best is None:
        return None
    fastest = _makespan_of(hood, best)
    while kicks and time.monotonic() < deadline and fastest > allowed(goal):
        found = _faster(hood.targeting(fastest), _kicked(hood, best, rng), deadline, goal=goal)
        if found is not None and (makespan := _makespan_of(hood, found)) < fastest * (1 - _IMPROVE):
            best, fastest = found, makespan
    return best


def _faster(hood: Neighbourhood, choice: IntArray, deadline: float, *, goal: float) -> IntArray | None:
    """The fastest plan within the limits reached from ``choice`` by lowering the makespan it must meet a
    step at a time (``TIGHTEN_STEP`` of it, shrinking when a step fails) until it is at most ``goal`` or
    the steps fall below ``MIN_TIGHTEN_STEP``. A ``choice`` that breaks a limit is first walked within
    them by a descent; ``None`` when that fails.

    Each step is a descent on the summed excess over the lowered deadline, whose lateness term counts
    every job's longest path (see :meth:`Neighbourhood.measure`): shortening one of several critical
    paths lowers it though the makespan stays, so the descent walks plateaus a makespan score cannot.
    """
    score, excess = _measure_one(hood, choice)
    if excess > 0:
        choice, score, excess = _descend(hood, choice.copy(), score, excess, deadline)
        if excess > 0:
            return None
    reached = choice
    makespan = _makespan_of(hood, reached)
    step = TIGHTEN_STEP
    while time.monotonic() < deadline and makespan > allowed(goal) and step >= MIN_TIGHTEN_STEP:
        target = hood.targeting(max(goal, makespan * (1 - step)))
        found, _s, e = _descend(target, reached.copy(), *_measure_one(target, reached), deadline)
        if e <= 0:
            reached, makespan = found, _makespan_of(hood, found)
        else:
            step /= 4
    return reached


def _makespan_of(hood: Neighbourhood, choice: IntArray) -> float:
    _score, _excess, totals = hood.measure(choice[None, :])
    return float(totals[0, 0])


def _descend(
    hood: Neighbourhood, choice: IntArray, score: float, excess: float, deadline: float
) -> tuple[IntArray, float, float]:
    """Best-improvement descent from ``choice``: single moves, then pairs when no single move improves."""
    others = np.arange(len(hood.inst.time))
    while time.monotonic() < deadline:
        moves = others[others != choice[hood.job_of[others]]]
        s, e, totals = _measure_moves(hood, choice, moves[:, None])
        pick = _best(s, e, score, excess)
        chosen = moves[:, None]
        if pick is None and time.monotonic() < deadline:
            chosen = _pairs(hood, moves, s, e, totals)
            if len(chosen):
                s, e, _totals = _measure_moves(hood, choice, chosen)
                pick = _best(s, e, score, excess)
        if pick is None:
            break
        choice = choice.copy()
        choice[hood.job_of[chosen[pick]]] = chosen[pick]
        score, excess = float(s[pick]), float(e[pick])
    return choice, score, excess


def _measure_moves(
    hood: Neighbourhood, choice: IntArray, moves: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Score, excess and totals of ``choice`` changed by each row of ``moves`` (options of distinct
    jobs), in chunks of at most ``BATCH_CELLS`` plan entries so 1,000-job plans stay within memory."""
    rows = max(1, BATCH_CELLS // max(len(choice), 1))
    parts = []
    for first in range(0, len(moves), rows):
        chunk = moves[first : first + rows]
        plans = np.repeat(choice[None, :], len(chunk), axis=0)
        index = np.arange(len(chunk))
        for column in range(chunk.shape[1]):
            plans[index, hood.job_of[chunk[:, column]]] = chunk[:, column]
        parts.append(hood.measure(plans))
    if not parts:
        return np.zeros(0), np.zeros(0), np.zeros((0, 3))
    score, excess, totals = (np.concatenate(p) for p in zip(*parts, strict=True))
    return score, excess, totals


def _measure_one(hood: Neighbourhood, choice: IntArray) -> tuple[float, float]:
    """Score and excess of one plan."""
    score, excess, _totals = hood.measure(choice[None, :])
    return float(score[0]), float(excess[0])


def _excess(hood: Neighbourhood, choice: IntArray) -> float:
    return _measure_one(hood, choice)[1]


def _best(score: FloatArray, excess: FloatArray, current: float, current_excess: float) -> int | None:
    """The candidate that improves most on the current plan: least excess while it breaks limits, then
    lowest score; ``None`` when none improves."""
    if not len(score):
        return None
    if current_excess > 0:
        key = np.where(excess > 0, excess, -np.inf)
        pick = int(np.lexsort((score, key))[0])
        if excess[pick] < current_excess * (1 - _IMPROVE):
            return pick
        return None
    feasible = excess <= 0
    if not feasible.any():
        return None
    pick = int(np.argmin(np.where(feasible, score, np.inf)))
    return pick if score[pick] < current - _IMPROVE * abs(current) else None


def _pairs(
    hood: Neighbourhood, moves: IntArray, score: FloatArray, excess: FloatArray, totals: FloatArray
) -> IntArray:
    """Pairs of single moves on different jobs, among the best of each kind: lowest score (whatever
    the limits), least excess, and most of each limited total freed; as rows (option, option)."""
    inst = hood.inst
    pool_size = min(PAIR_POOL, len(moves))
    keys = [score, excess + 1e-12 * score] + [totals[:, TOTAL_LIMITS[name]] for name in inst.limits]
    pool = np.unique(np.concatenate([np.argsort(key, kind="stable")[:pool_size] for key in keys]))
    first, second = np.triu_indices(len(pool), k=1)
    a, b = moves[pool[first]], moves[pool[second]]
    distinct = hood.job_of[a] != hood.job_of[b]
    pairs: IntArray = np.stack((a[distinct], b[distinct]), axis=1)
    return pairs
