"""What a plan (one usable option per job) costs, how long it takes and which limits it breaks.

Every solver path ends here, so the numbers a result reports never come from a model's
objective value (which may carry round-off or tie-breaking terms) but from the plan itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from heroes_core.decision.placement import _violations as violations
from heroes_core.decision.placement._instance import TOLERANCE, TOTAL_LIMITS, FloatArray, Instance, IntArray
from heroes_core.decision.placement._problem import Violation


@dataclass(frozen=True)
class Evaluation:
    """A plan's schedule, totals, objective and broken limits. ``choice[i]`` is job i's option index k."""

    choice: IntArray
    start: FloatArray
    finish: FloatArray
    makespan: float
    cost: float
    energy: float
    objective: float
    score: float  # objective plus tie-breaking terms: what heuristics compare
    violations: list[Violation]

    @property
    def feasible(self) -> bool:
        return not self.violations

    @property
    def excess(self) -> float:
        """How far the plan is from meeting its limits: the broken limits' relative excesses, summed
        (0 for a feasible plan). Of two plans that break limits, the one closer to a feasible plan is
        the better start for a repair."""
        return sum(max(v.needed - v.available, 0.0) / max(abs(v.available), 1e-9) for v in self.violations)

    @property
    def totals(self) -> tuple[float, float, float]:
        """Makespan, cost and energy: the criteria ``TOTAL_LIMITS`` index."""
        return (self.makespan, self.cost, self.energy)


def edge_arrays(inst: Instance) -> tuple[IntArray, IntArray, FloatArray]:
    if not inst.edges:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    table = np.array(inst.edges, dtype=np.float64)
    return table[:, 0].astype(np.int64), table[:, 1].astype(np.int64), table[:, 2]


def schedule(inst: Instance, choice: IntArray) -> tuple[FloatArray, FloatArray]:
    """Earliest start and finish of every job: after its input arrived and every parent's output."""
    site = inst.site[choice]
    start = inst.in_time[choice].copy()
    finish = np.zeros(inst.n)
    transfer = inst.transfer_s_per_gb
    duration = inst.time[choice]
    for i in range(inst.n):
        ready = float(start[i])
        for p, gb in inst.parents[i]:
            ready = max(ready, float(finish[p]) + gb * float(transfer[site[p], site[i]]))
        start[i] = ready
        finish[i] = ready + duration[i]
    return start, finish


def evaluate_choice(inst: Instance, choice: IntArray) -> Evaluation:
    """Schedule, totals and violations of the plan ``choice`` (one option index k per job)."""
    start, finish = schedule(inst, choice)
    parent, child, gb = edge_arrays(inst)
    site = inst.site[choice]
    egress = float((gb * inst.egress_per_gb[site[parent], site[child]]).sum())
    cost = float(inst.cost[choice].sum()) + egress
    energy = float(inst.energy[choice].sum())
    makespan = float(finish.max()) if inst.n else 0.0
    return Evaluation(
        choice=choice,
        start=start,
        finish=finish,
        makespan=makespan,
        cost=cost,
        energy=energy,
        objective=inst.weighted(makespan, cost, energy),
        score=inst.weighted(makespan, cost, energy, tie=True),
        violations=plan_violations(inst, choice, (makespan, cost, energy)),
    )


def plan_violations(inst: Instance, choice: IntArray, totals: tuple[float, float, float]) -> list[Violation]:
    """Budget, deadline, energy, capacity and licence limits the plan breaks, with the amounts;
    ``totals`` are the plan's makespan, cost and energy."""
    out: list[Violation] = []
    for name, cap in inst.limits.items():
        value = totals[TOTAL_LIMITS[name]]
        if value > cap * (1 + TOLERANCE) + TOLERANCE:
            out.append(violations.limit(name, value, cap, claim=f"the plan {violations.verb(name)}"))
    cores = np.bincount(inst.site[choice], weights=inst.cores[choice], minlength=len(inst.sites))
    for s in np.flatnonzero(cores > inst.capacity + TOLERANCE):
        key, needed, available = f"capacity:{inst.sites[s]}", float(cores[s]), float(inst.capacity[s])
        out.append(violations.limit(key, needed, available, claim="the plan needs"))
    lic = inst.licence[choice]
    seats = np.bincount(lic[lic >= 0], minlength=len(inst.licence_names))
    for n in np.flatnonzero(seats > inst.seats):
        key, needed, available = f"licence:{inst.licence_names[n]}", float(seats[n]), float(inst.seats[n])
        out.append(violations.limit(key, needed, available, claim="the plan uses"))
    return out
