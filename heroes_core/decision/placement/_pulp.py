"""The placement MILP as a PuLP problem: add constraints of your own, solve with any PuLP solver.

:func:`to_pulp` does not formulate the model a second time. It builds the HiGHS model with
:func:`~heroes_core.decision.placement._milp.build` (the one definition of the compact model:
its columns, rows, objective and which edges and limits get rows at all) and copies that matrix
into a :class:`pulp.LpProblem`, naming the columns from the model's layout. So both paths
minimise the same score (the strategy's objective, normalised as in ``solve``, plus the tiny
tie-breaking terms) under the same rows, and a row added to the HiGHS model appears here too.

HiGHS stays the fast path: :func:`~heroes_core.decision.placement.solve` never goes through
PuLP, whose Python expression per row is far slower to build than numpy arrays, and which gives
its solvers neither the wall-clock cap nor the heuristic warm start ``solve`` relies on.

Reading a solved model back goes through the same plan evaluation as ``solve``, so totals,
schedule and explanations come from the chosen options, not from the solver's objective value.
The explanations (``why``, runners-up) know only the built-in limits, not added constraints.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import pulp  # type: ignore[import-untyped]

from heroes_core.decision.placement._diagnose import diagnose
from heroes_core.decision.placement._instance import FloatArray, Instance, compile_problem, ideal_bounds
from heroes_core.decision.placement._milp import ModelSpec, _Layout, build, choice_of
from heroes_core.decision.placement._plan import evaluate_choice
from heroes_core.decision.placement._problem import PlacementProblem, PlacementResult, Status, Violation

# the answer is assembled exactly as solve() assembles it; these stay private to the package
from heroes_core.decision.placement._search import _tie_ceiling
from heroes_core.decision.placement._solve import _infeasible, _result
from heroes_core.errors import SpecError

#: Extra wall-clock the diagnosis of an infeasible model may use (as in ``solve``).
_DIAGNOSIS_S = 0.7


@dataclass
class PulpModel:
    """The compact placement model as ``lp`` with its named variables (not frozen, so that
    ``model.lp += constraint`` works).

    Only usable options have a ``choose`` variable (options marked infeasible, with too few
    GPUs, on a site not allowed, or needing more than a site or licence offers are left out
    when compiling). ``route`` has a variable only for edges whose data costs time or money,
    per pair of sites the two jobs can run on; ``start`` and ``makespan`` exist whenever time
    enters the score, which it always does (at least as a tie-breaker).
    """

    lp: Any  # pulp.LpProblem (PuLP ships no type information)
    choose: dict[tuple[str, int], Any]  # (job id, index into the job's options) -> binary
    start: dict[str, Any]  # job id -> start time (s)
    makespan: Any
    route: dict[tuple[int, str, str], Any]  # (index into problem.edges, from site, to site) -> [0, 1]
    instance: Instance
    _objective: tuple[tuple[str, float], ...] = field(repr=False)

    def at_site(self, job_id: str, site: str) -> Any:
        """1 when ``job_id`` runs on ``site``, else 0: ``model.lp += model.at_site("a", "hpc") == 0``
        keeps job a off hpc."""
        inst = self.instance
        if job_id not in inst.job_ids:
            raise SpecError(f"the model has no job {job_id!r}", fix="use the workflow's job ids")
        i = inst.job_ids.index(job_id)
        terms = [
            self.choose[(job_id, int(inst.original[k]))]
            for k in inst.options_of(i)
            if inst.sites[inst.site[k]] == site
        ]
        return pulp.lpSum(terms)

    def solve(self, solver: Any = None) -> PlacementResult:
        """Solve ``lp`` with ``solver`` (quiet CBC when None) and read the plan back (see :meth:`result`)."""
        started = time.monotonic()
        self.lp.solve(solver if solver is not None else default_solver())
        return self.result(started=started)

    def result(self, *, started: float | None = None) -> PlacementResult:
        """The solved model's plan as ``solve`` reports one: schedule, totals and objective from the
        chosen options, ``optimal`` when the solver proved it (to its own gap setting).

        ``lower_bound`` is the model's optimum less the most the tie-breaking terms can add when
        the solver proved optimality on the model's own objective, else the ideal-point bound
        (PuLP does not report a solver's dual bound). ``started`` (``time.monotonic()``) dates
        ``solve_s``. Raises :class:`SpecError` when there is no solution to read.
        """
        begun = time.monotonic() if started is None else started
        inst = self.instance
        if self.lp.sol_status == pulp.LpSolutionInfeasible or self.lp.status == pulp.LpStatusInfeasible:
            return _infeasible(self._why_infeasible(), begun)
        if self.lp.sol_status not in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible):
            reported = pulp.LpStatus[self.lp.status]
            raise SpecError(
                f"the PuLP model has no plan to read (status {reported!r})",
                fix="solve it first (model.solve() or model.lp.solve(solver)), or give the solver more time",
            )
        x: FloatArray = np.array([_value(v) for v in self.choose.values()])  # in option order k
        ev = evaluate_choice(inst, choice_of(inst, x))
        lower = inst.weighted(*ideal_bounds(inst))
        proven = self.lp.sol_status == pulp.LpSolutionOptimal
        if proven and self._objective == _terms(self.lp.objective):
            lower = max(lower, ev.score - _tie_ceiling(inst))
        status: Status = "infeasible" if ev.violations else "optimal" if proven else "feasible"
        return _result(inst, ev, status, min(lower, ev.objective), begun)

    def _why_infeasible(self) -> list[Violation]:
        """The job or limit that cannot hold, as ``solve`` would name it; else the added constraints."""
        inst = self.instance
        if inst.job_violations:
            return inst.job_violations
        found = diagnose(inst, deadline=time.monotonic() + _DIAGNOSIS_S)
        return found or [
            Violation(
                constraint="model",
                needed=1,
                available=0,
                detail="the solver finds the PuLP model infeasible, yet no built-in limit is proven "
                "impossible on its own: a constraint added to the model cannot hold with the others",
            )
        ]


def to_pulp(problem: PlacementProblem) -> PulpModel:
    """The compact model of ``problem`` (the one ``solve`` gives HiGHS) as a PuLP problem.

    Raises :class:`SpecError` for malformed input, as ``solve`` does. A job with no usable option
    gives a model with an empty ``sum == 1`` row, which every solver reports infeasible.
    """
    inst = compile_problem(problem)
    lp_model, layout = build(inst, ModelSpec(objective=inst.score_coef))
    names = _column_names(inst, layout, lp_model.num_col_)
    lp = pulp.LpProblem("placement", pulp.LpMinimize)
    columns = _columns(lp, lp_model, names)
    _rows(lp, lp_model, columns)
    cost = np.asarray(lp_model.col_cost_)
    lp.setObjective(pulp.LpAffineExpression([(columns[j], float(cost[j])) for j in np.flatnonzero(cost)]))
    if layout.start_col < 0:
        raise AssertionError("the score always weighs time, so the model always has start times")
    jobs = inst.job_of()
    route: dict[tuple[int, str, str], Any] = {}
    for e, first, sp, sc, width in layout.edge_z:
        for a, s in enumerate(sp):
            for b, t in enumerate(sc):
                route[(e, inst.sites[s], inst.sites[t])] = columns[first + a * width + b]
    return PulpModel(
        lp=lp,
        choose={(inst.job_ids[jobs[k]], int(inst.original[k])): columns[k] for k in range(layout.num_x)},
        start={job_id: columns[layout.start_col + i] for i, job_id in enumerate(inst.job_ids)},
        makespan=columns[layout.makespan_col],
        route=route,
        instance=inst,
        _objective=_terms(lp.objective),
    )


def default_solver() -> Any:
    """Quiet CBC: the one installed with ``pulp[cbc]`` when there is one, else the CBC bundled with PuLP.

    PuLP 3.3 deprecates its bundled CBC (``PULP_CBC_CMD``) in favour of ``pulp[cbc]`` yet still
    falls back to it by default; so does this, without passing the deprecation on to every call.
    """
    installed = pulp.COIN_CMD(msg=False)
    if installed.available():
        return installed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=False)


def _column_names(inst: Instance, layout: _Layout, num_col: int) -> list[str]:
    """PuLP names from indices, not ids: job ids may hold characters PuLP rewrites, and two ids
    that differ only in those would then clash."""
    names = [f"col_{j}" for j in range(num_col)]
    jobs = inst.job_of()
    for k in range(len(inst.time)):
        names[k] = f"choose_{jobs[k]}_{inst.original[k]}"
    for e, first, sp, sc, width in layout.edge_z:
        for a, s in enumerate(sp):
            for b, t in enumerate(sc):
                names[first + a * width + b] = f"route_{e}_{s}_{t}"
    if layout.start_col >= 0:
        for i in range(inst.n):
            names[layout.start_col + i] = f"start_{i}"
        names[layout.makespan_col] = "makespan"
    return names


def _columns(lp: Any, model: highspy.HighsLp, names: list[str]) -> list[Any]:
    # each read of a HighsLp attribute copies the whole array: read every one once
    integral = [v == highspy.HighsVarType.kInteger for v in model.integrality_]
    lower, upper = np.asarray(model.col_lower_), np.asarray(model.col_upper_)
    out = []
    for j, name in enumerate(names):
        low, up = _bound(lower[j]), _bound(upper[j])
        binary = integral[j] and low == 0.0 and up == 1.0
        cat = pulp.LpBinary if binary else pulp.LpInteger if integral[j] else pulp.LpContinuous
        out.append(lp.add_variable(name, low, up, cat=cat))
    return out


def _rows(lp: Any, model: highspy.HighsLp, columns: list[Any]) -> None:
    """Each row of the column-wise matrix as a PuLP constraint (a ranged row as two)."""
    start = np.asarray(model.a_matrix_.start_, dtype=np.int64)
    rows = np.asarray(model.a_matrix_.index_, dtype=np.int64)
    vals = np.asarray(model.a_matrix_.value_, dtype=np.float64)
    cols = np.repeat(np.arange(model.num_col_), np.diff(start))
    # sum repeated entries, as HiGHS would, since a PuLP expression keeps one coefficient per variable
    keys, where = np.unique(rows * model.num_col_ + cols, return_inverse=True)
    sums = np.bincount(where, weights=vals, minlength=len(keys))
    row_of, col_of = keys // model.num_col_, keys % model.num_col_
    bounds = np.searchsorted(row_of, np.arange(model.num_row_ + 1))
    lower, upper = np.asarray(model.row_lower_), np.asarray(model.row_upper_)
    for r in range(model.num_row_):
        span = range(int(bounds[r]), int(bounds[r + 1]))
        expr = pulp.LpAffineExpression([(columns[int(col_of[n])], float(sums[n])) for n in span if sums[n]])
        low, up = float(lower[r]), float(upper[r])
        if low == up:
            lp += pulp.LpConstraint(expr, pulp.LpConstraintEQ, rhs=low)
            continue
        if math.isfinite(low):
            lp += pulp.LpConstraint(expr, pulp.LpConstraintGE, rhs=low)
        if math.isfinite(up):
            lp += pulp.LpConstraint(expr.copy(), pulp.LpConstraintLE, rhs=up)


def _bound(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _value(variable: Any) -> float:
    value = variable.varValue
    return float(value) if value is not None else 0.0


def _terms(expr: Any) -> tuple[tuple[str, float], ...]:
    """An objective as plain data, to tell whether the user replaced or changed it."""
    if expr is None:
        return ()
    return (*((v.name, float(c)) for v, c in expr.items()), ("", float(expr.constant)))
