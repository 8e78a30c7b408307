"""The Prefect API behind the gateway (``/api/...``): default-deny, scoped to the caller's organisation.

Every test drives the real application; the fake Prefect records what reached it, so the
assertions are on the bodies the gateway forwarded.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from heroes_core.identity import verify_grant
from tests.unit.gateway.conftest import (
    ALICE,
    BILL,
    CAROL,
    GRANT_KEY,
    OLIVIA,
    WALTER,
    FakePrefect,
    Minter,
    World,
)


def last(prefect: FakePrefect, method: str, path: str) -> Any:
    calls = prefect.sent(method, path)
    assert calls, f"nothing reached the Prefect API as {method} {path}"
    return calls[-1].body


# --- run listings ----------------------------------------------------------------------------------

def test_flow_runs_filter_forces_the_owner_tags_with_and(client: TestClient, tokens: Minter,
                                                        prefect: FakePrefect, world: World) -> None:
    sent = {"flow_runs": {"operator": "or_", "tags": {"operator": "or_", "all_": ["nightly"]},
                          "id": {"any_": [world.carols_run["id"]]}},
            "limit": 10}
    response = client.post("/api/flow_runs/filter", json=sent, headers=tokens.headers(**ALICE))
    assert response.status_code == 200
    forwarded = last(prefect, "POST", "/flow_runs/filter")
    assert forwarded["flow_runs"]["operator"] == "and_"
    assert forwarded["flow_runs"]["tags"] == {"operator": "and_",
                                              "all_": ["nightly", "heroes-org:acme", "heroes-user:alice"]}
    assert forwarded["flow_runs"]["id"] == {"any_": [world.carols_run["id"]]}  # narrowing is kept
    assert forwarded["limit"] == 10


def test_flow_runs_filter_without_a_body_lists_the_callers_runs(client: TestClient, tokens: Minter,
                                                               prefect: FakePrefect, world: World) -> None:
    response = client.post("/api/flow_runs/filter", headers=tokens.headers(**ALICE))
    assert [run["id"] for run in response.json()] == [world.alices_run["id"]]
    assert last(prefect, "POST", "/flow_runs/filter")["flow_runs"]["tags"]["all_"] == [
        "heroes-org:acme", "heroes-user:alice"]


def test_a_workflow_admin_lists_the_organisations_runs(client: TestClient, tokens: Minter,
                                                      prefect: FakePrefect, world: World) -> None:
    response = client.post("/api/flow_runs/filter", json={}, headers=tokens.headers(**WALTER))
    assert {run["id"] for run in response.json()} == {world.alices_run["id"], world.annas_run["id"]}
    assert last(prefect, "POST", "/flow_runs/filter")["flow_runs"]["tags"]["all_"] == ["heroes-org:acme"]


@pytest.mark.parametrize("path", ["flow_runs/count", "flow_runs/history", "task_runs/filter",
                                  "task_runs/count", "artifacts/filter", "artifacts/latest/count",
                                  "ui/flow_runs/history"])
def test_other_run_listings_force_the_owner_tags(client: TestClient, tokens: Minter, prefect: FakePrefect,
                                                 path: str) -> None:
    client.post(f"/api/{path}", json={"flow_runs": {"operator": "or_"}}, headers=tokens.headers(**ALICE))
    forwarded = last(prefect, "POST", f"/{path}")
    assert forwarded["flow_runs"]["operator"] == "and_"
    assert forwarded["flow_runs"]["tags"] == {"operator": "and_",
                                              "all_": ["heroes-org:acme", "heroes-user:alice"]}


def test_a_role_that_reads_no_runs_is_refused_run_listings(client: TestClient, tokens: Minter,
                                                           prefect: FakePrefect) -> None:
    response = client.post("/api/flow_runs/filter", json={}, headers=tokens.headers(**BILL))
    assert response.status_code == 403 and response.json()["action"] == "read-runs"
    assert not prefect.sent("POST", "/flow_runs/filter")


def test_a_body_that_is_not_a_json_object_is_refused(client: TestClient, tokens: Minter,
                                                     prefect: FakePrefect) -> None:
    for content in (b"[1, 2]", b"not json"):
        response = client.post("/api/flow_runs/filter", content=content,
                               headers={**tokens.headers(**ALICE), "Content-Type": "application/json"})
        assert response.status_code == 403
    assert not prefect.sent("POST", "/flow_runs/filter")


# --- deployments and flows ---------------------------------------------------------------------------

def test_deployments_filter_is_narrowed_to_visible_deployments(client: TestClient, tokens: Minter,
                                                               prefect: FakePrefect, world: World) -> None:
    asked = [world.run_job["id"], world.billing["id"], world.enrol["id"], str(uuid.uuid4())]
    client.post("/api/deployments/filter", json={"deployments": {"operator": "or_", "id": {"any_": asked}}},
                headers=tokens.headers(**ALICE))
    forwarded = last(prefect, "POST", "/deployments/filter")["deployments"]
    assert forwarded["operator"] == "and_"
    assert forwarded["id"]["any_"] == [world.run_job["id"]]  # what she asked for, that she may see


def test_deployments_filter_without_ids_is_narrowed_to_what_the_caller_may_launch(
        client: TestClient, tokens: Minter, prefect: FakePrefect, world: World) -> None:
    client.post("/api/deployments/filter", json={}, headers=tokens.headers(**ALICE))
    forwarded = last(prefect, "POST", "/deployments/filter")["deployments"]["id"]["any_"]
    assert sorted(forwarded) == sorted([world.run_job["id"], world.run_workflow["id"]])
    client.post("/api/deployments/filter", json={}, headers=tokens.headers(**BILL))
    assert last(prefect, "POST", "/deployments/filter")["deployments"]["id"]["any_"] == [world.billing["id"]]


def test_flows_filter_is_narrowed_to_flows_of_visible_deployments(client: TestClient, tokens: Minter,
                                                                  prefect: FakePrefect, world: World) -> None:
    client.post("/api/flows/filter", json={"flows": {"name": {"any_": ["enrol-centre", "run-job"]}}},
                headers=tokens.headers(**ALICE))
    assert last(prefect, "POST", "/flows/filter")["flows"]["name"]["any_"] == ["run-job"]


def test_prefect_accepts_the_narrowed_deployment_and_flow_filters(client: TestClient, tokens: Minter,
                                                                  world: World) -> None:
    """The narrowed bodies must still parse with Prefect's own filter schemas.

    Prefect's ``DeploymentFilterId`` and ``FlowFilterName`` forbid extra fields and have no
    ``operator``: the fake answers 422 as Prefect does if the gateway adds one.
    """
    headers = tokens.headers(**ALICE)
    asked = {"deployments": {"id": {"any_": [world.run_job["id"], world.enrol["id"]]}}}
    response = client.post("/api/deployments/filter", json=asked, headers=headers)
    assert response.status_code == 200, response.text
    assert [d["id"] for d in response.json()] == [world.run_job["id"]]
    response = client.post("/api/deployments/filter", json={}, headers=headers)
    assert response.status_code == 200, response.text
    assert {d["id"] for d in response.json()} == {world.run_job["id"], world.run_workflow["id"]}
    response = client.post("/api/flows/filter", json={"flows": {"name": {"any_": ["run-job"]}}}, headers=headers)
    assert response.status_code == 200, response.text


def test_one_deployment_of_an_administration_flow_is_404(client: TestClient, tokens: Minter,
                                                          world: World) -> None:
    headers = tokens.headers(**ALICE)
    assert client.get(f"/api/deployments/{world.run_job['id']}", headers=headers).status_code == 200
    hidden = client.get(f"/api/deployments/{world.enrol['id']}", headers=headers)
    assert (hidden.status_code, hidden.json()) == (404, {"detail": "Not found."})


# --- one run -------------------------------------------------------------------------------------------

def test_another_organisations_run_is_404_exactly_like_a_missing_one(client: TestClient, tokens: Minter,
                                                                     world: World) -> None:
    headers = tokens.headers(**ALICE)
    own = client.get(f"/api/flow_runs/{world.alices_run['id']}", headers=headers)
    assert own.status_code == 200 and own.json()["id"] == world.alices_run["id"]
    foreign = client.get(f"/api/flow_runs/{world.carols_run['id']}", headers=headers)
    missing = client.get(f"/api/flow_runs/{uuid.uuid4()}", headers=headers)
    unowned = client.get(f"/api/flow_runs/{world.unowned_run['id']}", headers=headers)
    assert foreign.status_code == missing.status_code == unowned.status_code == 404
    assert foreign.content == missing.content == unowned.content


def test_an_engineer_does_not_see_a_colleagues_run(client: TestClient, tokens: Minter, world: World) -> None:
    response = client.get(f"/api/flow_runs/{world.annas_run['id']}", headers=tokens.headers(**ALICE))
    assert response.status_code == 404
    response = client.get(f"/api/flow_runs/{world.annas_run['id']}", headers=tokens.headers(**WALTER))
    assert response.status_code == 200


# --- logs --------------------------------------------------------------------------------------------

def test_logs_filter_without_a_flow_run_id_is_403(client: TestClient, tokens: Minter,
                                                  prefect: FakePrefect) -> None:
    for body in ({}, {"logs": {"level": {"ge_": 0}}}, {"logs": {"flow_run_id": {"any_": []}}}):
        response = client.post("/api/logs/filter", json=body, headers=tokens.headers(**ALICE))
        assert response.status_code == 403 and response.json()["action"] == "read-runs"
    assert not prefect.sent("POST", "/logs/filter")


def test_logs_filter_of_another_organisations_run_is_404(client: TestClient, tokens: Minter,
                                                         prefect: FakePrefect, world: World) -> None:
    body = {"logs": {"flow_run_id": {"any_": [world.alices_run["id"], world.carols_run["id"]]}}}
    response = client.post("/api/logs/filter", json=body, headers=tokens.headers(**ALICE))
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert not prefect.sent("POST", "/logs/filter")


def test_logs_filter_of_own_run_is_forwarded_with_and(client: TestClient, tokens: Minter,
                                                      prefect: FakePrefect, world: World) -> None:
    body = {"logs": {"operator": "or_", "flow_run_id": {"any_": [world.alices_run["id"]]}}, "limit": 5}
    response = client.post("/api/logs/filter", json=body, headers=tokens.headers(**ALICE))
    assert response.status_code == 200
    assert last(prefect, "POST", "/logs/filter") == {
        "logs": {"operator": "and_", "flow_run_id": {"any_": [world.alices_run["id"]]}}, "limit": 5}


# --- changing a run ----------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["COMPLETED", "FAILED", "RUNNING", "SCHEDULED", "CANCELLED"])
def test_set_state_other_than_cancelling_is_403(client: TestClient, tokens: Minter, prefect: FakePrefect,
                                                world: World, state: str) -> None:
    response = client.post(f"/api/flow_runs/{world.alices_run['id']}/set_state",
                           json={"state": {"type": state}, "force": True}, headers=tokens.headers(**ALICE))
    assert response.status_code == 403 and response.json()["action"] == "cancel-run"
    assert not prefect.sent("POST", f"/flow_runs/{world.alices_run['id']}/set_state")


def test_cancelling_own_run_is_forwarded(client: TestClient, tokens: Minter, prefect: FakePrefect,
                                         world: World) -> None:
    body = {"state": {"type": "CANCELLING", "name": "Cancelling"}}
    response = client.post(f"/api/flow_runs/{world.alices_run['id']}/set_state", json=body,
                           headers=tokens.headers(**ALICE))
    assert response.status_code == 201
    assert last(prefect, "POST", f"/flow_runs/{world.alices_run['id']}/set_state") == body


def test_cancelling_another_organisations_run_is_404(client: TestClient, tokens: Minter,
                                                     prefect: FakePrefect, world: World) -> None:
    response = client.post(f"/api/flow_runs/{world.carols_run['id']}/set_state",
                           json={"state": {"type": "CANCELLING"}}, headers=tokens.headers(**ALICE))
    assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
    assert not prefect.sent("POST", f"/flow_runs/{world.carols_run['id']}/set_state")


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "block_documents/filter", {}),
    ("POST", "variables/filter", {}),
    ("GET", "variables", None),
    ("DELETE", "flow_runs/{run}", None),
    ("PATCH", "flow_runs/{run}", {"tags": ["heroes-org:globex"]}),
    ("POST", "work_pools/filter", {}),
    ("POST", "deployments/", {"name": "mine"}),
])
def test_endpoints_outside_the_rules_are_403_for_a_customer_and_forwarded_for_an_operator(
        client: TestClient, tokens: Minter, prefect: FakePrefect, world: World,
        method: str, path: str, body: dict[str, Any] | None) -> None:
    path = path.replace("{run}", world.alices_run["id"])
    refused = client.request(method, f"/api/{path}", json=body, headers=tokens.headers(**ALICE))
    assert refused.status_code == 403 and refused.json()["action"] == "prefect-api"
    upstream_path = "/" + path
    assert not prefect.sent(method, upstream_path)
    client.request(method, f"/api/{path}", json=body, headers=tokens.headers(**OLIVIA))
    assert [call.body for call in prefect.sent(method, upstream_path)] == [body]


def test_a_forwarded_request_does_not_carry_the_callers_credentials(client: TestClient, tokens: Minter,
                                                                    prefect: FakePrefect) -> None:
    client.cookies.set("heroes_session", "whatever")
    client.post("/api/flow_runs/filter", json={}, headers={**tokens.headers(**ALICE), "X-Trace": "t-1"})
    forwarded = prefect.sent("POST", "/flow_runs/filter")[-1].headers
    assert "authorization" not in forwarded and "cookie" not in forwarded
    assert forwarded["x-trace"] == "t-1"  # the rest goes on


# --- launching ---------------------------------------------------------------------------------------

def test_create_flow_run_goes_through_the_launcher(client: TestClient, tokens: Minter,
                                                   prefect: FakePrefect, world: World) -> None:
    body = {"parameters": {"spec": {"n": 1}, "grant": "made-up"}, "tags": ["heroes-org:globex", "mine"],
            "idempotency_key": "k1"}
    response = client.post(f"/api/deployments/{world.run_job['id']}/create_flow_run", json=body,
                           headers=tokens.headers(**ALICE))
    assert response.status_code == 201, response.text
    forwarded = last(prefect, "POST", f"/deployments/{world.run_job['id']}/create_flow_run")
    assert forwarded["tags"] == ["mine", "heroes-org:acme", "heroes-user:alice"]
    assert forwarded["idempotency_key"] == "acme/alice/k1"
    assert forwarded["parameters"]["centre"] == "hpc-a"  # the deployment's default, merged in
    grant = verify_grant(forwarded["parameters"]["grant"], "run-job/default", forwarded["parameters"],
                         GRANT_KEY)
    assert (grant.identity.user, grant.identity.organisation) == ("alice", "acme")
    # The created run is the caller's: readable straight away.
    run_id = response.json()["id"]
    assert client.get(f"/api/flow_runs/{run_id}", headers=tokens.headers(**ALICE)).status_code == 200


def test_create_flow_run_with_operator_fields_is_403(client: TestClient, tokens: Minter,
                                                     prefect: FakePrefect, world: World) -> None:
    response = client.post(f"/api/deployments/{world.run_job['id']}/create_flow_run",
                           json={"job_variables": {"image": "evil"}}, headers=tokens.headers(**ALICE))
    assert response.status_code == 403
    assert not prefect.sent("POST", f"/deployments/{world.run_job['id']}/create_flow_run")


def test_create_flow_run_of_a_hidden_deployment_is_404(client: TestClient, tokens: Minter,
                                                       prefect: FakePrefect, world: World) -> None:
    for deployment in (world.enrol["id"], world.billing["id"], str(uuid.uuid4())):
        response = client.post(f"/api/deployments/{deployment}/create_flow_run", json={},
                               headers=tokens.headers(**ALICE))
        assert (response.status_code, response.json()) == (404, {"detail": "Not found."})
        assert not prefect.sent("POST", f"/deployments/{deployment}/create_flow_run")


def test_an_operators_run_of_an_administration_flow_goes_as_sent(client: TestClient, tokens: Minter,
                                                                 prefect: FakePrefect, world: World) -> None:
    body = {"parameters": {"centre": "hpc-b"}, "tags": ["maintenance"], "job_variables": {"x": 1}}
    response = client.post(f"/api/deployments/{world.enrol['id']}/create_flow_run", json=body,
                           headers=tokens.headers(**OLIVIA))
    assert response.status_code == 201
    assert last(prefect, "POST", f"/deployments/{world.enrol['id']}/create_flow_run") == body


def test_a_customer_of_another_organisation_sees_nothing_of_acme(client: TestClient, tokens: Minter,
                                                                 prefect: FakePrefect, world: World) -> None:
    headers = tokens.headers(**CAROL)
    listed = client.post("/api/flow_runs/filter", json={}, headers=headers).json()
    assert [run["id"] for run in listed] == [world.carols_run["id"]]
    assert client.get(f"/api/flow_runs/{world.alices_run['id']}", headers=headers).status_code == 404


def test_a_launch_cannot_read_workspace_variables_through_parameter_hydration(
        client: TestClient, tokens: Minter, prefect: FakePrefect, world: World) -> None:
    """Prefect hydrates ``{"__prefect_kind": ...}`` parameters when it creates a run from a deployment.

    ``workspace_variable`` puts a Prefect variable's value into the run's parameters, where
    the run's owner reads it back; the gateway refuses the variables endpoints to customers,
    so it must not let a launch read them either.
    """
    prefect.variables["db-password"] = "s3cret"
    headers = tokens.headers(**ALICE)
    body = {"parameters": {"spec": {"__prefect_kind": "workspace_variable", "variable_name": "db-password"}}}
    response = client.post(f"/api/deployments/{world.run_job['id']}/create_flow_run", json=body, headers=headers)
    if response.status_code == 201:
        read = client.get(f"/api/flow_runs/{response.json()['id']}", headers=headers)
        assert "s3cret" not in read.text, "a workspace variable reached the caller through the run's parameters"
    assert response.status_code in (403, 422)
    assert not prefect.sent("POST", f"/deployments/{world.run_job['id']}/create_flow_run")


def test_a_malformed_filter_is_refused_not_a_server_error(app: FastAPI, tokens: Minter, prefect: FakePrefect,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """A filter section that is not an object is the caller's mistake (4xx, logged), never a 500."""
    caplog.set_level("INFO", logger="heroes.gateway.requests")
    answers = {}
    with TestClient(app, raise_server_exceptions=False) as raw:
        for path, body in [("flow_runs/filter", {"flow_runs": "x"}),
                           ("flow_runs/filter", {"flow_runs": {"tags": ["x"]}}),
                           ("task_runs/filter", {"flow_runs": [1]}),
                           ("deployments/filter", {"deployments": {"id": "x"}}),
                           ("logs/filter", {"logs": "x"})]:
            answers[f"{path} {body}"] = raw.post(f"/api/{path}", json=body,
                                                 headers=tokens.headers(**ALICE)).status_code
    assert {case: status for case, status in answers.items() if not 400 <= status < 500} == {}
    assert len([r for r in caplog.records if r.name == "heroes.gateway.requests"]) == len(answers)
    assert not [call for call in prefect.calls if call.path.endswith("/filter")
                and call.body != {"limit": 200, "offset": 0, "sort": "NAME_ASC"}]  # only the gateway's own listing
