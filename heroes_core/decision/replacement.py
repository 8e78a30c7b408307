"""Moving jobs off a centre that cannot take them after all (a cloud cluster whose nodes did not
start): each to its best other option that keeps the plan within its limits."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from heroes_core.decision.placement import evaluate
from heroes_core.decision.proposal import Assignment, Plan, describe_violations
from heroes_core.errors import SpecError


class NoOtherPlacementError(SpecError):
    """A job cannot be moved off a failed centre: no other option of it keeps the plan feasible."""


def replace_jobs(plan: Plan, assignment: Mapping[str, int], jobs: Collection[str],
                 avoid: Mapping[str, str]) -> Assignment:
    """``assignment`` with each of ``jobs`` moved off the centres in ``avoid`` (centre -> why).

    A job's candidates are its plan's runners-up (the solver's own ranking), then its other
    usable options, quickest first; the first that keeps every constraint of the plan wins.
    Raises :class:`NoOtherPlacementError` naming the job, the centre and why it failed.
    """
    moved = dict(assignment)
    ranked = {choice.job: choice.runners_up for choice in plan.result.choices}
    for job_id in jobs:
        failed_site = plan.details[job_id][moved[job_id]].site
        options = next(job.options for job in plan.problem.jobs if job.id == job_id)
        usable = [k for k, option in enumerate(options)
                  if option.infeasible_reason is None and option.site not in avoid]
        order = [k for k in ranked.get(job_id, []) if k in usable]
        order += sorted((k for k in usable if k not in order), key=lambda k: (options[k].time_s, k))
        last = "no other usable option"
        for k in order:
            result = evaluate(plan.problem, {**moved, job_id: k})
            if not result.violations:
                moved[job_id] = k
                break
            last = describe_violations(result.violations)
        else:
            raise NoOtherPlacementError(
                f"job '{job_id}' cannot run on {failed_site} ({avoid.get(failed_site, 'unavailable')}) "
                f"and cannot be moved: {last}", site=failed_site,
                fix="run the workflow again when the centre works, or allow more centres")
    return moved
