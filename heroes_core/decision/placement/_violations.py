"""Every limit a placement can break, built and worded in one place.

A limit is reported in four situations: a job has no option that could meet it (compiling),
a plan breaks it (evaluating), no plan at all can meet it (diagnosing), and a user's override
breaks it. Each kind of limit is built here once, so its ``constraint`` key, its amounts and
its wording agree in all four; callers only say whose amount it is (``claim``: "the plan
costs", "every plan costs at least"), because that is what differs between the situations.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from heroes_core.decision.placement._problem import Constraints, Job, PlacementProblem, Violation

#: The wording of each limit of the whole plan, by its key's kind (``capacity:<site>`` -> ``capacity``).
_LIMITS = {
    "budget": "{claim} {needed:.2f}, {over:.2f} over the budget of {available:.2f}",
    "deadline": "{claim} {needed:.1f} s, {over:.1f} s past the deadline of {available:.1f} s",
    "energy": "{claim} {needed:.0f} J, {over:.0f} J over the energy cap of {available:.0f} J",
    "capacity": "{claim} {needed:.0f} core{s} on {name}, which offers {available:.0f}",
    "licence": "{claim} {needed:.0f} seat{s} of licence {name}; {available:.0f} available",
}


#: How each limit on a plan's totals is spoken of: its name, the plan that does best on it alone, the
#: verb of its amount (claims read "the plan uses", "every plan uses at least") and the amount's format.
_TOTALS = {
    "budget": ("budget", "cheapest", "costs", "{:.2f}"),
    "deadline": ("deadline", "fastest", "takes", "{:.1f} s"),
    "energy": ("energy cap", "least energy-hungry", "uses", "{:.0f} J"),
}


def verb(key: str) -> str:
    """The verb a claim about a total uses: ``costs`` (budget), ``takes`` (deadline), ``uses`` (energy)."""
    return _TOTALS[key][2]


def limit(key: str, needed: float, available: float, *, claim: str) -> Violation:
    """A limit of the whole plan that ``needed`` breaks: ``budget``, ``deadline``, ``energy``,
    ``capacity:<site>`` or ``licence:<name>``, the keys the MILP's rows carry too."""
    kind, _, name = key.partition(":")
    detail = _LIMITS[kind].format(
        claim=claim,
        needed=needed,
        available=available,
        over=needed - available,
        name=name,
        s="" if needed == 1 else "s",
    )
    return Violation(constraint=key, needed=needed, available=available, detail=detail)


def joint(limits: Mapping[str, float], needed: float, other: float | None = None) -> Violation:
    """Each of ``limits`` (two or three of budget, deadline, energy) holds alone but not all together.

    ``needed`` is the least the first limit's total can be while the others hold; with two limits,
    ``other`` is the least the second's can be within the first, so the user sees what each limit
    costs. The key joins the names in the order ``limits`` gives them, e.g. ``budget+deadline``.
    """
    (first, available), *rest = limits.items()
    name, best, says, amount = _TOTALS[first]
    names = [_TOTALS[key][0] for key in limits]
    meeting = " and ".join(f"the {_TOTALS[key][0]} of {_TOTALS[key][3].format(cap)}" for key, cap in rest)
    detail = (
        f"{', '.join(names[:-1])} and {names[-1]} cannot {'both' if len(names) == 2 else 'all'} hold: "
        f"the {best} plan meeting {meeting} {says} at least {amount.format(needed)} > {name} "
        f"{amount.format(available)}"
    )
    if other is not None and len(rest) == 1:
        _name, other_best, other_says, other_amount = _TOTALS[rest[0][0]]
        detail += f"; the {other_best} plan within the {name} {other_says} at least "
        detail += other_amount.format(other)
    return Violation(constraint="+".join(limits), needed=needed, available=available, detail=detail)


def gpus(job: str, needed: int, available: int, *, claim: str) -> Violation:
    return Violation(
        constraint=f"gpus:{job}",
        needed=needed,
        available=available,
        detail=f"job {job!r} needs {needed} GPUs; {claim} {available}",
    )


def site_not_allowed(job: str, sites: Collection[str], allowed: Collection[str], *, claim: str) -> Violation:
    allowed_text = ", ".join(sorted(allowed)) or "none"
    return _rule(
        f"allowed_sites:{job}",
        f"job {job!r} {claim} {', '.join(sorted(sites))}; the allowed sites are {allowed_text}",
    )


def job_cannot_run(rule: str, job: Job, options: list[int], constraints: Constraints) -> Violation:
    """Why ``job`` has no option left: ``rule`` is the filter that removed the last of ``options``
    (``no_option``, ``gpus``, ``allowed_sites``, ``capacity`` or ``licence``)."""
    opts = [job.options[k] for k in options]
    if rule == "no_option":
        reasons = "; ".join(
            f"option {k} ({o.site}): {o.infeasible_reason}" for k, o in zip(options, opts, strict=True)
        )
        return _rule(f"no_option:{job.id}", f"job {job.id!r} has no usable option: {reasons}")
    if rule == "gpus":
        return gpus(job.id, job.required_gpus, max(o.gpus for o in opts), claim="its options offer at most")
    if rule == "allowed_sites":
        return site_not_allowed(
            job.id, {o.site for o in opts}, constraints.allowed_sites or (), claim="runs only on"
        )
    if rule == "capacity":
        o = min(opts, key=lambda o: o.cores)
        available = constraints.site_capacity_cores[o.site]
        return limit(f"capacity:{o.site}", o.cores, available, claim=f"job {job.id!r} needs at least")
    name = min(o.licence or "" for o in opts)
    return limit(f"licence:{name}", 1, 0, claim=f"job {job.id!r} needs")


def override(problem: PlacementProblem, assignment: Mapping[str, int]) -> list[Violation]:
    """Per-job rules a user's override may break, which no solver plan does: an unusable option,
    too few GPUs, a site not allowed."""
    out: list[Violation] = []
    allowed = problem.constraints.allowed_sites
    for job in problem.jobs:
        index = assignment[job.id]
        option = job.options[index]
        if option.infeasible_reason is not None:
            reason = f"job {job.id!r}: option {index} is unusable: {option.infeasible_reason}"
            out.append(_rule(f"option:{job.id}", reason))
        if option.gpus < job.required_gpus:
            out.append(gpus(job.id, job.required_gpus, option.gpus, claim="the option has"))
        if allowed is not None and option.site not in allowed:
            out.append(site_not_allowed(job.id, [option.site], allowed, claim="is placed on"))
    return out


def no_plan_in_time(time_limit_s: float) -> Violation:
    """No plan was found, yet no limit is proven impossible: only more time or looser limits help."""
    return Violation(
        constraint="time_limit",
        needed=float("inf"),
        available=time_limit_s,
        detail=f"no plan meeting every limit was found in {time_limit_s:.1f} s and no single "
        "limit is provably impossible; raise time_limit_s or relax a limit",
    )


def _rule(key: str, detail: str) -> Violation:
    """A rule broken outright rather than by an amount: one thing needed, none available."""
    return Violation(constraint=key, needed=1, available=0, detail=detail)
