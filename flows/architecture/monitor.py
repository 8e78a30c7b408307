"""The site monitor: one run follows every HEROES job on every centre.

``monitor_sites`` polls each centre with live tracked jobs once per ``interval_s`` (one
``squeue`` and at most one ``sacct`` for all its jobs, see :mod:`heroes_core.monitor`) and emits
``heroes.job.<state>`` on every change (:mod:`heroes.tasks.monitor`), so a job's flow run can
suspend instead of polling on its own.

Each login node is asked at most once per its centre's ``min_poll_interval_s``, whatever the
number of monitors or their interval: every poll first takes a slot of the Prefect global
concurrency limit ``heroes-login-<centre>`` (one slot, decaying at ``1 / min_poll_interval_s``
per second: a rate limit), created or updated from the centre's block when the run first asks.

A centre that stops answering is backed off (doubling delays, capped at ``max_backoff_s``) and,
after ``failures_before_unreachable`` failed polls in a row, reported once as
``heroes.centre.degraded`` with no usable CPU (the planner leaves it out); when it answers again
its node state is reported as the compliance check does. Its jobs keep their last known state:
none is marked failed for the silence.

The ``monitor-sites`` deployment runs it every 10 minutes for a little under 10 minutes (at most
one run at a time): the state lives in the project database, so each run carries on from the
last, and a monitor that crashed is back within minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.concurrency.sync import rate_limit
from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventResourceFilter

from heroes.blocks import HeroesDatabase, HPCCentre
from heroes.blocks.defaults import DEFAULT_DATABASE
from heroes.tasks.centre_events import (
    CENTRE_DEGRADED,
    CENTRE_NODES_OK,
    FRESH_FOR,
    centre_resource,
    report_nodes,
)
from heroes.tasks.monitor import emit_job_change, report_unreachable, tracked_jobs
from heroes.tasks.resolve import load_centre, project_database
from heroes_core.costs import Budgets, PriceBook
from heroes_core.errors import HeroesError
from heroes_core.jobs import cancel_jobs
from heroes_core.monitor import SiteMonitor, StateChange, TrackedJob, TrackedJobs
from heroes_core.sites import Site

MONITOR_INTERVAL_S: Final = 30.0
DEPLOYMENT_INTERVAL_S: Final = 600
DEPLOYMENT_RUN_FOR_S: Final = 590.0
"""A scheduled run stops before the next one is due, so two never overlap."""


def login_limit_name(centre: str) -> str:
    """The global concurrency limit that paces the status queries to ``centre``'s login node."""
    return f"heroes-login-{centre}"


class PrefectHooks:
    """The monitor's effects through Prefect: rate limits, events, centre reports."""

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
                 database: HeroesDatabase | str | None = DEFAULT_DATABASE) -> None:
        self.logger = logger
        self.database = database
        self.blocks: dict[str, HPCCentre] = {}
        self.paced: set[str] = set()

    def block(self, centre: str) -> HPCCentre:
        if centre not in self.blocks:
            try:
                self.blocks[centre] = load_centre(centre)
            except HeroesError:
                raise
            except Exception as error:  # no such block, the API down: this centre, not the run
                raise HeroesError(f"the HPCCentre block {centre!r} could not be loaded: {error}",
                                  site=centre, fix="register the centre's block, or leave it out of "
                                                   "the monitor's centres") from error
        return self.blocks[centre]

    def open_site(self, centre: str) -> Site:
        return self.block(centre).site()

    def throttle(self, centre: str) -> None:
        name = login_limit_name(centre)
        if centre not in self.paced:
            interval = self.block(centre).min_poll_interval_s
            with get_client(sync_client=True) as client:
                client.upsert_global_concurrency_limit_by_name(name, limit=1,
                                                               slot_decay_per_second=1.0 / interval)
            self.paced.add(centre)
        rate_limit(name, strict=True)

    def changed(self, centre: str, changes: Sequence[StateChange]) -> None:
        for change in changes:
            emit_job_change(change)
            self.logger.info("Job %s (%s on %s): %s -> %s", change.key, change.job_id, centre,
                             change.previous.value, change.state.value)

    def unreachable(self, centre: str, error: HeroesError) -> None:
        report_unreachable(centre, str(error))
        self.logger.warning("Centre %s does not answer (%s): reported degraded; its jobs keep their "
                            "last known state", centre, error)

    def answering(self, centre: str) -> None:
        self.logger.info("Centre %s answers again", centre)
        report_nodes(centre)

    def reconcile(self, centre: str, live: Sequence[TrackedJob]) -> None:
        """Cancel the batch job, and free the budget, of each live job whose run was cancelled.

        A run suspended while its job waits has no process, so cancelling it in the UI runs no
        cancellation hook: the monitor does the hook's work. A suspended run is a top-level job
        run, whose budget reservation is held under its own id."""
        runs = {job.flow_run_id: job for job in live if job.flow_run_id}
        if not runs:
            return
        ended = FlowRunFilter(id=FlowRunFilterId(any_=[UUID(run) for run in runs]),
                              state=FlowRunFilterState(type=FlowRunFilterStateType(
                                  any_=[StateType.CANCELLED, StateType.CANCELLING])))
        with get_client(sync_client=True) as client:
            cancelled = client.read_flow_runs(flow_run_filter=ended)
        for run in cancelled:
            job = runs[str(run.id)]
            found = cancel_jobs(self.open_site(centre), job.key)
            database = project_database(self.database)
            released = Budgets(database, PriceBook(database)).release(str(run.id))
            self.logger.warning("Run %s was cancelled while its job %s waited: cancelled batch job(s) %s on "
                                "%s, released %s", run.id, job.key, ", ".join(found) or "(none left)", centre,
                                released)


