"""The HEROES API (``/v1``): everything for the verified caller only, in HEROES' own words."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from heroes_core.identity import read_grant, verify_grant
from tests.unit.gateway.conftest import (
    ALICE,
    ANNA,
    BILL,
    CAROL,
    GRANT_KEY,
    OLIVIA,
    WALTER,
    FakePrefect,
    Minter,
    World,
)


def not_found(run_id: str) -> dict[str, str]:
    return {"detail": f"no run {run_id} among the runs you may read"}


# --- deployments -------------------------------------------------------------------------------------

def test_deployments_lists_only_what_the_caller_may_launch(client: TestClient, tokens: Minter,
                                                           world: World) -> None:
    listed = client.get("/v1/deployments", headers=tokens.headers(**ALICE)).json()
    assert [(d["name"], d["action"]) for d in listed] == [("run-job/default", "submit-workflow"),
                                                          ("run-workflow/default", "submit-workflow")]
    assert listed[0]["id"] == world.run_job["id"]
    assert listed[0]["parameters"] == {"centre": "hpc-a"}  # never the grant parameter
    billing = client.get("/v1/deployments", headers=tokens.headers(**BILL)).json()
    assert [(d["name"], d["action"]) for d in billing] == [("billing-report/monthly", "billing-and-costs")]


def test_an_operator_lists_every_deployment(client: TestClient, tokens: Minter, world: World) -> None:
    listed = client.get("/v1/deployments", headers=tokens.headers(**OLIVIA)).json()
    assert {(d["name"], d["action"]) for d in listed} == {
        ("run-job/default", "submit-workflow"), ("run-workflow/default", "submit-workflow"),
        ("billing-report/monthly", "billing-and-costs"), ("enrol-centre/default", None)}


# --- launching ---------------------------------------------------------------------------------------

def test_launch_returns_201_with_the_owner(client: TestClient, tokens: Minter, prefect: FakePrefect,
                                           world: World) -> None:
    response = client.post("/v1/deployments/run-job/default/runs", headers=tokens.headers(**ALICE),
                           json={"parameters": {"spec": {"n": 1}, "grant": "mine"}, "project": "climate",
                                 "name": "first", "tags": ["heroes-org:globex", "nightly"]})
    assert response.status_code == 201, response.text
    run = response.json()
    assert (run["organisation"], run["user"], run["project"]) == ("acme", "alice", "climate")
    assert run["deployment"] == "run-job/default" and run["name"] == "first"
    assert run["state"] == "SCHEDULED"
    assert run["tags"] == ["nightly", "heroes-org:acme", "heroes-user:alice", "heroes-project:climate"]
    sent = prefect.sent("POST", f"/deployments/{world.run_job['id']}/create_flow_run")[-1].body
    grant = verify_grant(sent["parameters"]["grant"], "run-job/default", sent["parameters"], GRANT_KEY)
    assert grant.project == "climate" and grant.identity.user == "alice"
    assert sent["parameters"]["centre"] == "hpc-a"


def test_launch_in_a_project_not_the_callers_is_403(client: TestClient, tokens: Minter, prefect: FakePrefect,
                                                    world: World) -> None:
    response = client.post("/v1/deployments/run-job/default/runs", headers=tokens.headers(**ALICE),
                           json={"project": "secret"})
    assert response.status_code == 403 and response.json()["action"] == "submit-workflow"
    assert not prefect.sent("POST", f"/deployments/{world.run_job['id']}/create_flow_run")


@pytest.mark.parametrize("name", ["enrol-centre/default", "billing-report/monthly", "run-job/missing",
                                  "no-such/flow"])
def test_launch_of_a_workflow_the_caller_may_not_launch_is_404(client: TestClient, tokens: Minter,
                                                               prefect: FakePrefect, world: World,
                                                               name: str) -> None:
    response = client.post(f"/v1/deployments/{name}/runs", headers=tokens.headers(**ALICE), json={})
    assert response.status_code == 404 and "GET /v1/deployments" in response.json()["detail"]
    assert not [call for call in prefect.calls if call.path.endswith("/create_flow_run")]


def test_billing_report_launched_by_a_billing_admin(client: TestClient, tokens: Minter, prefect: FakePrefect,
                                                    world: World) -> None:
    response = client.post("/v1/deployments/billing-report/monthly/runs", headers=tokens.headers(**BILL),
                           json={"parameters": {"month": "2025-01"}})
    assert response.status_code == 201
    sent = prefect.sent("POST", f"/deployments/{world.billing['id']}/create_flow_run")[-1].body
    assert read_grant(sent["parameters"]["grant"], GRANT_KEY).action.value == "billing-and-costs"


def test_an_operator_launches_an_administration_workflow_as_sent(client: TestClient, tokens: Minter,
                                                                  prefect: FakePrefect, world: World) -> None:
    response = client.post("/v1/deployments/enrol-centre/default/runs", headers=tokens.headers(**OLIVIA),
                           json={"parameters": {"centre": "hpc-b"}, "tags": ["maintenance"]})
    assert response.status_code == 201, response.text
    sent = prefect.sent("POST", f"/deployments/{world.enrol['id']}/create_flow_run")[-1].body
    assert sent["parameters"] == {"centre": "hpc-b"} and sent["tags"] == ["maintenance"]
    assert response.json()["organisation"] is None  # no owner: only operators see it


def test_a_run_prefect_refuses_is_answered_409_as_published(client: TestClient, tokens: Minter,
                                                            prefect: FakePrefect, world: World) -> None:
    """Prefect answers 409 when the parameters fail the deployment's schema; /v1 publishes 409 for it."""
    prefect.refuse_parameters = lambda parameters: "spec" not in parameters
    published = client.get("/openapi.json").json()["paths"]["/v1/deployments/{flow}/{deployment}/runs"]
    assert "409" in published["post"]["responses"]
    response = client.post("/v1/deployments/run-job/default/runs", headers=tokens.headers(**ALICE), json={})
    assert response.status_code == 409, response.text
    assert "Validation failed" in response.json()["detail"]


