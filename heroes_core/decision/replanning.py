"""Re-planning before each later wave of a workflow: is there now a clearly better plan?

Between waves the world changes: queues fill or empty, a centre reports nodes down, finished jobs
teach the predictors, the budget and the energy cap are partly spent. Before each later wave the
planner builds today's problem (:func:`heroes_core.decision.planner.build_problem`, same spec, same
organisation policy, so the same strategy) and re-solves it for the jobs still to run:

* finished jobs stay where they ran, at no further time, cost or energy, so the data their
  children read still leaves from their centre (transfer time and egress count);
* the budget is what is left now (finished jobs are charged), the energy cap less what the
  finished jobs used, the deadline less the time gone;
* the current assignment is judged on that same problem, so the two objectives compare; a new
  plan is proposed when it is better by more than ``margin`` (relatively), or when the current
  one no longer holds (a centre gone, a limit now broken) and the new one does.

Options are matched by (centre, partition), not by position: the set of candidate centres may
change between waves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from heroes_core.decision.placement import (
    Job,
    Option,
    PlacementProblem,
    PlacementResult,
    Violation,
    evaluate,
    solve,
)
from heroes_core.decision.planner import OptionDetail
from heroes_core.decision.proposal import Assignment, Plan, describe_violations

Placement = tuple[str, str | None]
"""Where a job runs: (centre, partition)."""

#: A finished job takes no more time; zero would be refused as an option's time.
_DONE_S = 1e-3


class Move(BaseModel):
    """A job the new plan puts elsewhere."""

    model_config = ConfigDict(frozen=True)

    job: str
    from_site: str
    from_partition: str | None
    to_site: str
    to_partition: str | None


class Replan(BaseModel):
    """A better plan for the jobs still to run, against the current one judged on the same problem."""

    plan: Plan
    assignment: Assignment
    current: PlacementResult
    moves: list[Move]
    gain: float
    """Relative improvement of the objective (inf when the current plan no longer holds)."""

    def reason(self) -> str:
        if math.isinf(self.gain):
            return f"the current plan no longer holds ({describe_violations(self.current.violations)})"
        return (f"{self.gain:.0%} better: makespan {self.plan.result.makespan_s:.0f} s instead of "
                f"{self.current.makespan_s:.0f} s, cost {self.plan.result.cost:.2f} instead of "
                f"{self.current.cost:.2f}, energy {self.plan.result.energy_j / 1000:.1f} kJ instead of "
                f"{self.current.energy_j / 1000:.1f} kJ")


Details = dict[str, list[OptionDetail]]
"""Job id -> what the UI shows of each of its options (from the planner's ``build_problem``)."""


def placements(details: Details, assignment: Mapping[str, int]) -> dict[str, Placement]:
    """Where each job runs under ``assignment``."""
    return {job: (details[job][index].site, details[job][index].partition)
            for job, index in assignment.items()}


def remaining_problem(problem: PlacementProblem, details: Details, done: Mapping[str, Placement], *,
                      spent_energy_j: float, elapsed_s: float) -> tuple[PlacementProblem, Details]:
    """Today's ``problem`` with the finished jobs pinned where they ran and the limits reduced by
    what is already used (its budget is already what is left)."""
    jobs: list[Job] = []
    pinned_details = dict(details)
    allowed = problem.constraints.allowed_sites
    sites = set(allowed) if allowed is not None else None
    for job in problem.jobs:
        if job.id not in done:
            jobs.append(job)
            continue
        site, partition = done[job.id]
        index = _index(details, job.id, (site, partition))
        cores = job.options[index].cores if index is not None else 1
        pinned = Option(site=site, partition=partition, time_s=_DONE_S, cost=0.0, energy_j=0.0, cores=cores,
                        gpus=job.required_gpus)
        jobs.append(job.model_copy(update={"options": [pinned]}))
        if index is not None:
            pinned_details[job.id] = [details[job.id][index]]
        if sites is not None:  # a finished job's centre stays usable for it even if no longer allowed
            sites.add(site)
    limits = problem.constraints
    update: dict[str, object] = {"allowed_sites": sites}
    if limits.energy_j is not None:
        update["energy_j"] = max(limits.energy_j - spent_energy_j, 0.0)
    if limits.deadline_s is not None:
        update["deadline_s"] = max(limits.deadline_s - elapsed_s, _DONE_S)
    remaining = problem.model_copy(update={"jobs": jobs, "constraints": limits.model_copy(update=update)})
    return remaining, pinned_details


def _index(details: Details, job: str, where: Placement) -> int | None:
    return next((i for i, d in enumerate(details[job]) if (d.site, d.partition) == where), None)


def replan(problem: PlacementProblem, details: Details, current: Mapping[str, Placement],
           done: Mapping[str, Placement], *, spent_energy_j: float, elapsed_s: float, margin: float,
           time_limit_s: float) -> Replan | None:
    """A plan for the jobs not ``done`` clearly better than keeping ``current`` (job -> where it
    was to run) on today's ``problem``, or None: keep the current plan (also when no new plan
    holds either)."""
    if margin < 0:
        raise ValueError("margin must be >= 0")
    remaining, pinned = remaining_problem(problem, details, done, spent_energy_j=spent_energy_j,
                                          elapsed_s=elapsed_s)
    proposed = solve(remaining, time_limit_s=time_limit_s)
    if proposed.status == "infeasible":
        return None
    new = {choice.job: choice.option for choice in proposed.choices}
    kept = {job: _index(pinned, job, where) for job, where in current.items()}
    found = {job: index for job, index in kept.items() if index is not None}
    judged = _judge(remaining, found, proposed)
    if judged.status != "infeasible":
        gain = (judged.objective - proposed.objective) / max(abs(judged.objective), 1e-12)
        if gain <= margin:
            return None
    else:
        gain = math.inf
    to = placements(pinned, new)
    moves = [Move(job=job, from_site=current[job][0], from_partition=current[job][1], to_site=to[job][0],
                  to_partition=to[job][1])
             for job, index in new.items() if job not in done and kept.get(job) != index]
    if not moves:
        return None
    plan = Plan(problem=remaining, result=proposed, details=pinned)
    return Replan(plan=plan, assignment=new, current=judged, moves=moves, gain=gain)


def _judge(problem: PlacementProblem, found: Mapping[str, int], proposed: PlacementResult) -> PlacementResult:
    """The current assignment on today's problem; infeasible if a job's option is gone."""
    gone = [Violation(constraint=f"option:{job.id}", needed=1, available=0,
                      detail=f"job {job.id!r}: its centre is no longer a candidate")
            for job in problem.jobs if job.id not in found]
    if gone:
        return proposed.model_copy(update={"status": "infeasible", "violations": gone, "objective": math.inf})
    return evaluate(problem, dict(found))


__all__ = ["Details", "Move", "Placement", "Replan", "placements", "remaining_problem", "replan"]
