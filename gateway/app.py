"""The gateway application: the HEROES API, the browser login, and the Prefect UI behind both.

Routes, in the order they match:

* ``/v1/...``: the HEROES API (:mod:`heroes.gateway.api`; users' files under ``/v1/data``,
  :mod:`heroes.gateway.data`), published at ``/openapi.json`` and ``/docs``;
* ``/login``, ``/auth/callback``, ``/logout``: the browser login (:mod:`heroes.gateway.browser_login`);
* ``/api/...``: the Prefect API for the Prefect UI, organisation-scoped
  (:mod:`heroes.gateway.prefect_api`);
* ``/ui-settings``: the Prefect UI's settings, pointing it at ``<gateway>/api``;
* anything else: the Prefect UI's pages and assets, passed through; a browser without a
  session is sent to ``/login`` first.

Every request is logged once, with who (user and organisation, or anonymous), what
(method, path), the outcome (status) and its duration, on the ``heroes.gateway.requests``
logger.
"""

from __future__ import annotations

import gc
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from heroes.gateway.api import api_router
from heroes.gateway.apps import apps_router
from heroes.gateway.authn import Authenticator
from heroes.gateway.browser_login import login_router
from heroes.gateway.data import data_router
from heroes.gateway.launch import Launcher
from heroes.gateway.prefect_api import PrefectApi
from heroes.gateway.settings import GatewaySettings
from heroes.gateway.upstream import UPSTREAM_SECONDS, Upstream, UpstreamError
from heroes_core.catalog.service import ApplicationService
from heroes_core.data.service import DataService
from heroes_core.errors import HeroesError, PermissionDeniedError, TokenError
from heroes_core.identity import Identity, KeycloakSettings, TokenVerifier

REQUEST_LOG = logging.getLogger("heroes.gateway.requests")
_AUTHENTICATED = ("/v1/", "/api/")
# A path of the Prefect UI's pages and files: plain segments, no dot segments, no query, and
# never the Prefect API (which the UI's server also serves) nor the HEROES API.
_UI_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}")


def ui_path(path: str) -> bool:
    """Whether ``path`` (decoded) may be passed to the Prefect UI's server as a page or asset."""
    segments = path.split("/") if path else []
    return all(_UI_SEGMENT.fullmatch(segment) for segment in segments) and \
        (not segments or segments[0] not in ("api", "v1", "docs", "openapi.json"))


def _problem(error: Exception) -> JSONResponse:
    """The JSON answer for a refusal or a failure, with the status its kind calls for."""
    if isinstance(error, LookupError):
        return JSONResponse({"detail": str(error).strip("'\"")}, status_code=404)
    # Each HEROES error says its own status (``http_status``); the rest is a bad request.
    status: int = getattr(error, "http_status", 422)
    if isinstance(error, TokenError):
        return JSONResponse({"detail": str(error), "reason": error.reason.value}, status_code=status,
                            headers={"WWW-Authenticate": f'Bearer error="invalid_token", '
                                                         f'error_description="{error.reason.value}"'})
    if isinstance(error, PermissionDeniedError):
        return JSONResponse({"detail": str(error), "action": error.action}, status_code=status)
    return JSONResponse({"detail": str(error)}, status_code=status)


def _who(request: Request) -> str:
    identity: Identity | None = getattr(request.state, "identity", None)
    return f"{identity.user}@{identity.organisation}" if identity else "anonymous"


