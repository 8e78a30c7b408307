"""Deployments: how HEROES flows appear in the Prefect UI, ready to launch.

``python -m heroes.deployments`` serves every deployment from this process (a
Prefect runner): runs launched from the UI execute here, and cancelling one in
the UI kills its process and runs the flow's cancellation hook, which cancels
the batch job on the centre.

``prefect deploy`` (prefect.yaml) registers the same names on a work pool, with
pull steps for a worker. A runner that "serves" such a deployment only updates
it, keeping the pool and dropping its path, so its runs crash looking for code.
Serving therefore refuses a name a work pool owns, unless told to take it over.

Deployments are built with ``RunnerDeployment.from_flow``, the synchronous
constructor: ``Flow.to_deployment`` hands back a coroutine instead when it is
called from async code.
"""

from __future__ import annotations

import os

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.client.schemas.responses import DeploymentResponse
from prefect.deployments.runner import RunnerDeployment
from prefect.exceptions import ObjectNotFound

from heroes.blocks.defaults import DEFAULT_CENTRE
from heroes.deployments.automations import HEARTBEAT_ENV, ensure_wait_automations
from heroes.deployments.centres import centre_deployments
from heroes.deployments.cloud import cloud_deployments
from heroes.flows import (
    billing_report_granted,
    clean_job_directories,
    decision_dashboard,
    meter_data_usage,
    monitor_sites,
    publish_application_granted,
    run_application_granted,
    run_job_granted,
    run_workflow_granted,
    unpublish_application_granted,
    usage_summary_granted,
    watch_budgets,
)
from heroes.flows.architecture.metering import METERING_CRON
from heroes.flows.architecture.monitor import DEPLOYMENT_INTERVAL_S, DEPLOYMENT_RUN_FOR_S
from heroes.flows.architecture.retention import RETENTION_CRON
from heroes_core.errors import HeroesError


class DeploymentClashError(HeroesError):
    """A deployment to serve is already registered on a work pool by ``prefect deploy``."""


def user_deployments() -> list[RunnerDeployment]:
    """The user workflows, with their descriptions and tags for the UI.

    Their flows take who runs them from a grant the gateway issues (``heroes.flows.user.entry``):
    a run created on the Prefect API without a valid one fails at entry.
    """
    return [
        RunnerDeployment.from_flow(
            run_job_granted, name="run-job",
            description="Run one containerised job on an HPC centre, with data staged through "
                        "the central archive.",
            tags=["heroes", "user"],
        ),
        RunnerDeployment.from_flow(
            run_application_granted, name="run-application",
            description="Run an application from the catalogue by name, version and parameters: its "
                        "image is fetched to the centre by digest and verified there.",
            tags=["heroes", "user"],
        ),
        RunnerDeployment.from_flow(
            publish_application_granted, name="publish-application",
            description="Run an application version's functional test on the platform, then publish it "
                        "to projects, organisations or everyone with its licence and price.",
            tags=["heroes", "applications"],
        ),
        RunnerDeployment.from_flow(
            unpublish_application_granted, name="unpublish-application",
            description="Withdraw an application version from a project, an organisation or everyone.",
            tags=["heroes", "applications"],
        ),
        RunnerDeployment.from_flow(
            run_workflow_granted, name="run-workflow",
            description="Place a DAG of jobs across centres (time, cost, energy goals), let the "
                        "user accept or move jobs, run it and compare predicted with actual.",
            tags=["heroes", "user"],
        ),
    ]


