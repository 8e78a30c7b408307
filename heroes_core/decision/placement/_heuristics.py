"""Fast plans: a per-job greedy and "everything on one site", each repaired until it fits the limits.

They exist for two reasons: a MILP solver needs a good incumbent to prune early (and a
capped solve must always have *some* plan to return), and "best single site" is often
close to optimal on workflows that move data, because it pays no transfer time and no egress.

Repair moves one job at a time to the option that buys the most of the violated resource
(money, seconds on the critical path, joules, cores, licence seats) per unit of objective lost.
"""

from __future__ import annotations

import numpy as np

from heroes_core.decision.placement._instance import FloatArray, Instance, IntArray, spans
from heroes_core.decision.placement._plan import Evaluation, edge_arrays, evaluate_choice

_EPS = 1e-12
#: Repair rounds before giving up: each round covers every violated limit's whole excess, so a few suffice
#: unless limits fight each other; the cap bounds the time spent on plans the MILP will improve anyway.
MAX_ROUNDS = 60
#: Rounds without a plan nearer the limits after which repair stops. Limits that fight each other (a tight
#: budget and deadline) make the rounds swing between breaking one and breaking the other: on bench seed 0
#: ``time`` each of the 12 heuristic plans' repairs ran all 60 rounds (1.2 s of a 10 s solve, on a 2 GHz
#: core); the greedy plan's came nearest the limits at round 6 and ended 3.6 times as far from them.
STALL_ROUNDS = 10


def option_scores(inst: Instance) -> FloatArray:
    """Each option's stand-alone contribution to the objective (time counted as if on the critical path)."""
    a, b, g = inst.score_coef
    score: FloatArray = a * (inst.time + inst.in_time) + b * inst.cost + g * inst.energy
    return score


def per_job_best(inst: Instance, score: FloatArray, allowed: np.ndarray | None = None) -> IntArray:
    """Lowest-score option of each job, among ``allowed`` ones when it has any (lowest index on ties)."""
    masked = score if allowed is None else np.where(allowed, score, np.inf)
    choice = np.empty(inst.n, dtype=np.int64)
    for i in range(inst.n):
        lo, hi = int(inst.begin[i]), int(inst.begin[i + 1])
        block = masked[lo:hi]
        pick = int(np.argmin(block)) if np.isfinite(block).any() else int(np.argmin(score[lo:hi]))
        choice[i] = lo + pick
    return choice


def greedy(inst: Instance) -> Evaluation:
    """Best option per job on its own, then budget, energy (and other limits) repaired: the baseline plan."""
    score = option_scores(inst)
    return repair(inst, per_job_best(inst, score), score)


def criterion_plans(inst: Instance) -> list[Evaluation]:
    """The fastest, the cheapest and the least energy-hungry option per job, each repaired.

    When the strategy's own greedy plan breaks limits that fight each other (a tight budget and
    deadline), repair from one end of the trade-off often meets both where repair from the middle
    oscillates: the cheapest plan only has to buy time back, the fastest only to give it up.
    """
    plans = []
    per_criterion = (inst.time + inst.in_time, inst.cost, inst.energy)
    for n, values in enumerate(per_criterion):
        scale = inst.norms[n] if inst.norms[n] > 0 else 1.0
        score: FloatArray = values / scale + 1e-6 * option_scores(inst)
        plans.append(repair(inst, per_job_best(inst, score), score))
    return plans


def single_site_plans(inst: Instance) -> list[Evaluation]:
    """For every site, each job's best option there (its overall best where it cannot run there), repaired."""
    score = option_scores(inst)
    return [repair(inst, per_job_best(inst, score, inst.site == s), score) for s in range(len(inst.sites))]


def repair(
    inst: Instance, choice: IntArray, score: FloatArray, *, max_rounds: int | None = None
) -> Evaluation:
    """Move jobs to other options until the plan meets every limit or no move helps.

    Each round, for each violated limit, takes the moves with the best ratio (resource freed per
    unit of score lost, one per job) until they cover the excess, then re-evaluates the plan: one
    evaluation per round rather than per move keeps this linear enough for 1,000-job workflows.
    Jobs moved in one round are never neighbours, so each move's egress and transfer estimate
    holds: two neighbours moving at once can undo each other's saving, and the plan oscillates.
    Returns the plan nearest the limits of all rounds (see :func:`better`), not the last one: a
    swinging repair often ends further from them than it has been.
    """
    choice = choice.copy()
    job_of = inst.job_of()
    adjacent = neighbours(inst)
    rounds = MAX_ROUNDS if max_rounds is None else max_rounds
    ev = best = evaluate_choice(inst, choice)
    stalled = 0
    while ev.violations and rounds > 0 and stalled < STALL_ROUNDS:
        blocked = np.zeros(inst.n, dtype=bool)
        moves = [
            k
            for v in ev.violations
            for k in _moves(inst, ev, v.constraint, v.needed - v.available, score, job_of, adjacent, blocked)
        ]
        if not moves:
            break
        choice[job_of[moves]] = moves
        rounds -= 1
        ev = evaluate_choice(inst, choice)
        if better(ev, best):
            best, stalled = ev, 0
        else:
            stalled += 1
    return best


