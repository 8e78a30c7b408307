"""Workflow placement: pick one option (site, partition) per job of a DAG, under limits, for a strategy.

Semantics (shared by :func:`solve` and :func:`evaluate`):

* **makespan** is the critical path: a job starts once its external input (``input_gb`` at
  ``input_site``) and every parent's output (``data_gb`` of the edge) have reached its site;
  a transfer between different sites takes ``data_gb * 8 / bandwidth_gbps`` seconds, on the
  same site none;
* **cost** is the sum of the chosen options' prices plus egress (``data_gb * egress_per_gb``)
  on every edge and external input that crosses sites;
* **budget**: cost <= budget; **deadline**: makespan <= deadline;
* **capacity** (deliberately simple): the cores of all jobs placed on a site must fit its
  ``site_capacity_cores`` *at once*, as if the workflow were one batch allocation; a tighter,
  time-indexed model would need the queue's behaviour, which the predictions do not give;
* **licences**: each chosen option with a licence takes one seat; unlisted licences are unlimited;
* **GPUs, allowed sites, infeasible options**: such options are never chosen.

Objectives: ``time`` minimises makespan, ``price`` cost, ``energy`` energy, ``weighted``
minimises ``sum(w_c * value_c / ideal_c) / sum(w)`` where ``ideal_c`` is the proven best value
of criterion c on its own (see :func:`~heroes_core.decision.placement._instance.ideal_bounds`), so
weights compare relative losses. Ties are broken towards the faster, then cheaper, then
less energy-hungry plan by tiny extra terms, and otherwise by option order: the same input
gives the same plan.

How it solves (measured on the test bed, see TESTBED-NOTES "placement ILPs"): heuristics
first (per-job greedy and best single site, each repaired to fit the limits), then the
compact MILP on HiGHS, warm-started from the best heuristic plan and capped by the wall
clock, whose dual bound is the proven ``lower_bound``. An infeasible problem is diagnosed
(:mod:`~heroes_core.decision.placement._diagnose`) into the limits that cannot hold and by how much.
"""

from __future__ import annotations

import math
import time
from dataclasses import replace

import numpy as np

from heroes_core.decision.placement._diagnose import diagnose
from heroes_core.decision.placement._heuristics import (
    best_of,
    better,
    critical_jobs,
    greedy,
    local_egress,
    option_scores,
    single_site_plans,
)
from heroes_core.decision.placement._instance import Instance, compile_problem, ideal_bounds
from heroes_core.decision.placement._milp import MilpOutcome, MilpStatus, ModelSpec, model_columns, solve_milp
from heroes_core.decision.placement._plan import Evaluation, edge_arrays, evaluate_choice
from heroes_core.decision.placement._problem import (
    JobChoice,
    PlacementProblem,
    PlacementResult,
    Status,
    Violation,
)
from heroes_core.decision.placement._search import lns, rens, round_relaxation, within_limits
from heroes_core.errors import SpecError

__all__ = ["evaluate", "prove_bound", "solve"]

#: Wall-clock reserved after the MILP for building the answer (schedule, runners-up, explanations).
_ANSWER_S = 0.15
#: Models with at most this many options go straight to one MILP (20 x 10 proves optimal in well under 1 s).
SMALL_MODEL_OPTIONS = 600
#: Larger full models do not get through HiGHS's presolve in time (1,000 x 50: 191k columns, 30+ s): use LNS.
FULL_MILP_COLUMNS = 60_000
#: Extra wall-clock a diagnosis may use beyond ``time_limit_s`` (the contract allows one second).
_DIAGNOSIS_S = 0.7


def solve(problem: PlacementProblem, *, time_limit_s: float = 10.0) -> PlacementResult:
    """The best plan found within ``time_limit_s`` (returns by ``time_limit_s + 1`` s), with a proven gap.

    Raises :class:`SpecError` for malformed input (cycle, unknown job, negative numbers, bad weights).
    """
    started = time.monotonic()
    inst = compile_problem(problem)
    if inst.job_violations:
        return _infeasible(inst.job_violations, started)
    plans = [greedy(inst), *(single_site_plans(inst) if inst.edges else [])]
    best, bound, status = _search(inst, best_of(plans), started + time_limit_s - _ANSWER_S)
    if not best.feasible:
        violations = (
            [] if status == "feasible" else diagnose(inst, deadline=started + time_limit_s + _DIAGNOSIS_S)
        )
        return _infeasible(violations or [_no_plan_in_time(time_limit_s)], started)
    lower = max(inst.weighted(*ideal_bounds(inst)), bound - _tie_ceiling(inst))
    return _result(
        inst, best, "optimal" if status == "optimal" else "feasible", min(lower, best.objective), started
    )


