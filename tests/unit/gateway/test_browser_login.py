"""The browser login: Keycloak's authorization code flow with PKCE, ending in a session cookie."""

from __future__ import annotations

import base64
import hashlib
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from heroes.gateway.authn import SESSION_COOKIE
from heroes.gateway.browser_login import LOGIN_COOKIE, safe_next
from heroes_core.identity import oidc
from tests.unit.gateway.conftest import KEYCLOAK, PUBLIC_URL, TOKEN_ENDPOINT, Minter

CALLBACK = f"{PUBLIC_URL}/auth/callback"


def set_cookies(response: httpx.Response) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.get_list("set-cookie"):
        jar.load(header)
    return jar


def start(client: TestClient, next_: str | None = "/runs?x=1") -> dict[str, str]:
    """Open /login; the query of the Keycloak URL it redirects to."""
    response = client.get("/login", params={"next": next_} if next_ else None, follow_redirects=False)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == \
        f"{KEYCLOAK.issuer}/protocol/openid-connect/auth"
    return {key: values[0] for key, values in parse_qs(location.query).items()}


@pytest.mark.parametrize("hostile", ["//evil", "//evil.example/x", "https://evil", "http://evil/runs",
                                     "\\evil", "/\\evil", "evil", "", None])
def test_safe_next_refuses_anything_but_a_local_path(hostile: str | None) -> None:
    assert safe_next(hostile) == "/"


@pytest.mark.parametrize("local", ["/", "/runs?x=1", "/runs/123#logs", "/flow-runs/flow-run/abc"])
def test_safe_next_keeps_a_local_path(local: str) -> None:
    assert safe_next(local) == local


def test_login_redirects_to_keycloak_with_pkce_state_and_callback(client: TestClient) -> None:
    query = start(client)
    assert query["client_id"] == KEYCLOAK.cli_client_id
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == CALLBACK
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 16
    assert len(base64.urlsafe_b64decode(query["code_challenge"] + "=")) == 32  # a SHA-256, base64url
    assert "openid" in query["scope"].split()


def test_login_sets_a_short_lived_http_only_login_cookie(client: TestClient) -> None:
    response = client.get("/login", follow_redirects=False)
    morsel = set_cookies(response)[LOGIN_COOKIE]
    assert morsel.value and morsel["httponly"] and morsel["path"] == "/auth"
    assert morsel["samesite"].lower() == "lax" and 0 < int(morsel["max-age"]) <= 600
    assert SESSION_COOKIE not in set_cookies(response)


def test_each_login_has_its_own_state_and_challenge(client: TestClient) -> None:
    first, second = start(client), start(client)
    assert first["state"] != second["state"]
    assert first["code_challenge"] != second["code_challenge"]


def test_callback_with_a_state_that_does_not_match_is_400(client: TestClient) -> None:
    query = start(client)
    response = client.get("/auth/callback", params={"state": query["state"] + "x", "code": "c"},
                          follow_redirects=False)
    assert response.status_code == 400 and "state" in response.json()["detail"]
    assert SESSION_COOKIE not in set_cookies(response)


def test_callback_without_a_login_under_way_is_400(client: TestClient) -> None:
    response = client.get("/auth/callback", params={"state": "s", "code": "c"}, follow_redirects=False)
    assert response.status_code == 400
    assert SESSION_COOKIE not in set_cookies(response)


def test_callback_with_an_error_from_keycloak_is_401(client: TestClient) -> None:
    start(client)
    response = client.get("/auth/callback", params={"error": "access_denied"}, follow_redirects=False)
    assert response.status_code == 401 and "access_denied" in response.json()["detail"]


class TokenEndpoint:
    """Keycloak's token endpoint for one code: checks the PKCE verifier against the challenge."""

    def __init__(self, challenge: str, access_token: str) -> None:
        self.challenge, self.access_token = challenge, access_token
        self.forms: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and str(request.url) == TOKEN_ENDPOINT
        form = {key: values[0] for key, values in parse_qs(request.content.decode()).items()}
        self.forms.append(form)
        digest = hashlib.sha256(form["code_verifier"].encode()).digest()
        if (form["code"] != "the-code"
                or base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != self.challenge):
            return httpx.Response(400, json={"error": "invalid_grant", "error_description": "PKCE"})
        answer: dict[str, Any] = {"access_token": self.access_token, "refresh_token": "refresh-1",
                                  "expires_in": 300, "refresh_expires_in": 1800, "token_type": "Bearer"}
        return httpx.Response(200, json=answer)


