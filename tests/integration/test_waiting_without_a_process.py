"""A run-job run whose job outlasts the in-process wait suspends (its process exits) and is
resumed by the site monitor's event when the job ends, or by the look-again window when no event
comes. The test bed's real Slurm, Prefect server, automations and runner."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from prefect.client.orchestration import get_client

from tests.integration.grants import granted, job

pytestmark = pytest.mark.integration


def launched(image: dict[str, str], user: str, seconds: int) -> Any:
    from prefect.deployments import run_deployment

    command = ["sh", "-c", f"sleep {seconds}; echo waited > out.txt"]
    parameters = granted({**job(image, command), "wait_in_process_s": 2, "poll_interval": 1}, user)
    return run_deployment("run-job/run-job", parameters=parameters, timeout=0,
                          flow_run_name=f"wait-{uuid.uuid4().hex[:8]}")


def states_of(flow_run_id: Any) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_flow_run_states(flow_run_id)


def until(flow_run_id: Any, wanted: str, seconds: float) -> Any:
    deadline = time.monotonic() + seconds
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            state = client.read_flow_run(flow_run_id).state
            if state is not None and (state.name == wanted or (wanted == "final" and state.is_final())):
                return state
            time.sleep(1)
    raise AssertionError(f"run {flow_run_id} never reached {wanted}: {[s.name for s in states_of(flow_run_id)]}")


def test_a_long_job_suspends_its_run_and_the_monitors_event_of_its_end_resumes_it(
        runner: Any, image: dict[str, str]) -> None:
    from heroes.flows import monitor_sites

    run = launched(image, f"w{uuid.uuid4().hex[:8]}", seconds=20)
    suspended = until(run.id, "Suspended", 120)
    assert str(suspended.state_details.pause_key).startswith("wait-")
    monitor_sites(centres=["local-slurm"], interval_s=2, run_for_s=45)
    final = until(run.id, "final", 120)
    assert final.is_completed(), final.message
    names = [state.name for state in states_of(run.id)]
    assert names.count("Suspended") == 1 and names[-1] == "Completed"


def test_without_news_of_its_job_a_suspended_run_looks_again_after_the_window_and_ends(
        runner: Any, image: dict[str, str]) -> None:
    from heroes.deployments.automations import ensure_wait_automations

    ensure_wait_automations(look_again=timedelta(seconds=15))  # no monitor runs: only the window
    try:
        run = launched(image, f"w{uuid.uuid4().hex[:8]}", seconds=75)  # well past a window or two
        final = until(run.id, "final", 300)
        assert final.is_completed(), final.message
        names = [state.name for state in states_of(run.id)]
        assert names.count("Suspended") >= 2, names  # it looked while the job ran, and suspended again
    finally:
        ensure_wait_automations()


def test_cancelling_a_suspended_run_cancels_its_batch_job_and_frees_its_budget_through_the_monitor(
        runner: Any, image: dict[str, str], site: Any) -> None:
    from prefect.states import Cancelling

    from heroes.blocks import HeroesDatabase
    from heroes.flows import monitor_sites
    from heroes_core.jobs import job_key
    from heroes_core.models import JobState, UserArea

    user = f"w{uuid.uuid4().hex[:8]}"
    run = launched(image, user, seconds=300)
    until(run.id, "Suspended", 120)
    [job_id] = site.scheduler.find(job_key(str(run.id), owner=UserArea(organisation="itest", user=user)))
    with get_client(sync_client=True) as client:  # what the gateway's cancel route asks for
        client.set_flow_run_state(run.id, Cancelling(message="cancelled by the test"), force=True)
    monitor_sites(centres=["local-slurm"], interval_s=2, run_for_s=10)
    deadline = time.monotonic() + 60
    while not (status := site.scheduler.query([job_id])[job_id]).state.is_final:
        assert time.monotonic() < deadline, status
        time.sleep(1)
    assert status.state is JobState.CANCELLED
    budgets = HeroesDatabase.load("heroes-database").budgets()
    assert budgets.release(str(run.id)) == 0  # the monitor gave the reservation back already
