"""What a plan tells its user about each job: when it runs, why this option, what the alternatives change.

Each option is explained against its job's own alternatives with the rest of the plan kept
as it is (its egress to and from the placed parents and children included), because that is
the question a user asks of one line: "why there, and what if I moved this job?".
"""

from __future__ import annotations

from heroes_core.decision.placement._heuristics import critical_jobs, local_egress, option_scores
from heroes_core.decision.placement._instance import FloatArray, Instance
from heroes_core.decision.placement._plan import Evaluation
from heroes_core.decision.placement._problem import JobChoice

#: Runners-up named per job: enough to compare, few enough to read.
RUNNERS_UP = 3

_GOALS = {
    "time": "the shortest makespan",
    "price": "the lowest cost",
    "energy": "the least energy",
    "weighted": "the best weighted time/cost/energy",
}


def choices(inst: Instance, ev: Evaluation) -> list[JobChoice]:
    """Each job's chosen option with its schedule, the reason it was chosen and its runners-up."""
    local = _local_scores(inst, ev)
    critical = critical_jobs(inst, ev)
    by_id = {job.id: job for job in inst.problem.jobs}
    out = []
    for i, job_id in enumerate(inst.job_ids):
        k = int(ev.choice[i])
        others = [int(o) for o in inst.options_of(i) if o != k and inst.usable[o]]
        ranked = sorted(others, key=lambda o: (local[o], o))[:RUNNERS_UP]
        out.append(
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
    return out


def _local_scores(inst: Instance, ev: Evaluation) -> FloatArray:
    """Each option's contribution if its job alone switched to it: its own score plus the egress
    it would pay to or from its parents and children where they are placed."""
    result: FloatArray = option_scores(inst) + inst.score_coef[1] * local_egress(inst, ev.choice)
    return result


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
            f"{inst.time[r] - inst.time[k]:+.0f} s, cost {inst.cost[r] - inst.cost[k]:+.2f} and use "
            f"{inst.energy[r] - inst.energy[k]:+.0f} J"
        )
    return text
