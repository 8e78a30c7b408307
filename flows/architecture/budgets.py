"""Architecture workflows of the costs module: budget alerts, stale reservations, billing views.

``watch_budgets`` runs as a scheduled deployment. When a budget's reserved plus
spent share passes 80% or 100% it emits a Prefect event
(``heroes.budget.threshold-crossed``) once, so an automation can notify
whoever should know; it also releases reservations left by crashed workflows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.events import emit_event

from heroes.tasks._context import load_archive, load_database
from heroes.tasks.artifacts import artifact_key
from heroes_core.costs import Ledger
from heroes_core.costs.ledger import Dimension
from heroes_core.data import HEROES_PREFIX

THRESHOLD_EVENT = "heroes.budget.threshold-crossed"


@flow(name="watch-budgets")
def watch_budgets(database: str = "heroes-database", thresholds: list[int] | None = None,
                  stale_after_hours: float = 48.0) -> list[dict[str, str]]:
    """Emit one event per budget and threshold crossed; release stale reservations."""
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
    stale = budgets.release_stale(datetime.now(UTC) - timedelta(hours=stale_after_hours))
    if stale:
        logger.warning("Released reservations of crashed workflows: %s", ", ".join(stale))
    if emitted:
        create_table_artifact(key="budget-alerts", table=emitted,
                              description="Budget thresholds crossed in this run")
    return emitted


@flow(name="billing-report")
def billing_report(organisation: str, database: str = "heroes-database",
                   archive: str = "heroes-archive",
                   by: list[str] | None = None) -> str:
    """Consolidate the ledger of an organisation, show it as a table, export it as CSV."""
    dimensions = by or ["project", "user", "site", "month"]
    allowed = set(get_args(Dimension))
    unknown = [d for d in dimensions if d not in allowed]
    if unknown:
        raise ValueError(f"cannot group by {unknown}; choose from {sorted(allowed)}")
    ledger = Ledger(load_database(database).database())
    rows = ledger.consolidate(ledger.lines(organisation=organisation), dimensions)  # type: ignore[arg-type]
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
