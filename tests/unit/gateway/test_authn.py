"""Who is calling: bearer tokens refused for the right reason, session cookies signed and renewed."""

from __future__ import annotations

import time
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import Response

from heroes.gateway.authn import SESSION_COOKIE, Authenticator, BrowserSession
from heroes_core.identity import TokenFailure, TokenVerifier, oidc
from tests.unit.gateway.conftest import (
    GRANT_KEY,
    KEYCLOAK,
    SETTINGS,
    TOKEN_ENDPOINT,
    Minter,
    SigningKey,
    claims,
)


def refused(response: httpx.Response, reason: TokenFailure) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["reason"] == reason.value
    assert response.json()["detail"]
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and f'error_description="{reason.value}"' in challenge


def test_a_valid_bearer_token_identifies_the_caller(client: TestClient, tokens: Minter) -> None:
    response = client.get("/v1/whoami", headers=tokens.headers(projects=("climate",)))
    assert response.status_code == 200
    assert response.json() == {"user": "alice", "organisation": "acme", "projects": ["climate"],
                               "roles": ["engineer"], "service_account": False}


def test_no_credentials_is_401_malformed(client: TestClient) -> None:
    refused(client.get("/v1/whoami"), TokenFailure.MALFORMED)


@pytest.mark.parametrize("header", ["Basic YWxpY2U6cHc=", "Token abc", "Bearer", "Bearer   "])
def test_a_non_bearer_authorization_header_is_401_malformed(client: TestClient, header: str) -> None:
    refused(client.get("/v1/whoami", headers={"Authorization": header}), TokenFailure.MALFORMED)


def test_an_expired_token_is_401_expired(client: TestClient, tokens: Minter) -> None:
    now = int(time.time())
    headers = tokens.headers(iat=now - 900, exp=now - 600)
    refused(client.get("/v1/whoami", headers=headers), TokenFailure.EXPIRED)


def test_a_token_signed_by_an_unknown_key_is_401_unknown_key(client: TestClient,
                                                             stranger_key: SigningKey) -> None:
    headers = {"Authorization": f"Bearer {Minter(stranger_key).token()}"}
    refused(client.get("/v1/whoami", headers=headers), TokenFailure.UNKNOWN_KEY)


def test_a_tampered_signature_is_401_bad_signature(client: TestClient, tokens: Minter,
                                                   stranger_key: SigningKey, realm_key: SigningKey) -> None:
    # Same kid as the realm's key, signed by another private key.
    impostor = jwt.encode(claims(), stranger_key.private, algorithm="RS256", headers={"kid": realm_key.kid})
    refused(client.get("/v1/whoami", headers={"Authorization": f"Bearer {impostor}"}),
            TokenFailure.BAD_SIGNATURE)
    # The realm's own signature over another payload.
    header, _, signature = tokens.token().split(".")
    _, payload, _ = tokens.token(organisation="globex").split(".")
    refused(client.get("/v1/whoami", headers={"Authorization": f"Bearer {header}.{payload}.{signature}"}),
            TokenFailure.BAD_SIGNATURE)


def test_a_token_of_another_issuer_is_401_wrong_issuer(client: TestClient, tokens: Minter) -> None:
    headers = tokens.headers(iss="http://kc.test/realms/other")
    refused(client.get("/v1/whoami", headers=headers), TokenFailure.WRONG_ISSUER)


def test_a_token_for_another_audience_is_401_wrong_audience(client: TestClient, tokens: Minter) -> None:
    refused(client.get("/v1/whoami", headers=tokens.headers(aud="account")), TokenFailure.WRONG_AUDIENCE)


def test_the_prefect_api_refuses_a_bad_token_the_same_way(client: TestClient, tokens: Minter) -> None:
    refused(client.post("/api/flow_runs/filter", json={}), TokenFailure.MALFORMED)
    refused(client.post("/api/flow_runs/filter", json={}, headers=tokens.headers(aud="account")),
            TokenFailure.WRONG_AUDIENCE)


# --- the session cookie ----------------------------------------------------------------------------

def authenticator(verifier: TokenVerifier, grant_key: str = GRANT_KEY) -> Authenticator:
    return Authenticator(verifier, KEYCLOAK, SETTINGS, grant_key)


def cookie_of(response: Response | httpx.Response) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getlist("set-cookie") if isinstance(response, Response) \
            else response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar


def request_with(cookie: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": b"",
                    "headers": [(b"cookie", f"{SESSION_COOKIE}={cookie}".encode())]})


