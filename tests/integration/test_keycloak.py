"""The test bed's Keycloak is a real server: python-keycloak administers it and it issues tokens.

The bootstrap admin logs in on the master realm, creates a realm of its own with a
confidential client that has a service account, the client obtains a token with its
credentials, and the token verifies against the realm's published JWKS, with python-keycloak
and independently with PyJWT. The realm is deleted afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import jwt
import pytest
from keycloak import KeycloakAdmin, KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError

CLIENT_ID = "heroes-itest-service"


@pytest.fixture(scope="module")
def admin(keycloak: dict[str, Any]) -> KeycloakAdmin:
    return KeycloakAdmin(server_url=keycloak["url"], username=keycloak["admin_user"],
                         password=keycloak["admin_password"], realm_name=keycloak["admin_realm"],
                         user_realm_name=keycloak["admin_realm"])


@pytest.fixture
def realm(admin: KeycloakAdmin, keycloak: dict[str, Any]) -> Iterator[str]:
    """A fresh realm, deleted afterwards."""
    name = f"itest-{uuid.uuid4().hex[:10]}"
    admin.change_current_realm(keycloak["admin_realm"])
    admin.create_realm({"realm": name, "enabled": True})
    try:
        yield name
    finally:
        admin.change_current_realm(keycloak["admin_realm"])
        admin.delete_realm(name)
        assert name not in {r["realm"] for r in admin.get_realms()}


def test_bootstrap_admin_logs_in_on_master(admin: KeycloakAdmin, keycloak: dict[str, Any]) -> None:
    admin.change_current_realm(keycloak["admin_realm"])
    assert "master" in {r["realm"] for r in admin.get_realms()}
    info = httpx.get(f"{keycloak['url']}/realms/master/.well-known/openid-configuration").json()
    assert info["issuer"] == f"{keycloak['url']}/realms/master"


def test_health_ready_is_up(keycloak: dict[str, Any]) -> None:
    assert httpx.get(f"{keycloak['management_url']}/health/ready").json()["status"] == "UP"


def test_service_account_token_verifies_against_realm_jwks(
        admin: KeycloakAdmin, realm: str, keycloak: dict[str, Any]) -> None:
    admin.change_current_realm(realm)
    client_uuid = admin.create_client({
        "clientId": CLIENT_ID, "protocol": "openid-connect", "publicClient": False,
        "clientAuthenticatorType": "client-secret", "serviceAccountsEnabled": True,
        "standardFlowEnabled": False, "directAccessGrantsEnabled": False,
    })
    secret = admin.get_client_secrets(client_uuid)["value"]
    assert secret

    oidc = KeycloakOpenID(server_url=keycloak["url"], realm_name=realm, client_id=CLIENT_ID,
                          client_secret_key=secret)
    token = oidc.token(grant_type="client_credentials")
    access = token["access_token"]
    issuer = f"{keycloak['url']}/realms/{realm}"

    # The realm's JWKS endpoint serves the key the token was signed with.
    jwks = httpx.get(f"{issuer}/protocol/openid-connect/certs").json()
    assert jwks == oidc.certs()
    kid = jwt.get_unverified_header(access)["kid"]
    signing = [k for k in jwks["keys"] if k["kid"] == kid]
    assert len(signing) == 1 and signing[0]["use"] == "sig" and signing[0]["kty"] == "RSA"

    claims = oidc.decode_token(access)  # python-keycloak checks the signature with the JWKS
    assert claims["iss"] == issuer
    assert claims["azp"] == CLIENT_ID
    assert claims["preferred_username"] == f"service-account-{CLIENT_ID}"

    # The same token, checked by a second library against the same key.
    key = jwt.PyJWK(signing[0]).key
    checked = jwt.decode(access, key, algorithms=[signing[0]["alg"]], issuer=issuer,
                         options={"verify_aud": False})
    assert checked["sub"] == claims["sub"]
    tampered = access[:-4] + ("AAAA" if not access.endswith("AAAA") else "BBBB")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(tampered, key, algorithms=[signing[0]["alg"]], options={"verify_aud": False})

    # A wrong secret gets no token.
    wrong = KeycloakOpenID(server_url=keycloak["url"], realm_name=realm, client_id=CLIENT_ID,
                           client_secret_key="not-the-secret")
    with pytest.raises(KeycloakAuthenticationError):
        wrong.token(grant_type="client_credentials")
