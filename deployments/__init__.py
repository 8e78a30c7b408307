"""Deployments: how HEROES flows appear in the Prefect UI, ready to launch.

``python -m heroes.deployments`` serves every deployment from this process (a
Prefect runner): runs launched from the UI execute here, and cancelling one in
the UI kills its process and runs the flow's cancellation hook, which cancels
the batch job on the centre.
"""

from __future__ import annotations

from prefect.deployments.runner import RunnerDeployment

from heroes.deployments.centres import centre_deployments
from heroes.deployments.cloud import cloud_deployments
from heroes.flows import billing_report, decision_dashboard, run_job, run_workflow, watch_budgets


def user_deployments() -> list[RunnerDeployment]:
    """The user workflows, with their descriptions and tags for the UI."""
    return [
        run_job.to_deployment(
            name="run-job",
            description="Run one containerised job on an HPC centre, with data staged through "
                        "the central archive.",
            tags=["heroes", "user"],
        ),
        run_workflow.to_deployment(
            name="run-workflow",
            description="Place a DAG of jobs across centres (time, cost, energy goals), let the "
                        "user accept or move jobs, run it and compare predicted with actual.",
            tags=["heroes", "user"],
        ),
    ]


def architecture_deployments() -> list[RunnerDeployment]:
    """Administrative workflows: scheduled budget checks and on-demand billing reports."""
    return [
        watch_budgets.to_deployment(
            name="watch-budgets", interval=300, tags=["heroes", "costs"],
            description="Every 5 minutes: emit heroes.budget.threshold-crossed at 80% and 100%, "
                        "release reservations of crashed workflows."),
        billing_report.to_deployment(
            name="billing-report", tags=["heroes", "costs"],
            description="Consolidate an organisation's consumption; table artifact and CSV export."),
        decision_dashboard.to_deployment(
            name="decision-dashboard", tags=["heroes", "decision"],
            description="Predicted vs actual time, cost and energy per site and per application."),
    ]


def serve(limit: int | None = None, centres: list[str] | None = None,
          cloud_account: str | None = None) -> None:
    """Serve every HEROES deployment until interrupted.

    Compliance checks are scheduled for ``centres``; idle cloud nodes are cleaned up
    only when an ``AWSAccount`` block name is given (nothing to clean otherwise).
    """
    from prefect import serve as prefect_serve

    cloud = cloud_deployments(cloud_account) if cloud_account else []
    prefect_serve(*user_deployments(), *architecture_deployments(),
                  *centre_deployments(centres or ["local-slurm"]), *cloud, limit=limit)


__all__ = ["architecture_deployments", "serve", "user_deployments"]
