"""LocalScheduler with real background processes on this machine."""

import time
from pathlib import Path

from heroes_core.models import JobState
from heroes_core.schedulers import JobSubmission, LocalScheduler
from heroes_core.transport import LocalTransport


def wait_final(scheduler: LocalScheduler, key: str, seconds: float = 20):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = scheduler.query([key])[key]
        if status.state.is_final:
            return status
        time.sleep(0.1)
    raise AssertionError(f"{key} did not finish")


def submission(tmp_path: Path, key: str, body: str, minutes: int = 1) -> JobSubmission:
    job_dir = tmp_path / key
    job_dir.mkdir()
    return JobSubmission(key=key, job_dir=str(job_dir), script=f"#!/bin/bash\n{body}\n",
                         time_limit_minutes=minutes)


def test_a_job_runs_in_its_directory_and_completes(tmp_path: Path) -> None:
    scheduler = LocalScheduler(LocalTransport(), str(tmp_path / "registry"))
    key = "heroes-local-ok-0001"
    assert scheduler.submit(submission(tmp_path, key, "echo hello > out.txt")) == key
    assert wait_final(scheduler, key).state is JobState.COMPLETED
    assert (tmp_path / key / "out.txt").read_text() == "hello\n"
    assert scheduler.find(key) == [key]
    assert scheduler.find("heroes-local-none-0001") == []


def test_a_failing_job_reports_its_exit_code(tmp_path: Path) -> None:
    scheduler = LocalScheduler(LocalTransport(), str(tmp_path / "registry"))
    key = "heroes-local-fail-0001"
    scheduler.submit(submission(tmp_path, key, "exit 3"))
    status = wait_final(scheduler, key)
    assert status.state is JobState.FAILED and status.exit_code == 3


def test_cancel_stops_the_process_group(tmp_path: Path) -> None:
    scheduler = LocalScheduler(LocalTransport(), str(tmp_path / "registry"))
    key = "heroes-local-cancel-0001"
    scheduler.submit(submission(tmp_path, key, "sleep 60; echo late > late.txt"))
    assert scheduler.query([key])[key].state is JobState.RUNNING
    scheduler.cancel([key])
    assert wait_final(scheduler, key).state in (JobState.CANCELLED, JobState.FAILED)
    time.sleep(0.2)
    assert not (tmp_path / key / "late.txt").exists()
