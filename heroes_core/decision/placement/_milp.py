"""The compact placement MILP, solved by HiGHS under a wall-clock cap.

Formulation (why compact: a binary per option pair per edge, as SkyPilot does, has
3 million variables at 1,000 jobs x 50 options; this one has one binary per option):

* ``x[k]`` binary, one per usable option, ``sum_k x[k] = 1`` per job;
* ``z[e,s,t]`` continuous in [0, 1] per edge carrying data and per pair of sites its two
  jobs can run on, tied to the site indicators by transport rows
  ``sum_t z[e,s,t] = y[parent,s]`` and ``sum_s z[e,s,t] = y[child,t]`` (``y[j,s]`` is the sum of
  ``x`` over j's options at site s). With integral ``x`` this forces ``z`` to the product, so
  egress and transfer time are exact, and the relaxation is as tight as the pairwise one;
* start times ``S[j]`` and makespan ``M`` (only when time matters):
  ``S[child] >= S[parent] + duration(parent) + transfer(e)``, ``S[j] >= input transfer``,
  ``M >= S[j] + duration(j)`` for jobs without children;
* budget (option prices plus egress), energy, per-site capacity and licence rows; the deadline
  is the upper bound of ``M``.

The cap is enforced from outside the search: HiGHS gets the remaining time as its own
limit *and* a callback interrupts it once the wall clock passes the deadline, because a
solver's internal limit is not checked inside every heuristic. The same callback ends a solve
early when the search it serves has no more use for it (see :func:`stopping_when`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal

import highspy
import numpy as np

from heroes_core.decision.placement._instance import (
    TOTAL_LIMITS,
    FloatArray,
    Instance,
    IntArray,
    offsets_within,
    spans,
)
from heroes_core.decision.placement._plan import edge_arrays, schedule

MilpStatus = Literal["optimal", "feasible", "infeasible", "unknown"]

#: What else ends this context's solves and searches early, besides their deadlines (see
#: :func:`stopping_when`).
_stop: ContextVar[Callable[[], bool] | None] = ContextVar("placement_stop", default=None)


@contextmanager
def stopping_when(check: Callable[[], bool]) -> Iterator[None]:
    """Within the block, every solve ends (as at its deadline) once ``check()`` is true, and the searches
    built on them stop taking steps (see :func:`stopped`): a phase searching for a plan within the limits
    has nothing left to do once the search beside it has answered with one."""
    token = _stop.set(check)
    try:
        yield
    finally:
        _stop.reset(token)


def stopped() -> bool:
    """Whether the check of the enclosing :func:`stopping_when` (if any) says to stop."""
    check = _stop.get()
    return check is not None and check()


@dataclass(frozen=True)
class ModelSpec:
    """Which objective and which limits a model carries (relaxations drop some, for diagnosis)."""

    objective: tuple[float, float, float]  # coefficients of (makespan, cost, energy)
    limits: frozenset[str] = frozenset(TOTAL_LIMITS)  # which of budget, deadline, energy the model keeps
    resources: bool = True  # capacity and licence rows
    elastic: bool = False  # resource rows get a penalised slack (which rows bind, by how much)
    integral: bool = True
    rel_gap: float = 1e-6
    # HiGHS restarts after fixing columns at the root: on models of a few hundred options the
    # restarts are most of the time to proof, on larger ones they pay off with a higher bound
    restart: bool = True


@dataclass
class MilpOutcome:
    status: MilpStatus
    choice: IntArray | None
    bound: float
    slack: dict[str, float] = field(default_factory=dict)
    x: FloatArray | None = None  # option values (fractional for a relaxation)


@dataclass
class _Builder:
    """Columns and row triplets, collected as numpy blocks and assembled column-wise at the end."""

    cost: list[FloatArray] = field(default_factory=list)
    lower: list[FloatArray] = field(default_factory=list)
    upper: list[FloatArray] = field(default_factory=list)
    integer: list[FloatArray] = field(default_factory=list)
    rows: list[IntArray] = field(default_factory=list)
    cols: list[IntArray] = field(default_factory=list)
    vals: list[FloatArray] = field(default_factory=list)
    row_lower: list[FloatArray] = field(default_factory=list)
    row_upper: list[FloatArray] = field(default_factory=list)
    num_col: int = 0
    num_row: int = 0

    def columns(self, cost: FloatArray, lower: float, upper: float | FloatArray, integer: bool) -> int:
        size = len(cost)
        self.cost.append(np.asarray(cost, dtype=np.float64))
        self.lower.append(np.full(size, lower))
        self.upper.append(np.broadcast_to(np.asarray(upper, dtype=np.float64), (size,)).copy())
        self.integer.append(np.full(size, 1.0 if integer else 0.0))
        first = self.num_col
        self.num_col += size
        return first

    def row(self, cols: IntArray, vals: FloatArray, lower: float, upper: float) -> int:
        return self.block(1, np.zeros(len(cols), dtype=np.int64), cols, vals, lower, upper)

    def block(
        self, count: int, rows: IntArray, cols: IntArray, vals: FloatArray, lower: float, upper: float
    ) -> int:
        """``count`` rows with the same bounds at once, ``rows`` numbering each entry's row among them
        (0 to ``count - 1``): a model of a 100-job workflow has a thousand rows or more, and building
        them one numpy call at a time took a fifth of a 10 s search's time (bench tight seed 3)."""
        first = self.num_row
        self.rows.append(first + np.asarray(rows, dtype=np.int64))
        self.cols.append(np.asarray(cols, dtype=np.int64))
        self.vals.append(np.asarray(vals, dtype=np.float64))
        self.row_lower.append(np.full(count, lower))
        self.row_upper.append(np.full(count, upper))
        self.num_row += count
        return first

    def lp(self) -> highspy.HighsLp:
        lp = highspy.HighsLp()
        lp.num_col_ = self.num_col
        lp.num_row_ = self.num_row
        lp.col_cost_ = np.concatenate(self.cost)
        lp.col_lower_ = np.concatenate(self.lower)
        lp.col_upper_ = np.concatenate(self.upper)
        lp.row_lower_ = np.concatenate(self.row_lower)
        lp.row_upper_ = np.concatenate(self.row_upper)
        rows: IntArray = np.concatenate(self.rows)
        cols: IntArray = np.concatenate(self.cols)
        vals: FloatArray = np.concatenate(self.vals)
        order = np.argsort(cols * max(self.num_row, 1) + rows, kind="stable")  # by column, then row
        lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        counts = np.bincount(cols, minlength=self.num_col)
        lp.a_matrix_.start_ = np.concatenate((np.zeros(1, dtype=np.int64), np.cumsum(counts)))
        lp.a_matrix_.index_ = rows[order]
        lp.a_matrix_.value_ = vals[order]
        kinds = np.concatenate(self.integer)
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if v else highspy.HighsVarType.kContinuous for v in kinds
        ]
        return lp


