"""The site monitor in Prefect's terms: register a job with it, and its changes as events.

A job flow registers its batch job right after submitting it (:func:`track_job`) and may then
suspend: the ``monitor-sites`` deployment (``heroes.flows.architecture.monitor``) polls every
centre once per interval for all HEROES jobs there and emits, on every state change,

* event ``heroes.job.<state>`` (:func:`job_event_name`: ``heroes.job.pending``, ``.held``,
  ``.running``, ``.suspended``, ``.completed``, ``.failed``, ``.cancelled``);
* resource ``heroes.job.<key>`` with labels ``heroes.site``, ``heroes.scheduler-job-id`` and
  ``heroes.organisation``;
* related resources: the job's flow run (role ``flow-run``, when it has one) and the centre
  (``heroes.centre.<site>``, role ``centre``);
* payload: ``previous`` and ``state`` (JobState values), ``reason``, ``exit_code``,
  ``elapsed_s``, ``seq``.

The names that end a job (:data:`TERMINAL_JOB_EVENTS`) are what an automation resuming the
job's flow run listens for. An event's id is derived from the job and the change's number, so
the same change announced twice (a monitor that died between emitting and noting it) is one
event to Prefect's server and its triggers.
"""

from __future__ import annotations

import contextvars
import uuid
from datetime import UTC, datetime
from typing import Any, Final

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext, TaskRunContext
from prefect.events import emit_event

from heroes.blocks import HeroesDatabase
from heroes.blocks.defaults import DEFAULT_DATABASE
from heroes.tasks.centre_events import CENTRE_DEGRADED, centre_resource
from heroes.tasks.resolve import project_database
from heroes_core.jobs import JobContext
from heroes_core.models import JobState
from heroes_core.monitor import StateChange, TrackedJob, TrackedJobs

JOB_EVENT_PREFIX: Final = "heroes.job."
_EVENT_IDS: Final = uuid.UUID("6f1d3c1e-2b1a-4c55-9d43-6b0c1f7f2a10")


def job_event_name(state: JobState) -> str:
    """``heroes.job.<state in lower case>``."""
    return f"{JOB_EVENT_PREFIX}{state.value.lower()}"


TERMINAL_JOB_EVENTS: Final = tuple(job_event_name(s) for s in JobState if s.is_final)
"""The events after which a job changes no more (completed, failed, cancelled)."""


def job_resource_id(key: str) -> str:
    return f"{JOB_EVENT_PREFIX}{key}"


def job_event(change: StateChange) -> dict[str, Any]:
    """The keyword arguments of :func:`prefect.events.emit_event` announcing ``change``."""
    related = [{"prefect.resource.id": f"prefect.flow-run.{change.flow_run_id}",
                "prefect.resource.role": "flow-run"}] if change.flow_run_id else []
    related.append({"prefect.resource.id": centre_resource(change.site)["prefect.resource.id"],
                    "prefect.resource.role": "centre"})
    return {
        "event": job_event_name(change.state),
        "resource": {"prefect.resource.id": job_resource_id(change.key),
                     "prefect.resource.name": change.key, "heroes.site": change.site,
                     "heroes.scheduler-job-id": change.job_id,
                     "heroes.organisation": change.organisation},
        "related": related,
        "payload": {"previous": change.previous.value, "state": change.state.value,
                    "reason": change.reason, "exit_code": change.exit_code,
                    "elapsed_s": change.elapsed_s, "seq": change.seq},
        "occurred": change.occurred,
        "id": uuid.uuid5(_EVENT_IDS, f"{change.key}/{change.job_id}/{change.seq}"),
    }


def _outside_any_run() -> None:
    # Prefect names the emitting run as a related "flow-run"; the monitor's own run must not
    # stand beside the job's, or an automation resuming "the" flow run could pick the monitor.
    FlowRunContext.__var__.set(None)  # type: ignore[arg-type]  # "no run", as outside any
    TaskRunContext.__var__.set(None)  # type: ignore[arg-type]


def emit_job_change(change: StateChange) -> None:
    """Emit ``change``'s event as the job's own, not as the emitting run's."""
    context = contextvars.copy_context()
    context.run(_outside_any_run)
    context.run(emit_event, **job_event(change))


def report_unreachable(centre: str, error: str) -> None:
    """``heroes.centre.degraded`` with no CPU usable: the planner reads the centre as wholly down
    (``unavailable_shares``) until its next node report."""
    emit_event(event=CENTRE_DEGRADED, resource=centre_resource(centre),
               payload={"total_cpus": 0, "unavailable_cpus": 0, "idle_cpus": 0, "usable": False,
                        "unreachable": True, "error": error[:500]})


def tracked_jobs(database: HeroesDatabase | str | None = DEFAULT_DATABASE) -> TrackedJobs:
    return TrackedJobs(project_database(database))


@task(name="track-job", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=[2, 10])
def track_job(database: HeroesDatabase | str | None, context: JobContext, job_id: str,
              flow_run_id: str | None = None) -> TrackedJob:
    """Hand batch job ``job_id`` of ``context`` to the site monitor (idempotent by job key).

    ``flow_run_id`` (default: the context's) is the run its ``heroes.job.*`` events name as
    related ``flow-run``: the one to resume when the job ends.
    """
    tracked = tracked_jobs(database).track(
        context.key, context.site, job_id, flow_run_id or context.flow_run_id, context.organisation,
        submitted_at=datetime.now(UTC))
    get_run_logger().info("Job %s (%s on %s) is followed by the site monitor; state %s", context.key,
                          job_id, context.site, tracked.state.value)
    return tracked


__all__ = [
    "JOB_EVENT_PREFIX",
    "TERMINAL_JOB_EVENTS",
    "emit_job_change",
    "job_event",
    "job_event_name",
    "job_resource_id",
    "report_unreachable",
    "track_job",
    "tracked_jobs",
]