def prove_bound(problem: PlacementProblem, plan: PlacementResult, *, time_limit_s: float) -> float:
    """A lower bound on the objective proven by running the full MILP for ``time_limit_s``, warm-started
    from ``plan``: how far a plan found under a short cap really is from optimal (benchmarks use it)."""
    inst = compile_problem(problem)
    position = {job_id: i for i, job_id in enumerate(inst.job_ids)}
    choice = np.zeros(inst.n, dtype=np.int64)
    for chosen in plan.choices:
        i = position[chosen.job]
        k = np.arange(inst.begin[i], inst.begin[i + 1])
        choice[i] = k[inst.original[k] == chosen.option][0]
    spec = ModelSpec(objective=_objective_with_ties(inst))
    outcome = solve_milp(inst, spec, deadline=time.monotonic() + time_limit_s, incumbent=choice)
    return max(outcome.bound - _tie_ceiling(inst), plan.lower_bound)


def _search(inst: Instance, incumbent: Evaluation, cap: float) -> tuple[Evaluation, float, MilpStatus]:
    """Best plan, proven bound (of the objective with tie terms) and MILP status, by model size:
    small models get one MILP; larger ones the LP relaxation, rounding, RENS and LNS, then, when
    the full model is small enough for HiGHS to start in time, the warm-started full MILP."""
    spec = ModelSpec(objective=_objective_with_ties(inst))
    if len(inst.time) <= SMALL_MODEL_OPTIONS:
        outcome = solve_milp(inst, replace(spec, restart=False), deadline=cap, incumbent=incumbent.choice)
        return _keep_better(inst, incumbent, outcome), outcome.bound, outcome.status
    relaxed = solve_milp(inst, replace(spec, integral=False), deadline=_share(cap, 0.5))
    if relaxed.status == "infeasible":
        return incumbent, math.inf, "infeasible"
    best = incumbent
    if relaxed.x is not None:
        rounded = round_relaxation(inst, relaxed.x)
        best = rounded if better(rounded, best) else best
        best = rens(inst, spec, relaxed.x, best, deadline=_share(cap, 0.4))
    if model_columns(inst) > FULL_MILP_COLUMNS:
        return lns(inst, spec, best, deadline=cap), relaxed.bound, "feasible"
    if not best.feasible:
        best = within_limits(inst, best, deadline=_share(cap, 0.5))
    # medium: LNS finds good plans fast, the full MILP then tightens the bound (cuts, branching)
    best = lns(inst, spec, best, deadline=_share(cap, 0.4))
    outcome = solve_milp(inst, spec, deadline=cap, incumbent=best.choice)
    return _keep_better(inst, best, outcome), max(relaxed.bound, outcome.bound), outcome.status


def _share(cap: float, fraction: float) -> float:
    now = time.monotonic()
    return now + fraction * max(cap - now, 0.0)


def _keep_better(inst: Instance, incumbent: Evaluation, outcome: MilpOutcome) -> Evaluation:
    if outcome.choice is None:
        return incumbent
    found = evaluate_choice(inst, outcome.choice)
    return found if better(found, incumbent) else incumbent


def evaluate(problem: PlacementProblem, assignment: dict[str, int]) -> PlacementResult:
    """Totals and broken limits of a given plan (a user's override).

    ``assignment`` maps every job id to the index of its chosen option.

    A plan that breaks a limit is still evaluated: its result is ``infeasible`` with the violations.
    """
    started = time.monotonic()
    inst = compile_problem(problem, keep_unusable=True)
    _check_assignment(problem, assignment)
    position = {job_id: i for i, job_id in enumerate(inst.job_ids)}
    choice = np.zeros(inst.n, dtype=np.int64)
    for job_id, option in assignment.items():
        choice[position[job_id]] = int(inst.begin[position[job_id]]) + option
    ev = evaluate_choice(inst, choice)
    per_option = _option_violations(problem, assignment)
    violations = per_option + ev.violations
    lower = inst.weighted(*ideal_bounds(inst))
    result = _result(inst, ev, "infeasible" if violations else "feasible", min(lower, ev.objective), started)
    return result.model_copy(update={"violations": violations})


def _check_assignment(problem: PlacementProblem, assignment: dict[str, int]) -> None:
    jobs = {job.id: job for job in problem.jobs}
    for job_id, option in assignment.items():
        if job_id not in jobs:
            raise SpecError(f"the plan names unknown job {job_id!r}", fix="use the workflow's job ids")
        if not 0 <= option < len(jobs[job_id].options):
            raise SpecError(
                f"job {job_id!r} has no option {option} (it has {len(jobs[job_id].options)})",
                fix="pick an index into the job's options",
            )
    missing = sorted(set(jobs) - set(assignment))
    if missing:
        raise SpecError(
            f"the plan leaves jobs {missing} without an option", fix="choose an option for every job"
        )


def _option_violations(problem: PlacementProblem, assignment: dict[str, int]) -> list[Violation]:
    """Per-job rules an override may break: an unusable option, too few GPUs, a site not allowed."""
    out: list[Violation] = []
    allowed = problem.constraints.allowed_sites
    for job in problem.jobs:
        option = job.options[assignment[job.id]]
        if option.infeasible_reason is not None:
            out.append(
                Violation(
                    constraint=f"option:{job.id}",
                    needed=1,
                    available=0,
                    detail=f"job {job.id!r}: option {assignment[job.id]} is unusable: "
                    f"{option.infeasible_reason}",
                )
            )
        if option.gpus < job.required_gpus:
            out.append(
                Violation(
                    constraint=f"gpus:{job.id}",
                    needed=job.required_gpus,
                    available=option.gpus,
                    detail=f"job {job.id!r} needs {job.required_gpus} GPUs; the option has {option.gpus}",
                )
            )
        if allowed is not None and option.site not in allowed:
            out.append(
                Violation(
                    constraint=f"allowed_sites:{job.id}",
                    needed=1,
                    available=0,
                    detail=f"job {job.id!r} is placed on {option.site}, not an allowed site",
                )
            )
    return out