def architecture_deployments() -> list[RunnerDeployment]:
    """Administrative workflows: scheduled budget checks, daily metering of the archive's storage
    and transfers, and on-demand billing reports (of the organisation a grant names, like the
    user workflows)."""
    return [
        RunnerDeployment.from_flow(
            watch_budgets, name="watch-budgets", interval=300, tags=["heroes", "costs"],
            description="Every 5 minutes: emit heroes.budget.threshold-crossed at 80% and 100%, "
                        "release reservations of crashed workflows."),
        RunnerDeployment.from_flow(
            clean_job_directories, name="clean-job-directories", cron=RETENTION_CRON,
            tags=["heroes", "data"],
            description="Every day at 01:30 UTC: remove job directories on the centres whose outputs are "
                        "verified in the archive, 72 h (grace_hours) after their job ended; never before."),
        RunnerDeployment.from_flow(
            meter_data_usage, name="meter-data-usage", cron=METERING_CRON, tags=["heroes", "costs"],
            description="Every day at 00:15 UTC: charge yesterday's archive storage per organisation "
                        "and project, and the transfers not charged yet, through the ledger."),
        RunnerDeployment.from_flow(
            billing_report_granted, name="billing-report", tags=["heroes", "costs"],
            description="Consolidate your organisation's consumption; table artifact and CSV export."),
        RunnerDeployment.from_flow(
            usage_summary_granted, name="usage-summary", tags=["heroes", "accounting"],
            description="Your organisation's jobs per day, core-hours, energy (measured and modelled "
                        "apart) and most used applications, as tables."),
        RunnerDeployment.from_flow(
            monitor_sites, name="monitor-sites", interval=DEPLOYMENT_INTERVAL_S,
            parameters={"run_for_s": DEPLOYMENT_RUN_FOR_S}, tags=["heroes", "jobs"],
            concurrency_limit=ConcurrencyLimitConfig(limit=1,
                                                     collision_strategy=ConcurrencyLimitStrategy.ENQUEUE),
            description="Follow every HEROES job: each centre polled once per 30 s for all its jobs "
                        "(at most once per its min_poll_interval_s), heroes.job.<state> on every change; "
                        "an unreachable centre is backed off and reported degraded, its jobs untouched. "
                        "Every 10 minutes, one run at a time."),
        RunnerDeployment.from_flow(
            decision_dashboard, name="decision-dashboard", tags=["heroes", "decision"],
            description="Predicted vs actual time, cost and energy per site and per application."),
    ]


def pool_owned(deployments: list[RunnerDeployment]) -> dict[str, DeploymentResponse]:
    """``flow/deployment`` -> the registered deployment, for each of ``deployments`` that a
    work pool already owns."""
    owned: dict[str, DeploymentResponse] = {}
    with get_client(sync_client=True) as client:
        for deployment in deployments:
            name = f"{deployment.flow_name}/{deployment.name}"
            try:
                existing = client.read_deployment_by_name(name)
            except ObjectNotFound:
                continue
            if existing.work_pool_name:
                owned[name] = existing
    return owned


def take_over(deployments: list[RunnerDeployment], *, replace: bool) -> list[str]:
    """Make sure serving ``deployments`` cannot clash with ``prefect deploy``'s.

    Without ``replace`` a clash is refused with the way out; with it, the pool's
    deployments of those names are deleted (their flow runs stay) so the runner
    registers its own. Returns the names taken over.
    """
    owned = pool_owned(deployments)
    if owned and not replace:
        listing = ", ".join(f"{name} (work pool '{found.work_pool_name}')"
                            for name, found in sorted(owned.items()))
        raise DeploymentClashError(
            f"{listing} {'is' if len(owned) == 1 else 'are'} registered by `prefect deploy`; "
            "serving the same name here would leave its runs looking for code that is not there",
            site="prefect",
            fix="keep the work pool and start a worker (`prefect worker start --pool "
                f"{min(str(found.work_pool_name) for found in owned.values())}`), or take the "
                "names over with `python -m heroes.deployments --replace`")
    if owned:
        with get_client(sync_client=True) as client:
            for name in sorted(owned):
                client.delete_deployment(owned[name].id)
    return sorted(owned)


def all_deployments(centres: list[str] | None = None,
                    cloud_account: str | None = None) -> list[RunnerDeployment]:
    """Every deployment ``serve`` offers: compliance checks for ``centres``; idle cloud nodes
    are cleaned up only when an ``AWSAccount`` block name is given (nothing to clean otherwise)."""
    cloud = cloud_deployments(cloud_account) if cloud_account else []
    return [*user_deployments(), *architecture_deployments(),
            *centre_deployments(centres or [DEFAULT_CENTRE]), *cloud]


def serve(limit: int | None = None, centres: list[str] | None = None,
          cloud_account: str | None = None, *, replace: bool = False) -> None:
    """Serve every HEROES deployment until interrupted (see :func:`take_over` for ``replace``)."""
    from prefect import serve as prefect_serve

    deployments = all_deployments(centres, cloud_account)
    taken = take_over(deployments, replace=replace)
    if taken:
        print(f"Took over from their work pool: {', '.join(taken)}")
    ensure_wait_automations()  # suspended job runs are resumed by them, dead ones crashed
    for name, value in HEARTBEAT_ENV.items():  # the served runs' processes inherit it
        os.environ.setdefault(name, value)
    prefect_serve(*deployments, limit=limit)


__all__ = [
    "DeploymentClashError",
    "all_deployments",
    "architecture_deployments",
    "pool_owned",
    "serve",
    "take_over",
    "user_deployments",
]
