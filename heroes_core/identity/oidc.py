"""The OAuth grants HEROES uses against the realm's public client (Keycloak's OIDC endpoints).

The device authorization grant (RFC 8628) suits a terminal: `heroes login` shows a URL and
a code, the user signs in with a browser anywhere (with whatever the organisation's
identity provider asks: second factor, SAML, ...), and the CLI polls for the tokens. The
authorization code grant with PKCE is the gateway's browser login: the browser goes to
Keycloak and comes back with a code only the gateway that started the login can redeem.
The password grant (resource owner) is for scripts and tests, where the realm allows it.
A refresh token renews the access token without asking again.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from heroes_core.errors import HeroesError
from heroes_core.identity.provisioning import KeycloakSettings

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

# Tests swap how requests reach Keycloak (an httpx.MockTransport); None is the network.
transport: httpx.BaseTransport | None = None


class LoginError(HeroesError):
    """Keycloak did not issue tokens: bad credentials, an expired session, a grant not allowed."""


class Tokens(BaseModel):
    """What the token endpoint answered, with absolute expiry times (seconds since the epoch)."""

    model_config = ConfigDict(frozen=True)

    access_token: str
    refresh_token: str | None = None
    expires_at: float
    refresh_expires_at: float | None = None


class DeviceCode(BaseModel):
    """The device authorization endpoint's answer: what the user opens, and what the CLI polls with."""

    model_config = ConfigDict(frozen=True)

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None = None
    expires_in: int = 600
    interval: int = 5
    code_verifier: str = Field(default="", exclude=True, repr=False)


def _endpoint(settings: KeycloakSettings, path: str) -> str:
    return f"{settings.issuer}/protocol/openid-connect/{path}"


def _post(settings: KeycloakSettings, path: str, form: Mapping[str, str], what: str) -> httpx.Response:
    try:
        with httpx.Client(transport=transport, timeout=settings.timeout,
                          verify=settings.verify_tls) as client:
            return client.post(_endpoint(settings, path), data=dict(form))
    except httpx.HTTPError as error:
        raise LoginError(f"Keycloak could not be reached to {what}: {type(error).__name__}: {error}",
                         site=settings.server_url,
                         fix="check the server URL in the KeycloakRealm block and that Keycloak "
                             "runs") from None


def _error(response: httpx.Response) -> tuple[str, str]:
    try:
        body: Any = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    return str(body.get("error", f"http-{response.status_code}")), str(body.get("error_description", ""))


def _tokens(response: httpx.Response, now: float) -> Tokens:
    body = response.json()
    refresh_in = body.get("refresh_expires_in")
    return Tokens(access_token=body["access_token"], refresh_token=body.get("refresh_token"),
                  expires_at=now + float(body.get("expires_in", 60)),
                  refresh_expires_at=now + float(refresh_in) if refresh_in else None)


def _refused(settings: KeycloakSettings, response: httpx.Response, what: str) -> LoginError:
    code, description = _error(response)
    if code == "unauthorized_client":
        fix = (f"the client '{settings.cli_client_id}' does not allow this way of logging in; ask the "
               "platform administrators to provision the realm again (heroes' IdentityAdmin.ensure_realm)")
    elif code == "invalid_grant":
        fix = "check the user name and password (or log in again: the session may have ended)"
    else:
        fix = "see Keycloak's answer and its server log"
    detail = f": {description}" if description else ""
    return LoginError(f"Keycloak refused to {what} ({code}{detail})", site=settings.server_url, fix=fix)


def password_grant(settings: KeycloakSettings, user: str, password: str,
                   clock: Callable[[], float] = time.time) -> Tokens:
    """Tokens for ``user`` with their password (the realm must allow direct access grants)."""
    now = clock()
    response = _post(settings, "token", {"grant_type": "password", "client_id": settings.cli_client_id,
                                         "username": user, "password": password, "scope": "openid"},
                     f"log '{user}' in")
    if response.status_code != 200:
        raise _refused(settings, response, f"log '{user}' in")
    return _tokens(response, now)