def _objective_with_ties(inst: Instance) -> tuple[float, float, float]:
    a, b, g = (c + t for c, t in zip(inst.coef, inst.tie, strict=True))
    return (a, b, g)


def _tie_ceiling(inst: Instance) -> float:
    """Largest value the tie-breaking terms can take: the MILP's bound minus it bounds the objective."""
    _parent, _child, gb = edge_arrays(inst)
    slowest = float((np.maximum.reduceat(inst.time + inst.in_time, inst.begin[:-1])).sum())
    slowest += float((gb * inst.transfer_s_per_gb.max(initial=0.0)).sum())
    dearest = float(np.maximum.reduceat(inst.cost, inst.begin[:-1]).sum())
    dearest += float((gb * inst.egress_per_gb.max(initial=0.0)).sum())
    hungriest = float(np.maximum.reduceat(inst.energy, inst.begin[:-1]).sum())
    ta, tb, tg = inst.tie
    return ta * slowest + tb * dearest + tg * hungriest


def _no_plan_in_time(time_limit_s: float) -> Violation:
    return Violation(
        constraint="time_limit",
        needed=math.inf,
        available=time_limit_s,
        detail=f"no plan meeting every limit was found in {time_limit_s:.1f} s and no single "
        "limit is provably impossible; raise time_limit_s or relax a limit",
    )


def _infeasible(violations: list[Violation], started: float) -> PlacementResult:
    return PlacementResult(
        status="infeasible",
        choices=[],
        makespan_s=0.0,
        cost=0.0,
        energy_j=0.0,
        objective=math.inf,
        lower_bound=0.0,
        gap=math.inf,
        solve_s=time.monotonic() - started,
        violations=violations,
    )


def _result(inst: Instance, ev: Evaluation, status: Status, lower: float, started: float) -> PlacementResult:
    gap = max(ev.objective - lower, 0.0) / abs(ev.objective) if ev.objective else 0.0
    return PlacementResult(
        status=status,
        choices=_choices(inst, ev),
        makespan_s=ev.makespan,
        cost=ev.cost,
        energy_j=ev.energy,
        objective=ev.objective,
        lower_bound=lower,
        gap=gap,
        solve_s=time.monotonic() - started,
        violations=ev.violations,
    )


def _choices(inst: Instance, ev: Evaluation) -> list[JobChoice]:
    local = _local_scores(inst, ev)
    critical = critical_jobs(inst, ev)
    by_id = {job.id: job for job in inst.problem.jobs}
    choices = []
    for i, job_id in enumerate(inst.job_ids):
        k = int(ev.choice[i])
        others = [int(o) for o in inst.options_of(i) if o != k and inst.usable[o]]
        ranked = sorted(others, key=lambda o: (local[o], o))[:3]
        choices.append(
            JobChoice(
                job=job_id,
                option=int(inst.original[k]),
                site=inst.sites[inst.site[k]],
                start_s=float(ev.start[i]),
                finish_s=float(ev.finish[i]),
                time_s=float(inst.time[k]),
                cost=float(by_id[job_id].options[int(inst.original[k])].cost),
                energy_j=float(inst.energy[k]),
                why=_why(inst, k, ranked[0] if ranked else None, bool(critical[i])),
                runners_up=[int(inst.original[o]) for o in ranked],
            )
        )
    return choices


def _local_scores(inst: Instance, ev: Evaluation) -> np.ndarray:
    """Each option's contribution if its job alone switched to it: its own score plus the egress
    it would pay to or from its parents and children where they are placed."""
    result: np.ndarray = option_scores(inst) + (inst.coef[1] + inst.tie[1]) * local_egress(inst, ev.choice)
    return result


_GOALS = {
    "time": "the shortest makespan",
    "price": "the lowest cost",
    "energy": "the least energy",
    "weighted": "the best weighted time/cost/energy",
}


def _why(inst: Instance, k: int, runner_up: int | None, critical: bool) -> str:
    goal = _GOALS[inst.problem.strategy]
    text = (
        f"{inst.sites[inst.site[k]]}: {inst.time[k]:.0f} s, cost {inst.cost[k]:.2f}, {inst.energy[k]:.0f} J; "
        f"part of the plan with {goal} within the limits"
    )
    if critical:
        text += "; on the critical path"
    if runner_up is not None:
        r = runner_up
        text += (
            f"; runner-up option {inst.original[r]} ({inst.sites[inst.site[r]]}) would take "
            f"{inst.time[r] - inst.time[k]:+.0f} s and cost {inst.cost[r] - inst.cost[k]:+.2f}"
        )
    return text
