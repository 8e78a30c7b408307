"""Checking a placement problem and compiling it into flat arrays the solvers share.

Compiling does three things once, so that every heuristic, model and check agrees:

* validate the input and raise a :class:`SpecError` naming the job or edge at fault;
* drop options no plan may use (marked infeasible, too few GPUs, site not allowed,
  more cores than the site has, a licence with no seat), keeping per job the reason
  when none is left, because "job X cannot run anywhere" must be reported before solving;
* flatten the usable options into arrays (one entry per option, jobs in topological
  order) and fix the objective as ``a*makespan + b*cost + g*energy``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from heroes_core.decision.placement import _violations as violations
from heroes_core.decision.placement._problem import Job, PlacementProblem, Violation
from heroes_core.errors import SpecError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Weight of the criteria the strategy ignores: enough to break ties (fastest plan, then cheapest),
#: too small to move the primary objective by more than a few millionths.
TIE_EPS = 1e-6
#: Relative slack when checking a plan against a limit on its totals, so round-off is not a violation.
TOLERANCE = 1e-7
#: The limits on a plan's totals, each with the criterion it bounds (0 makespan, 1 cost, 2 energy), in
#: the order violations list them and joint violations name them ("budget+deadline", "budget+energy").
TOTAL_LIMITS = {"budget": 1, "deadline": 0, "energy": 2}
#: The single-criterion strategies, each with the criterion it minimises (as in ``TOTAL_LIMITS``).
CRITERION_OF = {"time": 0, "price": 1, "energy": 2}


def allowed(cap: float) -> float:
    """The most a total may reach under the limit ``cap`` (the tolerance every check uses)."""
    return cap * (1 + TOLERANCE) + TOLERANCE


def total_objective(limit: str) -> tuple[float, float, float]:
    """Objective coefficients that minimise the total the named limit bounds, and nothing else."""
    index = TOTAL_LIMITS[limit]
    return (float(index == 0), float(index == 1), float(index == 2))


def validate(problem: PlacementProblem) -> list[str]:
    """Raise :class:`SpecError` for malformed input; return the job ids in topological order."""
    ids = [job.id for job in problem.jobs]
    seen: set[str] = set()
    for job_id in ids:
        if job_id in seen:
            raise SpecError(f"job id {job_id!r} appears twice", fix="give every job a unique id")
        seen.add(job_id)
    for job in problem.jobs:
        _validate_job(job)
    for edge in problem.edges:
        for end in (edge.parent, edge.child):
            if end not in seen:
                raise SpecError(
                    f"edge {edge.parent!r} -> {edge.child!r} names unknown job {end!r}",
                    fix="declare the job or remove the edge",
                )
        if edge.data_gb < 0 or not math.isfinite(edge.data_gb):
            raise SpecError(
                f"edge {edge.parent!r} -> {edge.child!r} has data_gb={edge.data_gb}",
                fix="give the data size in GB, >= 0",
            )
    _validate_network(problem)
    _validate_weights(problem)
    return _topological_order(ids, [(e.parent, e.child) for e in problem.edges])


def _validate_job(job: Job) -> None:
    if not job.options:
        raise SpecError(f"job {job.id!r} has no options", fix="offer at least one site to run it on")
    if job.input_gb < 0 or job.required_gpus < 0:
        raise SpecError(
            f"job {job.id!r} has a negative input_gb or required_gpus", fix="use sizes and counts >= 0"
        )
    for index, option in enumerate(job.options):
        where = f"job {job.id!r} option {index} ({option.site})"
        if not (option.time_s > 0 and math.isfinite(option.time_s)):
            raise SpecError(f"{where} has time_s={option.time_s}", fix="predict a finite run time > 0 s")
        for name in ("cost", "energy_j", "cores", "gpus"):
            value = getattr(option, name)
            if value < 0 or not math.isfinite(value):
                raise SpecError(f"{where} has {name}={value}", fix=f"give {name} as a finite value >= 0")


def _validate_network(problem: PlacementProblem) -> None:
    net = problem.network
    for pair, gbps in [*net.bandwidth_gbps.items(), (("*", "*"), net.default_bandwidth_gbps)]:
        if not gbps > 0:
            raise SpecError(f"bandwidth {pair[0]} -> {pair[1]} is {gbps} Gb/s", fix="give a bandwidth > 0")
    for pair, price in [*net.egress_per_gb.items(), (("*", "*"), net.default_egress_per_gb)]:
        if price < 0 or not math.isfinite(price):
            raise SpecError(f"egress price {pair[0]} -> {pair[1]} is {price}", fix="give a price >= 0")


def _validate_weights(problem: PlacementProblem) -> None:
    if problem.strategy != "weighted":
        return
    w = problem.weights
    if w is None:
        raise SpecError("strategy 'weighted' needs weights", fix="pass weights=Weights(time=..., cost=...)")
    values = (w.time, w.cost, w.energy)
    if any(v < 0 or not math.isfinite(v) for v in values) or sum(values) <= 0:
        raise SpecError(
            f"weights {values} must be >= 0 and sum to a positive value",
            fix="e.g. Weights(time=0.5, cost=0.5)",
        )


def _topological_order(ids: list[str], edges: list[tuple[str, str]]) -> list[str]:
    """Kahn's algorithm in input order (deterministic); a leftover means a cycle, which is named."""
    children: dict[str, list[str]] = {i: [] for i in ids}
    indegree = dict.fromkeys(ids, 0)
    for parent, child in edges:
        children[parent].append(child)
        indegree[child] += 1
    ready = [i for i in ids if indegree[i] == 0]
    order: list[str] = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for child in children[node]:
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    if len(order) < len(ids):
        raise SpecError(
            f"the edges form a cycle: {' -> '.join(_a_cycle(indegree, edges))}",
            fix="remove an edge of the cycle; a workflow must be a DAG",
        )
    return order


