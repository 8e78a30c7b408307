"""Who is calling: a bearer token (scripts, the CLI) or a browser session (the UI), verified.

Scripts send ``Authorization: Bearer <access token>``; browsers log in once through
Keycloak (:mod:`heroes.gateway.browser_login`) and then carry a session cookie. The cookie
holds the tokens Keycloak issued, signed with a key derived from the grant key (so a cookie
cannot be made up or altered), ``HttpOnly`` (page scripts cannot read it) and
``SameSite=Lax`` (another site cannot make the browser send it with a POST). Either way the
access token is verified offline (:class:`~heroes_core.identity.TokenVerifier`) on every
request; an expired one in a session is renewed with its refresh token.
"""

from __future__ import annotations

import hashlib
import time
from typing import Final

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeSerializer
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from heroes.gateway.settings import GatewaySettings
from heroes_core.errors import TokenError, TokenFailure
from heroes_core.identity import Identity, KeycloakSettings, TokenVerifier, oidc

SESSION_COOKIE: Final = "heroes_session"
# Browsers refuse cookies longer than about 4 kB; Keycloak's tokens fit with room to spare.
MAX_COOKIE: Final = 4000


class NotAuthenticated(TokenError):
    """No credentials at all: neither a bearer token nor a session cookie."""

    def __init__(self) -> None:
        super().__init__("no access token in the request", reason=TokenFailure.MALFORMED,
                         fix="send 'Authorization: Bearer <access token>' (heroes login gives one) or log "
                             "in with a browser at /login")


class BrowserSession(BaseModel):
    """What the session cookie carries."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float


def derived_key(grant_key: str, purpose: str) -> bytes:
    """A key for ``purpose`` from the grant key: one secret to manage, keys that never mix."""
    return hashlib.sha256(f"heroes-gateway/{purpose}/".encode() + grant_key.encode()).digest()


class Authenticator:
    """Turns a request's credentials into a verified :class:`Identity`, or a :class:`TokenError`."""

    def __init__(self, verifier: TokenVerifier, keycloak: KeycloakSettings, settings: GatewaySettings,
                 grant_key: str) -> None:
        self.verifier = verifier
        self.keycloak = keycloak
        self.settings = settings
        self._sessions = URLSafeSerializer(derived_key(grant_key, "session"), salt="heroes-session")

    def session_cookie(self, session: BrowserSession) -> str:
        value = self._sessions.dumps(session.model_dump())
        if len(value) > MAX_COOKIE:
            raise TokenError(f"Keycloak's tokens are too large for a browser cookie ({len(value)} bytes)",
                             reason=TokenFailure.MALFORMED,
                             fix="trim the claims the realm's client adds to its tokens")
        return value

    def set_session(self, response: Response, session: BrowserSession) -> None:
        response.set_cookie(SESSION_COOKIE, self.session_cookie(session), httponly=True, samesite="lax",
                            secure=self.settings.secure_cookies, path="/")

    def read_session(self, request: Request) -> BrowserSession | None:
        value = request.cookies.get(SESSION_COOKIE)
        if not value:
            return None
        try:
            return BrowserSession.model_validate(self._sessions.loads(value))
        except (BadSignature, ValidationError):
            return None

    async def identify(self, request: Request) -> Identity:
        """The caller's identity; a renewed session is left in ``request.state.renewed_session``."""
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise TokenError("the Authorization header is not 'Bearer <access token>'",
                                 reason=TokenFailure.MALFORMED, fix="send 'Authorization: Bearer <token>'")
            return self.verifier.identity(token.strip())
        session = self.read_session(request)
        if session is None:
            raise NotAuthenticated()
        try:
            return self.verifier.identity(session.access_token)
        except TokenError as error:
            if error.reason is not TokenFailure.EXPIRED or not session.refresh_token:
                raise
        renewed = await run_in_threadpool(self._renew, session.refresh_token)
        request.state.renewed_session = renewed
        return self.verifier.identity(renewed.access_token)

    def _renew(self, refresh_token: str) -> BrowserSession:
        try:
            tokens = oidc.refresh(self.keycloak, refresh_token, time.time)
        except oidc.LoginError as error:
            raise TokenError(f"the browser session ended: {error.detail}", reason=TokenFailure.EXPIRED,
                             fix="log in again at /login") from None
        return BrowserSession(access_token=tokens.access_token, refresh_token=tokens.refresh_token,
                              expires_at=tokens.expires_at)


__all__ = ["SESSION_COOKIE", "Authenticator", "BrowserSession", "NotAuthenticated", "derived_key"]
