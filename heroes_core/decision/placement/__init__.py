"""Workflow placement: pick one option (site, partition) per job of a DAG, under limits, for a strategy.

Semantics (shared by :func:`solve` and :func:`evaluate`):

* **makespan** is the critical path: a job starts once its external input (``input_gb`` at
  ``input_site``) and every parent's output (``data_gb`` of the edge) have reached its site;
  a transfer between different sites takes ``data_gb * 8 / bandwidth_gbps`` seconds, on the
  same site none;
* **cost** is the sum of the chosen options' prices plus egress (``data_gb * egress_per_gb``)
  on every edge and external input that crosses sites;
* **budget**: cost <= budget; **deadline**: makespan <= deadline; **energy cap**: the sum of the
  chosen options' ``energy_j`` <= ``Constraints.energy_j`` (joules);
* **capacity** (deliberately simple): the cores of all jobs placed on a site must fit its
  ``site_capacity_cores`` *at once*, as if the workflow were one batch allocation; a tighter,
  time-indexed model would need the queue's behaviour, which the predictions do not give;
* **licences**: each chosen option with a licence takes one seat; unlisted licences are unlimited;
* **GPUs, allowed sites, infeasible options**: such options are never chosen.

Objectives: ``time`` minimises makespan, ``price`` cost, ``energy`` energy, ``weighted``
minimises ``sum(w_c * value_c / ideal_c) / sum(w)`` where ``ideal_c`` is the proven best value
of criterion c on its own (see :func:`~heroes_core.decision.placement._instance.ideal_bounds`), so
weights compare relative losses. Ties are broken towards the faster, then cheaper, then
less energy-hungry plan by tiny extra terms, and otherwise by option order: the same input
gives the same plan.

How it solves: heuristics first (per-job greedy and best single site, each repaired to fit
the limits), then the compact MILP on HiGHS (:mod:`~heroes_core.decision.placement._milp`),
warm-started from the best heuristic plan and capped by the wall clock, whose dual bound is
the proven ``lower_bound``; large models go through relaxation, RENS and LNS instead
(:mod:`~heroes_core.decision.placement._search`), with the search for the fastest (for the ``time``
strategy, the cheapest) plan running beside them in a second process when limits no heuristic plan meets
may need the lowest total any plan within the others reaches
(:mod:`~heroes_core.decision.placement._side`). The plan left then goes through a local search
(:mod:`~heroes_core.decision.placement._local`: single-job and pair moves evaluated in one numpy
batch, kicks with the time left), which also walks plans that break limits back within them. An
infeasible problem is diagnosed (:mod:`~heroes_core.decision.placement._diagnose`) into the limits
that cannot hold and by how much; every broken limit is worded by
:mod:`~heroes_core.decision.placement._violations`.

Own constraints: :func:`to_pulp` gives the same compact model (same columns, rows and score)
as a PuLP problem with named variables (``choose[(job, option)]``, ``start[job]``,
``makespan``, ``route[(edge, from, to)]``), to add a constraint of one's own and solve with
any PuLP solver (quiet CBC by default); :meth:`PulpModel.solve` reads the plan back as the
same :class:`PlacementResult`. HiGHS stays the fast path: :func:`solve` never goes through PuLP.

The public surface is :func:`solve`, :func:`evaluate`, :func:`prove_bound`, :func:`to_pulp`
and the problem and plan models; the private modules behind it may change shape freely.
``compile_problem`` and ``greedy`` are exported for the benchmark, whose baselines need the
compiled arrays and the per-job greedy plan the solver starts from.
"""

from __future__ import annotations

from heroes_core.decision.placement._heuristics import greedy
from heroes_core.decision.placement._instance import compile_problem
from heroes_core.decision.placement._problem import (
    Constraints,
    Edge,
    Job,
    JobChoice,
    Network,
    Option,
    PlacementProblem,
    PlacementResult,
    Strategy,
    Violation,
    Weights,
)
from heroes_core.decision.placement._pulp import PulpModel, to_pulp
from heroes_core.decision.placement._solve import evaluate, prove_bound, solve

__all__ = [
    "Constraints",
    "Edge",
    "Job",
    "JobChoice",
    "Network",
    "Option",
    "PlacementProblem",
    "PlacementResult",
    "PulpModel",
    "Strategy",
    "Violation",
    "Weights",
    "compile_problem",
    "evaluate",
    "greedy",
    "prove_bound",
    "solve",
    "to_pulp",
]
