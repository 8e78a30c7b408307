"""authorize, require and visible on the cases a gateway meets: homes, projects, platform roles, listings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from heroes_core.identity import (
    Action,
    Identity,
    PermissionDeniedError,
    Resource,
    ResourceKind,
    Role,
    authorize,
    require,
    visible,
)


def member(*roles: Role, user: str = "alice", organisation: str = "acme",
           projects: frozenset[str] = frozenset({"cfd"})) -> Identity:
    return Identity(subject=f"sub-{user}", user=user, organisation=organisation, projects=projects,
                    roles=frozenset(roles))


def run(owner: str, organisation: str = "acme", project: str | None = "cfd") -> Resource:
    return Resource(kind=ResourceKind.RUN, organisation=organisation, owner=owner, project=project,
                    id=f"run-{owner}")


def test_a_home_is_only_its_owners_whatever_the_role() -> None:
    everyone = member(*(role for role in Role if role.value not in
                        ("solution-admin", "tenant-admin", "infrastructure-admin", "heroes-billing-admin")))
    bobs_home = Resource(kind=ResourceKind.HOME, organisation="acme", owner="bob")
    assert not authorize(everyone, Action.ACCESS_HOME_DATA, bobs_home).allowed
    assert authorize(everyone, Action.ACCESS_HOME_DATA, bobs_home.model_copy(update={"owner": "alice"})).allowed
    ownerless = Resource(kind=ResourceKind.HOME, organisation="acme")
    assert not authorize(everyone, Action.ACCESS_HOME_DATA, ownerless).allowed
    solution = member(Role.SOLUTION_ADMIN, organisation="heroes")
    assert not authorize(solution, Action.ACCESS_HOME_DATA, bobs_home).allowed
    assert not authorize(solution, Action.ACCESS_HOME_DATA,
                         bobs_home.model_copy(update={"organisation": "heroes"})).allowed


def test_submitting_needs_the_project_or_no_project() -> None:
    engineer = member(Role.ENGINEER)
    workflow = Resource(kind=ResourceKind.WORKFLOW, organisation="acme", id="run-job")
    assert authorize(engineer, Action.SUBMIT_WORKFLOW, workflow).allowed
    assert authorize(engineer, Action.SUBMIT_WORKFLOW, workflow.model_copy(update={"project": "cfd"})).allowed
    decision = authorize(engineer, Action.SUBMIT_WORKFLOW, workflow.model_copy(update={"project": "ml"}))
    assert not decision.allowed
    assert decision.reason == ("engineer may submit-workflow only on workflow resources of organisation "
                               "'acme' in their projects")


def test_runs_own_for_engineers_whole_organisation_for_workflow_admins() -> None:
    engineer, admin = member(Role.ENGINEER), member(Role.WORKFLOW_ADMIN, user="wendy")
    runs = [run("alice"), run("bob"), run("bob", project="ml"), run("carol", organisation="globex")]
    assert visible(engineer, runs) == [runs[0]]
    assert visible(admin, runs) == runs[:3]
    assert authorize(admin, Action.CANCEL_RUN, runs[1]).allowed
    assert not authorize(engineer, Action.CANCEL_RUN, runs[1]).allowed
    assert authorize(engineer, Action.CANCEL_RUN, runs[0]).allowed


def test_the_widest_grant_wins_when_a_caller_holds_several_roles() -> None:
    both = member(Role.ENGINEER, Role.WORKFLOW_ADMIN)
    decision = authorize(both, Action.READ_RUNS, run("bob"))
    assert decision.allowed and decision.role is Role.WORKFLOW_ADMIN
    assert authorize(both, Action.READ_RUNS, run("alice")).role is Role.WORKFLOW_ADMIN


def test_platform_roles_reach_other_organisations_only_for_platform_actions() -> None:
    tenant = member(Role.TENANT_ADMIN, user="tom", organisation="heroes")
    infra = member(Role.INFRASTRUCTURE_ADMIN, user="ivan", organisation="heroes")
    solution = member(Role.SOLUTION_ADMIN, user="sol", organisation="heroes")
    acme = Resource(kind=ResourceKind.ORGANISATION, organisation="acme", id="acme")
    centre = Resource(kind=ResourceKind.INFRASTRUCTURE, organisation="acme", id="meluxina")
    service = Resource(kind=ResourceKind.SERVICE_ACCOUNT, organisation="acme", id="heroes-svc")
    assert authorize(tenant, Action.MANAGE_ORGANISATIONS, acme).allowed
    assert authorize(infra, Action.MANAGE_INFRASTRUCTURE, centre).allowed
    assert authorize(infra, Action.MANAGE_SERVICE_ACCOUNTS, service).allowed
    assert not authorize(infra, Action.MANAGE_ORGANISATIONS, acme).allowed
    # Table 1's crosses stay inside the HEROES organisation, even for the solution admin
    for action, kind in [(Action.MANAGE_USERS, ResourceKind.MEMBERSHIP), (Action.BILLING, ResourceKind.BILLING),
                         (Action.READ_RUNS, ResourceKind.RUN), (Action.MANAGE_DATA_ACCESS, ResourceKind.DATA)]:
        foreign = Resource(kind=kind, organisation="acme", owner="bob")
        assert not authorize(solution, action, foreign).allowed
        assert not authorize(tenant, action, foreign).allowed
        assert authorize(solution, action, foreign.model_copy(update={"organisation": "heroes",
                                                                      "owner": "sol"})).allowed


def test_platform_roles_belong_to_the_heroes_organisation_only() -> None:
    with pytest.raises(ValidationError, match="HEROES organisation"):
        member(Role.TENANT_ADMIN, organisation="acme")
    with pytest.raises(ValidationError, match="reserved"):
        member(Role.ENGINEER, organisation="images")
    with pytest.raises(ValidationError, match="reserved"):
        member(Role.ENGINEER, user="billing")


def test_an_action_on_the_wrong_kind_of_resource_is_refused() -> None:
    decision = authorize(member(Role.SOLUTION_ADMIN, organisation="heroes"), Action.SUBMIT_WORKFLOW,
                         Resource(kind=ResourceKind.HOME, organisation="heroes", owner="alice"))
    assert not decision.allowed and "does not apply" in decision.reason


def test_require_names_the_action_the_roles_and_the_fix() -> None:
    billing = member(Role.BILLING_ADMIN, user="bill")
    with pytest.raises(PermissionDeniedError) as raised:
        require(billing, Action.SUBMIT_WORKFLOW, Resource(kind=ResourceKind.WORKFLOW, organisation="acme"))
    message = str(raised.value)
    assert "'bill' of organisation 'acme' (billing-admin) may not submit-workflow" in message
    assert "none of the caller's roles (billing-admin) allows submit-workflow" in message
    assert raised.value.fix is not None and "engineer" in raised.value.fix
    nobody = member()
    with pytest.raises(PermissionDeniedError, match="no HEROES role"):
        require(nobody, Action.READ_RUNS, run("alice"))
    assert require(member(Role.ENGINEER), Action.READ_RUNS, run("alice")).allowed


def test_visible_with_an_explicit_action() -> None:
    admin = member(Role.WORKFLOW_ADMIN)
    workflows = [Resource(kind=ResourceKind.WORKFLOW, organisation=org, id="run-job") for org in ("acme", "globex")]
    assert visible(admin, workflows, Action.MANAGE_WORKFLOWS) == workflows[:1]
    assert visible(member(Role.BILLING_ADMIN), workflows) == []
    assert visible(admin, workflows, Action.BILLING) == []
