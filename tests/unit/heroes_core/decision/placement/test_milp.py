"""The compact MILP under a cap: what ends a solve besides its deadline."""

from __future__ import annotations

import math
import time

from heroes_core.decision.placement import compile_problem
from heroes_core.decision.placement._milp import ModelSpec, solve_milp, stopped, stopping_when
from tests.unit.heroes_core.decision.placement.conftest import frontier_chain


def test_a_solve_ends_unproven_once_the_check_of_its_context_is_true() -> None:
    inst = compile_problem(frontier_chain(0))
    spec = ModelSpec(objective=inst.score_coef)
    assert solve_milp(inst, spec, deadline=time.monotonic() + 60).status == "optimal"
    checks: list[float] = []

    def stop() -> bool:
        checks.append(time.monotonic())
        return True

    with stopping_when(stop):
        outcome = solve_milp(inst, spec, deadline=time.monotonic() + 60)
    assert checks
    assert outcome.status != "optimal"
    assert outcome.bound < math.inf


def test_stopped_holds_only_within_its_block() -> None:
    assert not stopped()
    with stopping_when(lambda: True):
        assert stopped()
        with stopping_when(lambda: False):
            assert not stopped()
        assert stopped()
    assert not stopped()