def test_a_session_cookie_round_trips(verifier: TokenVerifier) -> None:
    session = BrowserSession(access_token="access", refresh_token="refresh", expires_at=1234.5)
    response = Response()
    authenticator(verifier).set_session(response, session)
    morsel = cookie_of(response)[SESSION_COOKIE]
    assert morsel["httponly"] and morsel["samesite"].lower() == "lax" and morsel["path"] == "/"
    assert not morsel["secure"]  # the gateway is published over http here
    assert authenticator(verifier).read_session(request_with(morsel.value)) == session


def test_a_tampered_or_foreign_session_cookie_is_ignored(verifier: TokenVerifier) -> None:
    value = authenticator(verifier).session_cookie(BrowserSession(access_token="a", expires_at=1.0))
    payload, _, signature = value.rpartition(".")
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert authenticator(verifier).read_session(request_with(f"{payload}.{flipped}")) is None
    assert authenticator(verifier, "y" * 40).read_session(request_with(value)) is None
    assert authenticator(verifier).read_session(request_with("")) is None


def test_a_tampered_session_cookie_is_401(client: TestClient, verifier: TokenVerifier, tokens: Minter) -> None:
    value = authenticator(verifier).session_cookie(
        BrowserSession(access_token=tokens.token(), expires_at=time.time() + 300))
    client.cookies.set(SESSION_COOKIE, value)
    assert client.get("/v1/whoami").json()["user"] == "alice"
    client.cookies.set(SESSION_COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    refused(client.get("/v1/whoami"), TokenFailure.MALFORMED)


def test_an_expired_session_is_renewed_with_its_refresh_token(
        client: TestClient, verifier: TokenVerifier, tokens: Minter, monkeypatch: pytest.MonkeyPatch) -> None:
    now = int(time.time())
    expired = tokens.token(iat=now - 900, exp=now - 600)
    fresh = tokens.token()
    forms: list[dict[str, list[str]]] = []

    def keycloak(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and str(request.url) == TOKEN_ENDPOINT
        forms.append(parse_qs(request.content.decode()))
        return httpx.Response(200, json={"access_token": fresh, "refresh_token": "refresh-2",
                                         "expires_in": 300, "refresh_expires_in": 1800})

    monkeypatch.setattr(oidc, "transport", httpx.MockTransport(keycloak))
    client.cookies.set(SESSION_COOKIE, authenticator(verifier).session_cookie(
        BrowserSession(access_token=expired, refresh_token="refresh-1", expires_at=now - 600)))
    response = client.get("/v1/whoami")
    assert response.status_code == 200 and response.json()["user"] == "alice"
    assert forms == [{"grant_type": ["refresh_token"], "client_id": [KEYCLOAK.cli_client_id],
                      "refresh_token": ["refresh-1"]}]
    renewed = authenticator(verifier).read_session(request_with(cookie_of(response)[SESSION_COOKIE].value))
    assert renewed is not None
    assert (renewed.access_token, renewed.refresh_token) == (fresh, "refresh-2")
    assert renewed.expires_at > now


def test_a_session_whose_refresh_is_refused_is_401_expired(
        client: TestClient, verifier: TokenVerifier, tokens: Minter, monkeypatch: pytest.MonkeyPatch) -> None:
    def keycloak(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "invalid_grant", "error_description": "Session not active"})

    monkeypatch.setattr(oidc, "transport", httpx.MockTransport(keycloak))
    now = int(time.time())
    client.cookies.set(SESSION_COOKIE, authenticator(verifier).session_cookie(BrowserSession(
        access_token=tokens.token(iat=now - 900, exp=now - 600), refresh_token="gone", expires_at=now)))
    response = client.get("/v1/whoami")
    refused(response, TokenFailure.EXPIRED)
    assert SESSION_COOKIE not in cookie_of(response)


def test_an_expired_session_without_refresh_token_is_401_expired(
        client: TestClient, verifier: TokenVerifier, tokens: Minter) -> None:
    now = int(time.time())
    client.cookies.set(SESSION_COOKIE, authenticator(verifier).session_cookie(
        BrowserSession(access_token=tokens.token(iat=now - 900, exp=now - 600), expires_at=now)))
    refused(client.get("/v1/whoami"), TokenFailure.EXPIRED)


def test_a_bearer_header_wins_over_a_session_cookie(client: TestClient, verifier: TokenVerifier,
                                                    tokens: Minter) -> None:
    client.cookies.set(SESSION_COOKIE, authenticator(verifier).session_cookie(
        BrowserSession(access_token=tokens.token(user="anna"), expires_at=time.time() + 300)))
    answer: Any = client.get("/v1/whoami", headers=tokens.headers(user="bob")).json()
    assert answer["user"] == "bob"
