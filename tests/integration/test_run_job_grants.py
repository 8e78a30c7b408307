"""The user-facing deployments bind each run to the identity of its grant (issue 11, part 5).

Runs are created on the Prefect API as anybody could, with the grant the gateway would add. A
good grant runs the job under its identity's organisation and user; a missing, forged or
expired grant, one for other parameters, and a used grant replayed by a second run each fail
at entry with the reason, having reserved, staged and submitted nothing. run-workflow and
billing-report admit their runs the same way.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from sqlalchemy import func, select

from heroes.blocks import HeroesDatabase
from heroes_core.costs.schema import Reservation
from heroes_core.identity import Action, Identity, Role, issue_grant
from heroes_core.jobs import job_key
from heroes_core.models import UserArea
from tests.integration.grants import engineer, grant_key, granted, job

DEADLINE_S = 240


def launch(parameters: dict[str, Any]) -> UUID:
    return run_deployment("run-job/run-job", timeout=0, parameters=parameters).id


def final_state(flow_run_id: UUID):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + DEADLINE_S
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            state = client.read_flow_run(flow_run_id).state
            if state is not None and state.is_final():
                return state
            time.sleep(0.5)
    raise AssertionError(f"flow run {flow_run_id} did not finish in {DEADLINE_S} s")


def assert_nothing_created(flow_run_id: UUID, user: str, site, archive) -> None:  # type: ignore[no-untyped-def]
    """No reservation for the run, no object in the user's archive area, no Slurm job with its key."""
    database = HeroesDatabase.load("heroes-database").database()
    with database.transaction() as session:
        reservations = session.scalar(select(func.count()).select_from(Reservation)
                                      .where(Reservation.workflow_id == str(flow_run_id)))
    assert reservations == 0
    listing = archive.s3_client().list_objects_v2(Bucket="heroes-itest", Prefix=f"{user}/")
    assert listing.get("KeyCount", 0) == 0, listing.get("Contents")
    assert site.scheduler.find(job_key(str(flow_run_id), owner=UserArea(organisation="itest", user=user))) == []


def assert_refused_at_entry(flow_run_id: UUID, words: str, user: str, site, archive) -> None:  # type: ignore[no-untyped-def]
    state = final_state(flow_run_id)
    assert state.is_failed(), (state.type, state.message)
    assert words in (state.message or ""), state.message
    assert "Fix:" in (state.message or ""), state.message
    assert_nothing_created(flow_run_id, user, site, archive)


def test_a_granted_run_completes_under_the_grants_organisation_and_user(runner, image, user, archive) -> None:  # type: ignore[no-untyped-def]
    flow_run_id = launch(granted(job(image, ["sh", "-c", "echo hello > hello.txt"]), user))
    state = final_state(flow_run_id)
    assert state.is_completed(), state.message
    key = job_key(str(flow_run_id), owner=UserArea(organisation="itest", user=user))
    body = archive.s3_client().get_object(Bucket="heroes-itest", Key=f"{user}/jobs/{key}/hello.txt")["Body"]
    assert body.read() == b"hello\n"
    with get_client(sync_client=True) as client:
        assert set(client.read_flow_run(flow_run_id).parameters) == {"spec", "grant"}


def test_bad_grants_fail_at_entry_with_the_reason_and_create_nothing(  # type: ignore[no-untyped-def]
        runner, site, image, archive) -> None:
    users = {case: f"g{uuid.uuid4().hex[:10]}" for case in ("missing", "forged", "expired", "changed")}
    true = job(image, ["true"])
    runs = {
        "missing": launch(true),
        "forged": launch(granted(true, users["forged"], key="not-the-test-bed-key-" + "z" * 32)),
        "expired": launch(granted(true, users["expired"], now=datetime.now(UTC) - timedelta(minutes=15))),
        "changed": launch({**granted(true, users["changed"]), **job(image, ["sleep", "300"])}),
    }
    words = {"missing": "carries no grant", "forged": "not signed by the HEROES gateway",
             "expired": "grant expired at", "changed": "not those its grant was issued for"}
    for case, flow_run_id in runs.items():
        assert_refused_at_entry(flow_run_id, words[case], users[case], site, archive)


def test_a_used_grant_replayed_by_another_run_fails_at_entry(runner, site, image, user, archive) -> None:  # type: ignore[no-untyped-def]
    parameters = granted(job(image, ["true"]), user)
    first = launch(parameters)
    assert final_state(first).is_completed()
    listed_before = archive.s3_client().list_objects_v2(Bucket="heroes-itest", Prefix=f"{user}/")["KeyCount"]
    second = launch(parameters)
    state = final_state(second)
    assert state.is_failed(), (state.type, state.message)
    assert "already started another flow run" in (state.message or ""), state.message
    database = HeroesDatabase.load("heroes-database").database()
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Reservation)
                              .where(Reservation.workflow_id == str(second))) == 0
    assert archive.s3_client().list_objects_v2(Bucket="heroes-itest", Prefix=f"{user}/")["KeyCount"] \
        == listed_before
    assert site.scheduler.find(job_key(str(second), owner=UserArea(organisation="itest", user=user))) == []


def test_a_granted_workflow_runs_under_its_identity_and_a_run_job_grant_does_not_start_one(  # type: ignore[no-untyped-def]
        runner, user, archive) -> None:
    workflow = {"name": f"w{uuid.uuid4().hex[:8]}",
                "jobs": [{"id": "only", "application": "busybox", "command": ["sh", "-c", "echo ok > ok.txt"],
                          "estimate_minutes": 0.1, "time_limit_minutes": 2}]}
    parameters = {"workflow": workflow, "auto_accept": True}
    good = run_deployment("run-workflow/run-workflow", timeout=0, parameters=granted(
        parameters, user, deployment="run-workflow/run-workflow")).id
    wrong = run_deployment("run-workflow/run-workflow", timeout=0,
                           parameters=granted(parameters, user)).id  # issued for run-job/run-job
    state = final_state(good)
    assert state.is_completed(), state.message
    assert archive.s3_client().list_objects_v2(Bucket="heroes-itest", Prefix=f"{user}/")["KeyCount"] > 0
    refused = final_state(wrong)
    assert refused.is_failed() and "is for deployment 'run-job/run-job'" in (refused.message or "")
    database = HeroesDatabase.load("heroes-database").database()
    with database.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Reservation)
                              .where(Reservation.workflow_id == str(wrong))) == 0


def test_billing_report_reports_the_grants_organisation_to_its_billing_admin_only(  # type: ignore[no-untyped-def]
        runner, user, archive) -> None:
    def exports() -> int:
        listing = archive.s3_client().list_objects_v2(Bucket="heroes-itest", Prefix="_heroes/billing/")
        return int(listing.get("KeyCount", 0))

    parameters = {"by": ["user", "month"]}
    admin = Identity(subject=f"sub-{user}", user=user, organisation="itest", roles=frozenset({Role.BILLING_ADMIN}))

    def launch_report(identity: Identity) -> UUID:
        token = issue_grant(identity, Action.BILLING, "billing-report/billing-report", parameters, grant_key())
        return run_deployment("billing-report/billing-report", timeout=0,
                              parameters={**parameters, "grant": token}).id

    before = exports()
    refused = final_state(launch_report(engineer(user)))
    assert refused.is_failed() and "may not billing-and-costs" in (refused.message or ""), refused.message
    assert exports() == before
    state = final_state(launch_report(admin))
    assert state.is_completed(), state.message
    assert exports() == before + 1