def create_app(settings: GatewaySettings, *, keycloak: KeycloakSettings, verifier: TokenVerifier,
               grant_key: str, data: DataService | None = None, apps: ApplicationService | None = None,
               upstream_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """A gateway in front of ``settings.prefect_api_url`` for the realm ``keycloak`` describes.

    With ``data``, it also serves users' files in the archive (``/v1/data``); with ``apps``, the
    application catalogue (``/v1/apps``).
    """
    upstream = Upstream(settings.prefect_api_url, timeout=settings.upstream_timeout,
                        transport=upstream_transport)
    launcher = Launcher(upstream, grant_key, settings.grant_ttl)
    authenticator = Authenticator(verifier, keycloak, settings, grant_key)
    prefect_api = PrefectApi(upstream, launcher)
    ui_root = settings.prefect_api_url.removesuffix("/api")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await upstream.close()

    app = FastAPI(title="HEROES gateway", version="1",
                  description="The single entry point to HEROES: launch and follow workflows under your own "
                              "identity. Send `Authorization: Bearer <access token>` (`heroes login`), or "
                              "log in with a browser at /login.",
                  lifespan=lifespan)

    async def identify(request: Request) -> Identity:
        known: Identity | None = getattr(request.state, "identity", None)
        if known is not None:
            return known
        identity = await authenticator.identify(request)
        request.state.identity = identity
        return identity

    @app.middleware("http")
    async def log_and_renew(request: Request,
                            call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        upstream_seconds: list[float] = []
        UPSTREAM_SECONDS.set(upstream_seconds)
        try:
            # The APIs identify the caller before anything else reads the request: a caller
            # without a valid token learns nothing, not even how their body would be parsed.
            if request.url.path.startswith(_AUTHENTICATED):
                await identify(request)
            response = await call_next(request)
        except HeroesError as error:
            response = _problem(error)
        elapsed = time.perf_counter() - started
        # Where the time went: waiting on Prefect, and the gateway's own share (RFC Server-Timing).
        response.headers["server-timing"] = (f"prefect;dur={sum(upstream_seconds) * 1000:.2f}, "
                                             f"gateway;dur={(elapsed - sum(upstream_seconds)) * 1000:.2f}")
        renewed = getattr(request.state, "renewed_session", None)
        if renewed is not None:
            authenticator.set_session(response, renewed)
        REQUEST_LOG.info("%s %s %s -> %d in %.1f ms", _who(request), request.method, request.url.path,
                         response.status_code, elapsed * 1000,
                         extra={"heroes_user": _who(request), "http_method": request.method,
                                "url_path": request.url.path, "http_status": response.status_code})
        return response

    for kind in (TokenError, PermissionDeniedError, UpstreamError, LookupError, HeroesError):
        app.add_exception_handler(kind, lambda request, error: _problem(error))

    app.state.identify = identify
    app.include_router(api_router(upstream, launcher))
    if data is not None:
        app.include_router(data_router(data))
    if apps is not None:
        app.include_router(apps_router(apps))
    app.include_router(login_router(authenticator, grant_key))

    @app.api_route("/api/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                   include_in_schema=False)
    async def prefect(path: str, request: Request) -> Response:
        return await prefect_api.handle(request, await identify(request), path)

    @app.get("/ui-settings", include_in_schema=False)
    async def ui_settings() -> Response:
        answer = await upstream.json("GET", f"{ui_root}/ui-settings")
        # Relative, so the UI calls the gateway on whatever name the browser used (same origin:
        # the session cookie goes along), never the Prefect server itself.
        return JSONResponse({**(answer or {}), "api_url": "/api", "csrf_enabled": False})

    @app.api_route("/v1/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
                   include_in_schema=False)
    async def no_such_route(path: str) -> Response:
        # Never lets a /v1 path that matched no route fall through to the UI below.
        raise LookupError(f"no HEROES API route /v1/{path} (see /docs)")

    @app.get("/{path:path}", include_in_schema=False)
    async def ui(path: str, request: Request) -> Response:
        if not ui_path(path):
            raise LookupError("not a page of the Prefect UI")
        try:
            await identify(request)
        except TokenError:
            if "text/html" not in request.headers.get("accept", ""):
                raise
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{httpx.QueryParams({'next': target})}", status_code=303)
        response = await upstream.call("GET", f"{ui_root}/{path}",
                                        headers={"accept": request.headers.get("accept", "*/*")})
        # The page may talk to the gateway only: not to the Prefect server, nor anywhere else.
        headers = {"content-security-policy": "connect-src 'self'"}
        location = response.headers.get("location", "")
        if location.startswith("/") and not location.startswith("//"):  # the UI's own redirects (/ -> /v2/)
            headers["location"] = location
        return Response(response.content, status_code=response.status_code, headers=headers,
                        media_type=response.headers.get("content-type"))

    return app


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Serve the gateway with uvicorn, as ``heroes gateway`` does.

    Before serving, the objects the imports made (Prefect and FastAPI leave some 300,000)
    are moved out of the garbage collector's sight: a full collection over them takes about
    200 ms, a pause any request could otherwise hit. The request log is switched on (uvicorn's
    logging leaves other loggers at WARNING).
    """
    if not REQUEST_LOG.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        REQUEST_LOG.addHandler(handler)
    REQUEST_LOG.setLevel(logging.INFO)
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, log_level="info", proxy_headers=True)


__all__ = ["REQUEST_LOG", "create_app", "serve", "ui_path"]