def test_callback_redeems_the_code_sets_the_session_and_goes_next(
        client: TestClient, tokens: Minter, monkeypatch: pytest.MonkeyPatch) -> None:
    query = start(client)
    keycloak = TokenEndpoint(query["code_challenge"], tokens.token(projects=("climate",)))
    monkeypatch.setattr(oidc, "transport", httpx.MockTransport(keycloak))
    response = client.get("/auth/callback", params={"state": query["state"], "code": "the-code"},
                          follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/runs?x=1"
    assert [(form["grant_type"], form["redirect_uri"], form["client_id"]) for form in keycloak.forms] == [
        ("authorization_code", CALLBACK, KEYCLOAK.cli_client_id)]
    cookies = set_cookies(response)
    assert cookies[SESSION_COOKIE].value and cookies[SESSION_COOKIE]["httponly"]
    assert cookies[LOGIN_COOKIE].value in ("", '""')  # the login cookie is dropped
    # The browser is now logged in.
    assert client.get("/v1/whoami").json()["user"] == "alice"


def test_callback_refuses_a_token_the_verifier_refuses(
        client: TestClient, tokens: Minter, monkeypatch: pytest.MonkeyPatch) -> None:
    query = start(client)
    keycloak = TokenEndpoint(query["code_challenge"], tokens.token(aud="account"))
    monkeypatch.setattr(oidc, "transport", httpx.MockTransport(keycloak))
    response = client.get("/auth/callback", params={"state": query["state"], "code": "the-code"},
                          follow_redirects=False)
    assert response.status_code == 401
    assert SESSION_COOKIE not in set_cookies(response)


def test_login_keeps_only_a_safe_next(client: TestClient, tokens: Minter,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    query = start(client, "//evil.example/phish")
    monkeypatch.setattr(oidc, "transport",
                        httpx.MockTransport(TokenEndpoint(query["code_challenge"], tokens.token())))
    response = client.get("/auth/callback", params={"state": query["state"], "code": "the-code"},
                          follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_a_browser_without_session_is_sent_to_login(client: TestClient) -> None:
    response = client.get("/runs", params={"x": "1"}, headers={"Accept": "text/html"}, follow_redirects=False)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/login" and parse_qs(location.query) == {"next": ["/runs?x=1"]}


def test_a_next_with_tabs_or_newlines_does_not_leave_the_site(client: TestClient, tokens: Minter,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Browsers drop tabs and newlines from a Location: '/\\t/evil' must not become '//evil'."""
    for hostile in ("/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example"):
        query = start(client, hostile)
        monkeypatch.setattr(oidc, "transport",
                            httpx.MockTransport(TokenEndpoint(query["code_challenge"], tokens.token())))
        response = client.get("/auth/callback", params={"state": query["state"], "code": "the-code"},
                              follow_redirects=False)
        location = "".join(c for c in response.headers["location"] if c not in "\t\n\r")
        assert response.status_code == 303 and not location.startswith(("//", "/\\"))


def test_logout_ends_the_keycloak_session_and_drops_the_cookie(
        client: TestClient, tokens: Minter, monkeypatch: pytest.MonkeyPatch) -> None:
    query = start(client)
    monkeypatch.setattr(oidc, "transport",
                        httpx.MockTransport(TokenEndpoint(query["code_challenge"], tokens.token())))
    client.get("/auth/callback", params={"state": query["state"], "code": "the-code"}, follow_redirects=False)
    ended: list[dict[str, list[str]]] = []

    def keycloak(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == f"{KEYCLOAK.issuer}/protocol/openid-connect/logout"
        ended.append(parse_qs(request.content.decode()))
        return httpx.Response(204)

    monkeypatch.setattr(oidc, "transport", httpx.MockTransport(keycloak))
    response = client.get("/logout")
    assert response.status_code == 200
    assert ended == [{"client_id": [KEYCLOAK.cli_client_id], "refresh_token": ["refresh-1"]}]
    assert set_cookies(response)[SESSION_COOKIE].value in ("", '""')
    assert client.get("/v1/whoami").status_code == 401
