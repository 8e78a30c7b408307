"""Names provisioning gives Keycloak are checked before anything reaches it, and what passes
is what Identity.from_claims reads back."""

from __future__ import annotations

import pytest

from heroes_core.errors import SpecError
from heroes_core.identity import Identity, Role
from heroes_core.identity.naming import (
    organisation_name,
    project_name,
    realm_name,
    role_names,
    service_account_name,
    service_client_id,
    user_name,
)


@pytest.mark.parametrize("name", ["acme", "heroes", "a-1", "x" * 40, "abc"])
def test_good_organisation_names(name: str) -> None:
    assert organisation_name(name) == name


@pytest.mark.parametrize("name", ["images", "Acme", "a", "ab", "-acme", "acme-", "ac.me", "a/b", "x" * 41,
                                  "acme/../other", ""])
def test_bad_organisation_names(name: str) -> None:
    with pytest.raises(SpecError):
        organisation_name(name)


@pytest.mark.parametrize("name", ["alice", "a", "bob.smith", "c_d-e", "x" * 64])
def test_good_user_names(name: str) -> None:
    assert user_name(name) == name


@pytest.mark.parametrize("name", ["Alice", "", ".alice", "a/b", "x" * 65, "heroes", "billing", "projects",
                                  "service-account-acme.ingest", "al ice"])
def test_bad_user_names(name: str) -> None:
    with pytest.raises(SpecError) as error:
        user_name(name)
    assert error.value.fix


@pytest.mark.parametrize("name", ["p1", "climate-2026", "a_b", "x" * 63])
def test_good_project_names(name: str) -> None:
    assert project_name(name) == name


@pytest.mark.parametrize("name", ["", "P1", "a/b", "..", "a.b", "-p", "x" * 64, "p 1"])
def test_bad_project_names(name: str) -> None:
    with pytest.raises(SpecError):
        project_name(name)


@pytest.mark.parametrize("name", ["", "Ingest", "a.b", "x" * 32, "-x"])
def test_bad_service_account_names(name: str) -> None:
    with pytest.raises(SpecError):
        service_account_name(name)


def test_service_client_ids_cannot_collide_across_organisations() -> None:
    # "acme" + "x-y" and "acme-x" + "y" would both be "acme-x-y" with a dash between.
    assert service_client_id("acme", "x-y") != service_client_id("acme-x", "y")
    assert service_client_id("acme", "ingest") == "acme.ingest"


def test_service_client_id_keeps_the_user_name_within_64_characters() -> None:
    assert service_client_id("o" * 40, "s" * 7)  # 16 + 40 + 1 + 7 = 64
    with pytest.raises(SpecError, match="longer than 64"):
        service_client_id("o" * 40, "s" * 8)


@pytest.mark.parametrize("name", ["master", "Heroes", "", "a_b"])
def test_bad_realm_names(name: str) -> None:
    with pytest.raises(SpecError):
        realm_name(name)


def test_roles_are_checked_and_platform_roles_stay_in_heroes() -> None:
    assert role_names("acme", ["engineer", Role.BILLING_ADMIN]) == {Role.ENGINEER, Role.BILLING_ADMIN}
    assert role_names("heroes", ["tenant-admin"]) == {Role.TENANT_ADMIN}
    with pytest.raises(SpecError, match="HEROES organisation"):
        role_names("acme", ["tenant-admin"])
    with pytest.raises(SpecError, match="not a HEROES role"):
        role_names("acme", ["admin"])


def test_what_passes_is_what_the_identity_reads_back() -> None:
    organisation, user, project = organisation_name("acme"), user_name("bob.smith"), project_name("p_1")
    client = service_client_id(organisation, "ingest")
    identity = Identity.from_claims({"sub": "s", "preferred_username": user, "organization": [organisation],
                                     "groups": [f"/{organisation}/projects/{project}"]})
    assert (identity.user, identity.organisation, identity.projects) == (user, organisation, {project})
    service = Identity.from_claims({"sub": "t", "preferred_username": f"service-account-{client}",
                                    "heroes_org": organisation})
    assert service.service_account and service.organisation == organisation
