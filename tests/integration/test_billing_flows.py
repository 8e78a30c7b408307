"""Budgets in real runs: charge actual cost, pause for a billing admin, alert on thresholds."""

from __future__ import annotations

import threading
import time
import uuid
from decimal import Decimal
from typing import Any

import httpx
from prefect.client.orchestration import get_client
from prefect.flow_runs import resume_flow_run

from heroes.blocks import HeroesDatabase, HPCCentre
from heroes.flows import billing_report, run_job, watch_budgets
from heroes_core.costs import Ledger
from heroes_core.models import ImageRef, JobSpec, JobState


def budgets():  # type: ignore[no-untyped-def]
    return HeroesDatabase.load("heroes-database").budgets()  # type: ignore[attr-defined]


def quick_job(image: dict[str, str], time_limit_minutes: int = 2) -> JobSpec:
    return JobSpec(image=ImageRef(**image), command=["sh", "-c", "sleep 1; echo ok > ok.txt"],
                   time_limit_minutes=time_limit_minutes)


def flow_state(flow_run_id: Any):  # type: ignore[no-untyped-def]
    with get_client(sync_client=True) as client:
        return client.read_flow_run(flow_run_id).state


def wait_paused(holder: dict[str, Any], seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        flow_run_id = holder.get("id")
        if flow_run_id and flow_state(flow_run_id).is_paused():
            return flow_run_id
        time.sleep(0.5)
    raise AssertionError("the flow run never paused")


def run_in_thread(organisation: str, image: dict[str, str], holder: dict[str, Any]) -> threading.Thread:
    def target() -> None:
        from prefect.context import FlowRunContext  # noqa: F401 - the engine sets it per thread
        # 20 minutes at the test bed's price is 0.03 EUR: more than a budget of one cent
        holder["state"] = run_job(spec=quick_job(image, time_limit_minutes=20),
                                  organisation=organisation, user="ada", return_state=True)

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def start_paused_run(organisation: str, image: dict[str, str], holder: dict[str, Any]) -> threading.Thread:
    """Start run_job for ``organisation`` in a thread and note its flow run id in ``holder``."""
    started = time.time() - 1
    thread = run_in_thread(organisation, image, holder)
    deadline = time.monotonic() + 60
    while "id" not in holder and time.monotonic() < deadline:
        runs = [r for r in latest_run_of(started) if r.parameters.get("organisation") == organisation]
        if runs:
            holder["id"] = runs[0].id
        time.sleep(0.3)
    return thread


def latest_run_of(organisation_marker: float) -> Any:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterStartTime
    from prefect.client.schemas.sorting import FlowRunSort
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=5,
                                     flow_run_filter=FlowRunFilter(start_time=FlowRunFilterStartTime(
                                         is_null_=False)))
    return [r for r in runs if r.start_time and r.start_time.timestamp() >= organisation_marker]


def test_a_job_is_charged_its_actual_cost_and_the_rest_is_released(image, user, blocks) -> None:  # type: ignore[no-untyped-def]
    state = run_job(spec=quick_job(image), organisation="itest", user=user, return_state=True)
    assert state.is_completed(), state.message
    workflow_id = str(state.state_details.flow_run_id)
    lines = Ledger(budgets().db).lines(workflow_id=workflow_id)
    assert {line.unit for line in lines} == {"use", "core-hour"}
    assert all(line.amount >= 0 for line in lines)
    with budgets().db.transaction() as session:
        from sqlalchemy import select

        from heroes_core.costs.schema import Reservation
        reservations = list(session.scalars(select(Reservation).where(Reservation.workflow_id == workflow_id)))
    assert reservations and all(r.state == "released" for r in reservations)
    assert sum(r.committed for r in reservations) == sum(line.amount for line in lines) * len(reservations)


def test_a_workflow_over_budget_pauses_until_a_billing_admin_raises_it(image, blocks) -> None:  # type: ignore[no-untyped-def]
    organisation = f"poor{uuid.uuid4().hex[:8]}"
    budget_id = budgets().create(organisation, Decimal("0.01"), "EUR", hard=True)
    holder: dict[str, Any] = {}
    thread = start_paused_run(organisation, image, holder)
    flow_run_id = wait_paused(holder)
    assert budgets().get(budget_id).reserved == 0  # nothing reserved, nothing submitted
    budgets().raise_amount(budget_id, Decimal("10"))
    resume_flow_run(flow_run_id, run_input={"action": "retry"})
    thread.join(timeout=240)
    assert holder["state"].is_completed(), holder["state"].message
    view = budgets().get(budget_id)
    assert view.reserved == 0 and view.committed > 0