def _a_cycle(indegree: dict[str, int], edges: list[tuple[str, str]]) -> list[str]:
    left = {i for i, d in indegree.items() if d > 0}
    parent_of = {c: p for p, c in edges if p in left and c in left}
    node = min(left)
    path: list[str] = []
    while node not in path:
        path.append(node)
        node = parent_of[node]
    cycle = path[path.index(node) :][::-1]
    return [*cycle, cycle[0]]


@dataclass(frozen=True)
class Instance:
    """A validated problem as arrays. ``k`` indexes usable options across all jobs."""

    problem: PlacementProblem
    job_ids: list[str]  # topological order; job index i refers to this list
    sites: list[str]
    begin: IntArray  # job i owns options begin[i]:begin[i+1]
    original: IntArray  # option k's index in its job's option list
    site: IntArray
    time: FloatArray
    cost: FloatArray  # option price plus the egress of the job's external input
    energy: FloatArray
    cores: FloatArray
    licence: IntArray  # index into licence_names, -1 for none
    in_time: FloatArray  # transfer time of the job's external input to the option's site
    usable: NDArray[np.bool_]  # False only for options kept to evaluate an override (see compile_problem)
    edges: list[tuple[int, int, float]]
    parents: list[list[tuple[int, float]]]  # per job: (parent, data_gb)
    transfer_s_per_gb: FloatArray  # [site, site]
    egress_per_gb: FloatArray  # [site, site]
    capacity: FloatArray  # inf where not limited
    licence_names: list[str]
    seats: FloatArray
    coef: tuple[float, float, float]  # objective = coef . (makespan, cost, energy)
    tie: tuple[float, float, float]  # tie-breaking weights of the ignored criteria
    norms: tuple[float, float, float]  # ideal-point lower bounds of makespan, cost, energy
    job_violations: list[Violation]

    @property
    def n(self) -> int:
        return len(self.job_ids)

    def options_of(self, i: int) -> range:
        return range(int(self.begin[i]), int(self.begin[i + 1]))

    def job_of(self) -> IntArray:
        return np.repeat(np.arange(self.n), np.diff(self.begin))

    @property
    def budget(self) -> float | None:
        return self.problem.constraints.budget

    @property
    def deadline(self) -> float | None:
        return self.problem.constraints.deadline_s

    @property
    def energy_cap(self) -> float | None:
        return self.problem.constraints.energy_j

    @property
    def limits(self) -> dict[str, float]:
        """The limits on the plan's totals that are set, by name (see ``TOTAL_LIMITS``)."""
        values = {"budget": self.budget, "deadline": self.deadline, "energy": self.energy_cap}
        return {name: value for name, value in values.items() if value is not None}

    @property
    def needs_timing(self) -> bool:
        """Whether makespan enters the objective or a constraint (otherwise start times are not modelled)."""
        return self.coef[0] > 0 or self.deadline is not None

    @property
    def score_coef(self) -> tuple[float, float, float]:
        """Coefficients of the score, the objective plus tie-breaking terms: what the solvers minimise."""
        a, b, g = (c + t for c, t in zip(self.coef, self.tie, strict=True))
        return (a, b, g)

    def choice_for(self, assignment: Mapping[str, int]) -> IntArray:
        """The plan (an option index k per job) that gives each job id the option at its given index."""
        choice = np.zeros(self.n, dtype=np.int64)
        for i, job_id in enumerate(self.job_ids):
            k = np.arange(self.begin[i], self.begin[i + 1])
            choice[i] = k[self.original[k] == assignment[job_id]][0]
        return choice

    def weighted(self, makespan: float, cost: float, energy: float, *, tie: bool = False) -> float:
        a, b, g = self.coef
        value = a * makespan + b * cost + g * energy
        if tie:
            ta, tb, tg = self.tie
            value += ta * makespan + tb * cost + tg * energy
        return value


