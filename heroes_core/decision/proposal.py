"""A proposed placement, and the user's changes to it: each move re-checked against every
constraint before it is accepted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel

from heroes_core.decision.placement import PlacementProblem, PlacementResult, Violation, evaluate
from heroes_core.decision.planner import OptionDetail
from heroes_core.errors import SpecError

Assignment = dict[str, int]
"""Job id -> index of the option it runs on (into the job's options and details)."""


class Plan(BaseModel):
    """A proposed placement with everything needed to explain or change it."""

    problem: PlacementProblem
    result: PlacementResult
    details: dict[str, list[OptionDetail]]

    def assignment(self) -> Assignment:
        """The proposal as job -> option index."""
        return {choice.job: choice.option for choice in self.result.choices}

    def detail(self, job_id: str, assignment: Mapping[str, int]) -> OptionDetail:
        """The option ``job_id`` runs on under ``assignment``."""
        return self.details[job_id][assignment[job_id]]


class OverrideRefused(SpecError):
    """A user's move names an unknown job or centre, or breaks a constraint."""


def describe_violations(violations: Sequence[Violation]) -> str:
    """Each broken constraint with what it needs and what is available, in one line."""
    return "; ".join(f"{v.constraint}: needs {v.needed:g}, {v.available:g} available ({v.detail})"
                     for v in violations)


def with_overrides(plan: Plan, overrides: Mapping[str, str]) -> PlacementResult:
    """The plan with some jobs moved to other sites, re-checked against every constraint.

    A job moved to a site with several partitions goes to the first of them.
    """
    assignment = plan.assignment()
    for job_id, site in overrides.items():
        if job_id not in assignment:
            raise OverrideRefused(f"override names unknown job '{job_id}'", site="decision",
                                  fix=f"use one of: {', '.join(sorted(assignment))}")
        options = [i for i, d in enumerate(plan.details[job_id]) if d.site == site]
        if not options:
            sites = sorted({d.site for d in plan.details[job_id]})
            raise OverrideRefused(f"job '{job_id}' has no option on site '{site}'", site="decision",
                                  fix=f"choose one of: {', '.join(sites)}")
        assignment[job_id] = options[0]
    return evaluate(plan.problem, assignment)


def apply_overrides(plan: Plan, overrides: Mapping[str, str]) -> Assignment:
    """The assignment after the user's moves, or :class:`OverrideRefused` saying what they break."""
    result = with_overrides(plan, overrides)
    if result.violations:
        raise OverrideRefused(f"the moves break: {describe_violations(result.violations)}",
                              site="decision", fix="move fewer jobs, or to other centres")
    return {choice.job: choice.option for choice in result.choices}
