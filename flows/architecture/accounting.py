"""Accounting (modules 3 and 8): an organisation's use of HEROES, as its managers read it in the UI.

Every job is accounted when it ends (:func:`heroes.tasks.accounting.account_job`); this flow
sums an organisation's records over a period into table artifacts: per day (jobs, core-hours,
energy measured and modelled kept apart), per application (most used first) and the planner's
predictions against what the jobs used, and a chart of the days (:mod:`heroes.tasks.charts`).
Only the organisation's own records are read: the granted deployment names the caller's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prefect import flow, get_run_logger
from prefect.artifacts import create_table_artifact

from heroes.blocks.defaults import DEFAULT_ARCHIVE, DEFAULT_DATABASE
from heroes.tasks.artifacts import artifact_key
from heroes.tasks.charts import publish_chart, usage_chart_png
from heroes.tasks.resolve import load_database
from heroes_core.decision.metadata import MetadataStore, UsageSummary, usage_summary
from heroes_core.errors import SpecError

MAX_DAYS = 366


def _rounded(row: dict[str, object]) -> dict[str, object]:
    return {key: round(value, 2) if isinstance(value, float) else value for key, value in row.items()}


def report_usage(organisation: str, *, database: str, archive: str, days: int) -> UsageSummary:
    """The steps of a usage summary, inside the calling flow (the granted one names the organisation)."""
    if not 1 <= days <= MAX_DAYS:
        raise SpecError(f"days={days}: summarise between 1 and {MAX_DAYS} days")
    until = datetime.now(UTC)
    summary = usage_summary(MetadataStore(load_database(database).database()), organisation,
                            since=until - timedelta(days=days), until=until)
    period = f"{summary.since:%Y-%m-%d} to {summary.until:%Y-%m-%d}"
    create_table_artifact(key=artifact_key("usage-by-day", organisation),
                          table=[_rounded(row) for row in summary.days],
                          description=f"{organisation}: jobs, core-hours and energy (kJ; measured by EAR or "
                                      f"Slurm, or modelled from declared power) per day, {period}")
    create_table_artifact(key=artifact_key("usage-by-application", organisation),
                          table=[_rounded(row) for row in summary.applications],
                          description=f"{organisation}: most used applications, {period}")
    if summary.accuracy:
        create_table_artifact(key=artifact_key("predicted-vs-actual", organisation),
                              table=[_rounded(row) for row in summary.accuracy],
                              description=f"{organisation}: what the planner predicted against what "
                                          f"completed jobs used (mean ratio > 1: more than predicted), "
                                          f"per application, {period}")
    if summary.days:
        publish_chart(archive, organisation, "usage", usage_chart_png(summary),
                      description=f"{organisation}: core-hours and energy per day, {period}",
                      key=artifact_key("usage-chart", organisation))
    jobs = sum(int(str(row["jobs"])) for row in summary.days)
    get_run_logger().info("Usage of %s over %d day(s): %d job(s)", organisation, days, jobs)
    return summary


@flow(name="usage-summary-direct")
def usage_summary_flow(organisation: str, days: int = 30, database: str = DEFAULT_DATABASE,
                       archive: str = DEFAULT_ARCHIVE) -> UsageSummary:
    """An organisation's jobs per day, core-hours, energy and most used applications (for admins;
    users launch the granted ``usage-summary`` deployment, which names their own organisation)."""
    return report_usage(organisation, database=database, archive=archive, days=days)