def compile_problem(problem: PlacementProblem, *, keep_unusable: bool = False) -> Instance:
    """Validate ``problem`` and build its :class:`Instance` (see the module docstring).

    ``keep_unusable`` keeps every option (marked in ``usable``), to evaluate a user's override that
    picks one; the objective's normalisation still comes from the usable options only.
    """
    order = validate(problem)
    jobs = {job.id: job for job in problem.jobs}
    sites = sorted({o.site for j in problem.jobs for o in j.options} | _network_sites(problem))
    site_index = {s: n for n, s in enumerate(sites)}
    cons = problem.constraints
    licence_names = sorted(cons.licences)
    capacity = np.array([float(cons.site_capacity_cores.get(s, math.inf)) for s in sites])
    transfer, egress = _network_matrices(problem, sites)
    rows: list[tuple[int, int, float, float, float, float, float, int, float]] = []  # last: usable
    begin = [0]
    job_violations: list[Violation] = []
    for job_id in order:
        job = jobs[job_id]
        usable, violation = _usable_options(job, problem)
        if violation is not None:
            job_violations.append(violation)
        src = site_index.get(job.input_site) if job.input_site else None
        for index in range(len(job.options)) if keep_unusable else usable:
            o = job.options[index]
            s = site_index[o.site]
            in_cost = job.input_gb * egress[src, s] if src is not None else 0.0
            in_time = job.input_gb * transfer[src, s] if src is not None else 0.0
            lic = licence_names.index(o.licence) if o.licence in cons.licences else -1
            rows.append(
                (
                    index,
                    s,
                    o.time_s,
                    o.cost + in_cost,
                    o.energy_j,
                    float(o.cores),
                    in_time,
                    lic,
                    float(index in usable),
                )
            )
        begin.append(len(rows))
    position = {job_id: i for i, job_id in enumerate(order)}
    edges = [(position[e.parent], position[e.child], e.data_gb) for e in problem.edges]
    parents: list[list[tuple[int, float]]] = [[] for _ in order]
    for p, c, gb in edges:
        parents[c].append((p, gb))
    table = np.array(rows, dtype=np.float64).reshape(-1, 9)
    partial = Instance(
        problem=problem,
        job_ids=order,
        sites=sites,
        begin=np.array(begin, dtype=np.int64),
        original=table[:, 0].astype(np.int64),
        site=table[:, 1].astype(np.int64),
        time=table[:, 2],
        cost=table[:, 3],
        energy=table[:, 4],
        cores=table[:, 5],
        licence=table[:, 7].astype(np.int64),
        in_time=table[:, 6],
        usable=table[:, 8] > 0,
        edges=edges,
        parents=parents,
        transfer_s_per_gb=transfer,
        egress_per_gb=egress,
        capacity=capacity,
        licence_names=licence_names,
        seats=np.array([float(cons.licences[name]) for name in licence_names]),
        coef=(0.0, 0.0, 0.0),
        tie=(0.0, 0.0, 0.0),
        norms=(1.0, 1.0, 1.0),
        job_violations=job_violations,
    )
    return _with_objective(partial)


def _network_sites(problem: PlacementProblem) -> set[str]:
    return {j.input_site for j in problem.jobs if j.input_site}


def _network_matrices(problem: PlacementProblem, sites: Sequence[str]) -> tuple[FloatArray, FloatArray]:
    """Seconds per GB and price per GB for every ordered site pair; zero on the diagonal."""
    net = problem.network
    size = len(sites)
    transfer = np.zeros((size, size))
    egress = np.zeros((size, size))
    for a, src in enumerate(sites):
        for b, dst in enumerate(sites):
            if a != b:
                transfer[a, b] = 8.0 / net.bandwidth_gbps.get((src, dst), net.default_bandwidth_gbps)
                egress[a, b] = net.egress_per_gb.get((src, dst), net.default_egress_per_gb)
    return transfer, egress


def _usable_options(job: Job, problem: PlacementProblem) -> tuple[list[int], Violation | None]:
    """Options of ``job`` a plan may use, and, when there is none, the first filter that emptied the list."""
    cons = problem.constraints
    left = list(range(len(job.options)))
    opts = job.options
    filters: list[tuple[str, Callable[[int], bool]]] = [
        ("no_option", lambda k: opts[k].infeasible_reason is None),
        ("gpus", lambda k: opts[k].gpus >= job.required_gpus),
        ("allowed_sites", lambda k: cons.allowed_sites is None or opts[k].site in cons.allowed_sites),
        ("capacity", lambda k: opts[k].cores <= cons.site_capacity_cores.get(opts[k].site, math.inf)),
        ("licence", lambda k: opts[k].licence is None or cons.licences.get(opts[k].licence or "", 1) > 0),
    ]
    for name, keep in filters:
        kept = [k for k in left if keep(k)]
        if not kept:
            return [], violations.job_cannot_run(name, job, left, cons)
        left = kept
    return left, None


