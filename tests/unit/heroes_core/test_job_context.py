"""The job context: built once per job, it carries the owner, the key and where the job runs."""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from heroes_core.errors import SpecError
from heroes_core.jobs import JobContext, JobReport, job_key, key_for_run
from heroes_core.models import ImageRef, JobSpec, JobState, JobStatus, UserArea

ADA = UserArea(organisation="acme", user="ada")
SPEC = JobSpec(image=ImageRef(path="/img/app.sif", digest="sha256:" + "a" * 64), command=["true"])


def test_a_run_derives_the_same_key_each_time_and_one_per_step() -> None:
    first = JobContext.for_run("run-1", organisation="acme", user="ada", site="hpc1")
    again = JobContext.for_run("run-1", organisation="acme", user="ada", site="hpc1")
    other_step = JobContext.for_run("run-1", organisation="acme", user="ada", site="hpc1", step="b")
    assert first.key == again.key == job_key("run-1", owner=ADA) != other_step.key
    assert other_step.key == job_key("run-1", "b", owner=ADA)


def test_a_single_job_is_its_own_workflow_and_a_step_names_its_workflow() -> None:
    single = JobContext.for_run("run-1", organisation="acme", user="ada", site="hpc1")
    assert single.workflow_id == single.flow_run_id == "run-1"
    step = JobContext.for_run("run-2", organisation="acme", user="ada", site="hpc1", step="b",
                              workflow_id="wf-9")
    assert (step.workflow_id, step.flow_run_id) == ("wf-9", "run-2")


def test_the_callers_own_key_is_kept() -> None:
    mine = job_key("elsewhere", owner=ADA)
    context = JobContext.for_run("run-1", organisation="acme", user="ada", site="hpc1", job_key=mine)
    assert context.key == mine == key_for_run("run-1", ADA, given=mine)


@pytest.mark.parametrize("key", ["../../other-org/heroes-x", "heroes-aaaaaaaa,heroes-bbbbbbbb",
                                 job_key("theirs", owner=UserArea(organisation="other", user="ada"))])
def test_a_key_that_is_not_the_owners_is_refused_where_it_enters(key: str) -> None:
    with pytest.raises(SpecError):
        JobContext.for_run("run-1", organisation="acme", user="ada", site="hpc1", job_key=key)
    with pytest.raises(ValidationError):
        JobContext(organisation="acme", user="ada", workflow_id="w", key=key, site="hpc1")


@pytest.mark.parametrize(("organisation", "user"), [("ACME", "ada"), ("acme", "heroes"),
                                                    ("images", "ada"), ("acme", "a/b")])
def test_owner_names_are_checked_like_a_user_area(organisation: str, user: str) -> None:
    with pytest.raises(ValidationError):
        JobContext.for_run("run-1", organisation=organisation, user=user, site="hpc1")


def test_a_context_cannot_be_changed_once_built() -> None:
    context = JobContext.for_run("run-1", organisation="acme", user="ada", site="hpc1")
    with pytest.raises(ValidationError):
        context.site = "elsewhere"  # type: ignore[misc]


def test_the_report_names_the_job_as_its_context_does_and_lives_where_no_user_path_reaches() -> None:
    context = JobContext.for_run("run-1", organisation="acme", user="ada", site="hpc1")
    report = JobReport.of(context, SPEC, JobStatus(job_id="7", state=JobState.COMPLETED))
    assert (report.key, report.site, report.organisation, report.user, report.flow_run_id) == (
        context.key, "hpc1", "acme", "ada", "run-1")
    assert report.object_key() == f"_heroes/jobs/ada/{context.key}/heroes-job.json"
    assert report.outputs_prefix() == f"ada/jobs/{context.key}/"
    assert report.area == ADA


def test_elapsed_time_needs_both_ends_and_the_last_event_is_the_latest_known() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ended = JobStatus(job_id="1", state=JobState.COMPLETED, start_time=start,
                      end_time=start + timedelta(seconds=90))
    running = JobStatus(job_id="1", state=JobState.RUNNING, start_time=start)
    pending = JobStatus(job_id="1", state=JobState.PENDING)
    assert (ended.elapsed_s, running.elapsed_s, pending.elapsed_s) == (90.0, None, None)
    assert (ended.last_event_time, running.last_event_time, pending.last_event_time) == (
        start + timedelta(seconds=90), start, None)
