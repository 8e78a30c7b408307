"""The Prefect API behind the gateway: the few reads and writes the gateway makes itself.

Raw JSON over one pooled ``httpx.AsyncClient`` rather than Prefect's client objects: the
proxy forwards bodies it has only rewritten, and the HEROES API answers in its own models,
so parsing into Prefect's schemas and back would cost time on every request for nothing.
"""

from __future__ import annotations

import asyncio
import re
import time
from contextvars import ContextVar
from typing import Any, ClassVar, Final
from uuid import UUID

import httpx
from cachetools import TTLCache

from heroes_core.errors import HeroesError

# Answers after which Prefect did nothing and asks to be asked again, and the pauses between tries.
RETRIED_STATUSES: Final = frozenset({429, 503})
RETRY_PAUSES: Final = (0.2, 0.5, 1.0, 2.0)

# Seconds each request spent waiting on the Prefect API, collected per gateway request (the
# gateway reports them in a Server-Timing header, so its own share of a request is known).
UPSTREAM_SECONDS: ContextVar[list[float] | None] = ContextVar("heroes_gateway_upstream_seconds", default=None)

_PAGE: Final = 200  # deployments per page read (Prefect's own maximum)

# Flow and deployment names as they may appear in an upstream path.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}")


class UpstreamError(HeroesError):
    """The Prefect API did not answer, or answered with an error the gateway cannot pass on."""

    http_status: ClassVar[int] = 502


def safe_path(path: str) -> bool:
    """No dot segment, query, fragment or backslash: a path says where it goes, nothing more."""
    local = path
    if path.startswith(("http://", "https://")):  # checked as written: parsing would resolve ".."
        rest = path.split("://", 1)[1]
        local = rest[rest.find("/"):] if "/" in rest else ""
    return not any(segment in (".", "..") for segment in local.split("/")) and \
        not any(mark in local for mark in "?#\\")


def object_id(value: object) -> str | None:
    """``value`` as a canonical UUID, or None: ids from callers go into upstream paths."""
    try:
        return str(UUID(str(value)))
    except ValueError:
        return None


