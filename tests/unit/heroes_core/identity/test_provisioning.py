"""IdentityAdmin without a Keycloak: names are refused before any call, another organisation's
users are never touched, and Keycloak's errors become messages naming the server and the fix,
never the password. The real server is exercised in tests/integration/test_identity_keycloak.py."""

from __future__ import annotations

from typing import Any

import pytest
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakGetError, KeycloakPostError
from pydantic import SecretStr, ValidationError

from heroes_core.errors import SpecError
from heroes_core.identity import (
    IdentityAdmin,
    IdentityProviderError,
    KeycloakSettings,
    ProvisioningError,
    TokenVerifier,
)
from heroes_core.identity.provisioning import _differs

PASSWORD = "s3cret-admin-pw"
URL = "http://keycloak.example:8180"


def settings(**changes: Any) -> KeycloakSettings:
    return KeycloakSettings(**{"server_url": URL + "/", "realm": "heroes-test",
                               "admin_password": SecretStr(PASSWORD), **changes})


class Untouchable:
    """A python-keycloak client no test may reach."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"Keycloak was called ({name}) before the names were checked")


class Recorder:
    """Answers lookups from a fixed world and records every call."""

    def __init__(self, world: dict[str, Any]) -> None:
        self.world = world
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            answer = self.world.get(name)
            if isinstance(answer, Exception):
                raise answer
            if name not in self.world:
                raise AssertionError(f"unexpected call {name}{args}")
            return answer(*args) if callable(answer) else answer
        return call


def admin(kc: Any, **changes: Any) -> IdentityAdmin:
    return IdentityAdmin(settings(**changes), admin=kc)


def test_settings_give_the_issuer_and_jwks_the_verifier_uses() -> None:
    s = settings()
    assert s.server_url == URL
    assert s.issuer == f"{URL}/realms/heroes-test"
    assert s.jwks_url == f"{URL}/realms/heroes-test/protocol/openid-connect/certs"
    verifier = s.verifier()
    assert isinstance(verifier, TokenVerifier)
    assert (verifier.issuer, verifier.audience, verifier.jwks_url) == (s.issuer, "heroes-gateway", s.jwks_url)
    assert PASSWORD not in repr(s) and PASSWORD not in str(s.model_dump())


@pytest.mark.parametrize("changes", [{"admin_password": None}, {"server_url": "keycloak:8180"},
                                     {"realm": "master"}, {"realm": "Heroes"},
                                     {"admin_user": None}])
def test_settings_refuse_what_cannot_work(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        settings(**changes)


def test_client_credentials_are_an_alternative_to_a_password() -> None:
    s = settings(admin_password=None, admin_user=None, admin_client_id="heroes-admin",
                 admin_client_secret=SecretStr("x"))
    assert s.admin_client_secret is not None


@pytest.mark.parametrize("call", [
    lambda a: a.ensure_organisation("Acme"),
    lambda a: a.ensure_organisation("images"),
    lambda a: a.delete_organisation("a/b"),
    lambda a: a.ensure_project("acme", "../other"),
    lambda a: a.delete_project("acme", "P"),
    lambda a: a.ensure_user("acme", "Alice"),
    lambda a: a.ensure_user("acme", "billing"),
    lambda a: a.ensure_user("acme", "service-account-acme.x"),
    lambda a: a.ensure_user("acme", "bob", roles=["tenant-admin"]),
    lambda a: a.ensure_user("acme", "bob", roles=["superuser"]),
    lambda a: a.ensure_user("acme", "bob", projects=["/other/projects/x"]),
    lambda a: a.delete_user("other/../acme", "bob"),
    lambda a: a.ensure_service_account("acme", "Ingest"),
    lambda a: a.ensure_service_account("acme", "ingest", roles=["solution-admin"]),
    lambda a: a.delete_service_account("acme", "a.b"),
    lambda a: a.users("ACME"),
], ids=range(16))
def test_bad_names_never_reach_keycloak(call: Any) -> None:
    with pytest.raises(SpecError):
        call(admin(Untouchable()))


ACME = {"id": "org-acme", "alias": "acme", "name": "acme"}


def world(**more: Any) -> dict[str, Any]:
    return {"get_organizations": lambda query: [ACME] if query.get("search") == "acme" else [],
            "get_user_id": "uid-bob",
            "get_user_organizations": [{"alias": "globex", "id": "org-globex"}], **more}


@pytest.mark.parametrize("call", [
    lambda a: a.ensure_user("acme", "bob", roles=["engineer"]),
    lambda a: a.delete_user("acme", "bob"),
    lambda a: a.set_password("acme", "bob", "new-password"),
    lambda a: a.user("acme", "bob"),
], ids=["ensure", "delete", "password", "read"])
def test_another_organisations_user_is_never_changed(call: Any) -> None:
    kc = Recorder(world())
    with pytest.raises(ProvisioningError, match="not a member of organisation 'acme'") as error:
        call(admin(kc))
    assert "globex" not in str(error.value)  # nothing about the user's own organisation
    assert set(kc.calls) <= {"get_organizations", "get_user_id", "get_user_organizations"}


def test_a_user_of_a_missing_organisation_is_refused_with_the_fix() -> None:
    kc = Recorder(world())
    with pytest.raises(ProvisioningError, match="organisation 'beta' does not exist") as error:
        admin(kc).ensure_user("beta", "bob")
    assert "heroes org create beta" in str(error.value)


def test_another_organisations_client_is_not_a_service_account_here() -> None:
    kc = Recorder(world(get_client_id="uuid", get_client={"id": "uuid", "clientId": "acme.ingest",
                                                          "attributes": {}}))
    with pytest.raises(ProvisioningError, match="not a service account of organisation 'acme'"):
        admin(kc).delete_service_account("acme", "ingest")
    assert "delete_client" not in kc.calls


def test_deleting_what_is_absent_changes_nothing() -> None:
    kc = Recorder({"get_user_id": None, "get_client_id": None,
                   "get_group_by_path": KeycloakGetError("not found", response_code=404)})
    a = admin(kc)
    assert a.delete_user("acme", "bob") == []
    assert a.delete_service_account("acme", "ingest") == []
    assert a.delete_project("acme", "p1") == []
    assert not {"delete_user", "delete_client", "delete_group"} & set(kc.calls)


def test_wrong_admin_credentials_name_the_server_and_the_fix_not_the_password() -> None:
    kc = Recorder({"get_realms": KeycloakAuthenticationError(
        f'{{"error":"invalid_grant","password":"{PASSWORD}"}}', response_code=401)})
    with pytest.raises(IdentityProviderError) as error:
        admin(kc).ensure_realm()
    text = str(error.value)
    assert URL in text and "user 'admin'" in text and "realm 'master'" in text
    assert "KeycloakRealm block" in text
    assert PASSWORD not in text


def test_an_unreachable_keycloak_is_named_with_the_fix() -> None:
    a = IdentityAdmin(settings(server_url="http://127.0.0.1:9", timeout=2))  # the real client, nothing listens
    with pytest.raises(IdentityProviderError) as error:
        a.organisations()
    text = str(error.value)
    assert "http://127.0.0.1:9" in text and "could not be reached" in text and "/health/ready" in text
    assert PASSWORD not in text


def test_refusals_name_what_and_where_without_the_users_password() -> None:
    kc = Recorder(world(get_user_id=None, create_user=KeycloakPostError(
        b'{"errorMessage":"invalid password: pw-of-bob"}', response_code=400)))
    with pytest.raises(IdentityProviderError) as error:
        admin(kc).ensure_user("acme", "bob", password="pw-of-bob")
    text = str(error.value)
    assert "create or update user 'bob' of 'acme'" in text and "HTTP 400" in text and URL in text
    assert "pw-of-bob" not in text


def test_forbidden_says_which_role_the_admin_needs() -> None:
    kc = Recorder({"get_realms": KeycloakGetError(b'{"error":"unknown_error"}', response_code=403)})
    with pytest.raises(IdentityProviderError, match="realm-admin"):
        admin(kc).ensure_realm()


def test_differs_compares_what_is_wanted_only() -> None:
    assert not _differs({"a": 1, "b": {"c": "x", "d": "y"}, "e": ["2", "1"]}, {"b": {"c": "x"}, "e": ["1", "2"]})
    assert _differs({"a": 1}, {"a": 2})
    assert _differs({"b": {"c": "x"}}, {"b": {"c": "y"}})
    assert _differs({}, {"a": None} | {"a": 1})
    assert _differs({"e": ["1"]}, {"e": ["1", "2"]})


def test_a_refused_admin_login_answered_400_invalid_grant_is_named_as_such() -> None:
    # Keycloak's token endpoint answers a wrong password with 400 invalid_grant, which
    # python-keycloak raises as a KeycloakPostError.
    kc = Recorder({"get_organizations": KeycloakPostError(
        b'{"error":"invalid_grant","error_description":"Invalid user credentials"}', response_code=400)})
    with pytest.raises(IdentityProviderError, match="refused the administrator") as error:
        admin(kc).organisations()
    assert "Invalid user credentials" not in str(error.value)
