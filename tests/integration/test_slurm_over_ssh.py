"""SlurmScheduler through the real sshd on the real Slurm of the test bed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from heroes_core import jobs
from heroes_core.errors import ImageError, SpecError
from heroes_core.models import ImageRef, JobSpec, JobState, UserArea
from heroes_core.schedulers import JobSubmission


def wait_final(site, job_id: str, seconds: float = 120):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = site.scheduler.query([job_id])[job_id]
        if status.state.is_final:
            return status
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish in {seconds} s")


def test_submit_find_poll_and_account_a_job(site) -> None:  # type: ignore[no-untyped-def]
    key = f"heroes-itest-{uuid.uuid4().hex[:12]}"
    job_dir = jobs.ensure_job_directory(site, UserArea(organisation="itest", user="slurm"), key)
    job_id = site.scheduler.submit(JobSubmission(key=key, job_dir=job_dir, partition="debug",
                                                 script="#!/bin/bash\necho hi; exit 3\n"))
    assert site.scheduler.find(key) == [job_id]
    status = wait_final(site, job_id)
    assert status.state is JobState.FAILED and status.exit_code == 3
    # Accounting keeps the job after it left the queue; find still sees it (resume safety).
    assert site.scheduler.find(key) == [job_id]
    assert site.transport.check(["cat", f"{job_dir}/slurm-{job_id}.out"]).stdout == "hi\n"


def test_cancel_ends_a_running_job(site) -> None:  # type: ignore[no-untyped-def]
    key = f"heroes-itest-{uuid.uuid4().hex[:12]}"
    job_dir = jobs.ensure_job_directory(site, UserArea(organisation="itest", user="slurm"), key)
    job_id = site.scheduler.submit(JobSubmission(key=key, job_dir=job_dir,
                                                 script="#!/bin/bash\nsleep 300\n"))
    site.scheduler.cancel([job_id])
    assert wait_final(site, job_id).state is JobState.CANCELLED


def test_partitions_are_read_from_slurm(site) -> None:  # type: ignore[no-untyped-def]
    assert {"debug", "batch"} <= set(site.scheduler.partitions())


def test_validation_refuses_missing_partition_and_wrong_digest(site, image) -> None:  # type: ignore[no-untyped-def]
    good = JobSpec(image=ImageRef(**image), command=["true"])
    jobs.validate(site, good)
    with pytest.raises(SpecError, match="not offered"):
        jobs.validate(site, good.model_copy(update={"partition": "gpu"}))
    wrong = ImageRef(path=image["path"], digest="sha256:" + "0" * 64)
    with pytest.raises(ImageError, match=r"\[local-slurm\].*not the expected sha256:0000"):
        jobs.validate(site, good.model_copy(update={"image": wrong}))
    missing = ImageRef(path="/home/heroes-svc/images/nope.tar.gz", digest=image["digest"])
    with pytest.raises(ImageError, match="cannot be read"):
        jobs.validate(site, good.model_copy(update={"image": missing}))


def test_a_symlinked_user_area_is_refused(site) -> None:  # type: ignore[no-untyped-def]
    root = site.config.work_root
    org = f"o{uuid.uuid4().hex[:8]}"
    site.transport.check(["mkdir", "-p", f"{root}/{org}"])
    site.transport.check(["ln", "-s", "/tmp", f"{root}/{org}/eve"])
    key = f"heroes-link-{uuid.uuid4().hex[:12]}"
    from heroes_core.errors import PathEscapeError
    with pytest.raises(PathEscapeError, match="symbolic link"):
        jobs.ensure_job_directory(site, UserArea(organisation=org, user="eve"), key)
    assert site.transport.run(["test", "-e", f"/tmp/{key}"]).exit_code == 1  # nothing made there


@pytest.fixture
def orchestrator_at_utc_plus_14(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The orchestrator's zone 14 h ahead of the centre's (the test bed runs at UTC)."""
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    assert datetime.now().astimezone().utcoffset() == timedelta(hours=14)
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("orchestrator_at_utc_plus_14")
def test_a_finished_job_is_found_in_accounting_with_its_true_times_at_utc_plus_14(site) -> None:  # type: ignore[no-untyped-def]
    key = f"heroes-itest-{uuid.uuid4().hex[:12]}"
    job_dir = jobs.ensure_job_directory(site, UserArea(organisation="itest", user="slurm"), key)
    before = datetime.now(UTC).replace(microsecond=0)  # Slurm keeps whole seconds
    job_id = site.scheduler.submit(JobSubmission(key=key, job_dir=job_dir, partition="debug",
                                                 script="#!/bin/bash\nsleep 1\n"))
    tracker = jobs.JobTracker(site)
    tracker.track(job_id)
    # Poll with the tracker's bound until accounting (not squeue, which gives no exit code)
    # reports the job: a bound in the future would never find it.
    deadline = time.monotonic() + 120
    while True:
        status = site.scheduler.query([job_id], since=tracker.since)[job_id]
        if status.state.is_final and status.exit_code is not None:
            break
        assert time.monotonic() < deadline, f"accounting never reported job {job_id}: {status}"
        time.sleep(0.5)
    after = datetime.now(UTC)
    assert status.state is JobState.COMPLETED
    assert status.submit_time is not None and status.start_time is not None
    assert status.end_time is not None
    assert before <= status.submit_time <= status.start_time <= status.end_time <= after
    assert status.end_time - status.start_time >= timedelta(seconds=1)
