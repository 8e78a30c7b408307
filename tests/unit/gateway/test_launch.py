"""Launcher.prepare: what a caller may choose, and what the gateway adds (defaults, grant, owner)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from heroes.gateway.launch import Launcher, is_operator, may_see
from heroes.gateway.upstream import Upstream
from heroes_core.errors import GrantForgedError, PermissionDeniedError, SpecError
from heroes_core.identity import Action, read_grant, verify_grant
from tests.unit.gateway.conftest import GRANT_KEY, PREFECT, identity

RUN_JOB = {"id": "d-1", "name": "default", "flow_name": "run-job",
           "parameters": {"centre": "hpc-a", "poll_interval": 1.0}}
BILLING = {"id": "d-2", "name": "monthly", "flow_name": "billing-report", "parameters": {}}
ENROL = {"id": "d-3", "name": "default", "flow_name": "enrol-centre", "parameters": {"centre": "hpc-a"}}

ALICE = identity(projects=("climate", "ocean"))
OLIVIA = identity("olivia", "heroes", roles=("infrastructure-admin",))


@pytest.fixture
def launcher() -> Iterator[Launcher]:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"prepare called the Prefect API: {request.method} {request.url}")

    yield Launcher(Upstream(PREFECT, transport=httpx.MockTransport(unreachable)), GRANT_KEY,
                   timedelta(minutes=5))


def test_prepare_merges_the_deployments_defaults_under_the_callers_parameters(launcher: Launcher) -> None:
    body = launcher.prepare(ALICE, RUN_JOB, {"parameters": {"spec": {"image": "x"}, "poll_interval": 2}})
    parameters = {key: value for key, value in body["parameters"].items() if key != "grant"}
    assert parameters == {"centre": "hpc-a", "poll_interval": 2, "spec": {"image": "x"}}


def test_prepare_drops_a_sent_grant_and_issues_one_that_verifies(launcher: Launcher) -> None:
    body = launcher.prepare(ALICE, RUN_JOB, {"parameters": {"spec": {"n": 1}, "grant": "forged.grant.here"}})
    grant = body["parameters"]["grant"]
    assert grant != "forged.grant.here"
    verified = verify_grant(grant, "run-job/default", body["parameters"], GRANT_KEY)
    assert verified.identity == ALICE
    assert verified.action is Action.SUBMIT_WORKFLOW and verified.project is None
    # Bound to the parameters exactly as the run holds them, and to this deployment.
    with pytest.raises(Exception, match="parameters"):
        verify_grant(grant, "run-job/default", {**body["parameters"], "centre": "hpc-b"}, GRANT_KEY)
    with pytest.raises(Exception, match="deployment"):
        verify_grant(grant, "run-job/other", body["parameters"], GRANT_KEY)
    with pytest.raises(GrantForgedError):
        verify_grant(grant, "run-job/default", body["parameters"], "z" * 40)


def test_prepare_issues_a_grant_that_lives_the_launchers_ttl(launcher: Launcher) -> None:
    grant = read_grant(launcher.prepare(ALICE, RUN_JOB, {})["parameters"]["grant"], GRANT_KEY)
    assert grant.expires_at - grant.issued_at == timedelta(minutes=5)


def test_prepare_drops_forged_owner_tags_and_adds_the_callers(launcher: Launcher) -> None:
    body = launcher.prepare(ALICE, RUN_JOB, {"tags": ["heroes-org:other", "heroes-user:mallory",
                                                      "heroes-project:secret", "nightly", "nightly", "a"]})
    assert body["tags"] == ["a", "nightly", "heroes-org:acme", "heroes-user:alice"]


def test_prepare_scopes_the_idempotency_key_to_the_caller(launcher: Launcher) -> None:
    body = launcher.prepare(ALICE, RUN_JOB, {"idempotency_key": "k-42"})
    assert body["idempotency_key"] == "acme/alice/k-42"
    # None sent: the gateway makes one up (so it may retry the creation), still scoped to the caller.
    made = [launcher.prepare(ALICE, RUN_JOB, {})["idempotency_key"] for _ in range(2)]
    assert all(key.startswith("acme/alice/") for key in made) and made[0] != made[1]
    forged = launcher.prepare(ALICE, RUN_JOB, {"idempotency_key": "globex/carol/k-1"})["idempotency_key"]
    assert forged == "acme/alice/globex/carol/k-1"


def test_prepare_keeps_a_name_and_a_scheduled_state_only(launcher: Launcher) -> None:
    scheduled = {"type": "SCHEDULED", "state_details": {"scheduled_time": "2030-01-01T00:00:00Z"}}
    body = launcher.prepare(ALICE, RUN_JOB, {"name": "my-run", "state": scheduled})
    assert body["name"] == "my-run" and body["state"] == scheduled
    assert "state" not in launcher.prepare(ALICE, RUN_JOB, {"state": {"type": "COMPLETED"}})
    assert set(launcher.prepare(ALICE, RUN_JOB, {"enforce_parameter_schema": True})) == {
        "parameters", "tags", "idempotency_key"}


@pytest.mark.parametrize("field", [{"job_variables": {"image": "evil"}}, {"work_queue_name": "gpu"},
                                   {"parent_task_run_id": "abc"}, {"context": {"x": 1}}])
def test_prepare_refuses_operator_fields(launcher: Launcher, field: dict[str, Any]) -> None:
    with pytest.raises(PermissionDeniedError) as refused:
        launcher.prepare(ALICE, RUN_JOB, {"parameters": {}, **field})
    assert refused.value.action == Action.SUBMIT_WORKFLOW.value
    assert next(iter(field)) in str(refused.value)


def test_prepare_refuses_a_project_not_among_the_callers(launcher: Launcher) -> None:
    with pytest.raises(PermissionDeniedError) as refused:
        launcher.prepare(ALICE, RUN_JOB, {}, project="secret")
    assert refused.value.action == Action.SUBMIT_WORKFLOW.value
    with pytest.raises(PermissionDeniedError):
        launcher.prepare(ALICE, RUN_JOB, {"tags": ["project:secret"]})


def test_a_project_tag_chooses_the_project(launcher: Launcher) -> None:
    body = launcher.prepare(ALICE, RUN_JOB, {"tags": ["project:climate", "mine"]})
    assert body["tags"] == ["mine", "heroes-org:acme", "heroes-user:alice", "heroes-project:climate"]
    assert read_grant(body["parameters"]["grant"], GRANT_KEY).project == "climate"


def test_an_explicit_project_wins_over_a_project_tag(launcher: Launcher) -> None:
    body = launcher.prepare(ALICE, RUN_JOB, {"tags": ["project:climate"]}, project="ocean")
    assert body["tags"][-1] == "heroes-project:ocean"
    assert read_grant(body["parameters"]["grant"], GRANT_KEY).project == "ocean"


def test_prepare_needs_the_action_of_the_flow(launcher: Launcher) -> None:
    bill = identity("bill", roles=("billing-admin",))
    with pytest.raises(PermissionDeniedError) as refused:
        launcher.prepare(bill, RUN_JOB, {})
    assert refused.value.action == Action.SUBMIT_WORKFLOW.value
    grant = read_grant(launcher.prepare(bill, BILLING, {})["parameters"]["grant"], GRANT_KEY)
    assert grant.action is Action.BILLING and grant.deployment == "billing-report/monthly"
    with pytest.raises(PermissionDeniedError):
        launcher.prepare(ALICE, BILLING, {})


def test_an_administration_flow_is_refused_to_a_customer(launcher: Launcher) -> None:
    with pytest.raises(PermissionDeniedError) as refused:
        launcher.prepare(ALICE, ENROL, {"parameters": {"centre": "hpc-b"}})
    assert refused.value.action == Action.MANAGE_INFRASTRUCTURE.value
    assert not may_see(ALICE, ENROL)


def test_an_administration_flow_goes_unchanged_for_an_operator(launcher: Launcher) -> None:
    request = {"parameters": {"centre": "hpc-b"}, "job_variables": {"x": 1}, "tags": ["heroes-org:acme"]}
    assert is_operator(OLIVIA) and not is_operator(ALICE)
    assert may_see(OLIVIA, ENROL)
    assert launcher.prepare(OLIVIA, ENROL, request) == request


def test_may_see_follows_the_callers_roles() -> None:
    bill = identity("bill", roles=("billing-admin",))
    assert may_see(ALICE, RUN_JOB) and not may_see(ALICE, BILLING)
    assert may_see(bill, BILLING) and not may_see(bill, RUN_JOB)
    assert all(may_see(OLIVIA, d) for d in (RUN_JOB, BILLING, ENROL))


@pytest.mark.parametrize("value", [
    {"__prefect_kind": "workspace_variable", "variable_name": "db-password"},
    {"__prefect_kind": "jinja", "template": "{{ 6 * 7 }}"},
    [{"nested": {"__prefect_kind": "workspace_variable", "variable_name": "db-password"}}],
    {"__prefect_kind": "json", "value": "{not json"},
])
def test_prepare_refuses_parameters_prefect_would_hydrate(launcher: Launcher, value: Any) -> None:
    """Prefect rewrites such values when it creates the run: the grant would bind what the run never
    holds, and a workspace variable's value would land in the caller's run."""
    with pytest.raises((PermissionDeniedError, SpecError)):
        launcher.prepare(ALICE, RUN_JOB, {"parameters": {"spec": value}})


@pytest.mark.parametrize(("sent", "held"), [
    ({"__prefect_kind": "json", "value": "{\"command\": [\"true\"]}"}, {"command": ["true"]}),
    ([{"nested": {"__prefect_kind": "json", "value": "{}"}}], [{"nested": {}}]),
    ({"a": {"__prefect_kind": "none", "value": 3}, "b": {"__prefect_kind": "json"}}, {"a": 3}),
])
def test_prepare_unwraps_the_json_the_prefect_ui_sends_so_the_grant_binds_what_the_run_holds(
        launcher: Launcher, sent: Any, held: Any) -> None:
    body = launcher.prepare(ALICE, RUN_JOB, {"parameters": {"spec": sent}})
    assert body["parameters"]["spec"] == held
    verify_grant(body["parameters"]["grant"], "run-job/default", body["parameters"], GRANT_KEY)


def test_prepare_unwraps_a_whole_parameters_object_sent_as_json(launcher: Launcher) -> None:
    """The older Prefect UI sends the whole form as one JSON text."""
    body = launcher.prepare(ALICE, RUN_JOB, {"parameters": {"__prefect_kind": "json",
                                                            "value": "{\"spec\": {\"x\": 1}}"}})
    assert body["parameters"]["spec"] == {"x": 1}
