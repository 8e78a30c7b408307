"""The browser's way in: Keycloak's authorization code flow with PKCE, ending in a session cookie.

``/login`` sends the browser to Keycloak with a fresh state and PKCE challenge, kept in a
short-lived signed cookie; ``/auth/callback`` checks the state, redeems the code, verifies
the access token and sets the session cookie; ``/logout`` ends the Keycloak session and
drops the cookie. Keycloak shows the realm's login page, so whatever an organisation
configured there (its LDAP or SAML federation, a second factor) applies as is.
"""

from __future__ import annotations

from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool

from heroes.gateway.authn import SESSION_COOKIE, Authenticator, BrowserSession, derived_key
from heroes_core.errors import TokenError
from heroes_core.identity import oidc

LOGIN_COOKIE: Final = "heroes_login"
LOGIN_SECONDS: Final = 600


def safe_next(value: str | None) -> str:
    """A local path to go back to after login: never another site (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def login_router(authenticator: Authenticator, grant_key: str) -> APIRouter:
    """The ``/login``, ``/auth/callback`` and ``/logout`` routes."""
    router = APIRouter(tags=["login"])
    pending = URLSafeTimedSerializer(derived_key(grant_key, "login"), salt="heroes-login")
    keycloak, settings = authenticator.keycloak, authenticator.settings

    @router.get("/login", summary="Log in with a browser (redirects to Keycloak)", status_code=303,
                response_class=RedirectResponse, responses={303: {"description": "To Keycloak's login page"}})
    def login(next: str | None = None) -> Response:
        started = oidc.code_login(keycloak, settings.callback_url)
        response = RedirectResponse(started.url, status_code=303)
        response.set_cookie(LOGIN_COOKIE, pending.dumps({"state": started.state,
                                                         "verifier": started.code_verifier,
                                                         "next": safe_next(next)}),
                            max_age=LOGIN_SECONDS, httponly=True, samesite="lax",
                            secure=settings.secure_cookies, path="/auth")
        return response

    @router.get("/auth/callback", summary="Where Keycloak sends the browser back", include_in_schema=False)
    async def callback(request: Request, state: str = "", code: str = "", error: str = "",
                       error_description: str = "") -> Response:
        if error:
            refusal = f"Keycloak refused the login: {error} {error_description}".strip()
            return JSONResponse({"detail": refusal}, status_code=401)
        try:
            started = pending.loads(request.cookies.get(LOGIN_COOKIE, ""), max_age=LOGIN_SECONDS)
        except BadSignature:
            return JSONResponse({"detail": "no login under way in this browser, or it took over 10 minutes: "
                                           "open /login again"}, status_code=400)
        if not state or state != started["state"] or not code:
            return JSONResponse({"detail": "the login's state does not match: open /login again"},
                                status_code=400)
        login = oidc.CodeLogin(url="", state=state, code_verifier=started["verifier"],
                               redirect_uri=settings.callback_url)
        try:
            tokens = await run_in_threadpool(oidc.code_tokens, keycloak, login, code)
            authenticator.verifier.identity(tokens.access_token)
        except (oidc.LoginError, TokenError) as refused:
            return JSONResponse({"detail": str(refused)}, status_code=401)
        response = RedirectResponse(safe_next(started["next"]), status_code=303)
        authenticator.set_session(response, BrowserSession(access_token=tokens.access_token,
                                                           refresh_token=tokens.refresh_token,
                                                           expires_at=tokens.expires_at))
        response.delete_cookie(LOGIN_COOKIE, path="/auth")
        return response

    @router.get("/logout", summary="End the browser session",
                responses={200: {"description": "The session cookie is dropped"}})
    async def logout(request: Request) -> Response:
        session = authenticator.read_session(request)
        if session is not None and session.refresh_token:
            await run_in_threadpool(oidc.logout, keycloak, session.refresh_token)
        response = JSONResponse({"detail": "logged out"})
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    return router


__all__ = ["LOGIN_COOKIE", "login_router", "safe_next"]
