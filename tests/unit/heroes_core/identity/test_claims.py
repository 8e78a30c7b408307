"""Identity.from_claims: the Keycloak claim layout, and what it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from heroes_core.identity import ClaimLayout, Identity, Role, TokenError, TokenFailure


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sub": "5f1c-user", "preferred_username": "alice", "organization": ["acme"],
        "realm_access": {"roles": ["engineer", "offline_access", "default-roles-heroes", "workflow-admin"]},
        "groups": ["/acme/projects/cfd", "/acme/projects/ml", "/acme/staff", "/globex/projects/secret",
                   "/acme/projects/bad name"],
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not None}


def test_a_keycloak_user_token() -> None:
    identity = Identity.from_claims(claims())
    assert identity == Identity(subject="5f1c-user", user="alice", organisation="acme",
                                projects=frozenset({"cfd", "ml"}),
                                roles=frozenset({Role.ENGINEER, Role.WORKFLOW_ADMIN}))
    assert not identity.service_account and not identity.platform


def test_the_organisation_as_keycloak_maps_it_with_attributes() -> None:
    identity = Identity.from_claims(claims(organization={"acme": {"id": "42"}}))
    assert identity.organisation == "acme"


def test_a_service_account_with_a_hardcoded_organisation() -> None:
    identity = Identity.from_claims(claims(preferred_username="service-account-heroes-decision",
                                           organization=None, heroes_org="heroes", groups=None,
                                           realm_access={"roles": ["infrastructure-admin"]}))
    assert identity.service_account and identity.platform
    assert identity.roles == {Role.INFRASTRUCTURE_ADMIN} and identity.projects == frozenset()


def test_another_layout() -> None:
    layout = ClaimLayout(organisation_claim="org", roles_claim="resource_access.heroes.roles",
                         project_group_prefix="/projects/")
    identity = Identity.from_claims({"sub": "s", "preferred_username": "bob", "org": "acme",
                                     "resource_access": {"heroes": {"roles": ["billing-admin"]}},
                                     "groups": ["/projects/p1"]}, layout)
    assert identity.roles == {Role.BILLING_ADMIN} and identity.projects == {"p1"}


@pytest.mark.parametrize(("overrides", "words"), [
    ({"organization": None}, "exactly one organisation, not 0"),
    ({"organization": ["acme", "globex"]}, "exactly one organisation, not 2"),
    ({"organization": 7}, "neither a list nor a map"),
    ({"heroes_org": "globex"}, "disagree"),
    ({"organization": ["Acme Corp"]}, "String should match pattern"),
    ({"organization": ["images"]}, "reserved"),
    ({"preferred_username": "alice@acme.org"}, "String should match pattern"),
    ({"preferred_username": "heroes"}, "reserved"),
    ({"preferred_username": None}, "'preferred_username' is missing"),
    ({"sub": ""}, "'sub' is missing"),
    ({"realm_access": {"roles": "engineer"}}, "not a list of strings"),
    ({"realm_access": {"roles": ["tenant-admin"]}}, "belong to the HEROES organisation"),
])
def test_refused_claims(overrides: dict[str, Any], words: str) -> None:
    with pytest.raises(TokenError) as raised:
        Identity.from_claims(claims(**overrides))
    assert raised.value.reason is TokenFailure.INVALID_CLAIMS and raised.value.http_status == 401
    assert words in str(raised.value)
