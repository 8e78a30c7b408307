"""One poll round of one site: a single scheduler query for all its live HEROES jobs.

The cost of a round does not grow with the number of jobs: the scheduler's ``query`` reports
any number of jobs in a bounded number of commands (Slurm: one ``squeue`` for the whole
service account and at most one ``sacct`` for the jobs that left the queue), bounded in time
by the oldest live job's submission.
"""

from __future__ import annotations

from heroes_core.monitor.tracked import StateChange, TrackedJobs
from heroes_core.sites import Site


def poll_site(site: Site, tracked: TrackedJobs) -> list[StateChange]:
    """Query every live job of ``site`` at once and record what changed (nothing asked if none).

    A scheduler or link failure propagates untouched and records nothing: the jobs keep their
    last known state, and the caller decides what an unreachable centre means.
    """
    live = tracked.live(site.name)
    if not live:
        return []
    since = min(job.submitted_at for job in live)
    statuses = site.scheduler.query([job.job_id for job in live], since=since)
    return tracked.record(site.name, statuses)