def reported_unreachable(centres: Sequence[str]) -> list[str]:
    """Centres whose newest node-state event (of the last day) is a monitor's "unreachable"."""
    since = EventOccurredFilter.model_validate({"since": datetime.now(UTC) - FRESH_FOR})
    names = EventNameFilter(name=[CENTRE_DEGRADED, CENTRE_NODES_OK])
    found: list[str] = []
    with get_client(sync_client=True) as client:
        for centre in centres:
            resource = EventResourceFilter(id=[centre_resource(centre)["prefect.resource.id"]])
            newest = client.read_events(filter=EventFilter(occurred=since, event=names, resource=resource),
                                        limit=1).events
            if newest and newest[0].event == CENTRE_DEGRADED and newest[0].payload.get("unreachable"):
                found.append(centre)
    return found


def _summary(monitor: SiteMonitor, tracked: TrackedJobs) -> dict[str, Any]:
    return {"rounds": monitor.rounds, "announced": monitor.announced,
            "unreachable": monitor.health.unreachable(), "centres": tracked.sites()}


@flow(name="monitor-sites")
def monitor_sites(centres: list[str] | None = None, interval_s: float = MONITOR_INTERVAL_S,
                  run_for_s: float | None = None,
                  database: HeroesDatabase | str | None = DEFAULT_DATABASE,
                  max_backoff_s: float = 600.0, failures_before_unreachable: int = 2) -> dict[str, Any]:
    """Poll every centre with live HEROES jobs once per ``interval_s`` and emit ``heroes.job.*``
    on each change, for ``run_for_s`` seconds (None: until cancelled).

    ``centres``: only these (default: every centre with live tracked jobs, looked up each round).
    """
    logger = get_run_logger()
    tracked = tracked_jobs(database)
    hooks = PrefectHooks(logger, database)
    monitor = SiteMonitor(tracked, hooks.open_site, hooks, interval_s=interval_s,
                          max_backoff_s=max(max_backoff_s, interval_s),
                          failures_before_unreachable=failures_before_unreachable)
    for centre in reported_unreachable(centres if centres is not None else tracked.sites()):
        monitor.health.assume_unreachable(centre)
    monitor.run(centres, run_for_s=run_for_s)
    summary = _summary(monitor, tracked)
    logger.info("Monitor stops after %d rounds: %d changes announced; unreachable: %s", summary["rounds"],
                summary["announced"], ", ".join(summary["unreachable"]) or "none")
    return summary


__all__ = ["DEPLOYMENT_INTERVAL_S", "DEPLOYMENT_RUN_FOR_S", "MONITOR_INTERVAL_S", "PrefectHooks",
           "login_limit_name", "monitor_sites", "reported_unreachable"]
