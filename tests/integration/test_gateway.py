"""The gateway against the test bed's real Keycloak and Prefect server (issue 11, part 6).

Users of two organisations log in to a fresh realm (``tenants``) and call the gateway with
their real tokens. A run launched through the gateway runs under the caller's identity to
completion; every way of reading runs (the HEROES API and the Prefect API the UI uses)
shows a user their organisation's runs only, whatever filter they send; what a role may
not do is refused with 403 naming the action; another organisation's run answers exactly
as a run that does not exist.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from prefect.client.orchestration import get_client

from heroes_core.identity import Action, read_grant, verify_grant
from tests.integration.grants import grant_key, job


def launch(gateway: Any, tenants: Any, user: str, parameters: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = gateway.post("/v1/deployments/run-job/run-job/runs", headers=tenants.headers(user),
                            json={"parameters": parameters, **extra})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture(scope="module")
def alices_run(gateway: Any, tenants: Any, image: dict[str, str], module_runner: Any) -> dict[str, Any]:
    """One run-job run launched by alice (project p1) through the gateway, run to its end."""
    created = launch(gateway, tenants, "alice", job(image, ["sh", "-c", "echo from-the-gateway"]),
                     project="p1", name=f"gw-{uuid.uuid4().hex[:8]}")
    return tenants.finished(gateway, "alice", created["id"])


def test_a_run_launched_through_the_gateway_completes_as_its_caller(alices_run: dict[str, Any],
                                                                    tenants: Any) -> None:
    assert alices_run["state"] == "COMPLETED", alices_run
    assert (alices_run["organisation"], alices_run["user"], alices_run["project"]) == \
        (tenants.organisations["acme"], "alice", "p1")


def test_the_gateways_grant_binds_the_caller_and_exactly_the_parameters_the_run_holds(
        alices_run: dict[str, Any], tenants: Any) -> None:
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(uuid.UUID(alices_run["id"]))
    key = grant_key()
    grant = read_grant(run.parameters["grant"], key)
    assert (grant.identity.user, grant.identity.organisation, grant.project, grant.action) == \
        ("alice", tenants.organisations["acme"], "p1", Action.SUBMIT_WORKFLOW)
    # the signature and the parameter digest hold for the run as Prefect stores it
    verify_grant(run.parameters["grant"], "run-job/run-job", run.parameters, key, now=grant.issued_at)


def test_a_user_of_another_organisation_sees_none_of_the_runs_and_the_same_404_as_for_no_run(
        gateway: Any, tenants: Any, alices_run: dict[str, Any]) -> None:
    listed = gateway.get("/v1/runs", headers=tenants.headers("bob")).json()
    assert alices_run["id"] not in {run["id"] for run in listed}
    theirs = gateway.get(f"/v1/runs/{alices_run['id']}", headers=tenants.headers("bob"))
    missing_id = str(uuid.uuid4())
    missing = gateway.get(f"/v1/runs/{missing_id}", headers=tenants.headers("bob"))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["detail"].replace(alices_run["id"], "ID") == \
        missing.json()["detail"].replace(missing_id, "ID")
    for path in ("logs", "artifacts"):
        assert gateway.get(f"/v1/runs/{alices_run['id']}/{path}", headers=tenants.headers("bob")).status_code == 404
    assert gateway.post(f"/v1/runs/{alices_run['id']}/cancel", headers=tenants.headers("bob")).status_code == 404


def test_the_owner_and_their_workflow_admin_read_the_run_and_its_logs(gateway: Any, tenants: Any,
                                                                      alices_run: dict[str, Any]) -> None:
    for user in ("alice", "carol"):
        listed = gateway.get("/v1/runs", headers=tenants.headers(user)).json()
        assert alices_run["id"] in {run["id"] for run in listed}, user
        logs = gateway.get(f"/v1/runs/{alices_run['id']}/logs", headers=tenants.headers(user)).json()
        assert any("Run admitted for user 'alice'" in line["message"] for line in logs), logs


def test_the_prefect_api_behind_the_gateway_lists_only_the_callers_organisation_whatever_the_filter(
        gateway: Any, tenants: Any, alices_run: dict[str, Any]) -> None:
    acme_tag = f"heroes-org:{tenants.organisations['acme']}"
    widening = {"flow_runs": {"operator": "or_", "tags": {"operator": "or_", "any_": [acme_tag]},
                              "id": {"any_": [alices_run["id"]]}}}
    for body in ({}, widening):
        seen = gateway.post("/api/flow_runs/filter", headers=tenants.headers("bob"), json=body)
        assert seen.status_code == 200, seen.text
        assert alices_run["id"] not in {run["id"] for run in seen.json()}
    own = gateway.post("/api/flow_runs/filter", headers=tenants.headers("alice"), json={"limit": 200}).json()
    assert alices_run["id"] in {run["id"] for run in own}
    assert all(acme_tag in run["tags"] for run in own)
    assert gateway.get(f"/api/flow_runs/{alices_run['id']}", headers=tenants.headers("bob")).status_code == 404
    logs = gateway.post("/api/logs/filter", headers=tenants.headers("bob"),
                        json={"logs": {"flow_run_id": {"any_": [alices_run["id"]]}}})
    assert logs.status_code == 404


def test_the_prefect_api_refuses_customers_what_only_operators_may_reach(gateway: Any, tenants: Any) -> None:
    for path in ("block_documents/filter", "variables/filter", "work_pools/filter"):
        refused = gateway.post(f"/api/{path}", headers=tenants.headers("alice"), json={})
        assert refused.status_code == 403, (path, refused.text)
        assert "may not call POST" in refused.json()["detail"]
        assert gateway.post(f"/api/{path}", headers=tenants.headers("dave"), json={}).status_code == 200


def test_deployments_show_only_what_the_role_may_launch(gateway: Any, tenants: Any, module_runner: Any) -> None:
    def names(user: str) -> set[str]:
        return {d["name"] for d in gateway.get("/v1/deployments", headers=tenants.headers(user)).json()}

    assert {"run-job/run-job", "run-workflow/run-workflow"} <= names("alice")
    assert "billing-report/billing-report" not in names("alice")
    assert names("bill") == {"billing-report/billing-report", "usage-summary/usage-summary"}
    assert "enroll-hpc-centre/enroll-hpc-centre" not in names("alice") | names("carol") | names("bill")
    assert "watch-budgets/watch-budgets" in names("dave")


def test_a_run_created_from_the_prefect_ui_gets_the_callers_identity_not_the_tags_it_claims(
        gateway: Any, tenants: Any, image: dict[str, str], module_runner: Any) -> None:
    deployment = next(d for d in gateway.get("/v1/deployments", headers=tenants.headers("bob")).json()
                      if d["name"] == "run-job/run-job")
    forged = f"heroes-org:{tenants.organisations['acme']}"
    created = gateway.post(f"/api/deployments/{deployment['id']}/create_flow_run", headers=tenants.headers("bob"),
                           json={"parameters": job(image, ["true"]), "tags": [forged, "heroes-user:alice", "mine"],
                                 "state": {"type": "SCHEDULED"}})
    assert created.status_code == 201, created.text
    run = created.json()
    assert forged not in run["tags"] and "heroes-user:alice" not in run["tags"]
    assert {f"heroes-org:{tenants.organisations['umbrella']}", "heroes-user:bob", "mine"} <= set(run["tags"])
    assert read_grant(run["parameters"]["grant"], grant_key()).identity.user == "bob"
    done = tenants.finished(gateway, "bob", run["id"])
    assert done["state"] == "COMPLETED", done


def test_a_role_without_the_action_is_refused_with_403_naming_it(gateway: Any, tenants: Any,
                                                                 image: dict[str, str], module_runner: Any) -> None:
    runs = gateway.get("/v1/runs", headers=tenants.headers("bill"))
    assert runs.status_code == 403 and runs.json()["action"] == Action.READ_RUNS.value
    launched = gateway.post("/v1/deployments/run-job/run-job/runs", headers=tenants.headers("alice"),
                            json={"parameters": job(image, ["true"]), "project": "not-mine"})
    assert launched.status_code == 403, launched.text
    assert launched.json()["action"] == Action.SUBMIT_WORKFLOW.value
    assert tenants.organisations["umbrella"] not in launched.text


def test_every_request_is_logged_with_who_what_and_the_outcome(gateway: Any, tenants: Any,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="heroes.gateway.requests"):
        gateway.get("/v1/whoami", headers=tenants.headers("alice"))
        gateway.get("/v1/runs", headers=tenants.headers("bill"))
        gateway.get("/v1/whoami", headers={"Authorization": "Bearer not-a-token"})
    lines = [record.getMessage() for record in caplog.records if record.name == "heroes.gateway.requests"]
    acme = tenants.organisations["acme"]
    assert any(line.startswith(f"alice@{acme} GET /v1/whoami -> 200") for line in lines), lines
    assert any(line.startswith(f"bill@{acme} GET /v1/runs -> 403") for line in lines), lines
    assert any(line.startswith("anonymous GET /v1/whoami -> 401") for line in lines), lines


def test_tokens_that_prove_nothing_get_401_with_the_reason(gateway: Any, tenants: Any) -> None:
    token = tenants.token("alice")
    head, payload, signature = token.split(".")
    tampered = f"{head}.{payload}.{signature[:-4]}{'AAAA' if not signature.endswith('AAAA') else 'BBBB'}"
    for header, reason in ((f"Bearer {tampered}", "bad-signature"), ("Bearer x.y.z", "malformed"),
                           ("Basic abc", "malformed")):
        refused = gateway.get("/v1/whoami", headers={"Authorization": header})
        assert refused.status_code == 401 and refused.json()["reason"] == reason, (header, refused.text)


def test_no_path_trick_reaches_the_prefect_api_past_the_gateways_rules(gateway: Any, tenants: Any) -> None:
    secret = "/api/block_types/slug/secret/block_documents/name/heroes-grant-key%3Finclude_secrets=true"
    tricks = ("/v1/%2e%2e/api/health", "/x/%2e%2e/api/health", "/v1/runs/..%2F..%2Fapi%2Fhealth",
              f"/v1/%2e%2e{secret}", f"/x/%2e%2e{secret}", "/api/flow_runs/..%2Fhealth")
    key = grant_key()
    for path in tricks:
        for headers in ({}, tenants.headers("bob"), {"Accept": "text/html", **tenants.headers("bob")}):
            answer = gateway.get(path, headers=headers, follow_redirects=False)
            assert answer.status_code in (401, 403, 404), (path, answer.status_code, answer.text[:200])
            assert key not in answer.text