class Upstream:
    """The Prefect API at ``api_url``, with short caches for what rarely changes."""

    def __init__(self, api_url: str, *, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.client = httpx.AsyncClient(base_url=self.api_url, timeout=timeout, transport=transport)
        # Flow names never change for an id; deployments and run owners change rarely
        # (owner tags are written once, by the gateway).
        self._flow_names: TTLCache[str, str] = TTLCache(maxsize=4096, ttl=3600)
        self._run_tags: TTLCache[str, list[str]] = TTLCache(maxsize=16384, ttl=60)
        self._deployments: TTLCache[str, list[dict[str, Any]]] = TTLCache(maxsize=1, ttl=15)
        self._one_deployment: TTLCache[str, dict[str, Any]] = TTLCache(maxsize=1024, ttl=15)

    async def close(self) -> None:
        await self.client.aclose()

    async def call(self, method: str, path: str, *, json: Any = None, params: Any = None,
                   content: bytes | None = None, headers: dict[str, str] | None = None) -> httpx.Response:
        """One request to the Prefect API, retried with back-off while it is busy or unreachable.

        Prefect answers 503 when its database is locked and 429 when it sheds load, having done
        nothing; the one write the gateway makes (creating a run) carries an idempotency key,
        so repeating any request here cannot duplicate anything. Still failing after the
        retries, an unreachable API is an :class:`UpstreamError`; a busy one's answer is
        passed on.
        """
        if not safe_path(path):
            raise LookupError(f"{path!r} is not a plain path of the Prefect server")
        started = time.perf_counter()
        try:
            return await self._call(method, path, json=json, params=params, content=content, headers=headers)
        finally:
            spent = UPSTREAM_SECONDS.get()
            if spent is not None:
                spent.append(time.perf_counter() - started)

    async def _call(self, method: str, path: str, *, json: Any, params: Any, content: bytes | None,
                    headers: dict[str, str] | None) -> httpx.Response:
        for pause in (*RETRY_PAUSES, None):
            try:
                response = await self.client.request(method, path, json=json, params=params, content=content,
                                                     headers=headers)
            except httpx.TransportError as error:
                # Only a request that never left, or a read, is safe to send again.
                sent = not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
                if pause is None or (sent and method != "GET"):
                    raise UpstreamError(f"the Prefect API did not answer {method} {path}: "
                                        f"{type(error).__name__}", site=self.api_url,
                                        fix="check that the Prefect server runs and PREFECT_API_URL points "
                                            "at it") from None
            else:
                if response.status_code not in RETRIED_STATUSES or pause is None:
                    return response
            await asyncio.sleep(pause)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def json(self, method: str, path: str, *, json: Any = None) -> Any:
        """The JSON body of a successful call, None for 404, an :class:`UpstreamError` otherwise."""
        response = await self.call(method, path, json=json)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise UpstreamError(f"the Prefect API answered {response.status_code} to {method} {path}: "
                                f"{response.text[:300]}", site=self.api_url)
        return response.json()

    async def flow_name(self, flow_id: str) -> str | None:
        if object_id(flow_id) is None:
            return None
        if flow_id not in self._flow_names:
            flow = await self.json("GET", f"/flows/{flow_id}")
            if flow is None:
                return None
            self._flow_names[flow_id] = str(flow["name"])
        return self._flow_names[flow_id]

    async def deployments(self) -> list[dict[str, Any]]:
        """Every deployment, each with its ``flow_name`` added (cached for a few seconds)."""
        if "all" not in self._deployments:
            found: list[dict[str, Any]] = []
            while True:
                page = await self.json("POST", "/deployments/filter",
                                       json={"limit": _PAGE, "offset": len(found), "sort": "NAME_ASC"}) or []
                found += page
                if len(page) < _PAGE:
                    break
            for deployment in found:
                deployment["flow_name"] = await self.flow_name(str(deployment["flow_id"]))
            self._deployments["all"] = found
        return self._deployments["all"]

    async def deployment(self, deployment_id: str) -> dict[str, Any] | None:
        """One deployment, with ``flow_name`` (cached a few seconds: the gateway sends its default
        parameters with the run, so the run holds what the grant binds even if they just changed)."""
        if object_id(deployment_id) is None:
            return None
        return await self._one_deployment_at(deployment_id, f"/deployments/{deployment_id}")

    async def deployment_by_name(self, flow: str, name: str) -> dict[str, Any] | None:
        if not all(_NAME.fullmatch(part) for part in (flow, name)):
            return None
        return await self._one_deployment_at(f"{flow}/{name}", f"/deployments/name/{flow}/{name}")

    async def _one_deployment_at(self, key: str, path: str) -> dict[str, Any] | None:
        """The deployment at ``path``, with its ``flow_name``, cached a few seconds under ``key``."""
        if key not in self._one_deployment:
            found = await self.json("GET", path)
            if found is None:
                return None
            found["flow_name"] = await self.flow_name(str(found["flow_id"]))
            self._one_deployment[key] = found
        return self._one_deployment[key]

    async def run_tags(self, run_id: str) -> list[str] | None:
        """A flow run's tags (cached a minute: owner tags never change), or None if there is none."""
        if object_id(run_id) is None:
            return None
        if run_id not in self._run_tags:
            run = await self.json("GET", f"/flow_runs/{run_id}")
            if run is None:
                return None
            self._run_tags[run_id] = list(run.get("tags") or [])
        return self._run_tags[run_id]

    def remember_run(self, run: dict[str, Any]) -> None:
        """Cache the tags of a run the gateway just created or read."""
        self._run_tags[str(run["id"])] = list(run.get("tags") or [])


__all__ = ["UPSTREAM_SECONDS", "Upstream", "UpstreamError", "object_id", "safe_path"]
