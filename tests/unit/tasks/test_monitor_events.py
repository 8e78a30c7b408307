"""The shape of the site monitor's job events: what automations and resumed runs rely on."""

from __future__ import annotations

from datetime import UTC, datetime

from heroes.flows.architecture.monitor import login_limit_name
from heroes.tasks.monitor import TERMINAL_JOB_EVENTS, job_event, job_event_name
from heroes_core.models import JobState
from heroes_core.monitor import StateChange

KEY = "heroes-0a1b2c3d-00000000000000000001"


def change(**overrides: object) -> StateChange:
    fields: dict[str, object] = dict(
        key=KEY, site="hpc1", job_id="41", flow_run_id="0b6a1f2e-0000-4000-8000-000000000001",
        organisation="acme", previous=JobState.RUNNING, state=JobState.COMPLETED, exit_code=0,
        elapsed_s=12.5, seq=2, occurred=datetime(2026, 3, 1, tzinfo=UTC))
    return StateChange.model_validate(fields | overrides)


def test_a_change_is_announced_as_the_jobs_event_with_its_run_and_centre() -> None:
    event = job_event(change())
    assert event["event"] == "heroes.job.completed"
    assert event["resource"] == {"prefect.resource.id": f"heroes.job.{KEY}", "prefect.resource.name": KEY,
                                 "heroes.site": "hpc1", "heroes.scheduler-job-id": "41",
                                 "heroes.organisation": "acme"}
    assert event["related"] == [
        {"prefect.resource.id": "prefect.flow-run.0b6a1f2e-0000-4000-8000-000000000001",
         "prefect.resource.role": "flow-run"},
        {"prefect.resource.id": "heroes.centre.hpc1", "prefect.resource.role": "centre"}]
    assert event["payload"] == {"previous": "RUNNING", "state": "COMPLETED", "reason": "", "exit_code": 0,
                                "elapsed_s": 12.5, "seq": 2}


def test_the_same_change_always_has_the_same_event_id_and_the_next_another() -> None:
    assert job_event(change())["id"] == job_event(change(occurred=datetime.now(UTC)))["id"]
    assert job_event(change())["id"] != job_event(change(seq=3))["id"]
    assert job_event(change())["id"] != job_event(change(job_id="42"))["id"]


def test_a_job_without_a_flow_run_names_only_its_centre() -> None:
    assert [r["prefect.resource.role"] for r in job_event(change(flow_run_id=None))["related"]] == ["centre"]


def test_the_terminal_events_are_those_of_the_final_states() -> None:
    assert set(TERMINAL_JOB_EVENTS) == {"heroes.job.completed", "heroes.job.failed", "heroes.job.cancelled"}
    assert job_event_name(JobState.RUNNING) == "heroes.job.running"


def test_each_centre_has_its_own_login_rate_limit() -> None:
    assert login_limit_name("local-slurm") == "heroes-login-local-slurm"
