"""Workflow placement: one option (site, partition) per job of a DAG, under limits, for a strategy.

The public surface is :func:`solve`, :func:`evaluate`, :func:`prove_bound` and the problem and
plan models; the private modules behind it may change shape freely. ``compile_problem`` and
``greedy`` are exported for the benchmark, whose baselines need the compiled arrays and the
per-job greedy plan the solver starts from.
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
    "Strategy",
    "Violation",
    "Weights",
    "compile_problem",
    "evaluate",
    "greedy",
    "prove_bound",
    "solve",
]