@dataclass
class _Layout:
    """Where each family of variables starts, to read a solution back and to write a warm start."""

    num_x: int
    edge_z: list[tuple[int, int, IntArray, IntArray, int]] = field(
        default_factory=list
    )  # edge, first col, sites
    start_col: int = -1
    makespan_col: int = -1
    slack: dict[str, int] = field(default_factory=dict)


def build(inst: Instance, spec: ModelSpec) -> tuple[highspy.HighsLp, _Layout]:
    """The compact model of ``inst`` under ``spec`` (see the module docstring)."""
    a, b, g = spec.objective
    limits = {name: cap for name, cap in inst.limits.items() if name in spec.limits}
    cost_on = b > 0 or "budget" in limits
    timing = a > 0 or "deadline" in limits
    m = _Builder()
    layout = _Layout(num_x=len(inst.time))
    m.columns(b * inst.cost + g * inst.energy, 0.0, 1.0, spec.integral)
    options = np.arange(layout.num_x)
    m.block(inst.n, inst.job_of(), options, np.ones(layout.num_x), 1.0, 1.0)
    budget_terms: list[tuple[IntArray, FloatArray]] = [(options, inst.cost)]
    groups = _SiteGroups.of(inst)
    routes = _edge_columns(inst, groups, m, layout, b, cost_on, timing, budget_terms)
    if timing:
        _timing_rows(inst, m, layout, a, routes, limits.get("deadline", math.inf))
    sums = {"budget": budget_terms, "energy": [(options, inst.energy)]}
    for name, terms in sums.items():
        if name in limits:
            cols, vals = (np.concatenate(v) for v in zip(*terms, strict=True))
            m.row(cols, vals, -math.inf, limits[name])
    if spec.resources:
        _resource_rows(inst, spec, m, layout)
    return m.lp(), layout


