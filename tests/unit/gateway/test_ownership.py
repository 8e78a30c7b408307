"""Owner tags: written on every run the gateway launches, read back to decide who sees a run."""

from __future__ import annotations

import pytest

from heroes.gateway.ownership import caller_tags, chosen_project, listing_tags, owner_tags, run_resource
from heroes_core.errors import PermissionDeniedError
from heroes_core.identity import Action, ResourceKind
from tests.unit.gateway.conftest import identity


def test_owner_tags_name_organisation_user_and_project() -> None:
    alice = identity(projects=("climate",))
    assert owner_tags(alice, None) == ["heroes-org:acme", "heroes-user:alice"]
    assert owner_tags(alice, "climate") == ["heroes-org:acme", "heroes-user:alice", "heroes-project:climate"]


def test_caller_tags_strip_every_owner_claim() -> None:
    sent = ["mine", "heroes-org:globex", "heroes-user:carol", "heroes-project:secret", "heroes-anything",
            "project:climate", "nightly", "org:fine"]
    assert caller_tags(sent) == ["mine", "nightly", "org:fine"]


def test_chosen_project_is_the_first_project_tag() -> None:
    assert chosen_project(["a", "project:climate", "project:other"]) == "climate"
    assert chosen_project(["a", "heroes-project:climate"]) is None


def test_run_resource_from_owner_tags() -> None:
    resource = run_resource("r1", ["x", "heroes-org:acme", "heroes-user:alice", "heroes-project:climate"])
    assert resource is not None
    assert (resource.kind, resource.organisation, resource.owner, resource.project, resource.id) == (
        ResourceKind.RUN, "acme", "alice", "climate", "r1")
    without_project = run_resource("r2", ["heroes-org:acme", "heroes-user:alice"])
    assert without_project is not None and without_project.project is None


@pytest.mark.parametrize("tags", [
    [], ["heroes-org:acme"], ["heroes-user:alice"], ["org:acme", "user:alice"],
])
def test_run_resource_is_none_without_organisation_and_user(tags: list[str]) -> None:
    assert run_resource("r", tags) is None


@pytest.mark.parametrize("tags", [
    ["heroes-org:images", "heroes-user:alice"],  # a reserved organisation name
    ["heroes-org:acme", "heroes-user:bad name"],
    ["heroes-org:acme", "heroes-user:alice", "heroes-project:../x"],
])
def test_run_resource_is_none_for_tags_no_gateway_wrote(tags: list[str]) -> None:
    assert run_resource("r", tags) is None


def test_listing_tags_of_an_engineer_are_their_own_runs() -> None:
    assert listing_tags(identity()) == ["heroes-org:acme", "heroes-user:alice"]


def test_listing_tags_of_a_workflow_admin_are_the_organisations_runs() -> None:
    assert listing_tags(identity("walter", roles=("workflow-admin",))) == ["heroes-org:acme"]
    assert listing_tags(identity("walter", roles=("engineer", "workflow-admin"))) == ["heroes-org:acme"]


def test_a_billing_admin_may_list_no_runs_and_is_told_which_action() -> None:
    with pytest.raises(PermissionDeniedError) as refused:
        listing_tags(identity("bill", roles=("billing-admin",)))
    assert refused.value.action == Action.READ_RUNS.value
    assert "may not read-runs" in str(refused.value)


def test_listing_tags_of_a_solution_admin_stay_in_their_organisation() -> None:
    dave = identity("dave", "heroes", roles=("solution-admin",))
    assert listing_tags(dave) == ["heroes-org:heroes"]
    assert listing_tags(dave, Action.MANAGE_INFRASTRUCTURE) == ["heroes-org:heroes"]