def _with_objective(inst: Instance) -> Instance:
    """Fix the objective coefficients. ``weighted`` divides each criterion by its ideal-point bound
    (the best value it could take alone), so a weight of 0.5 on time and cost means "1% of the
    fastest possible makespan is worth 1% of the cheapest possible cost"."""
    norms = ideal_bounds(inst)
    scales = tuple(1.0 / v if v > 0 else 1.0 for v in norms)
    problem = inst.problem
    if problem.strategy == "weighted":
        assert problem.weights is not None
        w = (problem.weights.time, problem.weights.cost, problem.weights.energy)
        total = sum(w)
        coef = tuple(wi / total * s for wi, s in zip(w, scales, strict=True))
    else:
        primary = CRITERION_OF[problem.strategy]
        coef = tuple(1.0 if n == primary else 0.0 for n in range(3))
    tie = tuple(TIE_EPS * s if c == 0 else 0.0 for c, s in zip(coef, scales, strict=True))
    return _replace(inst, coef=coef, tie=tie, norms=norms)


#: Per limit: the field of ``Constraints`` that sets it.
_SET_BY = {"deadline": "deadline_s", "budget": "budget", "energy": "energy_j"}


def without_limit(inst: Instance, limit: str) -> Instance:
    """The same instance with ``limit`` (a key of ``TOTAL_LIMITS``) set aside and the strategy minimising
    the total it bounds: its best plan is the lowest in that total within the other limits, which meets
    ``limit`` if any plan does."""
    problem = inst.problem
    constraints = problem.constraints.model_copy(update={_SET_BY[limit]: None})
    strategy = next(name for name, n in CRITERION_OF.items() if n == TOTAL_LIMITS[limit])
    lowest = problem.model_copy(update={"constraints": constraints, "strategy": strategy, "weights": None})
    return _with_objective(_replace(inst, problem=lowest))


def restrict(inst: Instance, keep: NDArray[np.bool_]) -> Instance:
    """The same problem with only the options in ``keep`` (at least one per job): a neighbourhood to search.

    The objective's coefficients are kept, so scores stay comparable with the full instance.
    """
    counts = (
        np.add.reduceat(keep.astype(np.int64), inst.begin[:-1]) if inst.n else np.zeros(0, dtype=np.int64)
    )
    begin = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
    arrays = {
        name: getattr(inst, name)[keep]
        for name in ("original", "site", "time", "cost", "energy", "cores", "licence", "in_time", "usable")
    }
    return _replace(inst, begin=begin, **arrays)


def offsets_within(sizes: IntArray) -> IntArray:
    """Each entry's position within its block (0, 1, ...), for consecutive blocks of ``sizes`` entries."""
    offsets: IntArray = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return offsets


def spans(begin: IntArray, picks: IntArray) -> tuple[IntArray, IntArray]:
    """The entries ``begin[p]`` to ``begin[p + 1] - 1`` of each ``p`` of ``picks`` (repeats kept: a job's
    options, a site group's options), and for each entry the position in ``picks`` it came from."""
    sizes = begin[picks + 1] - begin[picks]
    position = np.repeat(np.arange(len(picks)), sizes)
    entries: IntArray = begin[picks][position] + offsets_within(sizes)
    return entries, position


def _replace(inst: Instance, **changes: object) -> Instance:
    fields = {**inst.__dict__, **changes}
    return Instance(**fields)


def ideal_bounds(inst: Instance) -> tuple[float, float, float]:
    """Proven lower bounds of makespan, cost and energy, each on its own: the longest path with every job
    at its fastest option (transfers ignored), and the sums of per-job minima (egress between jobs
    ignored)."""
    if inst.n == 0 or inst.job_violations:
        return (0.0, 0.0, 0.0)

    def least(values: FloatArray) -> FloatArray:
        result: FloatArray = np.minimum.reduceat(np.where(inst.usable, values, np.inf), inst.begin[:-1])
        return result

    finish = longest_path(inst, least(inst.time + inst.in_time))
    return (float(finish.max()), float(least(inst.cost).sum()), float(least(inst.energy).sum()))


def longest_path(inst: Instance, duration: FloatArray) -> FloatArray:
    """Finish times when job i takes ``duration[i]`` and edges take no time."""
    finish = duration.copy()
    for i in range(inst.n):
        for p, _gb in inst.parents[i]:
            finish[i] = max(finish[i], finish[p] + duration[i])
    return finish