def refresh(settings: KeycloakSettings, refresh_token: str, clock: Callable[[], float] = time.time) -> Tokens:
    """Fresh tokens from a refresh token."""
    now = clock()
    response = _post(settings, "token", {"grant_type": "refresh_token", "client_id": settings.cli_client_id,
                                         "refresh_token": refresh_token}, "renew the session")
    if response.status_code != 200:
        raise _refused(settings, response, "renew the session")
    return _tokens(response, now)


def _pkce() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class CodeLogin(BaseModel):
    """A browser login under way: where to send the browser, and what redeems its code."""

    model_config = ConfigDict(frozen=True)

    url: str
    state: str
    code_verifier: str = Field(repr=False)
    redirect_uri: str


def code_login(settings: KeycloakSettings, redirect_uri: str) -> CodeLogin:
    """Start an authorization code login (with PKCE and a state) that returns to ``redirect_uri``.

    The caller keeps ``state`` and ``code_verifier`` (the gateway, in a signed cookie) and
    sends the browser to ``url``; :func:`code_tokens` then redeems the code Keycloak returns.
    """
    verifier, challenge = _pkce()
    state = secrets.token_urlsafe(24)
    query = httpx.QueryParams({"client_id": settings.cli_client_id, "response_type": "code",
                               "scope": "openid", "redirect_uri": redirect_uri, "state": state,
                               "code_challenge": challenge, "code_challenge_method": "S256"})
    return CodeLogin(url=f"{_endpoint(settings, 'auth')}?{query}", state=state, code_verifier=verifier,
                     redirect_uri=redirect_uri)


def code_tokens(settings: KeycloakSettings, login: CodeLogin, code: str,
                clock: Callable[[], float] = time.time) -> Tokens:
    """Tokens for the code Keycloak sent back to ``login``'s redirect URI."""
    now = clock()
    form = {"grant_type": "authorization_code", "client_id": settings.cli_client_id, "code": code,
            "redirect_uri": login.redirect_uri, "code_verifier": login.code_verifier}
    response = _post(settings, "token", form, "finish the browser login")
    if response.status_code != 200:
        raise _refused(settings, response, "finish the browser login")
    return _tokens(response, now)


def device_start(settings: KeycloakSettings) -> DeviceCode:
    """Ask for a device code the user confirms in a browser.

    With PKCE (S256), which the realm's public client requires: only the process that
    started the login can collect its tokens, even if the device code leaks.
    """
    verifier, challenge = _pkce()
    response = _post(settings, "auth/device", {"client_id": settings.cli_client_id, "scope": "openid",
                                               "code_challenge": challenge, "code_challenge_method": "S256"},
                     "start a device login")
    if response.status_code != 200:
        raise _refused(settings, response, "start a device login")
    return DeviceCode.model_validate({**response.json(), "code_verifier": verifier})


def device_wait(settings: KeycloakSettings, device: DeviceCode, *, clock: Callable[[], float] = time.time,
                sleep: Callable[[float], None] | None = None) -> Tokens:
    """Poll the token endpoint until the user confirms (or refuses, or the code expires)."""
    sleep = sleep or time.sleep
    deadline = clock() + device.expires_in
    interval = float(device.interval)
    while clock() < deadline:
        sleep(interval)
        now = clock()
        form = {"grant_type": DEVICE_GRANT, "client_id": settings.cli_client_id,
                "device_code": device.device_code, "code_verifier": device.code_verifier}
        response = _post(settings, "token", form, "finish the device login")
        if response.status_code == 200:
            return _tokens(response, now)
        code, _ = _error(response)
        if code == "slow_down":
            interval += 5  # RFC 8628 section 3.5
        elif code != "authorization_pending":
            raise _refused(settings, response, "finish the device login")
    raise LoginError("the device code expired before the login was confirmed", site=settings.server_url,
                     fix="run heroes login again and confirm in the browser sooner")


def logout(settings: KeycloakSettings, refresh_token: str) -> bool:
    """End the Keycloak session behind ``refresh_token``; False if Keycloak could not be told."""
    try:
        response = _post(settings, "logout", {"client_id": settings.cli_client_id,
                                              "refresh_token": refresh_token}, "end the session")
    except LoginError:
        return False
    return response.status_code in (200, 204)
