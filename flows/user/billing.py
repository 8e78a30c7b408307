"""Budget gating for user workflows: reserve before running, pause when money runs out."""

from __future__ import annotations

import itertools
from typing import Literal

from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from pydantic import Field

from heroes.blocks import HeroesDatabase
from heroes.tasks import reserve_budget
from heroes_core.costs import BudgetExceededError, CostEstimate
from heroes_core.errors import HeroesError
from heroes_core.jobs import JobContext


class BudgetDecision(RunInput):
    """What a billing admin decides for a workflow paused on its budget."""

    action: Literal["retry", "cancel"] = Field(
        description="'retry' after raising the budget, or 'cancel' to stop the workflow.")


class BudgetCancelledError(HeroesError):
    """A billing admin cancelled a workflow that did not fit its budget."""


def reserve_or_pause(database: HeroesDatabase, context: JobContext, cost: CostEstimate, *,
                     pause_timeout: int) -> list[int]:
    """Reserve; on a hard budget that is too small, hold the job and pause for a billing admin."""
    workflow_id = context.workflow_id
    for attempt in itertools.count(1):
        try:
            return reserve_budget(database, context, cost)
        except BudgetExceededError as exc:
            message = (f"Workflow {workflow_id} needs {exc.needed} but budget {exc.budget_id} has "
                       f"{exc.available} left. Nothing has been submitted. A billing admin can raise "
                       f"the budget and resume this run with action 'retry', or 'cancel' it.")
            get_run_logger().warning(message)
            create_markdown_artifact(key=f"budget-hold-{workflow_id[:8]}",
                                     markdown=f"## Waiting for budget\n\n{message}\n",
                                     description="Why this run is paused")
            decision = pause_flow_run(wait_for_input=BudgetDecision, timeout=pause_timeout,
                                      key=f"budget-{exc.budget_id}-attempt-{attempt}")
            if decision.action == "cancel":
                raise BudgetCancelledError(
                    f"a billing admin cancelled workflow {workflow_id}: {exc.detail}",
                    site="billing") from exc
    raise AssertionError("unreachable")  # pragma: no cover