# --- runs --------------------------------------------------------------------------------------------

def test_runs_for_a_billing_admin_is_403_naming_read_runs(client: TestClient, tokens: Minter,
                                                          prefect: FakePrefect, world: World) -> None:
    response = client.get("/v1/runs", headers=tokens.headers(**BILL))
    assert response.status_code == 403
    assert response.json()["action"] == "read-runs" and "read-runs" in response.json()["detail"]
    assert not prefect.sent("POST", "/flow_runs/filter")


def test_runs_lists_the_callers_own_runs(client: TestClient, tokens: Minter, prefect: FakePrefect,
                                         world: World) -> None:
    listed = client.get("/v1/runs", params={"limit": 5, "offset": 2}, headers=tokens.headers(**ALICE)).json()
    assert [(run["id"], run["deployment"], run["user"]) for run in listed] == [
        (world.alices_run["id"], "run-job/default", "alice")]
    sent = prefect.sent("POST", "/flow_runs/filter")[-1].body
    assert sent["flow_runs"] == {"operator": "and_", "tags": {"operator": "and_",
                                                              "all_": ["heroes-org:acme", "heroes-user:alice"]}}
    assert (sent["limit"], sent["offset"]) == (5, 2)


def test_runs_of_a_workflow_admin_are_the_organisations(client: TestClient, tokens: Minter,
                                                        world: World) -> None:
    listed = client.get("/v1/runs", headers=tokens.headers(**WALTER)).json()
    assert {run["id"] for run in listed} == {world.alices_run["id"], world.annas_run["id"]}


def test_runs_limit_is_bounded(client: TestClient, tokens: Minter, world: World) -> None:
    assert client.get("/v1/runs", params={"limit": 201}, headers=tokens.headers(**ALICE)).status_code == 422
    assert client.get("/v1/runs", params={"limit": 0}, headers=tokens.headers(**ALICE)).status_code == 422


def test_one_run_of_the_caller(client: TestClient, tokens: Minter, world: World) -> None:
    run = client.get(f"/v1/runs/{world.alices_run['id']}", headers=tokens.headers(**ALICE)).json()
    assert (run["name"], run["state"], run["organisation"], run["project"]) == (
        "alices", "RUNNING", "acme", "climate")


def test_another_organisations_run_is_404_like_a_missing_one(client: TestClient, tokens: Minter,
                                                             world: World) -> None:
    headers = tokens.headers(**ALICE)
    foreign, missing = world.carols_run["id"], str(uuid.uuid4())
    for suffix in ("", "/logs", "/artifacts"):
        answers = [client.get(f"/v1/runs/{run_id}{suffix}", headers=headers) for run_id in (foreign, missing)]
        assert [answer.status_code for answer in answers] == [404, 404]
        assert [answer.json() for answer in answers] == [not_found(foreign), not_found(missing)]
    answers = [client.post(f"/v1/runs/{run_id}/cancel", headers=headers) for run_id in (foreign, missing)]
    assert [(answer.status_code, answer.json()) for answer in answers] == [
        (404, not_found(foreign)), (404, not_found(missing))]


def test_an_engineer_cannot_read_a_colleagues_run(client: TestClient, tokens: Minter, world: World) -> None:
    response = client.get(f"/v1/runs/{world.annas_run['id']}", headers=tokens.headers(**ALICE))
    assert response.status_code == 404
    assert client.get(f"/v1/runs/{world.annas_run['id']}", headers=tokens.headers(**ANNA)).status_code == 200


def test_logs_and_artifacts_of_own_run(client: TestClient, tokens: Minter, prefect: FakePrefect,
                                       world: World) -> None:
    headers = tokens.headers(**ALICE)
    logs = client.get(f"/v1/runs/{world.alices_run['id']}/logs", headers=headers).json()
    assert [(line["level"], line["message"]) for line in logs] == [(20, "hello")]
    assert prefect.sent("POST", "/logs/filter")[-1].body["logs"] == {
        "flow_run_id": {"any_": [world.alices_run["id"]]}}
    artifacts = client.get(f"/v1/runs/{world.alices_run['id']}/artifacts", headers=headers).json()
    assert [(a["key"], a["type"], a["data"]) for a in artifacts] == [("result", "markdown", "# done")]


def test_cancel_own_run(client: TestClient, tokens: Minter, prefect: FakePrefect, world: World) -> None:
    response = client.post(f"/v1/runs/{world.alices_run['id']}/cancel", headers=tokens.headers(**ALICE))
    assert response.status_code == 202 and response.json()["state"] == "CANCELLING"
    sent = prefect.sent("POST", f"/flow_runs/{world.alices_run['id']}/set_state")[-1].body
    assert sent["state"]["type"] == "CANCELLING" and "alice" in sent["state"]["message"]


def test_a_workflow_admin_cancels_a_run_of_the_organisation(client: TestClient, tokens: Minter,
                                                            world: World) -> None:
    response = client.post(f"/v1/runs/{world.annas_run['id']}/cancel", headers=tokens.headers(**WALTER))
    assert response.status_code == 202
    response = client.post(f"/v1/runs/{world.carols_run['id']}/cancel", headers=tokens.headers(**WALTER))
    assert response.status_code == 404


def test_another_organisation_sees_none_of_acmes_runs(client: TestClient, tokens: Minter,
                                                      world: World) -> None:
    listed = client.get("/v1/runs", headers=tokens.headers(**CAROL)).json()
    assert [run["id"] for run in listed] == [world.carols_run["id"]]
