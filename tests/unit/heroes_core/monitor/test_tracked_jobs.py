"""The tracked_jobs table: idempotent tracking, real changes only, nothing lost between recording
and announcing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from heroes_core.models import JobState, JobStatus
from heroes_core.monitor import TrackedJobs
from heroes_core.store import Database

KEY = "heroes-0a1b2c3d-00000000000000000001"
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def tracked(database: Database) -> TrackedJobs:
    return TrackedJobs(database)


def status(job_id: str, state: JobState, **kwargs: object) -> JobStatus:
    return JobStatus(job_id=job_id, state=state, **kwargs)  # type: ignore[arg-type]


def test_tracking_the_same_key_and_job_again_keeps_what_was_seen(tracked: TrackedJobs) -> None:
    tracked.track(KEY, "hpc1", "41", "run-1", "acme", submitted_at=T0)
    tracked.record("hpc1", [status("41", JobState.RUNNING)])
    again = tracked.track(KEY, "hpc1", "41", "run-1", "acme", submitted_at=T0 + timedelta(hours=1))
    assert (again.state, again.submitted_at) == (JobState.RUNNING, T0)
    assert [job.key for job in tracked.live("hpc1")] == [KEY]


def test_a_new_job_id_under_the_same_key_replaces_the_old_and_starts_unseen(tracked: TrackedJobs) -> None:
    tracked.track(KEY, "hpc1", "41", "run-1", "acme", submitted_at=T0)
    tracked.record("hpc1", [status("41", JobState.FAILED, exit_code=1)])
    replaced = tracked.track(KEY, "hpc1", "42", "run-1", "acme", submitted_at=T0 + timedelta(hours=1))
    assert (replaced.job_id, replaced.state, replaced.exit_code) == ("42", JobState.UNKNOWN, None)
    assert [job.job_id for job in tracked.live("hpc1")] == ["42"]
    assert tracked.record("hpc1", [status("41", JobState.COMPLETED)]) == []  # the old job is no news


def test_a_later_flow_run_that_takes_the_job_over_gets_its_events(tracked: TrackedJobs) -> None:
    tracked.track(KEY, "hpc1", "41", "run-1", "acme", submitted_at=T0)
    tracked.track(KEY, "hpc1", "41", "run-2", "acme", submitted_at=T0)
    tracked.track(KEY, "hpc1", "41", None, "acme", submitted_at=T0)  # no run given: kept
    (change,) = tracked.record("hpc1", [status("41", JobState.RUNNING)])
    assert change.flow_run_id == "run-2"


def test_the_same_statuses_recorded_twice_are_one_change(tracked: TrackedJobs) -> None:
    tracked.track(KEY, "hpc1", "41", "run-1", "acme", submitted_at=T0)
    seen = {"41": status("41", JobState.RUNNING)}
    (change,) = tracked.record("hpc1", seen)
    assert (change.previous, change.state, change.seq, change.flow_run_id) == (
        JobState.UNKNOWN, JobState.RUNNING, 1, "run-1")
    assert tracked.record("hpc1", seen) == []
    ended = status("41", JobState.COMPLETED, exit_code=0, start_time=T0, end_time=T0 + timedelta(seconds=90))
    (final,) = tracked.record("hpc1", [ended])
    assert (final.previous, final.state, final.exit_code, final.elapsed_s, final.seq) == (
        JobState.RUNNING, JobState.COMPLETED, 0, 90.0, 2)
    assert tracked.live("hpc1") == []


def test_a_job_the_scheduler_cannot_place_keeps_its_last_known_state(tracked: TrackedJobs) -> None:
    tracked.track(KEY, "hpc1", "41", "run-1", "acme", submitted_at=T0)
    tracked.record("hpc1", [status("41", JobState.RUNNING)])
    assert tracked.record("hpc1", [status("41", JobState.UNKNOWN, reason="not in the queue")]) == []
    job = tracked.get(KEY)
    assert job is not None and job.state is JobState.RUNNING and job.polled_at is not None


def test_an_ended_job_changes_no_more_and_other_sites_are_not_touched(tracked: TrackedJobs) -> None:
    tracked.track(KEY, "hpc1", "41", None, "acme", submitted_at=T0)
    other = KEY[:-1] + "2"
    tracked.track(other, "hpc2", "41", None, "acme", submitted_at=T0)
    tracked.record("hpc1", [status("41", JobState.CANCELLED)])
    assert tracked.record("hpc1", [status("41", JobState.RUNNING)]) == []
    assert tracked.get(other) is not None and tracked.get(other).state is JobState.UNKNOWN  # type: ignore[union-attr]
    assert tracked.sites() == ["hpc1", "hpc2"]  # hpc1: its cancellation is not announced yet


def test_a_change_recorded_but_not_announced_is_offered_again_as_the_same_change(tracked: TrackedJobs) -> None:
    tracked.track(KEY, "hpc1", "41", "run-1", "acme", submitted_at=T0)
    (change,) = tracked.record("hpc1", [status("41", JobState.RUNNING)])
    assert tracked.unannounced("hpc1") == [change]  # the monitor died before announcing it
    tracked.announced([change])
    assert tracked.unannounced() == []


def test_announcing_an_older_change_keeps_a_newer_one_to_announce(tracked: TrackedJobs) -> None:
    tracked.track(KEY, "hpc1", "41", "run-1", "acme", submitted_at=T0)
    (running,) = tracked.record("hpc1", [status("41", JobState.RUNNING)])
    (completed,) = tracked.record("hpc1", [status("41", JobState.COMPLETED)])
    tracked.announced([running])
    (left,) = tracked.unannounced()
    assert (left.previous, left.state, left.seq) == (JobState.UNKNOWN, JobState.COMPLETED, completed.seq)


def test_a_forgotten_job_is_no_longer_followed(tracked: TrackedJobs) -> None:
    tracked.track(KEY, "hpc1", "41", None, "acme", submitted_at=T0)
    assert tracked.forget(KEY) and not tracked.forget(KEY)
    assert (tracked.live("hpc1"), tracked.get(KEY), tracked.sites()) == ([], None, [])


def test_a_submission_time_without_a_zone_is_refused(tracked: TrackedJobs) -> None:
    with pytest.raises(ValueError, match="time zone"):
        tracked.track(KEY, "hpc1", "41", None, "acme", submitted_at=datetime(2026, 3, 1, 12))
