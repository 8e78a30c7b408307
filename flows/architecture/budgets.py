"""Architecture workflows of the costs module: budget alerts, stale reservations, billing views.

``watch_budgets`` runs as a scheduled deployment. When a budget's reserved plus
spent share passes 80% or 100% it emits a Prefect event
(``heroes.budget.threshold-crossed``) once, so an automation can notify
whoever should know; it also releases reservations left by crashed workflows, once the
centre's scheduler confirms their job is over (a job may run for 30 days): a reservation
whose job is queued or running, or that the centre cannot report on yet, is kept, and the
run's artifact says which and why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_DATABASE
from heroes.tasks.artifacts import artifact_key
from heroes.tasks.resolve import load_archive, load_centre, load_database
from heroes_core.costs import Ledger
from heroes_core.costs.budgets import JobStates
from heroes_core.costs.metering import BILLING_DIMENSIONS, consolidate_by_charge
from heroes_core.data import HEROES_PREFIX
from heroes_core.models import JobStatus
from heroes_core.schedulers import Scheduler

THRESHOLD_EVENT = "heroes.budget.threshold-crossed"


def _scheduler_answers() -> JobStates:
    """(site, job key) -> that job's states, asked of the centre's scheduler (one per site)."""
    schedulers: dict[str, Scheduler] = {}

    def job_states(site: str, job_key: str) -> list[JobStatus]:
        if site not in schedulers:
            schedulers[site] = load_centre(site).site().scheduler
        scheduler = schedulers[site]
        found = scheduler.find(job_key)
        return list(scheduler.query(found).values()) if found else []

    return job_states


@flow(name="watch-budgets")
def watch_budgets(database: str = DEFAULT_DATABASE, thresholds: list[int] | None = None,
                  stale_after_hours: float = 48.0, unknown_after_days: float = 31.0,
                  organisation: str | None = None) -> list[dict[str, str]]:
    """Emit one event per budget and threshold crossed; release stale reservations.

    Args:
        stale_after_hours: a reservation this old is looked at: released if it names no job
            or its job is over (or was never submitted), kept while the job is queued or running.
        unknown_after_days: how long a reservation whose centre cannot report on its job is
            kept (longer than any job may run).
        organisation: look only at this organisation's reservations (all by default).
    """
    logger = get_run_logger()
    budgets = load_database(database).budgets()
    emitted = []
    for view, threshold in budgets.crossed_thresholds(thresholds or [80, 100]):
        emit_event(
            event=THRESHOLD_EVENT,
            resource={"prefect.resource.id": f"heroes.budget.{view.id}",
                      "prefect.resource.name": f"{view.organisation}/{view.project or '*'}",
                      "heroes.organisation": view.organisation},
            payload={"threshold": threshold, "amount": str(view.amount), "currency": view.currency,
                     "reserved": str(view.reserved), "spent": str(view.committed),
                     "hard": view.hard},
        )
        logger.warning("Budget %s of %s passed %d%%", view.id, view.organisation, threshold)
        emitted.append({"budget": str(view.id), "organisation": view.organisation,
                        "threshold": f"{threshold}%", "used": f"{view.used_fraction:.1%}"})
    swept = budgets.sweep_stale(now=datetime.now(UTC), no_job_after=timedelta(hours=stale_after_hours),
                                unknown_after=timedelta(days=unknown_after_days),
                                job_states=_scheduler_answers(), organisation=organisation)
    for outcome in swept:
        logger.warning("%s the reservation of workflow %s: %s", outcome.action.capitalize(),
                       outcome.workflow_id, outcome.reason)
    if swept:
        create_table_artifact(
            key="stale-reservations", description="Old reservations: released or kept, and why",
            table=[{"workflow": o.workflow_id, "action": o.action, "reason": o.reason,
                    "site": o.site or "", "job key": o.job_key or "",
                    "reserved at": o.reserved_at.isoformat(), "returned": str(o.returned)}
                   for o in swept])
    if emitted:
        create_table_artifact(key="budget-alerts", table=emitted,
                              description="Budget thresholds crossed in this run")
    return emitted


@flow(name="billing-report-direct")
def billing_report(organisation: str, database: str = DEFAULT_DATABASE,
                   archive: str = DEFAULT_ARCHIVE,
                   by: list[str] | None = None) -> str:
    """Consolidate the ledger of an organisation, show it as a table, export it as CSV.

    ``by`` names the columns to group by: charge (compute, storage, transfer), project, user,
    site, month, organisation, workflow; default charge, project, user, site, month.

    The organisation is the caller's word: this flow is for admins and Python code run
    in-process. Billing admins start the ``billing-report`` deployment, whose flow
    (:func:`heroes.flows.user.entry.billing_report_granted`) reads it from a grant.
    """
    return report_billing(organisation, database=database, archive=archive, by=by)


def report_billing(organisation: str, *, database: str, archive: str, by: list[str] | None) -> str:
    """The steps of a billing report, inside the calling flow.

    ``charge`` groups by what was charged: compute (jobs), storage (archive GB-months) and
    transfer (GB moved), so the metered archive shows beside the jobs (by default, first).
    """
    dimensions = by or ["charge", "project", "user", "site", "month"]
    unknown = [d for d in dimensions if d not in BILLING_DIMENSIONS]
    if unknown:
        raise ValueError(f"cannot group by {unknown}; choose from {sorted(BILLING_DIMENSIONS)}")
    ledger = Ledger(load_database(database).database())
    rows = consolidate_by_charge(ledger.lines(organisation=organisation), dimensions)
    create_table_artifact(key=artifact_key("billing", organisation), table=rows,
                          description=f"Consumption of {organisation} by {', '.join(dimensions)}")
    archive_block = load_archive(archive)
    bucket = archive_block.ensure_bucket(organisation)
    key = f"{HEROES_PREFIX}/billing/{datetime.now(UTC):%Y%m%dT%H%M%S}-{'-'.join(dimensions)}.csv"
    archive_block.s3_client().put_object(Bucket=bucket, Key=key, Body=ledger.to_csv(rows).encode())
    location = f"s3://{bucket}/{key}"
    create_markdown_artifact(key=artifact_key("billing", organisation, "csv"),
                             markdown=f"CSV export: `{location}` ({len(rows)} rows)")
    return location
