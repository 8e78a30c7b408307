"""The three entry points: compile the problem, search for a plan or check the given one, and
assemble the answer (totals, proven bound and gap, per-job explanations, broken limits)."""

from __future__ import annotations

import math
import time

from heroes_core.decision.placement import _violations as violations
from heroes_core.decision.placement._diagnose import diagnose
from heroes_core.decision.placement._explain import choices
from heroes_core.decision.placement._instance import Instance, compile_problem, ideal_bounds
from heroes_core.decision.placement._plan import Evaluation, evaluate_choice
from heroes_core.decision.placement._problem import PlacementProblem, PlacementResult, Status, Violation
from heroes_core.decision.placement._search import prove, search
from heroes_core.errors import SpecError

#: Wall-clock reserved after the search for building the answer (schedule, runners-up, explanations).
_ANSWER_S = 0.15
#: Extra wall-clock a diagnosis may use beyond ``time_limit_s`` (the contract allows one second).
_DIAGNOSIS_S = 0.5


def solve(problem: PlacementProblem, *, time_limit_s: float = 10.0) -> PlacementResult:
    """The best plan found within ``time_limit_s`` (returns by ``time_limit_s + 1`` s), with a proven gap.

    Raises :class:`SpecError` for malformed input (cycle, unknown job, negative numbers, bad weights).
    """
    started = time.monotonic()
    inst = compile_problem(problem)
    if inst.job_violations:
        return _infeasible(inst.job_violations, started)
    best, bound, status = search(inst, deadline=started + time_limit_s - _ANSWER_S)
    if not best.feasible:
        found = [] if status == "feasible" else diagnose(inst, deadline=started + time_limit_s + _DIAGNOSIS_S)
        return _infeasible(found or [violations.no_plan_in_time(time_limit_s)], started)
    lower = max(inst.weighted(*ideal_bounds(inst)), bound)
    return _result(
        inst, best, "optimal" if status == "optimal" else "feasible", min(lower, best.objective), started
    )


def prove_bound(problem: PlacementProblem, plan: PlacementResult, *, time_limit_s: float) -> float:
    """A lower bound on the objective proven by running the full MILP for ``time_limit_s``, warm-started
    from ``plan``: how far a plan found under a short cap really is from optimal (benchmarks use it)."""
    inst = compile_problem(problem)
    incumbent = inst.choice_for({c.job: c.option for c in plan.choices}) if plan.choices else None
    return max(prove(inst, incumbent, deadline=time.monotonic() + time_limit_s), plan.lower_bound)


def evaluate(problem: PlacementProblem, assignment: dict[str, int]) -> PlacementResult:
    """Totals and broken limits of a given plan (a user's override).

    ``assignment`` maps every job id to the index of its chosen option.

    A plan that breaks a limit is still evaluated: its result is ``infeasible`` with the violations.
    """
    started = time.monotonic()
    inst = compile_problem(problem, keep_unusable=True)
    _check_assignment(problem, assignment)
    ev = evaluate_choice(inst, inst.choice_for(assignment))
    broken = violations.override(problem, assignment) + ev.violations
    lower = inst.weighted(*ideal_bounds(inst))
    result = _result(inst, ev, "infeasible" if broken else "feasible", min(lower, ev.objective), started)
    return result.model_copy(update={"violations": broken})


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


def _infeasible(broken: list[Violation], started: float) -> PlacementResult:
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
        violations=broken,
    )


def _result(inst: Instance, ev: Evaluation, status: Status, lower: float, started: float) -> PlacementResult:
    gap = max(ev.objective - lower, 0.0) / abs(ev.objective) if ev.objective else 0.0
    return PlacementResult(
        status=status,
        choices=choices(inst, ev),
        makespan_s=ev.makespan,
        cost=ev.cost,
        energy_j=ev.energy,
        objective=ev.objective,
        lower_bound=lower,
        gap=gap,
        solve_s=time.monotonic() - started,
        violations=ev.violations,
    )