def neighbours(inst: Instance) -> list[list[int]]:
    """Per job, the jobs it shares an edge with (either direction)."""
    out: list[list[int]] = [[] for _ in range(inst.n)]
    for p, c, _gb in inst.edges:
        out[p].append(c)
        out[c].append(p)
    return out


def _moves(
    inst: Instance,
    ev: Evaluation,
    constraint: str,
    excess: float,
    score: FloatArray,
    job_of: IntArray,
    adjacent: list[list[int]],
    blocked: np.ndarray,
) -> list[int]:
    """Options to switch to (one per job, no two neighbours, none ``blocked``) that together free
    ``excess`` of ``constraint`` most cheaply; marks the moved jobs and their neighbours blocked."""
    current = ev.choice[job_of]
    gain = _resource_gain(inst, ev, constraint, current, job_of)
    if gain is None:
        return []
    loss = np.maximum(score - score[current], 0.0)
    ratio = np.where(gain > _EPS, loss / np.maximum(gain, _EPS), np.inf)
    picked: list[int] = []
    freed = 0.0
    for k in np.argsort(ratio, kind="stable"):
        if not np.isfinite(ratio[k]) or freed >= excess:
            break
        job = int(job_of[k])
        if not blocked[job]:
            blocked[job] = True
            blocked[adjacent[job]] = True
            picked.append(int(k))
            freed += float(gain[k])
    return picked


def _resource_gain(
    inst: Instance, ev: Evaluation, constraint: str, current: IntArray, job_of: IntArray
) -> FloatArray | None:
    """How much of the violated resource each option frees if its job switches to it."""
    if constraint == "budget":
        # egress counts: on large workflows the per-job cheapest options can break the budget by
        # their egress alone, while co-locating jobs meets it
        price = inst.cost + local_egress(inst, ev.choice)
        gain: FloatArray = price[current] - price
        return gain
    if constraint == "energy":  # a job's energy does not depend on where its neighbours run
        joules: FloatArray = inst.energy[current] - inst.energy
        return joules
    if constraint == "deadline":
        critical = critical_jobs(inst, ev)
        return np.where(
            critical[job_of], inst.time[current] + inst.in_time[current] - inst.time - inst.in_time, 0.0
        )
    kind, _, name = constraint.partition(":")
    if kind == "capacity":
        s = inst.sites.index(name)
        on_site = inst.site[current] == s
        return np.where(on_site & (inst.site != s), inst.cores[current], 0.0)
    if kind == "licence":
        n = inst.licence_names.index(name)
        return np.where((inst.licence[current] == n) & (inst.licence != n), 1.0, 0.0)
    return None


def local_egress(inst: Instance, choice: IntArray) -> FloatArray:
    """Egress each option would pay if its job alone moved to it, its parents and children staying put."""
    extra = np.zeros(len(inst.time))
    parent, child, gb = edge_arrays(inst)
    if not len(gb):
        return extra
    site_of_job = inst.site[choice]
    for end, other, outgoing in ((parent, child, True), (child, parent, False)):
        k, edge = spans(inst.begin, end)
        there = site_of_job[other[edge]]
        price = (
            inst.egress_per_gb[inst.site[k], there] if outgoing else inst.egress_per_gb[there, inst.site[k]]
        )
        extra += np.bincount(k, weights=gb[edge] * price, minlength=len(extra))
    return extra


def critical_jobs(inst: Instance, ev: Evaluation) -> np.ndarray:
    """Jobs on a longest path: walk back from the last finisher through the parents that made it wait."""
    critical = np.zeros(inst.n, dtype=bool)
    stack = [int(np.argmax(ev.finish))]
    while stack:
        i = stack.pop()
        if critical[i]:
            continue
        critical[i] = True
        for p, _gb in inst.parents[i]:
            if ev.finish[p] >= ev.start[i] - 1e-9 * max(ev.start[i], 1.0) - _transfer(inst, ev, p, i):
                stack.append(p)
    return critical


def _transfer(inst: Instance, ev: Evaluation, p: int, i: int) -> float:
    gb = next(g for q, g in inst.parents[i] if q == p)
    return gb * float(inst.transfer_s_per_gb[inst.site[ev.choice[p]], inst.site[ev.choice[i]]])


def better(a: Evaluation, b: Evaluation) -> bool:
    """Whether plan ``a`` should replace ``b``: feasible beats infeasible, then a strictly lower score;
    of two plans that break limits, the one that breaks them by less (it is the nearer to repair: a plan
    slightly over budget that meets the deadline must not lose to a cheap one far past it)."""
    if a.feasible != b.feasible:
        return a.feasible
    if not a.feasible and a.excess != b.excess:
        return a.excess < b.excess
    return a.score < b.score - 1e-12 * abs(b.score)


def best_of(plans: list[Evaluation]) -> Evaluation:
    """Feasible plans first, then least excess over the limits, then lowest score, then the earliest in
    the list (deterministic)."""
    return min(plans, key=lambda ev: (not ev.feasible, ev.excess, ev.score))


def keep_better(inst: Instance, incumbent: Evaluation, choice: IntArray | None) -> Evaluation:
    """``choice`` where it beats ``incumbent``, else ``incumbent`` (``choice`` is ``None``: no plan found)."""
    if choice is None:
        return incumbent
    found = evaluate_choice(inst, choice)
    return found if better(found, incumbent) else incumbent
