"""What every scheduler does, whatever it is: one behaviour suite for all implementations.

A test module subclasses :class:`SchedulerContract` and provides two fixtures:
``scheduler`` (the implementation under test) and ``job_dir`` (a fresh directory on
its site). The unit suite runs it against LocalScheduler, the integration suite
against Slurm on the test bed, as psij runs one executor suite against every executor.
"""

from __future__ import annotations

import time
import uuid

import pytest

from heroes_core.errors import FeatureNotAvailableError, SpecError
from heroes_core.jobs import job_key
from heroes_core.models import JobState, JobStatus
from heroes_core.schedulers import JobSubmission, Scheduler


def submit(scheduler: Scheduler, job_dir: str, body: str) -> tuple[str, str]:
    key = job_key(f"contract-{uuid.uuid4().hex}")
    job_id = scheduler.submit(JobSubmission(key=key, job_dir=job_dir, script=f"#!/bin/bash\n{body}\n",
                                            time_limit_minutes=5))
    return key, job_id


def wait_until(scheduler: Scheduler, job_id: str, done: JobState | None = None,
               seconds: float = 180) -> JobStatus:
    """Poll until the job is final (or in ``done``); a deadline, not a timing assertion."""
    deadline = time.monotonic() + seconds
    while True:
        status = scheduler.query([job_id])[job_id]
        if status.state is done or (done is None and status.state.is_final):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {status.state.value} ({status.reason})")
        time.sleep(0.5)


class SchedulerContract:
    def test_a_job_completes_and_its_output_is_where_the_scheduler_says(
            self, scheduler: Scheduler, job_dir: str) -> None:
        _key, job_id = submit(scheduler, job_dir, "echo 'hello contract'")
        status = wait_until(scheduler, job_id)
        assert (status.state, status.exit_code) == (JobState.COMPLETED, 0), status.reason
        output = scheduler.transport.run(["cat", scheduler.output_path(job_dir, job_id)])
        assert output.ok and "hello contract" in output.stdout

    def test_a_failing_job_ends_failed_with_its_exit_code(self, scheduler: Scheduler,
                                                          job_dir: str) -> None:
        _key, job_id = submit(scheduler, job_dir, "exit 3")
        status = wait_until(scheduler, job_id)
        assert (status.state, status.exit_code) == (JobState.FAILED, 3), status.reason

    def test_find_returns_the_job_of_a_key_and_nothing_for_another(self, scheduler: Scheduler,
                                                                   job_dir: str) -> None:
        key, job_id = submit(scheduler, job_dir, "true")
        assert scheduler.find(key) == [job_id]
        assert scheduler.find(job_key(f"never-submitted-{uuid.uuid4().hex}")) == []
        wait_until(scheduler, job_id)

    def test_cancel_ends_a_running_job_as_cancelled(self, scheduler: Scheduler, job_dir: str) -> None:
        _key, job_id = submit(scheduler, job_dir, "sleep 300")
        wait_until(scheduler, job_id, JobState.RUNNING)
        scheduler.cancel([job_id])
        assert wait_until(scheduler, job_id).state is JobState.CANCELLED

    def test_a_partition_the_site_lacks_is_refused_with_the_choices(self, scheduler: Scheduler) -> None:
        offered = scheduler.partitions()
        assert offered
        scheduler.require_partition(offered[0])
        with pytest.raises(SpecError, match=f"partition 'no-such-partition' does not exist.*"
                                            f"choose one of: .*{offered[0]}"):
            scheduler.require_partition("no-such-partition")

    def test_usage_of_a_finished_job_is_its_accounting_or_says_there_is_none(
            self, scheduler: Scheduler, job_dir: str) -> None:
        _key, job_id = submit(scheduler, job_dir, "true")
        wait_until(scheduler, job_id)
        deadline = time.monotonic() + 60
        while True:
            try:
                usage = scheduler.usage(job_id)
            except FeatureNotAvailableError as exc:
                assert scheduler.name in str(exc) and "accounting" in str(exc)
                return
            if usage.outcome.is_final or time.monotonic() > deadline:
                break
            time.sleep(1)  # accounting may trail the queue by a moment
        assert usage.job_id == job_id and usage.outcome is JobState.COMPLETED
        assert usage.elapsed_s >= 0 and usage.cores >= 1
