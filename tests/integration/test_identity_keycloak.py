"""Provisioning and tokens against the test bed's real Keycloak (issue 11, parts 1-4 together).

A uniquely named realm per module is provisioned through ``IdentityAdmin`` (two customer
organisations and the HEROES organisation, users of several roles, a service account),
provisioned again to show nothing changes, and deleted afterwards. Users log in with the
password grant through the public client; their access tokens verify offline with the
realm's ``TokenVerifier`` and the identity they describe goes through ``authorize``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from keycloak import KeycloakOpenID
from pydantic import SecretStr

from heroes_core.errors import PermissionDeniedError, TokenError, TokenFailure
from heroes_core.identity import (
    Action,
    Identity,
    IdentityAdmin,
    IdentityProviderError,
    KeycloakSettings,
    ProvisioningError,
    Resource,
    ResourceKind,
    Role,
    TokenVerifier,
    authorize,
    require,
)

PASSWORDS = {"alice": "alice-pw-1", "bob": "bob-pw-1", "carol": "carol-pw-1", "dave": "dave-pw-1"}


def provision(admin: IdentityAdmin) -> list[str]:
    """The whole test world; returns every change made."""
    changes = admin.ensure_realm(direct_access_grants=True)
    for organisation in ("acme", "globex", "heroes"):
        changes += admin.ensure_organisation(organisation)
    for organisation, project in (("acme", "climate"), ("acme", "fusion"), ("globex", "climate")):
        changes += admin.ensure_project(organisation, project)
    users: list[tuple[str, str, list[Role], list[str]]] = [
        ("acme", "alice", [Role.ENGINEER], ["climate"]),
        ("acme", "bob", [Role.BILLING_ADMIN, Role.PROJECT_ADMIN], []),
        ("globex", "carol", [Role.WORKFLOW_ADMIN, Role.ENGINEER], ["climate"]),
        ("heroes", "dave", [Role.TENANT_ADMIN, Role.SOLUTION_ADMIN], []),
    ]
    for organisation, user, roles, projects in users:
        changes += admin.ensure_user(organisation, user, roles=roles, projects=projects,
                                     email=f"{user}@{organisation}.example", first_name=user.title(),
                                     last_name=organisation.title(), password=SecretStr(PASSWORDS[user]))
    changes += admin.ensure_user("globex", "erin", roles=[Role.ENGINEER])  # sets a password at first login
    _, more = admin.ensure_service_account("acme", "ingest", roles=[Role.WORKFLOW_ADMIN])
    return changes + more


def snapshot(admin: IdentityAdmin) -> dict[str, Any]:
    """What Keycloak holds, as HEROES and as Keycloak itself see it (ids included: nothing recreated)."""
    kc = admin.kc
    return {
        "organisations": admin.organisations(),
        "keycloak organisations": sorted((o["alias"], o["id"]) for o in kc.get_organizations()),
        "projects": {o: admin.projects(o) for o in admin.organisations()},
        "users": {o: admin.users(o) for o in admin.organisations()},
        "user ids": sorted((u["username"], u["id"]) for u in kc.get_users({})),
        "service accounts": {o: admin.service_accounts(o) for o in admin.organisations()},
        "groups": sorted((g["path"], g["id"]) for g in _walk(kc, kc.get_groups({"briefRepresentation": True}))),
        "roles": sorted((r["name"], r["id"]) for r in kc.get_realm_roles()),
        "clients": sorted((c["clientId"], c["id"], tuple(sorted(m["name"] for m in c.get("protocolMappers", []))))
                          for c in kc.get_clients()),
    }


def _walk(kc: Any, groups: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for group in groups:
        yield group
        yield from _walk(kc, kc.get_group_children(group["id"]))


@pytest.fixture(scope="module")
def settings(keycloak: dict[str, Any]) -> KeycloakSettings:
    return KeycloakSettings(server_url=keycloak["url"], realm=f"itest-id-{uuid.uuid4().hex[:8]}",
                            admin_realm=keycloak["admin_realm"], admin_user=keycloak["admin_user"],
                            admin_password=SecretStr(keycloak["admin_password"]))


@pytest.fixture(scope="module")
def admin(settings: KeycloakSettings) -> Iterator[IdentityAdmin]:
    admin = IdentityAdmin(settings)
    try:
        provision(admin)
        yield admin
    finally:
        admin.delete_realm()
        assert not admin.realm_exists()


@pytest.fixture(scope="module")
def verifier(admin: IdentityAdmin) -> Iterator[TokenVerifier]:
    with admin.settings.verifier() as verifier:
        yield verifier


def login(settings: KeycloakSettings, user: str, client_id: str | None = None) -> str:
    oidc = KeycloakOpenID(server_url=settings.server_url, realm_name=settings.realm,
                          client_id=client_id or settings.cli_client_id)
    return str(oidc.token(user, PASSWORDS[user])["access_token"])


def service_token(settings: KeycloakSettings, client_id: str, secret: str) -> str:
    oidc = KeycloakOpenID(server_url=settings.server_url, realm_name=settings.realm, client_id=client_id,
                          client_secret_key=secret)
    return str(oidc.token(grant_type="client_credentials")["access_token"])


def test_provisioning_twice_changes_nothing(admin: IdentityAdmin) -> None:
    before = snapshot(admin)
    assert provision(admin) == []
    assert snapshot(admin) == before
    # no duplicates: each thing once
    assert before["organisations"] == ["acme", "globex", "heroes"]
    assert [path for path, _ in before["groups"]] == sorted(
        ["/acme", "/acme/projects", "/acme/projects/climate", "/acme/projects/fusion", "/globex",
         "/globex/projects", "/globex/projects/climate", "/heroes", "/heroes/projects"])
    assert [c for c, *_ in before["clients"]].count(admin.settings.cli_client_id) == 1
    # (Keycloak lists no service-account users among the users)
    assert sorted(name for name, _ in before["user ids"]) == ["alice", "bob", "carol", "dave", "erin"]
    assert {name for name, _ in before["roles"]} >= {role.value for role in Role}
    assert before["service accounts"] == {"acme": ["ingest"], "globex": [], "heroes": []}
    erin = admin.user("globex", "erin")
    assert erin is not None and erin.roles == {Role.ENGINEER}
    assert admin.kc.get_user(admin.kc.get_user_id("erin"))["requiredActions"] == ["UPDATE_PASSWORD"]


def test_a_change_is_applied_once_and_roles_and_projects_match_exactly(admin: IdentityAdmin) -> None:
    changes = admin.ensure_user("acme", "alice", roles=[Role.ENGINEER, Role.APPLICATION_PACKAGER],
                                projects=["fusion"])
    assert changes == ["roles of alice: +application-packager --", "added alice to project fusion",
                       "removed alice from project climate"]
    assert admin.ensure_user("acme", "alice", roles=[Role.ENGINEER, Role.APPLICATION_PACKAGER],
                             projects=["fusion"]) == []
    record = admin.user("acme", "alice")
    assert record is not None
    assert (record.roles, record.projects) == ({Role.ENGINEER, Role.APPLICATION_PACKAGER}, {"fusion"})
    admin.ensure_user("acme", "alice", roles=[Role.ENGINEER], projects=["climate"])  # as provisioned


def test_users_log_in_and_their_tokens_give_identities_that_authorize_by_the_table(
        settings: KeycloakSettings, admin: IdentityAdmin, verifier: TokenVerifier) -> None:
    alice = verifier.identity(login(settings, "alice"))
    bob = verifier.identity(login(settings, "bob"))
    carol = verifier.identity(login(settings, "carol"))
    dave = verifier.identity(login(settings, "dave"))
    assert (alice.user, alice.organisation, alice.roles, alice.projects) == (
        "alice", "acme", {Role.ENGINEER}, {"climate"})
    assert (bob.organisation, bob.roles, bob.projects) == ("acme", {Role.BILLING_ADMIN, Role.PROJECT_ADMIN},
                                                           frozenset())
    assert (carol.organisation, carol.roles, carol.projects) == (
        "globex", {Role.WORKFLOW_ADMIN, Role.ENGINEER}, {"climate"})  # globex's climate, not acme's
    assert dave.platform and dave.roles == {Role.TENANT_ADMIN, Role.SOLUTION_ADMIN}
    assert not any(who.service_account for who in (alice, bob, carol, dave))

    def allowed(who: Identity, action: Action, kind: ResourceKind, organisation: str, **more: str) -> bool:
        return authorize(who, action, Resource(kind=kind, organisation=organisation, **more)).allowed

    workflow = ResourceKind.WORKFLOW
    assert allowed(alice, Action.SUBMIT_WORKFLOW, workflow, "acme", project="climate")
    assert not allowed(alice, Action.SUBMIT_WORKFLOW, workflow, "acme", project="fusion")
    assert not allowed(alice, Action.MANAGE_WORKFLOWS, workflow, "acme")
    assert allowed(alice, Action.ACCESS_HOME_DATA, ResourceKind.HOME, "acme", owner="alice")
    assert not allowed(alice, Action.ACCESS_HOME_DATA, ResourceKind.HOME, "acme", owner="bob")
    assert not allowed(alice, Action.BILLING, ResourceKind.BILLING, "acme")
    assert allowed(bob, Action.BILLING, ResourceKind.BILLING, "acme")
    assert allowed(bob, Action.MANAGE_USERS, ResourceKind.MEMBERSHIP, "acme")
    assert not allowed(bob, Action.SUBMIT_WORKFLOW, workflow, "acme")
    assert allowed(carol, Action.MANAGE_WORKFLOWS, workflow, "globex")
    assert allowed(carol, Action.SUBMIT_WORKFLOW, workflow, "globex", project="climate")
    assert allowed(dave, Action.MANAGE_ORGANISATIONS, ResourceKind.ORGANISATION, "acme")
    # across organisations: denied whatever the role, and the refusal says nothing of the other one
    assert not allowed(carol, Action.SUBMIT_WORKFLOW, workflow, "acme", project="climate")
    assert not allowed(carol, Action.MANAGE_WORKFLOWS, workflow, "acme")
    assert not allowed(bob, Action.BILLING, ResourceKind.BILLING, "globex")
    assert not allowed(alice, Action.ACCESS_HOME_DATA, ResourceKind.HOME, "globex", owner="alice")
    with pytest.raises(PermissionDeniedError) as refused:
        require(bob, Action.BILLING, Resource(kind=ResourceKind.BILLING, organisation="globex"))
    assert "globex" not in str(refused.value)


def test_a_service_accounts_token_gives_an_identity_of_its_organisation(
        settings: KeycloakSettings, admin: IdentityAdmin, verifier: TokenVerifier) -> None:
    account, changes = admin.ensure_service_account("acme", "ingest", roles=[Role.WORKFLOW_ADMIN])
    assert changes == [] and account.client_id == "acme.ingest"
    token = service_token(settings, account.client_id, account.client_secret.get_secret_value())
    identity = verifier.identity(token)
    assert (identity.organisation, identity.roles, identity.service_account) == (
        "acme", {Role.WORKFLOW_ADMIN}, True)
    assert identity.user == "service-account-acme.ingest"
    assert authorize(identity, Action.MANAGE_WORKFLOWS,
                     Resource(kind=ResourceKind.WORKFLOW, organisation="acme")).allowed
    assert not authorize(identity, Action.MANAGE_WORKFLOWS,
                         Resource(kind=ResourceKind.WORKFLOW, organisation="globex")).allowed


def test_one_organisations_admin_never_touches_anothers_users(admin: IdentityAdmin) -> None:
    for attempt in (lambda: admin.ensure_user("acme", "carol", roles=[Role.ENGINEER]),
                    lambda: admin.delete_user("acme", "carol"),
                    lambda: admin.set_password("acme", "carol", "taken-over"),
                    lambda: admin.ensure_user("acme", "alice", projects=["unknown"])):
        with pytest.raises(ProvisioningError):
            attempt()
    carol = admin.user("globex", "carol")
    assert carol is not None and carol.roles == {Role.WORKFLOW_ADMIN, Role.ENGINEER}
    assert [u.user for u in admin.users("acme")] == ["alice", "bob"]
    with pytest.raises(ProvisioningError, match="organisation 'initech' does not exist"):
        admin.ensure_project("initech", "p1")


def test_deletes_are_idempotent(admin: IdentityAdmin) -> None:
    admin.ensure_organisation("initech")
    admin.ensure_project("initech", "p1")
    admin.ensure_user("initech", "frank", roles=[Role.ENGINEER], projects=["p1"])
    admin.ensure_service_account("initech", "bot")
    assert admin.delete_project("initech", "p1") == ["deleted project initech/p1"]
    assert admin.delete_project("initech", "p1") == []
    assert admin.delete_service_account("initech", "bot") == ["deleted service account initech.bot"]
    assert admin.delete_service_account("initech", "bot") == []
    admin.ensure_service_account("initech", "bot")
    assert admin.delete_organisation("initech") == [
        "deleted user frank of initech", "deleted service account initech.bot", "deleted group /initech",
        "deleted organisation initech"]
    assert admin.delete_organisation("initech") == []
    assert admin.delete_user("initech", "frank") == []
    assert admin.kc.get_user_id("frank") is None and "initech" not in admin.organisations()


def test_a_rotated_key_is_picked_up_by_the_same_verifier(
        settings: KeycloakSettings, admin: IdentityAdmin) -> None:
    with settings.verifier() as verifier:
        before = login(settings, "alice")
        assert verifier.identity(before).user == "alice"
        fetches = verifier.fetches
        realm_id = admin.kc.get_realm(settings.realm)["id"]
        admin.kc.create_component({
            "name": "heroes-rotated", "providerId": "rsa-generated",
            "providerType": "org.keycloak.keys.KeyProvider", "parentId": realm_id,
            "config": {"priority": ["500"], "enabled": ["true"], "active": ["true"],
                       "keySize": ["2048"], "algorithm": ["RS256"]}})
        after = login(settings, "alice")
        assert jwt.get_unverified_header(after)["kid"] != jwt.get_unverified_header(before)["kid"]
        assert verifier.identity(after).user == "alice"  # no restart: one refetch
        assert verifier.fetches == fetches + 1
        assert verifier.identity(before).user == "alice"  # the old key is still published


def test_tokens_of_another_realm_or_audience_are_refused(
        settings: KeycloakSettings, admin: IdentityAdmin, verifier: TokenVerifier) -> None:
    # A realm provisioned the same way: same audience, same user name, another issuer.
    other = IdentityAdmin(settings.model_copy(update={"realm": f"{settings.realm}-other"}))
    try:
        other.ensure_realm(direct_access_grants=True)
        other.ensure_organisation("acme")
        other.ensure_user("acme", "alice", roles=[Role.ENGINEER], email="alice@acme.example",
                          first_name="Alice", last_name="Acme", password=PASSWORDS["alice"])
        foreign = login(other.settings, "alice")
        assert settings.audience in jwt.decode(foreign, options={"verify_signature": False})["aud"]
        with pytest.raises(TokenError) as refused:
            verifier.identity(foreign)  # its key is not this realm's
        assert refused.value.reason in (TokenFailure.UNKNOWN_KEY, TokenFailure.WRONG_ISSUER)
        # Even with the other realm's keys, the issuer is checked.
        with TokenVerifier(settings.issuer, settings.audience, other.settings.jwks_url) as keys_only:
            with pytest.raises(TokenError) as refused:
                keys_only.identity(foreign)
            assert refused.value.reason is TokenFailure.WRONG_ISSUER
    finally:
        other.delete_realm()

    # A client without the audience mapper: a good token of this realm, for someone else.
    kc = admin.kc
    kc.create_client({"clientId": "not-heroes", "publicClient": True, "directAccessGrantsEnabled": True,
                      "standardFlowEnabled": False})
    token = login(settings, "alice", client_id="not-heroes")
    with pytest.raises(TokenError) as refused:
        verifier.identity(token)
    assert refused.value.reason is TokenFailure.WRONG_AUDIENCE
    with TokenVerifier(settings.issuer, "another-service", settings.jwks_url) as elsewhere:
        with pytest.raises(TokenError) as refused:
            elsewhere.identity(login(settings, "alice"))
        assert refused.value.reason is TokenFailure.WRONG_AUDIENCE


def test_wrong_admin_credentials_name_the_server_and_the_fix(settings: KeycloakSettings) -> None:
    wrong = IdentityAdmin(settings.model_copy(update={"admin_password": SecretStr("not-the-password")}))
    with pytest.raises(IdentityProviderError) as error:
        wrong.organisations()
    text = str(error.value)
    assert settings.server_url in text and "refused the administrator" in text
    assert "KeycloakRealm block" in text and "not-the-password" not in text