def test_a_billing_admin_can_cancel_a_paused_workflow(image, blocks) -> None:  # type: ignore[no-untyped-def]
    organisation = f"poor{uuid.uuid4().hex[:8]}"
    budget_id = budgets().create(organisation, Decimal("0.01"), "EUR", hard=True)
    holder: dict[str, Any] = {}
    thread = start_paused_run(organisation, image, holder)
    flow_run_id = wait_paused(holder)
    resume_flow_run(flow_run_id, run_input={"action": "cancel"})
    thread.join(timeout=120)
    assert holder["state"].is_failed() and "cancelled workflow" in holder["state"].message
    view = budgets().get(budget_id)
    assert view.reserved == 0 and view.committed == 0


def test_crossing_80_percent_emits_one_event(testbed, blocks) -> None:  # type: ignore[no-untyped-def]
    organisation = f"alert{uuid.uuid4().hex[:8]}"
    budget_id = budgets().create(organisation, Decimal("1.00"), "EUR", hard=True)
    budgets().reserve(organisation, None, f"wf-{organisation}", Decimal("0.85"), "EUR")
    first = watch_budgets()
    assert {"budget": str(budget_id), "organisation": organisation, "threshold": "80%",
            "used": "85.0%"} in first
    assert not [row for row in watch_budgets() if row["budget"] == str(budget_id)]  # only once
    api = testbed["prefect"]["api_url"]
    body = {"filter": {"event": {"name": ["heroes.budget.threshold-crossed"]},
                       "resource": {"id": [f"heroes.budget.{budget_id}"]}}, "limit": 10}
    deadline = time.monotonic() + 30
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not events:
        events = httpx.post(f"{api}/events/filter", json=body, timeout=10).json()["events"]
        time.sleep(0.5)
    assert len(events) == 1 and events[0]["payload"]["threshold"] == 80
    budgets().release(f"wf-{organisation}")


def test_billing_report_exports_a_csv_to_the_archive(archive, image, user, blocks) -> None:  # type: ignore[no-untyped-def]
    run_job(spec=quick_job(image), organisation="itest", user=user)
    location = billing_report(organisation="itest", by=["user", "month"])
    bucket, key = location.removeprefix("s3://").split("/", 1)
    csv_text = archive.s3_client().get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert csv_text.splitlines()[0] == "user,month,currency,amount,overage"
    assert any(line.startswith(f"{user},") for line in csv_text.splitlines())


def test_the_budget_watch_keeps_the_reservation_of_a_job_still_running(image, blocks) -> None:  # type: ignore[no-untyped-def]
    organisation = f"long{uuid.uuid4().hex[:8]}"
    budget_id = budgets().create(organisation, Decimal("10"), "EUR", hard=True)
    holder: dict[str, Any] = {}

    def target() -> None:
        spec = JobSpec(image=ImageRef(**image), command=["sh", "-c", "sleep 20; echo ok > ok.txt"],
                       time_limit_minutes=2)
        holder["state"] = run_job(spec=spec, organisation=organisation, user="ada", return_state=True)

    thread = threading.Thread(target=target)
    thread.start()
    scheduler = HPCCentre.load("local-slurm").site().scheduler
    deadline = time.monotonic() + 120
    running: list[str] = []
    while not running and time.monotonic() < deadline:
        keys = open_job_keys(budget_id)
        if keys:
            found = scheduler.find(keys[0])
            running = [s.job_id for s in scheduler.query(found).values() if s.state is JobState.RUNNING]
        time.sleep(0.5)
    assert running, "the job never started running"
    watch_budgets(stale_after_hours=0, organisation=organisation)  # every reservation is "old"
    assert budgets().get(budget_id).reserved > 0
    assert open_job_keys(budget_id)
    thread.join(timeout=240)
    assert holder["state"].is_completed(), holder["state"].message
    view = budgets().get(budget_id)
    assert view.reserved == 0 and view.committed > 0


def open_job_keys(budget_id: int) -> list[str]:
    """The job keys recorded on the budget's open reservations."""
    from sqlalchemy import select

    from heroes_core.costs.schema import Reservation
    with budgets().db.transaction() as session:
        return [key for key in session.scalars(select(Reservation.job_key).where(
            Reservation.budget_id == budget_id, Reservation.state == "open")) if key]
