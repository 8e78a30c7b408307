"""Before each later wave of a workflow: is another centre now clearly better for a job?

Between waves the centres' queues change. Each job of the coming wave is timed again on every
feasible option with today's queue (predicted runtime plus the wait the centre's load implies);
a move is proposed only when it is faster by more than ``margin`` and the whole plan still
meets every constraint with it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from heroes_core.decision.placement import Option, evaluate
from heroes_core.decision.planner import OptionDetail, expected_queue_wait_s
from heroes_core.decision.proposal import Assignment, Plan
from heroes_core.schedulers import SiteLoad


class Move(BaseModel):
    """A job that would finish sooner elsewhere, and whether it was moved."""

    model_config = ConfigDict(frozen=True)

    job: str
    from_site: str
    to_site: str
    time_now_s: float
    time_after_s: float
    applied: bool


def time_now(detail: OptionDetail, option: Option, loads: Mapping[str, SiteLoad]) -> float:
    """An option's time with today's queue: predicted runtime plus the wait its centre implies."""
    runtime = detail.prediction.runtime_s_p50 if detail.prediction else option.time_s
    return runtime + expected_queue_wait_s(loads.get(detail.site), option.cores)


def reevaluate(plan: Plan, chosen: Assignment, wave: Sequence[str], loads: Mapping[str, SiteLoad], *,
               margin: float, auto_move: bool) -> tuple[Assignment, list[Move]]:
    """The assignment to run ``wave`` with, and the moves considered for it.

    With ``auto_move`` the moves are made, one job at a time, each checked against the plan as
    already changed; without it they are only proposed.
    """
    jobs = {job.id: job for job in plan.problem.jobs}
    moves = []
    for job_id in wave:
        options = jobs[job_id].options
        details = plan.details[job_id]
        current = chosen[job_id]
        times = {i: time_now(details[i], option, loads) for i, option in enumerate(options)
                 if option.infeasible_reason is None}
        if not times:
            continue
        best = min(times, key=times.__getitem__)
        if best == current or times[best] >= times.get(current, float("inf")) * (1 - margin):
            continue
        moved = {**chosen, job_id: best}
        if evaluate(plan.problem, moved).violations:
            continue
        moves.append(Move(job=job_id, from_site=details[current].site, to_site=details[best].site,
                          time_now_s=times.get(current, float("nan")), time_after_s=times[best],
                          applied=auto_move))
        if auto_move:
            chosen = moved
    return chosen, moves