@dataclass(frozen=True)
class _SiteGroups:
    """Each job's options grouped by site, groups ordered by job then site: the sites a job can run on
    are ``site[first[j]:first[j + 1]]``, and the options of group ``g`` are
    ``options[begin[g]:begin[g + 1]]``."""

    first: IntArray
    site: IntArray
    begin: IntArray
    options: IntArray

    @classmethod
    def of(cls, inst: Instance) -> _SiteGroups:
        sites = max(len(inst.sites), 1)
        key = inst.job_of() * sites + inst.site
        options = np.argsort(key, kind="stable")
        keys, begin = np.unique(key[options], return_index=True)
        first = np.searchsorted(keys // sites, np.arange(inst.n + 1))
        return cls(first, keys % sites, np.append(begin, len(options)), options)

    def sites_of(self, job: int) -> IntArray:
        return self.site[self.first[job] : self.first[job + 1]]

    def members(self, groups: IntArray) -> tuple[IntArray, IntArray]:
        """The options of each of ``groups``, and for each option the position of its group in ``groups``."""
        entries, owner = spans(self.begin, groups)
        return self.options[entries], owner


@dataclass(frozen=True)
class _Routes:
    """The transport variables of the edges that carry data which costs time or money: per variable, its
    column, its edge and its transfer seconds."""

    cols: IntArray
    edge: IntArray
    seconds: FloatArray


def _edge_columns(
    inst: Instance,
    groups: _SiteGroups,
    m: _Builder,
    layout: _Layout,
    b: float,
    cost_on: bool,
    timing: bool,
    budget_terms: list[tuple[IntArray, FloatArray]],
) -> _Routes:
    """Transport variables of every edge whose data costs time or money, one per pair of sites its jobs can
    run on (the parent's site major), and their transport rows: per edge, one row per site of the parent,
    then one per site of the child."""
    parent, child, gb = edge_arrays(inst)
    widths = np.diff(groups.first)
    wp, wc = widths[parent], widths[child]
    pair_edge = np.repeat(np.arange(len(gb)), wp * wc)
    pair = offsets_within(wp * wc)
    gp = groups.first[parent][pair_edge] + pair // wc[pair_edge]
    gc = groups.first[child][pair_edge] + pair % wc[pair_edge]
    ss, tt, size = groups.site[gp], groups.site[gc], gb[pair_edge]
    egress = size * inst.egress_per_gb[ss, tt] if cost_on else np.zeros(len(ss))
    seconds = size * inst.transfer_s_per_gb[ss, tt] if timing else np.zeros(len(ss))
    priced = np.bincount(pair_edge, weights=(egress != 0) | (seconds != 0), minlength=len(gb)) > 0
    kept = (gb > 0) & priced
    on = kept[pair_edge]
    first = m.columns(b * egress[on], 0.0, 1.0, False)
    cols = first + np.arange(int(on.sum()))
    edges = np.flatnonzero(kept)
    starts = first + np.cumsum(wp[edges] * wc[edges]) - wp[edges] * wc[edges]
    layout.edge_z.extend(
        (int(e), int(start), groups.sites_of(int(parent[e])), groups.sites_of(int(child[e])), int(wc[e]))
        for e, start in zip(edges, starts, strict=True)
    )
    # rows: per kept edge, wp rows (the parent's sites) then wc rows (the child's)
    count = wp[edges] + wc[edges]
    base = np.zeros(len(gb), dtype=np.int64)
    base[edges] = np.cumsum(count) - count
    edge_of_pair = pair_edge[on]
    z_parent_row = base[edge_of_pair] + (gp[on] - groups.first[parent][edge_of_pair])
    z_child_row = base[edge_of_pair] + wp[edge_of_pair] + (gc[on] - groups.first[child][edge_of_pair])
    row_edge = np.repeat(edges, count)
    within = offsets_within(count)
    is_parent = within < wp[row_edge]
    row_group = np.where(
        is_parent,
        groups.first[parent][row_edge] + within,
        groups.first[child][row_edge] + within - wp[row_edge],
    )
    members, owner = groups.members(row_group)
    m.block(
        len(row_edge),
        np.concatenate((z_parent_row, z_child_row, owner)),
        np.concatenate((cols, cols, members)),
        np.concatenate((np.ones(2 * len(cols)), -np.ones(len(members)))),
        0.0,
        0.0,
    )
    budget_terms.append((cols, egress[on]))
    return _Routes(cols, edge_of_pair, seconds[on])


def model_columns(inst: Instance) -> int:
    """Columns of the full model (options plus transport variables): decides between one MILP and LNS."""
    widths = np.diff(_SiteGroups.of(inst).first)
    parent, child, gb = edge_arrays(inst)
    return len(inst.time) + int((widths[parent] * widths[child])[gb > 0].sum())


def _timing_rows(
    inst: Instance, m: _Builder, layout: _Layout, a: float, routes: _Routes, horizon: float
) -> None:
    """Start times and the makespan: per edge, the child starts after the parent ends and its data arrives;
    per job, after its input arrives (when it comes from elsewhere), and the makespan after every job
    without children ends."""
    layout.start_col = m.columns(np.zeros(inst.n), 0.0, horizon, False)
    layout.makespan_col = m.columns(np.array([a]), 0.0, horizon, False)
    parent, child, _gb = edge_arrays(inst)
    job_of, options = inst.job_of(), np.arange(len(inst.time))
    # precedence, one row per edge: S[child] - S[parent] - duration(parent) - transfer >= 0
    parent_options, owner = spans(inst.begin, parent)
    m.block(
        len(parent),
        np.concatenate((np.arange(len(parent)), np.arange(len(parent)), owner, routes.edge)),
        np.concatenate((layout.start_col + child, layout.start_col + parent, parent_options, routes.cols)),
        np.concatenate(
            (np.ones(len(parent)), -np.ones(len(parent)), -inst.time[parent_options], -routes.seconds)
        ),
        0.0,
        math.inf,
    )
    # per job, in job order: its input row (if its input comes from elsewhere), then its makespan row (if
    # it has no children)
    has_input = np.bincount(job_of, weights=inst.in_time != 0, minlength=inst.n) > 0
    last = np.ones(inst.n, dtype=bool)
    last[parent] = False
    count = has_input.astype(np.int64) + last
    input_row = np.cumsum(count) - count
    end_row = input_row + has_input
    into, ends = has_input[job_of], last[job_of]
    input_jobs, end_jobs = np.flatnonzero(has_input), np.flatnonzero(last)
    m.block(
        int(count.sum()),
        np.concatenate(
            (
                input_row[input_jobs],
                input_row[job_of[into]],
                end_row[end_jobs],
                end_row[end_jobs],
                end_row[job_of[ends]],
            )
        ),
        np.concatenate(
            (
                layout.start_col + input_jobs,
                options[into],
                np.full(len(end_jobs), layout.makespan_col),
                layout.start_col + end_jobs,
                options[ends],
            )
        ),
        np.concatenate(
            (
                np.ones(len(input_jobs)),
                -inst.in_time[into],
                np.ones(len(end_jobs)),
                -np.ones(len(end_jobs)),
                -inst.time[ends],
            )
        ),
        0.0,
        math.inf,
    )


def _resource_rows(inst: Instance, spec: ModelSpec, m: _Builder, layout: _Layout) -> None:
    """Capacity rows for sites that could be overfilled and licence rows for licences that could run out."""
    limits: list[tuple[str, IntArray, FloatArray, float]] = []
    for s, name in enumerate(inst.sites):
        k = np.flatnonzero(inst.site == s)
        if math.isfinite(inst.capacity[s]) and _most(inst, k, inst.cores[k]) > inst.capacity[s]:
            limits.append((f"capacity:{name}", k, inst.cores[k], float(inst.capacity[s])))
    for n, name in enumerate(inst.licence_names):
        k = np.flatnonzero(inst.licence == n)
        if _most(inst, k, np.ones(len(k))) > inst.seats[n]:
            limits.append((f"licence:{name}", k, np.ones(len(k)), float(inst.seats[n])))
    for name, k, use, limit in limits:
        if spec.elastic:
            col = m.columns(np.array([1.0 / max(limit, 1.0)]), 0.0, math.inf, False)
            layout.slack[name] = col
            k, use = np.append(k, col), np.append(use, -1.0)
        m.row(k, use, -math.inf, limit)


def _most(inst: Instance, k: IntArray, use: FloatArray) -> float:
    """Largest total use of a resource over plans: each job at its hungriest option among ``k``."""
    most = np.zeros(inst.n)
    np.maximum.at(most, inst.job_of()[k], use)
    return float(most.sum())


def warm_start(inst: Instance, layout: _Layout, choice: IntArray, num_col: int) -> FloatArray:
    """The model's column values for plan ``choice``, so HiGHS starts from the heuristic's incumbent."""
    values = np.zeros(num_col)
    values[choice] = 1.0
    site = inst.site[choice]
    for e, first, sp, sc, width in layout.edge_z:
        p, c, _gb = inst.edges[e]
        values[first + int(np.searchsorted(sp, site[p])) * width + int(np.searchsorted(sc, site[c]))] = 1.0
    if layout.start_col >= 0:
        start, finish = schedule(inst, choice)
        values[layout.start_col : layout.start_col + inst.n] = start
        values[layout.makespan_col] = finish.max()
    return values


def solve_milp(
    inst: Instance,
    spec: ModelSpec,
    *,
    deadline: float,
    incumbent: IntArray | None = None,
    target: float | None = None,
) -> MilpOutcome:
    """Solve the model until proven (to ``spec.rel_gap``) or until the wall clock reaches ``deadline``;
    with ``target``, stop at the first plan whose model objective is at most ``target``."""
    lp, layout = build(inst, spec)
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.silent()
    h.setOptionValue("time_limit", max(deadline - time.monotonic(), 0.01))
    if target is not None:
        h.setOptionValue("objective_target", target)
    h.setOptionValue("mip_rel_gap", spec.rel_gap)
    h.setOptionValue("mip_abs_gap", 1e-9)
    h.setOptionValue("random_seed", 0)
    h.setOptionValue("mip_allow_restart", spec.restart)
    if not spec.integral:
        h.setOptionValue("solver", "simplex")
    h.passModel(lp)
    if incumbent is not None and spec.integral:
        values = warm_start(inst, layout, incumbent, lp.num_col_)
        h.setSolution(len(values), np.arange(len(values), dtype=np.int32), values)
    _interrupt_at(h, deadline, _stop.get())
    h.run()
    return _outcome(h, inst, layout, spec)


def _interrupt_at(h: highspy.Highs, deadline: float, stop: Callable[[], bool] | None) -> None:
    """Interrupt the solve at ``deadline`` or once ``stop()`` is true (``stop`` is read in the caller's
    context: HiGHS may call back from its own threads)."""

    def check(event: highspy.HighsCallbackEvent) -> None:
        if time.monotonic() >= deadline or (stop is not None and stop()):
            event.interrupt()

    h.cbMipInterrupt += check
    h.cbSimplexInterrupt += check
    h.cbIpmInterrupt += check


def _outcome(h: highspy.Highs, inst: Instance, layout: _Layout, spec: ModelSpec) -> MilpOutcome:
    status = h.getModelStatus()
    info = h.getInfo()
    if status == highspy.HighsModelStatus.kInfeasible:
        return MilpOutcome("infeasible", None, math.inf)
    has_value = info.primal_solution_status == 2  # kSolutionStatusFeasible
    values = np.asarray(h.getSolution().col_value) if has_value else None
    if spec.integral:
        bound = info.mip_dual_bound if math.isfinite(info.mip_dual_bound) else -math.inf
    else:
        bound = info.objective_function_value if status == highspy.HighsModelStatus.kOptimal else -math.inf
    if values is None:
        return MilpOutcome("unknown", None, bound)
    choice = choice_of(inst, values[: layout.num_x])
    slack = {name: float(values[col]) for name, col in layout.slack.items()}
    proven = status == highspy.HighsModelStatus.kOptimal
    return MilpOutcome("optimal" if proven else "feasible", choice, bound, slack, values[: layout.num_x])


def choice_of(inst: Instance, x: FloatArray) -> IntArray:
    """Each job's option with the largest x: the plan of an integral solution (where exactly one is 1),
    a rounding of a relaxed one."""
    return np.array(
        [int(inst.begin[i]) + int(np.argmax(x[inst.begin[i] : inst.begin[i + 1]])) for i in range(inst.n)],
        dtype=np.int64,
    )
