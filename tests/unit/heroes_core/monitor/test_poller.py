"""One poll round of a site costs one squeue and at most one sacct, whatever the number of jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from heroes_core.models import JobState
from heroes_core.monitor import TrackedJobs, poll_site
from heroes_core.store import Database
from tests.unit.heroes_core.monitor.fake_centre import FakeJob, FakeSlurm


def key(n: int) -> str:
    return f"heroes-0a1b2c3d-{n:020d}"


def tracked_on(centre: FakeSlurm, database: Database, count: int) -> TrackedJobs:
    tracked = TrackedJobs(database)
    submitted = datetime.now(UTC) - timedelta(minutes=5)
    for n in range(count):
        job_id = str(1000 + n)
        centre.jobs[job_id] = FakeJob()
        tracked.track(key(n), centre.name, job_id, f"run-{n}", "acme", submitted_at=submitted)
    return tracked


def test_two_hundred_jobs_cost_one_squeue_and_one_sacct_per_round(database: Database) -> None:
    centre = FakeSlurm()
    tracked = tracked_on(centre, database, 200)
    for n in range(0, 200, 2):
        centre.end(str(1000 + n))  # half of them left the queue
    changes = poll_site(centre.site(), tracked)
    assert (centre.calls("squeue"), centre.calls("sacct"), len(centre.transport.calls)) == (1, 1, 2)
    assert sorted(c.state for c in changes).count(JobState.COMPLETED) == 100
    assert len(changes) == 200


def test_a_round_where_every_job_is_still_queued_asks_only_squeue(database: Database) -> None:
    centre = FakeSlurm()
    tracked = tracked_on(centre, database, 50)
    poll_site(centre.site(), tracked)
    assert centre.transport.programs() == ["env"] and centre.calls("squeue") == 1


def test_a_site_without_live_jobs_is_not_asked(database: Database) -> None:
    centre = FakeSlurm()
    tracked = tracked_on(centre, database, 3)
    for job_id in list(centre.jobs):
        centre.end(job_id, "CANCELLED")
    assert len(poll_site(centre.site(), tracked)) == 3
    before = len(centre.transport.calls)
    assert poll_site(centre.site(), tracked) == []
    assert len(centre.transport.calls) == before


def test_only_real_changes_come_back_round_after_round(database: Database) -> None:
    centre = FakeSlurm()
    tracked = tracked_on(centre, database, 3)
    assert {c.state for c in poll_site(centre.site(), tracked)} == {JobState.PENDING}
    assert poll_site(centre.site(), tracked) == []
    centre.jobs["1001"] = FakeJob(state="RUNNING", reason="None")
    (change,) = poll_site(centre.site(), tracked)
    assert (change.key, change.previous, change.state) == (key(1), JobState.PENDING, JobState.RUNNING)
    centre.end("1001", "FAILED", exit="3:0")
    (failed,) = poll_site(centre.site(), tracked)
    assert (failed.state, failed.exit_code) == (JobState.FAILED, 3)
